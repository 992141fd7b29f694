"""Flags and helpers the model-running commands share (reenact, edit, speak; ui takes the model flags),
so every command spells a common flag the same way.

Not a command: it defines no COMMAND, and main.py skips a module named `common`.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pirender.errors import InputError
from pirender.pipelines.models import EXTRACTOR_RULE, extractor_kind


def add_source_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_argument_group("source")
    group.add_argument(
        "--source", type=Path, required=required, help="portrait image (or a video: its first frame)"
    )
    group.add_argument(
        "--source-coeffs",
        type=Path,
        metavar="MOTION",
        help="the source's own coefficients (motion file, frame 0) instead of estimating them",
    )
    group.add_argument(
        "--crop",
        choices=("auto", "always", "never"),
        default="auto",
        help="cut the face out of the source: auto = only when the image is not square (default)",
    )
    add_face_arguments(group)
    group.add_argument(
        "--no-paste-back",
        dest="paste_back",
        action="store_false",
        help="output the rendered face crop instead of pasting it back into a larger photo",
    )


def add_output_argument(
    parser: argparse.ArgumentParser, *, help_text: str = "output .mp4", required: bool = True
) -> None:
    parser.add_argument("-o", "--output", type=Path, required=required, help=help_text)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models and runtime")
    group.add_argument(
        "--renderer",
        type=Path,
        metavar="CKPT",
        help="model directory or official checkpoint (default: the bundled SynthHead renderer)",
    )
    group.add_argument("--device", default="cpu", help="cpu, cuda[:N] or mps (default cpu)")
    group.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="reduced precision where the device supports it (auto)",
    )
    group.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="rendering backend")
    group.add_argument(
        "--batch-size", type=int, help="frames rendered at once (default: chosen for the device)"
    )
    group.add_argument(
        "--workers",
        type=int,
        help="CPU: frames rendered in parallel, one per worker (default 1: all threads on one frame; "
        "2 is faster in bf16 and on a busy machine)",
    )
    group.add_argument(
        "--size", type=int, help="renderer image side (default: from the model directory, else 256)"
    )
    group.add_argument(
        "--extractor",
        choices=("synthhead", "deep3d"),
        help=f"coefficient estimator for images and videos (default: {EXTRACTOR_RULE})",
    )
    group.add_argument(
        "--extractor-checkpoint", type=Path, help="extractor weights (deep3d: Deep3DFaceRecon epoch_20.pth)"
    )
    group.add_argument(
        "--bfm-dir",
        dest="bfm",
        type=Path,
        help="deep3d only: a BFM folder to read similarity_Lm3D_all.mat from (default: the shipped points)",
    )
    add_alias(group, "--bfm", dest="bfm", type=Path)
    add_progress_arguments(group, quiet="no progress bars and no lines about what was written")


def runtime_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments shared by pirender.reenact / edit / speak, from the shared flags."""
    from pirender.pipelines.models import ExtractorSpec

    extractor = ExtractorSpec(
        kind=extractor_kind(args.extractor, args.extractor_checkpoint, args.renderer),
        checkpoint=None if args.extractor_checkpoint is None else str(args.extractor_checkpoint),
        bfm_dir=None if args.bfm is None else str(args.bfm),
    )
    return {
        "renderer": args.renderer,
        "device": args.device,
        "precision": args.precision,
        "backend": args.backend,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "size": args.size,
        "extractor": extractor,
        "progress": show_progress(args),
    }


def source_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"source_coeffs": args.source_coeffs, "crop": crop_choice(args), "paste_back": args.paste_back}


@contextlib.contextmanager
def notes(command: str, *, strict: bool = False) -> Iterator[None]:
    """Collect the block's warnings and print each distinct one once, as a note, when it succeeds
    (a video read in several passes warns once). With `strict`, a truncated video raises instead."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if strict:
            from pirender.media.video import TruncatedVideoWarning

            warnings.simplefilter("error", TruncatedVideoWarning)
        yield
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        print(f"pirender {command}: note: {message}", file=sys.stderr)


def add_alias(parser: argparse._ActionsContainer, old: str, *, dest: str, **kwargs: Any) -> None:
    """An older spelling of a flag, kept working (hidden from --help) for a release; `kwargs` as the
    current flag's (type=...)."""
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, **kwargs)


def add_progress_arguments(parser: argparse._ActionsContainer, *, quiet: str | None = None) -> None:
    """--no-progress (no progress bars), and with `quiet` (its help text) -q/--quiet as well."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help=quiet)


def show_progress(args: argparse.Namespace) -> bool:
    return not (getattr(args, "no_progress", False) or getattr(args, "quiet", False))


def add_strict_argument(parser: argparse._ActionsContainer) -> None:
    """--strict: a video that ends before its declared length is an error, not a warning."""
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on a video that ends before the length its header declares (default: warn, use what is there)",
    )


def add_face_arguments(group: argparse._ActionsContainer) -> None:
    """--face N / --face-at X,Y: which face of a photo (or, in a video, which face to follow)."""
    group.add_argument(
        "--face", type=int, metavar="N", help="use the N-th largest face (default 1, the largest)"
    )
    group.add_argument(
        "--face-at", metavar="X,Y", help="use the face at this pixel of the source (x right, y down)"
    )


def crop_choice(args: argparse.Namespace) -> Any:
    """args.crop, or the FaceSelect of --face / --face-at (which imply cropping)."""
    face = face_choice(args)
    if face is None:
        return args.crop
    if args.crop == "never":
        raise InputError("--face and --face-at pick a face to crop; they cannot go with --crop never")
    return face


def face_choice(args: argparse.Namespace) -> Any:
    """The FaceSelect of --face / --face-at, or None."""
    from pirender.motion.faces import FaceSelect

    face, at = getattr(args, "face", None), getattr(args, "face_at", None)
    if face is None and at is None:
        return None
    if face is not None and at is not None:
        raise InputError("give --face or --face-at, not both")
    if at is None:
        return FaceSelect(index=face)
    try:
        x, y = (float(v) for v in at.split(","))
    except ValueError:
        raise InputError(f"--face-at takes X,Y in pixels, e.g. 640,360; got {at!r}") from None
    return FaceSelect(at=(x, y))


def require_files(*paths: tuple[str, Path | None]) -> None:
    """Fail fast (before any model is loaded) on a missing input file."""
    for what, path in paths:
        if path is not None and not Path(path).exists():
            raise InputError(f"{what} not found: {path}")


def check_positive(value: float | None, what: str) -> None:
    if value is not None and not value > 0:
        raise InputError(f"{what} must be positive, got {value}")


_COLLECTED: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("outputs", default=None)


@contextlib.contextmanager
def collect_outputs() -> Iterator[list[Path]]:
    """Within the block, every path a command reports written (print_outputs) is also appended to the
    yielded list: how a batch job learns what its command wrote."""
    written: list[Path] = []
    token = _COLLECTED.set(written)
    try:
        yield written
    finally:
        _COLLECTED.reset(token)


def print_outputs(args: argparse.Namespace, written: Path | list[Path]) -> None:
    """Print the written path (or each of a list), one a line, unless --quiet."""
    paths = written if isinstance(written, list) else [written]
    if (collected := _COLLECTED.get()) is not None:
        collected.extend(Path(p) for p in paths)
    if not args.quiet:
        for path in paths:
            print(path)
