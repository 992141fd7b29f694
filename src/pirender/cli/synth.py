"""`pirender synth`: write a SynthHead dataset (official LMDB layout) or a preview contact sheet."""

from __future__ import annotations

import argparse

from pirender.cli import common

COMMAND = "synth"
HELP = "generate a synthetic talking-head dataset (official LMDB layout) or a preview sheet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", dest="out", help="output dataset directory (train_list.txt, test_list.txt, <size>/)"
    )
    common.add_alias(parser, "--out", dest="out")
    parser.add_argument("--identities", type=int, default=10, help="number of identities (persons)")
    parser.add_argument("--videos-per-identity", type=int, default=2, help="videos per identity")
    parser.add_argument("--frames", type=int, default=50, help="frames per video")
    parser.add_argument("--size", type=int, default=256, help="image size in pixels (square)")
    parser.add_argument(
        "--talking", action="store_true", help="mouth follows synthesised speech (WAV stored)"
    )
    parser.add_argument(
        "--edit-videos",
        type=int,
        default=0,
        metavar="N",
        help="per identity, N more videos of held expression edits (training editable renderers)",
    )
    parser.add_argument("--seed", type=int, default=0, help="identity i uses seed SEED + i")
    parser.add_argument("--fps", type=float, default=25.0, help="video frame rate")
    parser.add_argument(
        "--test-fraction", type=float, default=0.1, help="fraction of identities in the test split"
    )
    parser.add_argument("--preview", metavar="PNG", help="write a contact sheet instead of a dataset")
    parser.add_argument("--preview-identities", type=int, default=6, help="rows of the contact sheet")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pirender.errors import InputError

    if args.preview:
        return _preview(args)
    if not args.out:
        raise InputError("give -o DIR to write a dataset, or --preview out.png for a contact sheet")
    from tqdm import tqdm

    from pirender.data.synth_dataset import SynthDatasetSpec, write_dataset

    spec = SynthDatasetSpec(
        identities=args.identities,
        videos_per_identity=args.videos_per_identity,
        frames=args.frames,
        size=args.size,
        talking=args.talking,
        edit_videos=args.edit_videos,
        seed=args.seed,
        fps=args.fps,
        test_fraction=args.test_fraction,
    )
    videos = spec.identities * (spec.videos_per_identity + spec.edit_videos)
    total = videos * spec.frames
    with tqdm(total=total, unit="frame", disable=args.no_progress, desc="synth") as bar:
        out = write_dataset(args.out, spec, progress=bar.update)
    print(f"wrote {videos} videos ({total} frames) to {out}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from pathlib import Path

    from PIL import Image

    from pirender.errors import InputError
    from pirender.media.atomic import atomic_path
    from pirender.synth.preview import contact_sheet

    if not str(args.preview).lower().endswith(".png"):
        raise InputError(f"--preview must name a .png file, got {args.preview}")
    if not 1 <= args.preview_identities <= 64 or not 32 <= args.size <= 512:
        raise InputError("--preview-identities must be 1..64 and --size 32..512 for a preview")
    sheet = contact_sheet([args.seed + i for i in range(args.preview_identities)], size=args.size)
    with atomic_path(args.preview) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG")
    print(f"wrote {Path(args.preview)}")
    return 0
