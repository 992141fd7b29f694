"""The conditional Glow: exact invertibility and exact log-determinants."""

from __future__ import annotations

import torch

from pirender.audio.normalizing_flow import ActNorm, AffineCoupling, ConditionalGlow, InvertibleLinear


def _randomised(flow: ConditionalGlow, seed: int = 0) -> ConditionalGlow:
    """Initialise ActNorm from data, then perturb every parameter (zero-init couplings are identities)."""
    generator = torch.Generator().manual_seed(seed)
    flow.train()
    flow(
        torch.randn(64, flow.steps[0]["actnorm"].bias.numel(), generator=generator) * 3 + 1,
        torch.zeros(64, 5),
    )
    with torch.no_grad():
        for name, p in flow.named_parameters():
            # Moderate: a random 70x70 triangular factor is badly conditioned and random coupling nets
            # compound over steps; trained flows stay far from both.
            scale = 0.01 if name.endswith(("lower", "upper")) else 0.1
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return flow.eval()


def test_actnorm_data_dependent_init() -> None:
    layer = ActNorm(4).train()
    x = torch.randn(500, 4) * torch.tensor([0.1, 1.0, 5.0, 20.0]) + 3.0
    y, logdet = layer(x)
    assert torch.allclose(y.mean(0), torch.zeros(4), atol=1e-4)
    assert torch.allclose(y.std(0), torch.ones(4), atol=1e-3)
    assert bool(layer.initialized)
    layer(x * 7)  # initialised once only
    assert torch.allclose(layer(x)[0], y)
    assert torch.allclose(logdet, layer.log_scale.sum().expand(500))


def test_invertible_linear_logdet_is_slogdet() -> None:
    layer = InvertibleLinear(6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn(p.shape))
    _, logdet = layer(torch.randn(3, 6))
    assert torch.allclose(logdet[0], torch.linalg.slogdet(layer.weight()).logabsdet, atol=1e-5)


def test_flow_inverts_within_1e4() -> None:
    flow = _randomised(ConditionalGlow(70, 5, num_steps=6, hidden=32, scale_bound=2.0))
    x, context = torch.randn(256, 70), torch.randn(256, 5)
    with torch.no_grad():
        z, _ = flow(x, context)
        x_back = flow.inverse(z, context)
        z_back, _ = flow(flow.inverse(z, context), context)
    assert (z - x).abs().mean() > 0.5 and z.abs().max() < 100  # far from the identity, finite
    assert (x_back - x).abs().max() < 1e-4
    assert (z_back - z).abs().max() < 1e-4


def test_logdet_equals_autograd_jacobian() -> None:
    torch.manual_seed(0)
    flow = _randomised(ConditionalGlow(6, 5, num_steps=3, hidden=16, scale_bound=2.0), seed=3).double()
    context = torch.randn(1, 5, dtype=torch.float64)
    for _ in range(3):
        x = torch.randn(1, 6, dtype=torch.float64)
        jacobian = torch.autograd.functional.jacobian(lambda v: flow(v[None], context)[0][0], x[0])
        _, logdet = flow(x, context)
        assert abs(float(logdet[0].detach()) - float(torch.linalg.slogdet(jacobian).logabsdet)) < 1e-9


def test_coupling_scale_is_bounded() -> None:
    layer = AffineCoupling(4, 2, 8, scale_bound=1.5)
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(10.0)
    _, logdet = layer(torch.randn(5, 4), torch.randn(5, 2))
    assert torch.all(logdet.abs() <= 2 * 1.5 + 1e-5)  # two transformed dims, |log s| <= 1.5 each
