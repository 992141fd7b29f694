"""`pirender edit`: change a portrait's head pose and expression; an image, a sweep video or a grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "edit"
HELP = "edit a portrait's head pose and expression (image, pose/expression sweep video, or grid)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_source_arguments(parser, required=False)
    common.add_output_argument(
        parser, help_text="output image (.png/.jpg), or .mp4 for --sweep", required=False
    )
    pose = parser.add_argument_group("pose (degrees; tx/ty/tz in 3DMM units; absolute unless --relative)")
    for name, text in (("yaw", "turn left/right"), ("pitch", "nod up/down"), ("roll", "tilt")):
        pose.add_argument(f"--{name}", type=float, help=f"{text}, degrees")
    for name in ("tx", "ty", "tz"):
        pose.add_argument(f"--{name}", type=float, help=f"head translation {name[1]}")
    pose.add_argument("--relative", action="store_true", help="add the pose values to the source's own pose")
    expr = parser.add_argument_group("expression")
    expr.add_argument(
        "--exp",
        action="append",
        default=[],
        metavar="INDEX=VALUE",
        help="set one expression coefficient (index 0..63 or a SynthHead control name); repeatable",
    )
    expr.add_argument("--preset", metavar="NAME", help="named expression preset (or a preset .json/.npz)")
    expr.add_argument(
        "--preset-strength", type=float, default=1.0, help="blend towards the preset (0..1, default 1)"
    )
    expr.add_argument(
        "--expression-from", type=Path, metavar="IMG|MOTION", help="copy another face's expression"
    )
    expr.add_argument(
        "--save-preset",
        metavar="NAME",
        help="store the --expression-from expression as a preset (NAME, or a path ending in .json)",
    )
    expr.add_argument("--list-presets", action="store_true", help="list the available presets and exit")
    anim = parser.add_argument_group("sweeps and grids")
    anim.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="SPEC",
        help="animate one parameter: yaw:-20:20:30, smile:0:1:15, exp.5:0:1, preset.surprise:0:1, "
        "preset:smile,frown; repeatable (played in sequence)",
    )
    anim.add_argument("--grid", action="store_true", help="one image: a row per --sweep, a column per step")
    anim.add_argument("--fps", type=float, default=25.0, help="frame rate of a sweep video (default 25)")
    parser.add_argument(
        "--keep-unchanged",
        action="store_true",
        help="keep the source's own pixels wherever the edit does not change the render "
        "(sharper hair and background for expression edits; one extra render)",
    )
    common.add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pirender.pipelines import edits
    from pirender.pipelines.output import IMAGE_OUTPUTS, VIDEO_OUTPUTS, check_output_path

    if args.list_presets:
        for name, path in edits.list_presets().items():
            preset = edits.load_preset(path)
            print(f"{name:20s} [{preset.space}] {preset.description}")
        return 0
    if args.save_preset is not None and args.expression_from is None:
        raise InputError("--save-preset needs --expression-from IMG|MOTION")
    if args.output is None and args.save_preset is None:
        raise InputError("the following argument is required: -o/--output")
    if args.output is not None:
        video = bool(args.sweep) and not args.grid
        check_output_path(args.output, VIDEO_OUTPUTS if video else IMAGE_OUTPUTS)
        if args.source is None:
            raise InputError("the following argument is required: --source")
    if args.grid and not args.sweep:
        raise InputError("--grid needs at least one --sweep (one row per sweep)")
    common.require_files(
        ("source", args.source),
        ("expression source", args.expression_from),
        ("source coefficients", args.source_coeffs),
        ("renderer", args.renderer),
    )
    common.check_positive(args.fps, "--fps")
    # Everything the user typed is parsed (and rejected) before a model is loaded.
    sweeps = [edits.parse_sweep(spec) for spec in args.sweep]
    preset = None if args.preset is None else edits.load_preset(args.preset)
    edits.build_edit(
        exp=args.exp, yaw=args.yaw, pitch=args.pitch, roll=args.roll, tx=args.tx, ty=args.ty, tz=args.tz
    )
    if args.save_preset is not None:
        _save_preset(args)
        if args.output is None:
            return 0
    from pirender.pipelines.edit import edit

    path = edit(
        args.source,
        output=args.output,
        yaw=args.yaw,
        pitch=args.pitch,
        roll=args.roll,
        tx=args.tx,
        ty=args.ty,
        tz=args.tz,
        exp=args.exp,
        preset=preset,
        preset_strength=args.preset_strength,
        expression_from=args.expression_from,
        relative=args.relative,
        sweep=sweeps,
        grid=args.grid,
        fps=args.fps,
        keep_unchanged=args.keep_unchanged,
        **common.source_kwargs(args),
        **common.runtime_kwargs(args),
    )
    common.print_outputs(args, path)
    return 0


def _save_preset(args: argparse.Namespace) -> None:
    from pirender.media.image import is_image_path
    from pirender.pipelines import edits
    from pirender.pipelines.edit import expression_of
    from pirender.pipelines.source import is_video

    reference: Path = args.expression_from
    estimated = is_video(reference) or is_image_path(reference)
    exp = expression_of(
        reference,
        extractor=common.runtime_kwargs(args)["extractor"],
        size=args.size or 256,
        device=args.device,
    )
    space = args.extractor if estimated else "motion"
    preset = edits.Preset(str(args.save_preset), exp, f"expression of {reference.name}", space)
    path = edits.save_preset(preset, args.save_preset)
    if not args.quiet:
        print(f"saved preset {preset.name!r}: {path}")
