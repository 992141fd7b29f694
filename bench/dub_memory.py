"""Benchmark: peak memory and speed of the whole `pirender dub` command on a long 256x256 video.

    python bench/dub_memory.py --frames 1000 --threads 2

Writes a SynthHead talking video (identity 101, 256 px, H.264, its own speech) and a second clip's
speech of the same length, saves the 256-px default architecture holding the spec's rule weights
as a model directory, and runs `pirender dub --renderer <it> --size 256` in a child process
(decode, extraction, the audio flow, two renders a frame, paste-back, encode). Printed: the child's
peak RSS (getrusage), its wall time and frames/s, and, measured in this process on the same
threads, the renderer's own frames/s (one 256-px frame per forward pass, as the dub renders), so
the two can be compared: a dub renders each frame twice (the reconstruction and the edit).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from pirender.bench.reference_weights import rule_renderer
from pirender.media.video import probe_video, write_video
from pirender.models.inputs import reference_inputs
from pirender.synth import SynthHead, talking_clip
from pirender.synth.audio import SAMPLE_RATE


def renderer_fps(model: torch.nn.Module, frames: int = 12) -> float:
    source, coeffs = reference_inputs(1, 256)
    with torch.inference_mode():
        model(source, coeffs)  # warm-up
        start = time.perf_counter()
        for _ in range(frames):
            model(source, coeffs)
    return frames / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=None, help="work directory (default: a new temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-dub-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    fps, T = 25.0, args.frames

    model = rule_renderer()
    model.save_pretrained(work / "rule256", provenance={"weights": "spec rule weights (bench)"})
    head = SynthHead(101, 256)
    clip, speech = talking_clip(11, T, fps), talking_clip(23, T, fps)
    soundfile.write(work / "own.wav", clip.audio, SAMPLE_RATE)
    soundfile.write(work / "speech.wav", speech.audio, SAMPLE_RATE)
    write_video(
        work / "talk.mp4", (head.render(c) for c in clip.motion), fps=fps, audio=str(work / "own.wav")
    )
    out = work / "dubbed.mp4"
    out.unlink(missing_ok=True)
    command = ["pirender", "dub", "--source", str(work / "talk.mp4"), "--audio", str(work / "speech.wav"),
               "--renderer", str(work / "rule256"), "--size", "256", "-o", str(out), "-q"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    written = probe_video(out)
    own = renderer_fps(model)
    print(f"command: {' '.join(command)}  (OMP_NUM_THREADS={args.threads})")
    print(f"output: {written.num_frames} frames {written.width}x{written.height}, audio {written.has_audio}")
    print("| figure | value |")
    print("|---|---|")
    print(f"| peak RSS of the whole dub | {peak_kb / 1024**2:.2f} GB |")
    print(f"| wall time | {wall / 60:.1f} min |")
    print(f"| whole command | {written.num_frames / wall:.2f} frames/s |")
    print(
        f"| renderer alone (one 256-px forward) | {own:.2f} frames/s (a dub renders twice a frame: bound {own / 2:.2f}) |"
    )
    return 0 if written.num_frames == T and np.isfinite(wall) else 1


if __name__ == "__main__":
    sys.exit(main())
