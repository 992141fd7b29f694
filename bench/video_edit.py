"""Benchmark: edit and dub SynthHead talking clips whose edited truth is known.

    python bench/video_edit.py --identity 101 --frames 100 [--renderer DIR]

A held-out SynthHead identity talks (clip A); each edit is applied to the clip's *true* coefficients
and SynthHead renders the edited truth. The video (H.264, as a user's would be) goes through
`pirender.edit_video` / `pirender.dub` with the shipped models (or `--renderer`), coefficients extracted from its frames.
Printed per edit: PSNR of the output and of the unedited input against the edited truth; for the
dub, the correlation of the mouth opening the SynthHead extractor reads off the output with the new
speech's true mouth track, and the PSNR to the input outside the region the true dub changes; and
temporal stability (mean |frame-to-frame difference| of the output / of the edited truth).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from scipy import ndimage

import pirender
from pirender.media.video import read_video_frames, write_video
from pirender.pipelines.models import load_extractor
from pirender.synth import EXPRESSION_CONTROLS, SynthHead, talking_clip
from pirender.synth.audio import SAMPLE_RATE

C = EXPRESSION_CONTROLS


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d.mean() if where is None else d[np.broadcast_to(where[..., None], d.shape)].mean()
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def flicker(frames: np.ndarray) -> float:
    return float(np.abs(np.diff(frames.astype(np.float32), axis=0)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identity", type=int, default=101)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11, help="clip A (the video)")
    parser.add_argument("--speech-seed", type=int, default=23, help="clip B (the new speech)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--renderer", default=None, help="renderer dir (default: shipped)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fps, T = 25.0, args.frames
    head = SynthHead(args.identity, 128)
    clip = talking_clip(args.seed, T, fps)
    speech = talking_clip(args.speech_seed, T, fps)
    render = lambda motion: np.stack([head.render(c) for c in motion])  # noqa: E731
    times = np.arange(T) / fps
    work = Path(tempfile.mkdtemp(prefix="bench-video-edit-"))
    soundfile.write(work / "a.wav", clip.audio, SAMPLE_RATE)
    soundfile.write(work / "b.wav", speech.audio, SAMPLE_RATE)
    write_video(work / "a.mp4", render(clip.motion), fps=fps, audio=str(work / "a.wav"))
    inp = read_video_frames(work / "a.mp4")

    d = T / fps
    smile = clip.motion.copy()
    smile[:, C["smile"]] += np.interp(times, [0.2 * d, 0.35 * d, 0.65 * d, 0.8 * d], [0, 1, 1, 0])
    calm = clip.motion.copy()
    pose = slice(64, 70)
    calm[:, pose] = calm[:, pose].mean(0) + 0.5 * (calm[:, pose] - calm[:, pose].mean(0))
    eyes = clip.motion.copy()
    ramp = np.interp(times, [0.3 * d, 0.35 * d, 0.6 * d, 0.65 * d], [0, 1, 1, 0])
    for k in ("blink_left", "blink_right"):
        eyes[:, C[k]] = np.clip(eyes[:, C[k]] + ramp, 0, 1)
    dubbed = clip.motion.copy()
    for k in ("jaw_open", "pucker", "lip_stretch"):
        dubbed[:, C[k]] = speech.motion[:, C[k]]
    keys = lambda pts: ",".join(f"{v:g}@{t * d:.3f}s" for t, v in pts)  # noqa: E731
    cases = {
        "smile ramp": (smile, dict(exp={"smile": keys([(0.2, 0), (0.35, 1), (0.65, 1), (0.8, 0)])})),
        "pose damped x0.5": (calm, dict(pose_scale=0.5)),
        "eyes closed 0.35-0.6": (
            eyes,
            dict(
                exp={
                    k: keys([(0.3, 0), (0.35, 1), (0.6, 1), (0.65, 0)]) for k in ("blink_left", "blink_right")
                }
            ),
        ),
        "dub (new speech)": (dubbed, None),
    }
    print(
        f"identity {args.identity}, {T} frames at 128 px, clip seed {args.seed}, speech seed {args.speech_seed}"
    )
    print(
        "| edit | output vs edited truth (dB) | input vs edited truth (dB) | flicker output / truth"
        " | flicker input / truth | s |"
    )
    print("|---|---|---|---|---|---|")
    for name, (motion, kwargs) in cases.items():
        truth = render(motion)
        start = time.perf_counter()
        if kwargs is None:
            out = pirender.dub(work / "a.mp4", str(work / "b.wav"), seed=0, renderer=args.renderer).to_array()
        else:
            out = pirender.edit_video(work / "a.mp4", renderer=args.renderer, **kwargs).to_array()
        seconds = time.perf_counter() - start
        ratio, ratio_in = flicker(out) / flicker(truth), flicker(inp) / flicker(truth)
        print(
            f"| {name} | {psnr(out, truth):.2f} | {psnr(inp, truth):.2f} | {ratio:.2f} | {ratio_in:.2f}"
            f" | {seconds:.1f} |"
        )
        if kwargs is None:
            region = np.any(np.abs(truth.astype(int) - render(clip.motion).astype(int)).sum(-1) > 6, axis=0)
            region = ndimage.binary_dilation(region, iterations=4)
            outside = ~np.broadcast_to(region, out.shape[:3])
            opening = load_extractor(None).extract(list(out))[:, C["jaw_open"]]
            r = np.corrcoef(opening, speech.mouth_open[:T])[0, 1]
            r_in = np.corrcoef(
                load_extractor(None).extract(list(inp))[:, C["jaw_open"]], speech.mouth_open[:T]
            )[0, 1]
            print(
                f"dub: mouth opening read off the output vs the new speech's true track r = {r:.3f} "
                f"(input: r = {r_in:.3f}); PSNR to the input outside the dubbed region {psnr(out, inp, outside):.2f} dB "
                f"({region.mean() * 100:.1f}% of the frame is inside)"
            )


if __name__ == "__main__":
    main()
