"""The two training stages (spec §3) and what changes between them.

    warp  steps [0, warp_steps):           loss = 2.5 * PL(warped_image, target)
    full  steps [warp_steps, total_steps): loss = 2.5 * PL(warped_image, target) + 4 * PL_style(image, target)

At the switch the Adam optimizer is re-created (fresh moments), as in the official trainer. Ours
also re-creates the LR schedule on the new optimizer, continuing from the global step; the official
trainer left its StepLR on the old optimizer so the decay never happened (optim.official_scheduler_quirk
reproduces that). In the warp stage the editing network is frozen: it gets no gradient, so it takes
no optimizer state and DDP needs no `find_unused_parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from pirender.errors import InputError
from pirender.models.editing import AdaINResBlock
from pirender.models.renderer import PIRenderer
from pirender.training.config import OptimConfig, TrainConfig


@dataclass(frozen=True)
class Stage:
    name: Literal["warp", "full"]
    start_step: int  # global step at which this stage began

    @property
    def warp_only(self) -> bool:
        return self.name == "warp"


def stage_at(step: int, config: TrainConfig) -> Stage:
    """The stage a global step belongs to."""
    if step < config.warp_steps:
        return Stage("warp", 0)
    return Stage("full", config.warp_steps)


def set_trainable(model: PIRenderer, stage: Stage) -> list[nn.Parameter]:
    """Set requires_grad for `stage` and return the trainable parameters (in model order).

    The official res-block's conv1/norm1 never reach the output, so they stay frozen in every stage
    (no optimizer state, as in the official opt_G).
    """
    model.requires_grad_(True)
    if stage.warp_only:
        model.editing_net.requires_grad_(False)
    for module in model.modules():
        if isinstance(module, AdaINResBlock) and not module.fixed:
            module.conv1.requires_grad_(False)
            module.norm1.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def build_optimizer_and_scheduler(
    params: list[nn.Parameter], stage: Stage, optim: OptimConfig
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """A fresh Adam and its step-decay schedule for `stage`; call at the start of every stage.

    lr(step) = lr * gamma ** (step // lr_decay_every) on the global step, stepped once per step.
    With official_scheduler_quirk the full stage keeps the base lr (the official schedule is
    stranded on the warp-stage optimizer).
    """
    optimizer = torch.optim.Adam(params, lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps)
    stranded = optim.official_scheduler_quirk and stage.name == "full" and stage.start_step > 0
    start, every, gamma = stage.start_step, optim.lr_decay_every, optim.lr_decay_gamma

    def lr_factor(stage_step: int) -> float:
        return 1.0 if stranded else gamma ** ((start + stage_step) // every)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


@torch.no_grad()
def init_weights(model: nn.Module, kind: str) -> None:
    """ "normal": the official init, N(0, 0.02) conv/linear weights and zero biases (norm affines keep
    (1, 0)); "torch": PyTorch's default init, left as built. Uses the global RNG (seeded by the caller)."""
    if kind == "torch":
        return
    if kind != "normal":
        raise InputError(f"init must be 'normal' or 'torch', got {kind!r}")
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
