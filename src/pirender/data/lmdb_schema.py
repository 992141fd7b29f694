"""The preprocessed-VoxCeleb LMDB layout (spec section 4), in one place: key names, writer, reader.

Directory layout::

    OUT/train_list.txt     video names, one per line
    OUT/test_list.txt
    OUT/<size>/            one LMDB environment per image size (e.g. OUT/256/)

Keys (ASCII; parts joined by "-"; integers zero-padded to 7 digits):

    length                      number of videos, b"0000042"
    <video>-length              number of frames T of the video
    <video>-<frame:07d>         JPEG bytes of frame `frame` (RGB, size x size)
    <video>-coeff_3dmm          raw float32 bytes of (T, 260) rows = [257 Deep3DFaceRecon | s | tx | ty]
    <video>-keypoint            (optional, official) raw landmark bytes; not interpreted here

Extra keys this project adds (absent in official LMDBs; readers treat them as optional):

    <video>-audio_wav           a WAV file's bytes (mono, PCM 16-bit), the video's soundtrack
    <video>-fps                 frame rate as ASCII text, e.g. b"25"

Video names follow VoxCeleb (`id10010#Fi21gDronE4#001686#002204`); the person id is the part before
the first "#" (synthetic data uses `synth00042#v003`). The reader opens the environment lazily and
again in every process after fork or unpickling (NVlabs EDM's pattern), so DataLoader workers each
hold their own handle.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import lmdb
import numpy as np

from pirender.errors import InputError
from pirender.motion import coeffs as layout

LENGTH_KEY = "length"
TRAIN_LIST = "train_list.txt"
TEST_LIST = "test_list.txt"
SPLITS = ("train", "test")
MAP_SIZE = 1 << 40  # 1 TiB of address space, as the official script; the file grows as needed
_OPEN_ENVS: dict[tuple[str, int], lmdb.Environment] = {}  # (env path, pid) -> read-only handle


def person_id(video: str) -> str:
    """The person id of a video name: the part before the first '#'."""
    return video.split("#", 1)[0]


def length_key(video: str | None = None) -> bytes:
    """b'length' (number of videos) or b'<video>-length' (number of frames)."""
    return (LENGTH_KEY if video is None else f"{video}-{LENGTH_KEY}").encode("ascii")


def frame_key(video: str, index: int) -> bytes:
    return f"{video}-{index:07d}".encode("ascii")


def coeff_key(video: str) -> bytes:
    return f"{video}-coeff_3dmm".encode("ascii")


def keypoint_key(video: str) -> bytes:
    return f"{video}-keypoint".encode("ascii")


def audio_key(video: str) -> bytes:
    return f"{video}-audio_wav".encode("ascii")


def fps_key(video: str) -> bytes:
    return f"{video}-fps".encode("ascii")


def encode_count(value: int) -> bytes:
    return f"{int(value):07d}".encode("ascii")


def env_path(root: str | os.PathLike[str], size: int) -> Path:
    return Path(root) / str(int(size))


def encode_jpeg(image: np.ndarray, quality: int = 75) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes (PIL, quality 75 = PIL's default, as the official script)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """(N,) float audio in [-1, 1] -> mono 16-bit PCM WAV bytes."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.asarray(samples, dtype=np.float32), int(sample_rate), format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()


