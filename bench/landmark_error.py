"""How far the five alignment points read off MediaPipe's mesh lie from the true ones (SynthHead).

    python bench/landmark_error.py [--identities 24] [--size 256]

The alignment of Deep3DFaceRecon takes five points from 68-point iBUG landmarks (eye centres as the
mean of 37/40 and 43/46, nose tip 31, mouth corners 49, 55); pirender takes them from the MediaPipe
mesh by a fixed correspondence (`motion.faces.landmarks5_from_mesh`). On SynthHead renders the true
points are known: the eye centres, the nose tip and the mouth corners of the head model, projected
with the frame's own camera. Per identity one neutral frontal frame and one random-pose frame;
printed: the mean and 95th-percentile error per point in pixels and as a share of the inter-ocular
distance, and what it does to the alignment (the crop values s, tx, ty fitted to detected vs true
points, the standard points being the same on both sides).
"""

from __future__ import annotations

import argparse

import numpy as np

from pirender.motion.camera import project
from pirender.motion.extract.align import TEMPLATE_5, transform_params
from pirender.motion.faces import FaceCropper
from pirender.synth import SynthHead, neutral_coeffs, random_motion

POINTS = ("left eye", "right eye", "nose tip", "left mouth corner", "right mouth corner")


def true_five(head: SynthHead, coeffs: np.ndarray, size: int) -> np.ndarray:
    """(5, 2) pixel positions of the head model's eye centres, nose tip and mouth corners, image-left first."""
    marks, geo = head.landmarks(), head.geometry
    half = 0.2 * head.identity.mouth_width  # the neutral mouth's half-width (synth/features.py)
    corners = [np.array([x, geo["mouth_y"], head._surface_z(x, geo["mouth_y"])]) for x in (half, -half)]
    pts = project(
        np.stack([marks["eye_left"], marks["eye_right"], marks["nose_tip"], *corners]), coeffs, size
    )
    eyes, mouth = pts[:2][np.argsort(pts[:2, 0])], pts[3:][np.argsort(pts[3:, 0])]
    return np.concatenate([eyes, pts[2:3], mouth])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    errors, relative, crops, missed = [], [], [], 0
    with FaceCropper() as cropper:
        for seed in range(args.identities):
            head = SynthHead(5000 + seed, args.size)
            for coeffs in (neutral_coeffs(), random_motion(seed, 1)[0]):
                coeffs = coeffs.copy()
                coeffs[:64] = 0.0  # neutral expression: the corners above are the neutral mouth's
                truth = true_five(head, coeffs, args.size)
                faces = cropper.detect(head.render(coeffs))
                if not faces:
                    missed += 1
                    continue
                found = faces[0].five
                error = np.linalg.norm(found - truth, axis=1)
                errors.append(error)
                relative.append(error / np.linalg.norm(truth[1] - truth[0]))
                size = (args.size, args.size)
                crops.append(
                    transform_params(found, size, TEMPLATE_5)[2:]
                    - transform_params(truth, size, TEMPLATE_5)[2:]
                )
    errors, relative, crops = np.array(errors), np.array(relative), np.array(crops)
    print(f"{len(errors)} frames at {args.size} px ({missed} without a detected face)")
    print("| point | mean error (px) | 95th pct (px) | mean / inter-ocular |")
    print("|---|---|---|---|")
    for k, name in enumerate(POINTS):
        e = errors[:, k]
        print(f"| {name} | {e.mean():.2f} | {np.percentile(e, 95):.2f} | {relative[:, k].mean():.3f} |")
    d = np.abs(crops)
    print(f"crop values, detected vs true points: |ds|/s mean {np.mean(d[:, 0]):.4f}; "
          f"|dtx| mean {d[:, 1].mean():.2f} px, |dty| mean {d[:, 2].mean():.2f} px (at {args.size} px)")  # fmt: skip


if __name__ == "__main__":
    main()
