"""SynthHead rendering speed on one core: frames/s at 64, 128 and 256 pixels.

    python bench/synth_speed.py [--frames 60] [--identities 4]

Renders random-motion frames (poses, expressions, blinks) of a few identities, single-threaded
(BLAS/OpenMP limited to one thread before numpy is imported). Reports wall-clock and CPU-time
frames/s; on a busy shared machine the CPU-time figure is the one that measures the renderer.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

from pirender.synth import SynthHead, random_motion  # noqa: E402


def bench(size: int, frames: int, identities: int) -> tuple[float, float]:
    heads = [SynthHead(seed, size) for seed in range(identities)]
    motions = [random_motion(100 + seed, frames) for seed in range(identities)]
    for head, motion in zip(heads, motions, strict=True):
        head.render(motion[0])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for head, motion in zip(heads, motions, strict=True):
        for coeffs in motion:
            head.render(coeffs)
    count = frames * identities
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per identity")
    parser.add_argument("--identities", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print(f"{'size':>6} {'wall fps':>10} {'cpu fps':>10}")
    for size in args.sizes:
        wall, cpu = bench(size, args.frames, args.identities)
        print(f"{size:>6} {wall:>10.1f} {cpu:>10.1f}")


if __name__ == "__main__":
    main()
