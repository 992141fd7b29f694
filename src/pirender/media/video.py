"""Video in and out through PyAV (bundled FFmpeg): streaming reads, atomic H.264 + AAC writes.

Reading never holds the whole video: `iter_video_frames` decodes one frame at a time.
Writing goes to a temporary file beside the target that is renamed into place only when the
`VideoWriter` block exits cleanly, so an error (or Ctrl-C) never leaves a truncated mp4.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from pirender.errors import InputError
from pirender.media.atomic import atomic_path

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"})

# AAC sample rates the native FFmpeg encoder accepts; other rates are resampled to 48 kHz.
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)

AudioSource = str | os.PathLike[str] | tuple[np.ndarray, int] | None


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a video suffix (the content is not inspected)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reports about a video file."""

    num_frames: int  # from the container header when present, else by counting packets
    fps: float
    width: int
    height: int
    has_audio: bool

    @property
    def duration(self) -> float:
        """Seconds, num_frames / fps."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"video not found: {path}")
    if path.is_dir():
        raise InputError(f"expected a video file, got a directory: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file, expected a video")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable video ({_short(e)})") from None


def _short(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, frame rate, size and whether there is an audio track.

    Raises:
        InputError: missing, empty, corrupt, or without a video stream / frames.
    """
    path = Path(path)
    with _open_input(path) as container:
        if not container.streams.video:
            raise InputError(f"{path}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        width, height = stream.codec_context.width, stream.codec_context.height
        num_frames = int(stream.frames or 0)
        if num_frames <= 0:
            try:  # no frame count in the header (e.g. webm, raw streams): count packets, no decoding
                num_frames = sum(1 for p in container.demux(stream) if p.size > 0)
            except (av.FFmpegError, OSError, ValueError) as e:
                raise InputError(f"{path}: corrupt video ({_short(e)})") from None
        has_audio = bool(container.streams.audio)
    if num_frames <= 0 or width <= 0 or height <= 0:
        raise InputError(f"{path}: video has no frames")
    return VideoInfo(num_frames=num_frames, fps=fps, width=width, height=height, has_audio=has_audio)


class TruncatedVideoWarning(InputError, UserWarning):
    """The stream ended before the length its header declares (a file cut short). A warning; an error
    under `warnings.simplefilter("error", TruncatedVideoWarning)` (the CLI's `--strict`)."""


TRUNCATION_TOLERANCE = 1  # frames a stream may fall short of its declared count (container rounding)


def iter_video_frames(path: str | os.PathLike[str], *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode frames one at a time.

    Yields:
        (H, W, 3) uint8 RGB frames in display order.
    Raises:
        InputError: missing, empty or corrupt file, or a video without a single decodable frame.
    Warns:
        TruncatedVideoWarning: the stream ended more than TRUNCATION_TOLERANCE frames before the
            length its header declares.
    """
    path = Path(path)
    container = _open_input(path)
    count = 0
    try:
        if not container.streams.video:
            raise InputError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
        except (av.FFmpegError, OSError, ValueError) as e:
            if count == 0:
                raise InputError(f"{path}: corrupt video ({_short(e)})") from None
            raise InputError(f"{path}: corrupt video after frame {count} ({_short(e)})") from None
        if count == 0:
            raise InputError(f"{path}: video has no decodable frames")
        declared = int(stream.frames or 0)
        if declared - count > TRUNCATION_TOLERANCE:
            import warnings

            warnings.warn(
                TruncatedVideoWarning(
                    f"{path}: the video ends after {count} of the {declared} frames its header declares"
                    " (a truncated file?)"
                ),
                stacklevel=2,
            )
    finally:
        container.close()


def read_video_frames(path: str | os.PathLike[str], *, max_frames: int | None = None) -> np.ndarray:
    """All frames at once, (T, H, W, 3) uint8. For short clips only; prefer `iter_video_frames`."""
    return np.stack(list(iter_video_frames(path, max_frames=max_frames)))


class VideoWriter:
    """Write an H.264 (yuv420p) MP4, optionally with an AAC audio track, atomically.

    Usage:
        with VideoWriter("out.mp4", fps=25, size=(256, 256), audio="speech.wav") as writer:
            for frame in frames:           # (H, W, 3) uint8 RGB
                writer.write(frame)

    Args:
        path: output .mp4 (or .mov/.mkv); its directory must exist.
        fps: frame rate (a float like 29.97 is kept as an exact fraction where possible).
        size: (width, height); None takes it from the first frame. yuv420p needs even sides, so an
            odd width/height is padded by one replicated column/row (documented, not an error).
        audio: None, a media file path (its first audio track is copied, re-encoded to AAC), or
            (samples, sample_rate) with float samples in [-1, 1] shaped (N,) or (N, channels).
            Audio longer than the video is cut at the video's end; shorter audio ends early.
        crf: x264 constant rate factor (lower = better; 18 is visually lossless).
    Raises (on exit): nothing is left at `path` if any error happened inside the block.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int] | None = None,
        audio: AudioSource = None,
        *,
        crf: int = 18,
    ) -> None:
        if not fps or fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.audio = audio
        self.crf = crf
        self.num_frames = 0
        if isinstance(audio, str | os.PathLike) and not Path(audio).exists():
            raise InputError(f"audio file not found: {audio}")
        self._atomic = atomic_path(self.path)
        self._tmp: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._audio_samples: tuple[np.ndarray, int] | None = None
        self._audio_stream: av.audio.stream.AudioStream | None = None

    def __enter__(self) -> VideoWriter:
        if self.audio is not None:  # read (and validate) the audio before anything is written
            self._audio_samples = _load_audio(self.audio)
        self._tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(self._tmp), mode="w", format=_container_format(self.path))
        except BaseException:
            self._atomic.__exit__(*_exc_info())
            raise
        return self

    def _open_stream(self, width: int, height: int) -> None:
        assert self._container is not None
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width = width + width % 2
        stream.height = height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": "medium"}
        self._stream = stream
        self.size = (width, height)
        if self._audio_samples is not None:  # every stream must exist before the first packet is muxed
            channels = self._audio_samples[0].shape[1]
            rate = self._audio_samples[1]
            self._audio_stream = self._container.add_stream(
                "aac",
                rate=rate if rate in _AAC_RATES else 48000,
                layout="mono" if channels == 1 else "stereo",
            )

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the writer's size."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write called outside its `with` block")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        height, width = frame.shape[:2]
        if self._stream is None:
            self._open_stream(*(self.size or (width, height)))
        assert self._stream is not None and self.size is not None
        if (width, height) != self.size:
            raise ValueError(f"frame is {width}x{height}, the video is {self.size[0]}x{self.size[1]}")
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.num_frames += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._container is not None
        try:
            if exc_type is None:
                if self._stream is None:
                    raise ValueError(f"{self.path}: no frames were written")
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self._audio_stream is not None and self._audio_samples is not None:
                    samples, rate = self._audio_samples
                    _encode_audio(
                        self._container,
                        self._audio_stream,
                        samples[: int(round(self.num_frames / self.fps * rate))],
                        rate,
                    )
        except BaseException:
            self._container.close()
            self._atomic.__exit__(*_exc_info())
            raise
        self._container.close()
        if exc_type is None:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(exc_type, exc, tb)


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    audio: AudioSource = None,
    crf: int = 18,
) -> int:
    """Write an iterable of (H, W, 3) uint8 frames as an MP4; returns the number of frames written."""
    with VideoWriter(path, fps, audio=audio, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.num_frames


def _container_format(path: Path) -> str | None:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}.get(path.suffix.lower())


