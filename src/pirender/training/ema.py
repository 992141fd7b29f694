"""Exponential moving average of the generator weights, parameterised by its half-life (EDM style).

The official trainer uses decay 0.5 ** (32 / 10000) per step, i.e. a half-life of 312.5 steps: after
312.5 steps a weight's old value counts for half. It starts from a copy of the initial weights and
runs from step 0, through the stage switch, with no warm-up.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(half_life_steps: float) -> float:
    """Per-step decay whose half-life is `half_life_steps` (312.5 -> 0.99778439, the official value)."""
    return 0.5 ** (1.0 / half_life_steps)


def make_ema(model: nn.Module) -> nn.Module:
    """A frozen eval-mode copy of model."""
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, *, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for every parameter and floating buffer."""
    ema_params = [p for p in ema.parameters()]
    params = [p.detach() for p in model.parameters()]
    if len(ema_params) != len(params):
        raise ValueError("EMA and model have different parameter lists")
    torch._foreach_mul_(ema_params, decay)
    torch._foreach_add_(ema_params, params, alpha=1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        if b.is_floating_point():
            b_ema.mul_(decay).add_(b, alpha=1.0 - decay)
        else:
            b_ema.copy_(b)
