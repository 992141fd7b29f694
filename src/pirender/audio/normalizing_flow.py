"""A small conditional Glow over one frame of motion (Kingma & Dhariwal 2018; conditioning as in SRFlow).

Each step is ActNorm -> invertible 1x1 (LU-decomposed) -> affine coupling whose scale and shift come
from a network that sees the untouched half and a context vector. Every layer maps (x, context) to
(y, log|det dy/dx|) and back exactly, so the model has an exact log-likelihood.
"""

from __future__ import annotations

import torch
from torch import nn


class ActNorm(nn.Module):
    """Per-dimension affine y = (x + bias) * exp(log_scale), initialised from the first batch.

    The data-dependent init gives zero mean and unit variance per dimension (Glow, Sec. 3.1); the
    `initialized` buffer travels with the checkpoint, so loading never re-initialises.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init_from(self, x: torch.Tensor) -> None:
        self.bias.copy_(-x.mean(0))
        self.log_scale.copy_(-torch.log(x.std(0) + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, D) -> y (N, D), logdet (N,)."""
        if self.training and not self.initialized:
            self._init_from(x)
        logdet = self.log_scale.sum().expand(x.shape[0])
        return (x + self.bias) * self.log_scale.exp(), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvertibleLinear(nn.Module):
    """Invertible 1x1 convolution on a vector: y = x W^T, W = P L (U + diag(sign * exp(log_s))).

    The LU parametrisation makes log|det W| = sum(log_s), O(D) instead of O(D^3) (Glow, Sec. 3.2).
    """

    def __init__(self, dim: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator))  # random rotation
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("permutation", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(dim, dim), -1), persistent=False)
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> torch.Tensor:
        """(D, D) matrix W."""
        eye = torch.eye(self.lower.shape[0], dtype=self.lower.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.permutation @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, D) -> y (N, D), logdet (N,)."""
        return x @ self.weight().T, self.log_s.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y @ torch.linalg.inv(self.weight()).T


class AffineCoupling(nn.Module):
    """y_a = x_a; y_b = x_b * exp(s) + t with (s, t) = net(x_a, context), |s| <= scale_bound.

    The last layer starts at zero, so a fresh coupling is the identity (Glow's init).
    """

    def __init__(self, dim: int, context_dim: int, hidden: int, *, scale_bound: float) -> None:
        super().__init__()
        self.split = dim // 2
        self.scale_bound = scale_bound
        self.net = nn.Sequential(
            nn.Linear(self.split + context_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2 * (dim - self.split)),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, x_a: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(torch.cat([x_a, context], dim=1)).chunk(2, dim=1)
        return self.scale_bound * torch.tanh(raw_s / self.scale_bound), t

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, D), context (N, C) -> y (N, D), logdet (N,)."""
        x_a, x_b = x[:, : self.split], x[:, self.split :]
        s, t = self._scale_shift(x_a, context)
        return torch.cat([x_a, x_b * s.exp() + t], dim=1), s.sum(1)

    def inverse(self, y: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        y_a, y_b = y[:, : self.split], y[:, self.split :]
        s, t = self._scale_shift(y_a, context)
        return torch.cat([y_a, (y_b - t) * torch.exp(-s)], dim=1)


class ConditionalGlow(nn.Module):
    """`num_steps` x (ActNorm, InvertibleLinear, AffineCoupling): motion x -> latent z given context.

    With num_steps = 0 it is the identity (logdet 0): the Gaussian and regressor baselines.
    """

    def __init__(
        self,
        dim: int,
        context_dim: int,
        *,
        num_steps: int,
        hidden: int,
        scale_bound: float,
        seed: int = 0,
    ) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)  # the 1x1 init is part of the architecture
        self.steps = nn.ModuleList(
            nn.ModuleDict(
                {
                    "actnorm": ActNorm(dim),
                    "mix": InvertibleLinear(dim, generator=generator),
                    "coupling": AffineCoupling(dim, context_dim, hidden, scale_bound=scale_bound),
                }
            )
            for _ in range(num_steps)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Motion to latent.

        Args:
            x: (N, D) normalised motion frames.
            context: (N, C) conditioning (audio embedding of each frame).
        Returns:
            z (N, D), logdet (N,) = log|det dz/dx|.
        """
        logdet = x.new_zeros(x.shape[0])
        for step in self.steps:
            x, ld_norm = step["actnorm"](x)
            x, ld_mix = step["mix"](x)
            x, ld_coupling = step["coupling"](x, context)
            logdet = logdet + ld_norm + ld_mix + ld_coupling
        return x, logdet

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Latent to motion: z (N, D), context (N, C) -> x (N, D)."""
        for step in reversed(self.steps):
            z = step["coupling"].inverse(z, context)
            z = step["mix"].inverse(z)
            z = step["actnorm"].inverse(z)
        return z