class VoxLMDBWriter:
    """Writes videos into OUT/<size>/ and the split lists into OUT/.

    Use as a context manager; `length` and the list files are written on a clean exit::

        with VoxLMDBWriter(out_dir, size=256) as writer:
            writer.add_video("synth00000#v000", frames, rows, split="train", audio=(wav, 16000), fps=25)
    """

    def __init__(self, root: str | os.PathLike[str], size: int) -> None:
        self.root = Path(root)
        self.size = int(size)
        self.root.mkdir(parents=True, exist_ok=True)
        self._env = lmdb.open(str(env_path(self.root, self.size)), map_size=MAP_SIZE, subdir=True)
        self._lists: dict[str, list[str]] = {split: [] for split in SPLITS}

    def add_video(
        self,
        video: str,
        frames: list[bytes] | list[np.ndarray] | np.ndarray,
        coeff_rows: np.ndarray,
        *,
        split: str,
        audio: tuple[np.ndarray, int] | None = None,
        fps: float | None = None,
    ) -> None:
        """Store one video.

        Args:
            video: name without '-' (e.g. 'synth00042#v003').
            frames: T JPEG byte strings, or T (size, size, 3) uint8 images (encoded here).
            coeff_rows: (T, 260) float32 rows (motion.coeffs.to_lmdb_rows makes them from (T, 73)).
            split: 'train' or 'test'.
            audio: optional (samples (N,) float in [-1, 1], sample_rate), stored as WAV bytes.
            fps: optional frame rate, stored as text.
        """
        if split not in SPLITS:
            raise InputError(f"split must be one of {SPLITS}, got {split!r}")
        if not video or "-" in video or "\n" in video:
            raise InputError(f"video name {video!r} must be non-empty and contain no '-' or newline")
        rows = np.ascontiguousarray(coeff_rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != layout.LMDB_ROW_DIM or rows.shape[0] != len(frames):
            raise InputError(
                f"{video}: coefficient rows {rows.shape} do not match {len(frames)} frames x 260"
            )
        with self._env.begin(write=True) as txn:
            for index, frame in enumerate(frames):
                data = frame if isinstance(frame, bytes) else encode_jpeg(frame)
                txn.put(frame_key(video, index), data)
            txn.put(length_key(video), encode_count(len(frames)))
            txn.put(coeff_key(video), rows.tobytes())
            if audio is not None:
                txn.put(audio_key(video), encode_wav(*audio))
            if fps is not None:
                txn.put(fps_key(video), f"{float(fps):g}".encode("ascii"))
        self._lists[split].append(video)

    def close(self) -> None:
        """Write `length` and the split lists, then close the environment."""
        with self._env.begin(write=True) as txn:
            txn.put(length_key(), encode_count(sum(len(v) for v in self._lists.values())))
        self._env.sync()
        self._env.close()
        for split, name in (("train", TRAIN_LIST), ("test", TEST_LIST)):
            text = "".join(f"{video}\n" for video in self._lists[split])
            (self.root / name).write_text(text, encoding="ascii")

    def __enter__(self) -> VoxLMDBWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._env.close()


class VoxLMDB:
    """Read-only access to an official-layout LMDB directory.

    Args:
        root: the directory holding train_list.txt, test_list.txt and <size>/.
        size: which environment to open; None picks the only <size>/ directory there.
    The environment opens on first use, and again after fork or unpickling.
    """

    def __init__(self, root: str | os.PathLike[str], size: int | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"LMDB directory not found: {self.root}")
        if size is None:
            sizes = sorted(int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())
            if len(sizes) != 1:
                found = ", ".join(map(str, sizes)) or "none"
                raise InputError(f"{self.root}: pass size= to choose an image size (found: {found})")
            size = sizes[0]
        self.size = int(size)
        self.path = env_path(self.root, self.size)
        if not (self.path / "data.mdb").is_file():
            raise InputError(f"no LMDB environment for size {self.size} at {self.path}")

    # EDM's pattern: the reader holds no handle, so pickling it never carries one; handles are opened
    # on first use per (path, process) and shared by the readers of that process (py-lmdb refuses to
    # open one environment twice in a process). After a fork the child's pid differs: it opens its own.
    def _environment(self) -> lmdb.Environment:
        path = str(self.path.resolve())
        key = (path, os.getpid())
        env = _OPEN_ENVS.get(key)
        if env is None:
            # A handle inherited through fork belongs to the parent: drop it here (py-lmdb refuses a
            # second handle on the same environment in one process, and LMDB forbids using it after fork).
            for stale in [k for k in _OPEN_ENVS if k[0] == path]:
                _OPEN_ENVS.pop(stale).close()
            env = lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False)
            _OPEN_ENVS[key] = env
        return env

    def _txn_get(self, key: bytes) -> bytes | None:
        with self._environment().begin(write=False) as txn:
            return txn.get(key)

    def get(self, key: bytes) -> bytes:
        """Raw value of `key`; InputError naming the key and the LMDB path if it is missing."""
        value = self._txn_get(key)
        if value is None:
            raise InputError(f"key {key.decode('ascii', 'replace')!r} missing in LMDB {self.path}")
        return value

    def _count(self, key: bytes) -> int:
        raw = self.get(key)
        try:
            return int(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise InputError(
                f"key {key.decode()!r} in LMDB {self.path} is not a count: {raw[:20]!r}"
            ) from None

    def __len__(self) -> int:
        """Number of videos (the `length` key)."""
        return self._count(length_key())

    def videos(self, split: str = "train") -> list[str]:
        """Video names of a split ('train', 'test' or 'all'), in list-file order."""
        if split == "all":
            return self.videos("train") + self.videos("test")
        if split not in SPLITS:
            raise InputError(f"split must be 'train', 'test' or 'all', got {split!r}")
        path = self.root / (TRAIN_LIST if split == "train" else TEST_LIST)
        if not path.is_file():
            raise InputError(f"split list not found: {path}")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def persons(self, split: str = "train") -> dict[str, list[str]]:
        """Person id -> that person's videos in the split."""
        groups: dict[str, list[str]] = {}
        for video in self.videos(split):
            groups.setdefault(person_id(video), []).append(video)
        return groups

    def num_frames(self, video: str) -> int:
        return self._count(length_key(video))

    def frame_bytes(self, video: str, index: int) -> bytes:
        """JPEG bytes of frame `index` (negative indices count from the end)."""
        count = self.num_frames(video)
        if not -count <= index < count:
            raise InputError(f"frame {index} out of range for {video!r} ({count} frames) in LMDB {self.path}")
        return self.get(frame_key(video, index % count))

    def frame(self, video: str, index: int) -> np.ndarray:
        """Decoded frame `index`: (H, W, 3) uint8 RGB."""
        from PIL import Image, UnidentifiedImageError

        data = self.frame_bytes(video, index)
        try:
            with Image.open(io.BytesIO(data)) as image:
                return np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            key = frame_key(video, index % self.num_frames(video)).decode()
            raise InputError(f"key {key!r} in LMDB {self.path} is not a readable image: {e}") from None

    def coeff_rows(self, video: str) -> np.ndarray:
        """(T, 260) float32 coefficient rows of a video."""
        key = coeff_key(video)
        raw = self.get(key)
        count = self.num_frames(video)
        if count == 0 or len(raw) % (4 * count) != 0:
            raise InputError(
                f"key {key.decode()!r} in LMDB {self.path}: {len(raw)} bytes do not hold {count} float32 rows"
            )
        rows = np.frombuffer(raw, dtype=np.float32).reshape(count, -1)
        if rows.shape[1] != layout.LMDB_ROW_DIM:
            raise InputError(
                f"key {key.decode()!r} in LMDB {self.path}: rows are {rows.shape[1]} wide, expected 260"
            )
        return rows.copy()

    def motion(self, video: str) -> np.ndarray:
        """(T, 73) float32 motion [exp 64 | angle 3 | trans 3 | crop 3] of a video."""
        return layout.from_lmdb_rows(self.coeff_rows(video))

    def fps(self, video: str) -> float | None:
        """Frame rate from the optional `<video>-fps` key, or None."""
        raw = self._txn_get(fps_key(video))
        if raw is None:
            return None
        try:
            return float(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"key {fps_key(video).decode()!r} in LMDB {self.path} is not a number") from None

    def audio(self, video: str) -> tuple[np.ndarray, int] | None:
        """(samples (N,) float32 in [-1, 1], sample_rate) from the optional WAV key, or None."""
        raw = self._txn_get(audio_key(video))
        if raw is None:
            return None
        import soundfile

        try:
            samples, sample_rate = soundfile.read(io.BytesIO(raw), dtype="float32", always_2d=False)
        except (RuntimeError, soundfile.LibsndfileError) as e:
            raise InputError(
                f"key {audio_key(video).decode()!r} in LMDB {self.path} is not a readable WAV: {e}"
            ) from None
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        return samples.astype(np.float32), int(sample_rate)

    def close(self) -> None:
        """Close this process's handle on the environment (shared by its readers; reopened on next use)."""
        env = _OPEN_ENVS.pop((str(self.path.resolve()), os.getpid()), None)
        if env is not None:
            env.close()

    @property
    def is_open(self) -> bool:
        """Whether this process currently holds a handle on the environment."""
        return (str(self.path.resolve()), os.getpid()) in _OPEN_ENVS
