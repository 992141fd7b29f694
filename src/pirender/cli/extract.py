"""`pirender extract`: image, video or folder -> motion.npz (or convert a motion file of another format)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.cli import common

COMMAND = "extract"
HELP = "extract motion coefficients from an image, video or folder (or convert a .mat/.txt/LMDB motion)"

_MOTION_SUFFIXES = (".mat", ".txt", ".npz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", help="image, video, folder of images, or a motion file / LMDB::VIDEO to convert"
    )
    parser.add_argument("-o", "--output", required=True, help="output motion .npz")
    parser.add_argument(
        "--extractor",
        choices=("deep3d", "synthhead"),
        help="deep3d: official-compatible, needs --extractor-checkpoint; synthhead: the shipped regressor"
        f" for SynthHead videos (default: {common.EXTRACTOR_RULE})",
    )
    parser.add_argument(
        "--extractor-checkpoint",
        dest="checkpoint",
        help="Deep3DFaceRecon epoch_20.pth (deep3d) or a SynthHead extractor .safetensors",
    )
    common.add_alias(parser, "--checkpoint", dest="checkpoint")
    parser.add_argument(
        "--bfm-dir", help="deep3d: a BFM folder to read similarity_Lm3D_all.mat from (default: shipped)"
    )
    parser.add_argument(
        "--smooth",
        help="temporal filter: none, gaussian[:SECONDS], one-euro[:MIN_CUTOFF_HZ] (default: gaussian with "
        "per-group widths when extracting, none when converting a motion file)",
    )
    parser.add_argument(
        "--no-crop", action="store_true", help="frames already are square face crops (e.g. VoxCeleb)"
    )
    parser.add_argument(
        "--crop-mode", choices=("track", "fixed"), default="track", help="crop through a video"
    )
    parser.add_argument("--crop-smoothing", type=float, default=0.5, help="crop track smoothing, seconds")
    parser.add_argument("--fps", type=float, help="frame rate of an image sequence (default 25)")
    parser.add_argument("--source", help="SadTalker .mat: image or motion file to take the crop values from")
    parser.add_argument("--landmark-model", help="face_landmarker.task (default: found automatically)")
    common.add_strict_argument(parser)
    common.add_progress_arguments(parser, quiet="no progress bars and no line about what was written")


def _is_motion_input(path: str) -> bool:
    from pirender.motion.formats import LMDB_SEPARATOR

    p = Path(path.split(LMDB_SEPARATOR, 1)[0])
    return p.suffix.lower() in _MOTION_SUFFIXES or (
        p.is_dir() and ((p / "data.mdb").exists() or (p / "256").is_dir())
    )


def _build_extractor(args: argparse.Namespace):  # noqa: ANN202 - returns an Extractor
    from pirender.errors import InputError

    if common.extractor_kind(args.extractor, args.checkpoint) == "synthhead":
        from pirender.motion.extract.synthhead import SynthHeadExtractor

        return SynthHeadExtractor.load(args.checkpoint)
    if not args.checkpoint:
        raise InputError(
            "--extractor deep3d needs --extractor-checkpoint (Deep3DFaceRecon epoch_20.pth, see docs/motion.md); "
            "for SynthHead videos use --extractor synthhead"
        )
    from pirender.motion.extract.deep3d import Deep3DExtractor

    return Deep3DExtractor.from_checkpoint(args.checkpoint, args.bfm_dir, landmark_model=args.landmark_model)


def run(args: argparse.Namespace) -> int:
    import torch

    from pirender.errors import InputError
    from pirender.motion.smooth import SmoothingConfig, smooth_motion

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    if Path(args.output).suffix.lower() != ".npz":
        raise InputError(f"{args.output}: the output motion file must end in .npz")
    from pirender.media.output_check import check_output_path

    check_output_path(args.output, (".npz",), inputs=(args.input,))
    smoothing = SmoothingConfig.parse(args.smooth) if args.smooth else None
    with common.notes("extract", strict=args.strict):
        if _is_motion_input(args.input):
            from pirender.motion.formats import load_motion

            motion = load_motion(args.input, source_image=args.source, fps=args.fps)
            if smoothing is not None:  # conversions keep the values unless smoothing is asked for
                motion.coeffs = smooth_motion(motion.coeffs, motion.fps, smoothing)
        else:
            from pirender.motion.extract.pipeline import extract_motion, open_frames

            open_frames(args.input)  # a missing, empty or corrupt input fails before any model is loaded
            motion = extract_motion(
                args.input,
                _build_extractor(args),
                crop=not args.no_crop,
                crop_mode=args.crop_mode,
                crop_smoothing=args.crop_smoothing,
                smoothing=smoothing,
                fps=args.fps,
                landmark_model=args.landmark_model,
                show_progress=common.show_progress(args),
            )
    motion.save(args.output)
    if not args.quiet:
        print(f"{args.output}: {motion.num_frames} frames at {motion.fps:g} fps ({motion.source})")
    return 0