def _exc_info() -> tuple[type[BaseException] | None, BaseException | None, TracebackType | None]:
    import sys

    return sys.exc_info()


def _load_audio(audio: AudioSource) -> tuple[np.ndarray, int]:
    """(samples (N, C) float32 in [-1, 1], sample_rate) from a file path or an array."""
    if isinstance(audio, tuple):
        samples, rate = audio
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2 or samples.shape[1] not in (1, 2):
            raise InputError(f"audio samples must be (N,) or (N, 1|2), got {samples.shape}")
        return np.clip(samples, -1.0, 1.0), int(rate)
    path = Path(audio)  # type: ignore[arg-type]
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(f"{path}: no audio track")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            layout = "mono" if (stream.codec_context.channels or 1) == 1 else "stereo"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1, 1 if layout == "mono" else 2))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, 1 if layout == "mono" else 2))
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read audio ({_short(e)})") from None
    if not chunks:
        raise InputError(f"{path}: audio track is empty")
    return np.concatenate(chunks).astype(np.float32), int(rate)


def _encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    samples: np.ndarray,
    rate: int,
) -> None:
    """Encode (N, C) float samples at `rate` into an AAC stream of an open output container."""
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=stream.rate)
    block = 1024 * 8
    for start in range(0, len(samples), block):
        chunk = np.ascontiguousarray(samples[start : start + block])  # (n, C), packed = interleaved
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                container.mux(packet)
    for resampled in resampler.resample(None):
        for packet in stream.encode(resampled):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
