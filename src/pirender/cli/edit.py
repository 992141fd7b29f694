"""`pirender edit`: change a portrait's head pose and expression; an image, a sweep video or a grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "edit"
HELP = "edit a portrait's head pose and expression (image, sweep video or grid), or every frame of a video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_source_arguments(parser, required=False)
    common.add_output_argument(
        parser, help_text="output image (.png/.jpg), or .mp4 for --sweep or a video source", required=False
    )
    pose = parser.add_argument_group(
        "pose (degrees; tx/ty/tz in 3DMM units; a photo: absolute unless --relative; "
        "a video: offsets, constant or keyframed V@Ts,V@Ts)"
    )
    for name, text in (("yaw", "turn left/right"), ("pitch", "nod up/down"), ("roll", "tilt")):
        pose.add_argument(f"--{name}", help=f"{text}, degrees")
    for name in ("tx", "ty", "tz"):
        pose.add_argument(f"--{name}", help=f"head translation {name[1]}")
    pose.add_argument("--relative", action="store_true", help="add the pose values to the source's own pose")
    expr = parser.add_argument_group("expression")
    expr.add_argument(
        "--exp",
        action="append",
        default=[],
        metavar="INDEX=VALUE",
        help="set one expression coefficient (index 0..63 or a SynthHead control name); repeatable. "
        "A video: an offset from each frame's own value, constant or keyframed, e.g. smile=0@0s,1@2s,1@5s,0@6s",
    )
    expr.add_argument("--preset", metavar="NAME", help="named expression preset (or a preset .json/.npz)")
    expr.add_argument(
        "--preset-strength",
        default="1",
        help="blend towards the preset (0..1, default 1; a video: keyframes V@Ts,... too)",
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
    video = parser.add_argument_group("a video source (every frame edited, its own source)")
    video.add_argument(
        "--pose-scale", type=float, default=1.0, help="scale the head motion about its mean (0.5 = calmer)"
    )
    video.add_argument("--pose-still", action="store_true", help="hold the first frame's head pose")
    video.add_argument(
        "--hold",
        action="append",
        default=[],
        choices=("mouth", "eyes", "expression", "pose"),
        help="hold a coefficient group at the first frame's values; repeatable",
    )
    video.add_argument(
        "--mouth-from", type=Path, metavar="VIDEO|MOTION", help="take the mouth from another take"
    )
    video.add_argument("--no-audio", action="store_true", help="drop the video's audio track")
    common.add_model_arguments(parser)
    common.add_strict_argument(parser)


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
    if args.source is not None and _is_video(args.source) and not args.sweep and not args.grid:
        return _edit_video(args)
    video_only = [f for f, on in (("--pose-scale", args.pose_scale != 1.0), ("--pose-still", args.pose_still),
                  ("--hold", bool(args.hold)), ("--mouth-from", args.mouth_from is not None),
                  ("--no-audio", args.no_audio)) if on]  # fmt: skip
    if video_only:
        raise InputError(f"{video_only[0]} edits a video: give --source VIDEO (without --sweep/--grid)")
    for name in ("yaw", "pitch", "roll", "tx", "ty", "tz", "preset_strength"):
        setattr(args, name, _number(getattr(args, name), f"--{name.replace('_', '-')}"))
    if args.output is not None:
        video = bool(args.sweep) and not args.grid
        check_output_path(
            args.output,
            VIDEO_OUTPUTS if video else IMAGE_OUTPUTS,
            inputs=(args.source, args.source_coeffs, args.expression_from),
        )
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


def _is_video(path: Path) -> bool:
    from pirender.pipelines.source import is_video

    return is_video(path)


def _number(text: str | None, flag: str) -> float | None:
    """A photo edit's value: a plain number (keyframes animate a video)."""
    if text is None:
        return None
    if "@" in str(text):
        raise InputError(f"{flag} {text}: keyframes (V@Ts) animate a video source; a photo takes one number")
    from pirender.pipelines.video_edits import parse_keyframes

    return parse_keyframes(str(text), what=flag).values[0]


def _edit_video(args: argparse.Namespace) -> int:
    """`pirender edit --source VIDEO`: every frame edited with itself as the source."""
    from pirender.pipelines.dub import edit_video
    from pirender.pipelines.output import VIDEO_OUTPUTS, check_output_path
    from pirender.pipelines.video_edits import build_video_edit, expression_space

    if args.output is None:
        raise InputError("the following argument is required: -o/--output")
    check_output_path(args.output, VIDEO_OUTPUTS, inputs=(args.source, args.mouth_from))
    photo_only = [f for f, on in (("--tx/--ty/--tz", any(v is not None for v in (args.tx, args.ty, args.tz))),
                  ("--relative", args.relative), ("--expression-from", args.expression_from is not None),
                  ("--save-preset", args.save_preset is not None), ("--source-coeffs", args.source_coeffs is not None),
                  ("--no-paste-back", not args.paste_back), ("--keep-unchanged", args.keep_unchanged)) if on]  # fmt: skip
    if photo_only:
        raise InputError(f"{photo_only[0]} is for a photo source; a video's edits are offsets of each frame")
    common.require_files(
        ("source", args.source), ("mouth take", args.mouth_from), ("renderer", args.renderer)
    )
    runtime = common.runtime_kwargs(args)
    space = expression_space(runtime["extractor"])
    # Everything typed is parsed (and rejected) before a model is loaded.
    build_video_edit(
        exp=args.exp, yaw=args.yaw, pitch=args.pitch, roll=args.roll, preset=args.preset,
        preset_strength=args.preset_strength, pose_scale=args.pose_scale, pose_still=args.pose_still,
        hold=args.hold, space=space,
    )  # fmt: skip
    path = edit_video(
        args.source,
        output=args.output,
        exp=args.exp,
        yaw=args.yaw,
        pitch=args.pitch,
        roll=args.roll,
        preset=args.preset,
        preset_strength=args.preset_strength,
        pose_scale=args.pose_scale,
        pose_still=args.pose_still,
        hold=args.hold,
        mouth_from=args.mouth_from,
        keep_audio=not args.no_audio,
        crop=common.crop_choice(args),
        **runtime,
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
    space = (
        common.extractor_kind(args.extractor, args.extractor_checkpoint, args.renderer)
        if estimated
        else "motion"
    )
    preset = edits.Preset(str(args.save_preset), exp, f"expression of {reference.name}", space)
    path = edits.save_preset(preset, args.save_preset)
    if not args.quiet:
        print(f"saved preset {preset.name!r}: {path}")
