"""Strict weight loading, one way for every model we ship (renderer, audio flow, extractor): every
missing, unexpected or mis-shaped tensor is reported at once as one CheckpointError naming the file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from pirender.errors import CheckpointError


def load_strict(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    source: str | Path,
    *,
    what: str,
    name: Callable[[str], str] = str,
    float_only: bool = False,
) -> None:
    """module.load_state_dict(state, strict=True), floating tensors cast to float32, after checking
    that `state` holds exactly the module's tensors with their shapes.

    Args:
        module: the model to fill.
        state: tensor name -> tensor, in the module's names.
        source: the file it came from (named in the error).
        what: the model's kind, for the message ("renderer", "motion flow", ...).
        name: how to show a key (e.g. in the official checkpoint's names).
        float_only: every tensor must be floating point (the renderer holds no integer buffers).
    Raises:
        CheckpointError: listing each kind of mismatch.
    """
    expected = module.state_dict()
    missing = [name(k) for k in expected if k not in state]
    unexpected = [name(k) for k in state if k not in expected]
    mis_shaped = [
        f"{name(k)} {tuple(state[k].shape)} vs expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys: {short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys: {short_list(unexpected)}")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} shape mismatches: {short_list(mis_shaped, 3)}")
    not_float = [name(k) for k, v in state.items() if k in expected and not v.is_floating_point()]
    if float_only and not_float:
        problems.append(f"non-float tensors: {short_list(not_float)}")
    if problems:
        raise CheckpointError(
            f"{source}: weights do not match the {what} architecture: " + "; ".join(problems)
        )
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    module.load_state_dict(state, strict=True)


def short_list(items: Iterable[str], limit: int = 6) -> str:
    """The first `limit` items, comma-separated, and how many more."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")
