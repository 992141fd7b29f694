"""Change-weighted L1: the pixels a pair's motion changes, weighted beyond the rest.

Not part of the official PIRenderer recipe (off there: `loss.change_weight` 0). An expression such as
jaw_open changes a few hundred pixels of a 128² frame (the mouth's cavity and teeth); in a whole-image
loss they weigh a few percent, and a renderer fine-tuned with them paints a pink blur where the mouth
should open (docs/training.md). This term is L1 between output and truth on the pixels where the
truth differs from the source image by more than `threshold` in some channel, the mask grown by
`dilation` pixels (so the edges of what moved count too), averaged over the whole image: added to
the other terms with weight w, those pixels weigh 1 + w times the rest.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def change_mask(truth: torch.Tensor, source: torch.Tensor, threshold: float, dilation: int) -> torch.Tensor:
    """truth, source: (B, 3, H, W) in [-1, 1] -> (B, 1, H, W) float mask, 1 where the truth moved."""
    moved = ((truth - source).abs().amax(1, keepdim=True) > threshold).float()
    if dilation > 0:
        moved = F.max_pool2d(moved, 2 * dilation + 1, stride=1, padding=dilation)
    return moved


def change_weighted_l1(
    output: torch.Tensor,
    truth: torch.Tensor,
    source: torch.Tensor,
    *,
    threshold: float = 0.1,
    dilation: int = 3,
) -> torch.Tensor:
    """output, truth, source: (B, 3, H, W) in [-1, 1] -> scalar mean of mask·|output - truth|."""
    mask = change_mask(truth.float(), source.float(), threshold, dilation)
    return (mask * (output.float() - truth.float()).abs()).mean()
