"""Benchmark: jobs per minute of one manifest run as one `pirender` command per job, as `pirender batch`
on a local pool, and as `pirender batch --ray` (a local Ray started for the run), side by side.

    python bench/batch_throughput.py [--jobs 12] [--workers 2]

The manifest mixes the four commands with the shipped SynthHead models at 128 px: photo edits, 2 s
reenactments, speech-driven videos and dubs of a 2 s clip, inputs made here (SynthHead faces and clip,
a tone-burst speech track). Every mode runs the same jobs into its own folder, as a user would run it
(each a child process, Ray's start-up included); printed: wall seconds, jobs/min and the speed-up
over one command per job.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile


def make_inputs(folder: Path, jobs: int) -> Path:
    from pirender.media.image import save_image
    from pirender.media.video import VideoWriter
    from pirender.motion.sequence import Motion
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    faces = []
    for seed in range(4):
        faces.append(f"face{seed}.png")
        save_image(folder / faces[-1], SynthHead(Identity.from_seed(60 + seed), 128).render(neutral_coeffs()))
    t = np.arange(2 * 16000) / 16000
    soundfile.write(
        folder / "speech.wav",
        (0.2 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32),
        16000,
    )
    motion = np.repeat(neutral_coeffs()[None], 50, 0)
    motion[:, 64] = 0.3 * np.sin(np.linspace(0, 2 * np.pi, 50))
    Motion(coeffs=motion, fps=25.0).save(folder / "drive.npz")
    head = SynthHead(Identity.from_seed(70), 128)
    with VideoWriter(folder / "clip.mp4", 25.0) as writer:
        for frame in motion:
            writer.write(head.render(frame))
    kinds = [
        lambda i: {"command": "edit", "source": faces[i % 4], "preset": "jaw_open", "yaw": 10, "output": f"edit{i}.png"},
        lambda i: {"command": "reenact", "source": faces[i % 4], "driving": "drive.npz", "output": f"reenact{i}.mp4"},
        lambda i: {"command": "speak", "source": faces[i % 4], "audio": "speech.wav", "seed": i, "output": f"speak{i}.mp4"},
        lambda i: {"command": "dub", "source": "clip.mp4", "audio": "speech.wav", "seed": i, "output": f"dub{i}.mp4"},
    ]  # fmt: skip
    lines = [json.dumps(kinds[i % 4](i)) for i in range(jobs)]
    (folder / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "jobs.jsonl"


def one_command_per_job(manifest: Path, out: Path, threads: int) -> None:
    out.mkdir()
    for line in manifest.read_text().splitlines():
        job = json.loads(line)
        argv = [sys.executable, "-m", "pirender.cli.main", job.pop("command"), "-q"]
        argv += ["-o", str(out / job.pop("output"))]
        for key, value in job.items():
            argv += [f"--{key}", str(value)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(argv, cwd=manifest.parent, check=True, env=env)


def batch(manifest: Path, out: Path, *extra: str) -> None:
    argv = [sys.executable, "-m", "pirender.cli.main", "batch", str(manifest), "-o", str(out), "-q", *extra]
    subprocess.run(argv, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="pirender-batch-bench-") as tmp:
        manifest = make_inputs(Path(tmp), args.jobs)
        threads = max(1, cores // args.workers)
        modes = {
            f"one `pirender` command per job ({cores} threads)": lambda o: one_command_per_job(manifest, o, cores),
            f"`pirender batch --workers {args.workers}`": lambda o: batch(manifest, o, "--workers", str(args.workers)),
            f"`pirender batch --workers 1` ({cores} threads)": lambda o: batch(manifest, o, "--workers", "1"),
            "`pirender batch --ray` (local Ray, start-up included)": lambda o: batch(manifest, o, "--ray", "--threads", str(threads)),
        }  # fmt: skip
        rows = []
        for i, (name, run) in enumerate(modes.items()):
            start = time.perf_counter()
            run(Path(tmp) / f"out{i}")
            seconds = time.perf_counter() - start
            rows.append((name, seconds))
            print(f"{name}: {seconds:.1f} s", flush=True)
    base = rows[0][1]
    print(
        f"\n{args.jobs} jobs (edit, reenact 2 s, speak 2 s, dub 2 s; shipped models, 128 px), {cores} cores\n"
    )
    print("| mode | wall (s) | jobs/min | speed-up |\n|---|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {60 * args.jobs / seconds:.1f} | {base / seconds:.2f}x |")
    print(f"\ncommand: python bench/batch_throughput.py --jobs {args.jobs} --workers {args.workers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
