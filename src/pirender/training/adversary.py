"""The discriminator side of training with `loss.gan_weight` > 0: its model, optimizer and step.

Built from the run's seed in a forked RNG, so that turning the GAN on changes nothing else about a
run's initialisation; its weights and Adam state go into every checkpoint (exact resume). It is
trained only in the full stage, on the editing network's output against the truth, one D step after
each generator step (pix2pixHD's order); Adam with optim.disc_lr (0 = optim.lr) and optim's betas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pirender.losses.adversarial import (
    MultiScaleDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_gan_loss,
)
from pirender.training.config import TrainConfig


@dataclass
class Adversary:
    discriminator: MultiScaleDiscriminator  # the module whose state is saved
    wrapped: nn.Module  # the same, in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    mode: str
    feature_matching_weight: float

    def generator_terms(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial, feature matching) terms for the generator; D's weights get no gradient."""
        self.discriminator.requires_grad_(False)
        try:
            d_fake = self.discriminator(fake)
            fm = fake.new_zeros(())
            if self.feature_matching_weight > 0:
                with torch.no_grad():
                    d_real = self.discriminator(real)
                fm = feature_matching_loss(d_real, d_fake)
            return generator_gan_loss(d_fake, self.mode), fm
        finally:
            self.discriminator.requires_grad_(True)

    def step(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """One discriminator update on (detached) renders and truth; returns its loss."""
        both = self.wrapped(torch.cat([fake.detach(), real]))
        n = fake.shape[0]
        d_fake = [[t[:n] for t in scale] for scale in both]
        d_real = [[t[n:] for t in scale] for scale in both]
        loss = discriminator_loss(d_real, d_fake, self.mode)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def state(self) -> dict[str, Any]:
        return {
            "discriminator": {k: v.detach().cpu() for k, v in self.discriminator.state_dict().items()},
            "disc_optimizer": self.optimizer.state_dict(),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.discriminator.load_state_dict(state["discriminator"], strict=True)
        self.optimizer.load_state_dict(state["disc_optimizer"])


def build_adversary(
    config: TrainConfig, device: torch.device, *, distributed: bool, local_rank: int = 0
) -> Adversary:
    loss = config.loss
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 7919)
        disc = MultiScaleDiscriminator(loss.disc_scales, loss.disc_channels, loss.disc_layers).to(device)
    wrapped: nn.Module = disc
    if distributed:
        wrapped = nn.parallel.DistributedDataParallel(
            disc, device_ids=[local_rank] if device.type == "cuda" else None, broadcast_buffers=False
        )
    optim = config.optim
    optimizer = torch.optim.Adam(
        disc.parameters(), lr=optim.disc_lr or optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps
    )
    return Adversary(disc, wrapped, optimizer, loss.gan_mode, loss.feature_matching_weight)
