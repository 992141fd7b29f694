"""Change-weighted L1: the pixels a pair's motion changes, weighted beyond the rest.

Not part of the official PIRenderer recipe (off there: `loss.change_weight` 0). An expression such as
jaw_open changes a few hundred pixels of a 128² frame (the mouth's cavity and teeth); in a whole-image
loss they weigh a few percent, and a renderer fine-tuned with them paints a pink blur where the mouth
should open (docs/training.md). This term is L1 between output and truth on the pixels where the
truth differs from the source image by more than `threshold` in some channel, the mask grown by
`dilation` pixels (so the edges of what moved count too), averaged over the whole image: added to
the other terms with weight w, those pixels weigh 1 + w times the rest.

With `normalize="mask"` each pair's term is averaged over its own moved pixels instead, so every
change counts the same whatever its size: a blink (~50 px at 128²) as much as an opening jaw (~500 px)
or a turned head (thousands). Over the whole image (the default) a blink weighs a tenth of a jaw, and a
renderer trained so slides the whole head a little for it (docs/training.md).
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
    normalize: str = "image",
) -> torch.Tensor:
    """output, truth, source: (B, 3, H, W) in [-1, 1] -> scalar mean of mask·|output - truth|.

    normalize: "image" (the mean over all pixels) or "mask" (each pair's mean over its moved pixels,
    then the batch mean; a pair where nothing moved contributes 0).
    """
    mask = change_mask(truth.float(), source.float(), threshold, dilation)
    error = mask * (output.float() - truth.float()).abs()
    if normalize == "image":
        return error.mean()
    if normalize != "mask":
        raise ValueError(f"normalize must be 'image' or 'mask', got {normalize!r}")
    moved = mask.sum((1, 2, 3)) * output.shape[1]
    return (error.sum((1, 2, 3)) / moved.clamp_min(1.0)).mean()
