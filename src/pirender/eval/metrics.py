"""Full-reference image metrics on (B, 3, H, W) images in [-1, 1], computed on the [0, 1] scale.

Each returns one value per image (B,); callers average over the test set.
  psnr  10·log10(1 / MSE), capped at 100 dB for identical images
  ssim  Wang et al. 2004: 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, data range 1,
        'valid' filtering, averaged over pixels and RGB channels
  l1    mean absolute error
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def psnr(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) x2 in [-1, 1] -> (B,) dB."""
    mse = (_unit(image) - _unit(target)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def l1(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) x2 in [-1, 1] -> (B,) mean |difference| on the [0, 1] scale."""
    return (_unit(image) - _unit(target)).abs().flatten(1).mean(1)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).float()
    return g


def ssim(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) x2 in [-1, 1] -> (B,) structural similarity (1 = identical)."""
    x, y = _unit(image), _unit(target)
    channels = x.shape[1]
    g = _gaussian_window().to(x.device)
    wx = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    wy = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, 'valid'
        return F.conv2d(F.conv2d(t, wx, groups=channels), wy, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.flatten(1).mean(1)


LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def laplacian_variance(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B,) variance of the 3x3 Laplacian of the luma (0..255 scale) over
    the central face region (the middle half of the crop in each direction): a no-reference
    high-frequency energy. Evaluate reports it as a ratio to the ground truth's (`sharpness`)."""
    x = _unit(image) * 255
    luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    h, w = luma.shape[-2:]
    face = luma[..., h // 4 : h - h // 4, w // 4 : w - w // 4]
    kernel = torch.tensor(LAPLACIAN, device=x.device).view(1, 1, 3, 3)
    return F.conv2d(face, kernel).flatten(1).var(1)
