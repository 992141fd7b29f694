"""Expression consistency: the SynthHead extractor should read the driving expression off the output.

Not part of the official PIRenderer recipe (off there: `loss.expression_weight` 0). A renderer
trained with image losses alone learns the head pose, which moves many pixels, long before the
mouth and the eyes, which move few: its edits of jaw_open or blink barely show. This term asks the
frozen SynthHead extractor (motion/extract/synthhead.py) to recover the same expression controls
from the render as from the ground truth, through its global net and its window branches (the
mouth, the eyes and brows), whose windows are placed with the truth's pose. The distance is L1 on
the extractor's normalised outputs (each control in units of its training std), so every control
counts alike whatever its range; comparing with the extractor on the truth (not with the commanded
values) leaves its own bias out.

`region` is the plain pixel counterpart (`loss.region_weight`): L1 between the output's and the
truth's windows of those branches (frontalised views of the mouth, the eyes and brows, placed with
the truth's pose), so the few pixels that carry an expression (the open mouth's teeth and cavity, a
closed lid) weigh as much as the rest of the image does in the whole-image terms.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pirender.errors import InputError
from pirender.motion.extract.synthhead import SynthHeadExtractor, SynthHeadNet, cut_windows


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    down = images.shape[-1] > size
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=down)


class ExpressionLoss(nn.Module):
    """Frozen extractor; forward gives the mean L1 between the controls it reads off two images."""

    def __init__(self, net: SynthHeadNet) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.num_controls = len(net.config.control_slots)

    @classmethod
    def load(cls, path: str = "") -> ExpressionLoss:
        """The shipped extractor, or the one at `path` (.safetensors beside its .json)."""
        return cls(SynthHeadExtractor.load(path or None).net)

    def train(self, mode: bool = True) -> ExpressionLoss:
        return super().train(False)  # always in eval mode: it is a fixed measuring instrument

    def controls(self, images: torch.Tensor, coeffs: np.ndarray) -> torch.Tensor:
        """(B, 3, H, W) square images in [-1, 1], (B, 73) coefficients placing the windows ->
        (B, K) normalised control readings (the global net's controls, then each branch's outputs)."""
        config = self.net.config
        out = [self.net(_resize(images, config.input_size))[:, : self.num_controls]]
        for branch in config.branches:
            windows = cut_windows(_resize(images, branch.frame_size), coeffs, branch)
            out.append(self.net.branches[branch.name](windows))
        return torch.cat(out, dim=1)

    def forward(self, image: torch.Tensor, truth: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
        """image, truth: (B, 3, H, W) in [-1, 1]; coeffs: (B, 73) the truth's coefficients -> scalar."""
        placement = coeffs.detach().float().cpu().numpy()
        with torch.no_grad():
            reference = self.controls(truth.float(), placement)
        return (self.controls(image.float(), placement) - reference).abs().mean()

    def region(self, image: torch.Tensor, truth: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
        """image, truth: (B, 3, H, W) in [-1, 1]; coeffs: (B, 73) the truth's -> scalar: the mean over
        branches of the L1 between their windows of the two images."""
        placement = coeffs.detach().float().cpu().numpy()
        terms = []
        for branch in self.net.config.branches:
            out = cut_windows(_resize(image.float(), branch.frame_size), placement, branch)
            with torch.no_grad():
                ref = cut_windows(_resize(truth.float(), branch.frame_size), placement, branch)
            terms.append((out - ref).abs().mean())
        if not terms:
            raise InputError(
                "loss.region_weight > 0 needs an expression extractor with window branches; this one has none"
            )
        return torch.stack(terms).mean()
