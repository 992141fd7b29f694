"""Reading motion from every format in the field, dispatched on the file itself.

| format                              | recognised by                          | crop (s, tx, ty) from      |
| ----------------------------------- | -------------------------------------- | -------------------------- |
| pirender .npz                       | suffix .npz, arrays format_version+coeffs | the file                |
| official LMDB (`<video>-coeff_3dmm`) | directory with data.mdb (or `256/`)   | columns 257:260            |
| Deep3DFaceRecon video .mat          | `coeff` (T, 257) + `transform_params` (T, 5) | transform_params[:, 2:5] |
| Deep3DFaceRecon split .mat          | `exp` (T, 64), `angle`, `trans` [+ `transform_params`] | transform_params or source |
| Deep3DFaceRecon single-image .txt   | 262 numbers per row                     | columns 259:262           |
| SadTalker .mat                      | `coeff_3dmm` (T, 70) or (T, 73)         | the source (see below)    |

SadTalker's generated coefficients carry no crop: like SadTalker, we take it from the source, given as
`source_image=`: a (3,) crop array, another motion file (its first frame's crop), or a face image (its
crop values are measured with the 5-landmark alignment, needing the faces extra).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import (
    COEFF_DIM,
    CROP,
    D3D_DIM,
    DEFAULT_FPS,
    LMDB_ROW_DIM,
    MOTION_DIM,
    TRANSFORM_CROP,
    TRANSFORM_DIM,
    TXT_CROP,
    TXT_ROW_DIM,
    from_d3d,
    from_lmdb_rows,
    with_crop,
)
from pirender.motion.sequence import Motion

LMDB_SEPARATOR = "::"  # "ROOT::VIDEO" selects one video of an official LMDB on the command line

SourceLike = str | os.PathLike[str] | np.ndarray | None


def load_motion(
    path: str | os.PathLike[str],
    *,
    source_image: SourceLike = None,
    video: str | None = None,
    fps: float | None = None,
) -> Motion:
    """Read a motion sequence from any supported format (see the module docstring).

    Args:
        path: the motion file, or an official LMDB directory (then `video=` or "ROOT::VIDEO").
        source_image: where a crop-less format (SadTalker) takes its crop values from.
        video: video name inside an official LMDB.
        fps: frame rate for formats that do not store one (default 25, the VoxCeleb rate).
    Returns:
        Motion with (T, 73) float32 coefficients.
    Raises:
        InputError: unknown or malformed file, naming it and what was expected.
    """
    text = os.fspath(path)
    if video is None and LMDB_SEPARATOR in text:
        text, video = text.split(LMDB_SEPARATOR, 1)
    path = Path(text)
    if not path.exists():
        raise InputError(f"motion file not found: {path}")
    if path.is_dir():
        return _load_lmdb(path, video, fps or DEFAULT_FPS)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        motion = Motion.load(path)
        if fps is not None:
            motion.fps = float(fps)
        return motion
    if suffix == ".mat":
        return _load_mat(path, source_image, fps or DEFAULT_FPS)
    if suffix == ".txt":
        return _load_txt(path, fps or DEFAULT_FPS)
    raise InputError(
        f"{path}: unknown motion format (expected .npz, a Deep3DFaceRecon/SadTalker .mat, "
        "a 262-value .txt or an official LMDB directory)"
    )


def _load_txt(path: Path, fps: float) -> Motion:
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise InputError(f"{path}: not a numeric coefficient file ({' '.join(str(e).split())})") from None
    if values.size == TXT_ROW_DIM:
        values = values.reshape(1, TXT_ROW_DIM)  # one value per line, or all on one line
    if values.ndim != 2 or values.shape[1] != TXT_ROW_DIM:
        raise InputError(
            f"{path}: expected {TXT_ROW_DIM} values per row (257 Deep3DFaceRecon coefficients + "
            f"w0 h0 s tx ty), got shape {values.shape}"
        )
    coeffs = from_d3d(values[:, :D3D_DIM], values[:, TXT_CROP])
    return _finish(coeffs, fps, path, "deep3d-txt")


def _read_mat(path: Path) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise InputError(f"{path}: MATLAB v7.3 (HDF5) .mat files are not supported; save with -v7") from None
    except (ValueError, TypeError, OSError, scipy.io.matlab.MatReadError) as e:
        raise InputError(f"{path}: not a readable .mat file ({' '.join(str(e).split())})") from None
    return {k: np.asarray(v) for k, v in data.items() if not k.startswith("__")}


def _load_mat(path: Path, source_image: SourceLike, fps: float) -> Motion:
    data = _read_mat(path)
    keys = sorted(data)
    if "coeff" in data:  # Deep3DFaceRecon video .mat
        coeff = _matrix(data["coeff"], D3D_DIM, path, "coeff")
        if "transform_params" not in data:
            raise InputError(
                f"{path}: Deep3DFaceRecon 'coeff' without 'transform_params' (T, {TRANSFORM_DIM})"
            )
        params = _matrix(data["transform_params"], TRANSFORM_DIM, path, "transform_params")
        if len(params) != len(coeff):
            raise InputError(f"{path}: {len(coeff)} coefficient rows but {len(params)} transform_params rows")
        return _finish(from_d3d(coeff, params[:, TRANSFORM_CROP]), fps, path, "deep3d-mat")
    if "coeff_3dmm" in data:  # SadTalker
        coeff = np.asarray(data["coeff_3dmm"], dtype=np.float64)
        if coeff.ndim != 2 or coeff.shape[1] not in (MOTION_DIM, COEFF_DIM):
            raise InputError(
                f"{path}: SadTalker 'coeff_3dmm' must be (T, {MOTION_DIM}) or (T, {COEFF_DIM}), got {coeff.shape}"
            )
        if coeff.shape[1] == COEFF_DIM:  # SadTalker's preprocessing output already carries the crop
            return _finish(coeff, fps, path, "sadtalker-mat")
        if source_image is None:
            raise InputError(
                f"{path}: SadTalker coefficients have no crop values (s, tx, ty); pass the source image "
                "or its motion file as source_image / --source"
            )
        crop = crop_from_source(source_image)
        return _finish(with_crop(coeff, crop), fps, path, "sadtalker-mat")
    if {"exp", "angle", "trans"} <= set(data):  # Deep3DFaceRecon per-image split coefficients
        exp = _matrix(data["exp"], 64, path, "exp")
        angle = _matrix(data["angle"], 3, path, "angle")
        trans = _matrix(data["trans"], 3, path, "trans")
        if "transform_params" in data:
            crop = _matrix(data["transform_params"], TRANSFORM_DIM, path, "transform_params")[
                :, TRANSFORM_CROP
            ]
        elif source_image is not None:
            crop = crop_from_source(source_image)
        else:
            raise InputError(
                f"{path}: no 'transform_params' for the crop values; pass source_image / --source"
            )
        return _finish(with_crop(np.concatenate([exp, angle, trans], axis=1), crop), fps, path, "deep3d-mat")
    raise InputError(
        f"{path}: unknown .mat layout (expected 'coeff'+'transform_params' from Deep3DFaceRecon or "
        f"'coeff_3dmm' from SadTalker; found {', '.join(keys) or 'no arrays'})"
    )


def _matrix(value: np.ndarray, width: int, path: Path, name: str) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 1 and value.size == width:
        value = value[None]
    if value.ndim != 2 or value.shape[1] != width or value.shape[0] < 1:
        raise InputError(f"{path}: '{name}' must be (T, {width}), got {value.shape}")
    return value


def _finish(coeffs: np.ndarray, fps: float, path: Path, kind: str) -> Motion:
    coeffs = np.asarray(coeffs, dtype=np.float32)
    if not np.all(np.isfinite(coeffs)):
        raise InputError(f"{path}: coefficients contain NaN or infinite values")
    return Motion(coeffs=coeffs, fps=fps, source=f"{kind}:{path}")


def crop_from_source(source: SourceLike) -> np.ndarray:
    """Crop values (s, tx, ty) for a crop-less motion, from the source (see the module docstring).

    Returns:
        (3,) float32.
    """
    if isinstance(source, np.ndarray) and source.shape == (3,):
        return source.astype(np.float32)
    if isinstance(source, np.ndarray):
        from pirender.motion.extract.align import crop_values_from_image

        return crop_values_from_image(source)
    path = Path(source)  # type: ignore[arg-type]
    from pirender.media.image import is_image_path, load_image

    if is_image_path(path):
        from pirender.motion.extract.align import crop_values_from_image

        return crop_values_from_image(load_image(path))
    motion = load_motion(path)
    return motion.coeffs[0, CROP].copy()


def _load_lmdb(root: Path, video: str | None, fps: float) -> Motion:
    import lmdb

    env_dir = root if (root / "data.mdb").exists() else root / "256"
    if not (env_dir / "data.mdb").exists():
        sizes = sorted(p.name for p in root.iterdir() if (p / "data.mdb").exists()) if root.is_dir() else []
        if not sizes:
            raise InputError(f"{root}: not a motion file nor an official LMDB directory (no data.mdb)")
        env_dir = root / sizes[0]
    if not video:
        raise InputError(f"{root}: an official LMDB holds many videos; name one as ROOT{LMDB_SEPARATOR}VIDEO")
    try:
        env = lmdb.open(str(env_dir), readonly=True, lock=False, readahead=False, max_readers=32)
    except lmdb.Error as e:
        raise InputError(f"{env_dir}: cannot open LMDB ({' '.join(str(e).split())})") from None
    try:
        with env.begin(write=False) as txn:
            raw = txn.get(f"{video}-coeff_3dmm".encode())
            length = txn.get(f"{video}-length".encode())
    finally:
        env.close()
    if raw is None:
        raise InputError(f"{env_dir}: no video '{video}' (key '{video}-coeff_3dmm' missing)")
    values = np.frombuffer(raw, dtype=np.float32)
    if values.size % LMDB_ROW_DIM:
        raise InputError(
            f"{env_dir}: '{video}-coeff_3dmm' holds {values.size} floats, not (T, {LMDB_ROW_DIM})"
        )
    rows = values.reshape(-1, LMDB_ROW_DIM)
    if length is not None and int(length.decode()) != len(rows):
        raise InputError(
            f"{env_dir}: '{video}' has {int(length.decode())} frames but {len(rows)} coefficient rows"
        )
    return Motion(coeffs=from_lmdb_rows(rows), fps=fps, source=f"lmdb:{root}{LMDB_SEPARATOR}{video}")
