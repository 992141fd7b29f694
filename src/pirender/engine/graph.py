"""FastRenderer: an inference-only re-implementation of `PIRenderer.render` on the renderer's own weights.

Same parameters, same maths, fewer passes over memory (spec 9: about half of the CPU time is outside
the convolutions). Each technique is a switch in `Techniques`, so the engine and the benchmark can
measure them one by one; `Techniques.reference()` reproduces `PIRenderer.render` bit for bit.

* fused_norms: AdaIN = one `batch_norm` call over a (1, B*C, H, W) view whose per-channel affine is
  the per-sample (1 + gamma, beta), then an in-place LeakyReLU: 2 passes instead of 5. LayerNorm2d =
  `group_norm(x, 1)` with its (C,) affine (the spec's 1.6e-5 substitute), instead of `layer_norm`
  with a (C, H, W) weight that torch copies out of an `expand` on every call.
* cached_layernorm: keep the official `layer_norm` form (bit-exact) but cache the expanded weights.
* subpixel_up: nearest-2x upsample + 3x3 conv == four 2x2 convs on the low-resolution input (one
  conv with 4x the output channels, then one strided interleave): 4/9 of the MACs, no upsampled copy.
* split_stem: the editing stem sees cat([source, warped]); its source half is computed once per
  source image (`SourceCache`), as is the warping hourglass stem, which only sees the source.
* channels_last: NHWC memory for the convolutions.
* weight_cache: every live conv's weight prepared once in the layout and dtype it runs in (torch would
  otherwise re-layout a channels-last weight, or autocast re-cast it, on every call).
* tap_conv: the 7x7 convs to 2-3 channels (flow, output image) as one GEMM to all 49 taps followed
  by 14 shifted adds; oneDNN's direct kernels run these thin convs at a fraction of their speed.

Reduced precision (`editing_dtype`) runs the editing network's convs (not its output conv) in bf16/fp16
with weights cast once (weight_cache) and activations cast at each conv's input; norms, modulation and
the residual stream stay float32. (Norms reading and writing bf16 measured no faster on CPU and took
max-abs from 0.047 to 0.067 on three 256 px frames, over the fast-path bound.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from pirender.models.blocks import LEAKY_SLOPE, AdaIN, ConvNormAct, LayerNorm2d
from pirender.models.editing import AdaINResBlock, EditingLevel, residual_base
from pirender.models.flow import flow_to_grid, warp
from pirender.models.renderer import PIRenderer
from pirender.models.warping import AdaINDownBlock, AdaINUpBlock


@dataclass(frozen=True)
class Techniques:
    """Switches of the fast graph; `reference()` is the literal official numerics."""

    fused_norms: bool = True
    cached_layernorm: bool = True  # only used when fused_norms is off
    subpixel_up: bool = False
    split_stem: bool = True
    channels_last: bool = False
    weight_cache: bool = False
    tap_conv: bool = False
    onnx_friendly: bool = False  # norms as ops that export to ONNX with a dynamic batch

    @classmethod
    def reference(cls) -> Techniques:
        return cls(fused_norms=False, cached_layernorm=False, split_stem=False)

    def with_(self, **changes: bool) -> Techniques:
        return replace(self, **changes)

    def names(self) -> list[str]:
        """The switches that are on and in effect (cached_layernorm only matters without fused_norms)."""
        on = [name for name, value in vars(self).items() if value]
        return [n for n in on if not (n == "cached_layernorm" and self.fused_norms)]


@dataclass
class SourceCache:
    """Features of the source image that no motion changes, (1 or B, C, H, W) each."""

    source_image: torch.Tensor
    hourglass_stem: torch.Tensor
    editing_stem_source: torch.Tensor | None  # source half of the editing stem conv, bias included


def _batch_to(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Broadcast a (1, ...) source feature over the batch; no op (and no ONNX Expand) when it already fits."""
    return x if x.shape[0] == batch else x.expand(batch, *x.shape[1:])


def _lrelu_(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu_(x, LEAKY_SLOPE)


class _TapConv(nn.Module):
    """A k x k conv (stride 1, 'same' padding) to a few channels: one GEMM gives every tap's
    contribution at every pixel, (k*k*out, B*H*W); summing the shifted tap planes is k adds along x
    (all kernel rows at once) and k adds along y. oneDNN's direct kernels run 256->2 and 64->3
    channel 7x7 convs at 10-40 GFLOP/s on CPU, a fraction of their rate on wide convs."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        out_nc, in_nc, k, k2 = conv.weight.shape
        if k != k2 or conv.padding != (k // 2, k // 2) or conv.stride != (1, 1) or k % 2 == 0:
            raise ValueError("tap conv needs an odd square kernel, stride 1 and 'same' padding")
        self.k, self.out_nc = k, out_nc
        # Rows ordered (ky, kx, out): the GEMM's output is k*k*out planes of (B, H, W).
        taps = conv.weight.detach().permute(2, 3, 0, 1).reshape(k * k * out_nc, in_nc)
        self.register_buffer("taps", taps.contiguous())
        self.register_buffer("bias", conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in, H, W) -> (B, out, H, W) float32, any memory format."""
        b, c, h, w = x.shape
        k, p, out_nc = self.k, self.k // 2, self.out_nc
        x = x.float()
        pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c)  # a view for channels-last input
        planes = torch.mm(self.taps, pixels.t()).view(k, k, out_nc, b, h, w)
        # out[y, x] = sum_{ky, kx} planes[ky, kx][y + ky - p, x + kx - p]; first along x, then y.
        rows = x.new_zeros(k, out_nc, b, h, w + 2 * p)
        for kx in range(k):
            rows[..., 2 * p - kx : 2 * p - kx + w] += planes[:, kx]
        out = x.new_zeros(out_nc, b, h + 2 * p, w)
        for ky in range(k):
            out[:, :, 2 * p - ky : 2 * p - ky + h] += rows[ky, ..., p : p + w]
        return out[:, :, p : p + h].permute(1, 0, 2, 3) + self.bias.view(1, -1, 1, 1)


class _Ops:
    """The norm and conv primitives, in the flavour chosen by Techniques."""

    def __init__(self, techniques: Techniques) -> None:
        self.t = techniques
        self._ln_cache: dict[tuple[int, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] = {}
        # id(conv) -> (weight, bias) in the dtype (and, with weight_cache, the layout) the conv runs in
        self.weights: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def weight_format(self) -> torch.memory_format:
        """The layout prepared weights are stored in."""
        return (
            torch.channels_last if self.t.channels_last and self.t.weight_cache else torch.contiguous_format
        )

    def prepare(self, conv: nn.Conv2d, dtype: torch.dtype | None) -> None:
        """Keep a copy of a conv's weight cast to `dtype` once, in the weight layout; nothing when
        the module's own weight already fits (float32, no weight_cache)."""
        if dtype is None and not self.t.weight_cache:
            return
        dtype = dtype or conv.weight.dtype
        weight = conv.weight.detach().to(dtype).contiguous(memory_format=self.weight_format())
        bias = None if conv.bias is None else conv.bias.detach().to(dtype)
        self.weights[id(conv)] = (weight, bias)

    def adain(self, x: torch.Tensor, norm: AdaIN, mod: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """x (B, C, H, W), mod = (gamma, beta) each (B, C, 1, 1) -> IN(x) * (1 + gamma) + beta."""
        gamma, beta = mod
        x = x.float()  # reduced-precision paths: statistics, modulation and the residual stream stay float32
        if not self.t.fused_norms:
            return F.instance_norm(x, eps=1e-5) * (1 + gamma) + beta
        if self.t.onnx_friendly:
            return torch.addcmul(beta, F.instance_norm(x, eps=1e-5), 1 + gamma)
        b, c, h, w = x.shape
        if b > 1 and not x.is_contiguous():
            # Channels-last with a batch: (B, C) cannot merge into one view without a copy. Statistics
            # in float32, then one fused multiply-add: the same two passes as batch_norm.
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            scale = (1 + gamma) * torch.rsqrt(var + 1e-5)
            return torch.addcmul(beta - mean * scale, x, scale)
        flat = x.reshape(1, b * c, h, w)
        out = torch.batch_norm(
            flat, (1 + gamma).reshape(-1), beta.reshape(-1), None, None, True, 0.0, 1e-5, False
        )
        return out.view(b, c, h, w)

    def layernorm(self, x: torch.Tensor, norm: LayerNorm2d) -> torch.Tensor:
        """x (B, C, H, W) normalised over (C, H, W) per sample, (C, 1, 1) affine."""
        x = x.float()
        if self.t.fused_norms:
            return F.group_norm(x, 1, norm.weight.flatten(), norm.bias.flatten(), norm.eps)
        shape = tuple(x.shape[1:])
        if not self.t.cached_layernorm:
            return norm(x)
        key = (id(norm), shape)
        if key not in self._ln_cache:
            self._ln_cache[key] = (
                norm.weight.expand(shape).contiguous(),
                norm.bias.expand(shape).contiguous(),
            )
        weight, bias = self._ln_cache[key]
        return F.layer_norm(x, shape, weight, bias, norm.eps)

    def conv(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        """A Conv2d with its prepared weight when there is one; x is cast to the weight's dtype."""
        weight, bias = self.weights.get(id(conv), (conv.weight, conv.bias))
        return F.conv2d(x.to(weight.dtype), weight, bias, conv.stride, conv.padding)

    def add(self, fresh: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """fresh + other, into `fresh` when it is a temporary of the widest dtype (with fused_norms):
        every new large tensor costs page faults on CPU, an in-place add none."""
        if self.t.fused_norms and fresh.dtype == torch.promote_types(fresh.dtype, other.dtype):
            return fresh.add_(other)
        return fresh + other

    def act(self, x: torch.Tensor) -> torch.Tensor:
        """LeakyReLU(0.1), in place where the input is a fresh temporary."""
        return _lrelu_(x) if self.t.fused_norms else F.leaky_relu(x, LEAKY_SLOPE)


class _SubpixelUp(nn.Module):
    """nearest-2x upsample then Conv2d(3x3, pad 1), computed on the low-resolution input.

    Output pixel (2i+a, 2j+b) sees low-res rows {i-1+a, i+a} and columns {j-1+b, j+b}; the 3x3 taps
    that land on the same low-res pixel are summed into a 2x2 kernel per phase (a, b). One 2x2 conv
    with padding 1 gives all four phases on an (H+1, W+1) grid; phase (a, b) is its [a:a+H, b:b+W].
    Interleaving the phases is one strided copy (or a stack, which exports to ONNX).
    """

    # For phase a, the 3x3 rows (0, 1, 2) map to 2x2 rows: a=0 -> (0, 1, 1), a=1 -> (0, 0, 1).
    _TAPS = ((0, 1, 1), (0, 0, 1))

    def __init__(
        self,
        conv: nn.Conv2d,
        *,
        traceable: bool = False,
        dtype: torch.dtype | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        super().__init__()
        self.traceable = traceable
        w = conv.weight.detach()  # (out, in, 3, 3)
        out_nc, in_nc = w.shape[:2]
        phases = torch.zeros(2, 2, out_nc, in_nc, 2, 2, dtype=w.dtype, device=w.device)
        for a in range(2):
            for b in range(2):
                for ky in range(3):
                    for kx in range(3):
                        phases[a, b, :, :, self._TAPS[a][ky], self._TAPS[b][kx]] += w[:, :, ky, kx]
        # Output channels ordered (a, b, out): phase-major. Stored in the dtype and layout it runs in.
        weight = phases.reshape(4 * out_nc, in_nc, 2, 2).to(dtype or w.dtype)
        self.register_buffer("weight", weight.contiguous(memory_format=memory_format))
        self.register_buffer("bias", conv.bias.detach().repeat(4).to(dtype or w.dtype))
        self.out_nc = out_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in, H, W) -> (B, out, 2H, 2W), in x's memory format."""
        h, w = x.shape[-2:]
        y = F.conv2d(x.to(self.weight.dtype), self.weight, self.bias, padding=1)  # (B, 4*out, H+1, W+1)
        if self.traceable:
            phase = [y[:, k * self.out_nc : (k + 1) * self.out_nc] for k in range(4)]
            rows = [
                torch.stack([phase[2 * a + b][:, :, a : a + h, b : b + w] for b in range(2)], -1)
                for a in range(2)
            ]  # 2 x (B, out, H, W, 2)
            return torch.stack(rows, 3).reshape(y.shape[0], self.out_nc, 2 * h, 2 * w)
        # Element (n, o, i, a, j, b) of the result is y[n, (2a+b)*out + o, i+a, j+b]: one strided view.
        sn, sc, sh, sw = y.stride()
        oc = self.out_nc
        view = y.as_strided(
            (y.shape[0], oc, h, 2, w, 2),
            (sn, sc, sh, 2 * oc * sc + sh, sw, oc * sc + sw),
            y.storage_offset(),
        )
        fmt = (
            torch.channels_last
            if x.is_contiguous(memory_format=torch.channels_last)
            else torch.contiguous_format
        )
        out = torch.empty((y.shape[0], oc, 2 * h, 2 * w), dtype=y.dtype, device=y.device, memory_format=fmt)
        out.view(y.shape[0], oc, h, 2, w, 2).copy_(view)
        return out


class FastRenderer(nn.Module):
    """`PIRenderer.render` for inference, sharing the renderer's parameters (nothing is copied except
    the derived sub-pixel and split-stem weights)."""

    def __init__(
        self,
        renderer: PIRenderer,
        techniques: Techniques | None = None,
        *,
        editing_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        # Reduced precision (bf16/fp16) runs the editing network's convolutions only: the warping net is
        # 11% of the MACs but its flow error moves whole edges (bf16 everywhere: max-abs 0.35).
        self.editing_dtype = editing_dtype
        self.renderer = renderer
        self.techniques = t = techniques or Techniques()
        self.ops = _Ops(t)
        dead = [block for block in renderer.modules() if isinstance(block, AdaINResBlock) and not block.fixed]
        dead_ids = {id(m) for block in dead for m in (block.norm1, block.conv1)}
        self.adains = [m for m in renderer.modules() if isinstance(m, AdaIN) and id(m) not in dead_ids]
        editing = renderer.editing_net
        self.subpixel = nn.ModuleList(
            _SubpixelUp(
                level.up.conv,
                traceable=t.onnx_friendly,
                dtype=editing_dtype,
                memory_format=self.ops.weight_format(),
            )
            if t.subpixel_up
            else nn.Identity()
            for level in editing.levels
        )
        thin = (renderer.warping_net.flow_conv, editing.final)
        self.tap_convs = nn.ModuleDict(
            {name: _TapConv(conv) for name, conv in zip(("flow", "final"), thin, strict=True)}
            if t.tap_conv
            else {}
        )
        for net, dtype in ((renderer.warping_net, None), (editing, editing_dtype)):
            for conv in net.modules():
                if type(conv) is nn.Conv2d and id(conv) not in dead_ids and conv not in thin:
                    self.ops.prepare(conv, dtype)
        stem = editing.stem.conv.weight.detach()
        nc = renderer.config.image_nc
        # split stem: conv(cat[src, warp]) = conv(src, W[:, :3]) + b  +  conv(warp, W[:, 3:]).
        self.register_buffer("stem_source_weight", stem[:, :nc].clone())
        warped_half = stem[:, nc:].to(editing_dtype or stem.dtype)
        self.register_buffer(
            "stem_warped_weight", warped_half.contiguous(memory_format=self.ops.weight_format())
        )

    # ---- source-only features -------------------------------------------------------------------

    def source_cache(self, source_image: torch.Tensor) -> SourceCache:
        """source_image (1 or B, 3, H, W) -> the features every frame of this source shares."""
        source_image = self._fmt(source_image)
        stem = self.renderer.editing_net.stem.conv
        return SourceCache(
            source_image=source_image,
            hourglass_stem=self.ops.conv(self.renderer.warping_net.hourglass.stem, source_image),
            editing_stem_source=(
                F.conv2d(source_image, self.stem_source_weight, stem.bias, padding=stem.padding)
                if self.techniques.split_stem
                else None
            ),
        )

    # ---- forward ------------------------------------------------------------------------------

    def forward(
        self,
        source_image: torch.Tensor,
        descriptor: torch.Tensor,
        *,
        warp_only: bool = False,
        cache: SourceCache | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """source_image (1 or B, 3, H, W) in [-1, 1], descriptor (B, D, 1) ->
        (image (B, 3, H, W) or None, warped_image (B, 3, H, W), flow (B, 2, H/4, W/4))."""
        cache = cache if cache is not None else self.source_cache(source_image)
        batch = descriptor.shape[0]
        source = _batch_to(cache.source_image, batch)
        mods = {id(m): m.modulation(descriptor) for m in self.adains}
        flow, warped = self._warping(cache, source, mods, batch)
        if warp_only:
            return None, warped, flow
        image = self._editing(cache, source, warped, mods, batch)
        return image.float(), warped, flow

    def _fmt(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.techniques.channels_last else x

    def _warping(
        self, cache: SourceCache, source: torch.Tensor, mods: dict, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.renderer.warping_net
        ops = self.ops
        skips = [_batch_to(cache.hourglass_stem, batch)]
        for block in net.hourglass.down:
            skips.append(self._down_block(block, skips[-1], mods))
        out = skips.pop()
        for block in net.hourglass.up:
            out = torch.cat([self._up_block(block, out, mods), skips.pop()], dim=1)
        flow = self._thin_conv("flow", net.flow_conv, ops.act(ops.layernorm(out, net.flow_norm)))
        flow = flow.contiguous()
        return flow, warp(source.contiguous(), flow_to_grid(flow))

    def _down_block(self, block: AdaINDownBlock, x: torch.Tensor, mods: dict) -> torch.Tensor:
        ops = self.ops
        x = ops.conv(block.conv_0, ops.act(ops.adain(x, block.norm_0, mods[id(block.norm_0)])))
        return ops.conv(block.conv_1, ops.act(ops.adain(x, block.norm_1, mods[id(block.norm_1)])))

    def _up_block(self, block: AdaINUpBlock, x: torch.Tensor, mods: dict) -> torch.Tensor:
        ops = self.ops
        shortcut = block.conv_s(ops.act(ops.adain(x, block.norm_s, mods[id(block.norm_s)])))
        main = ops.conv(block.conv_0, ops.act(ops.adain(x, block.norm_0, mods[id(block.norm_0)])))
        main = block.conv_1(ops.act(ops.adain(main, block.norm_1, mods[id(block.norm_1)])))
        return ops.add(shortcut, main)

    def _conv_norm_act(
        self, block: ConvNormAct, x: torch.Tensor, up: nn.Module | None = None
    ) -> torch.Tensor:
        ops = self.ops
        if block.upsample:
            if isinstance(up, _SubpixelUp):
                x = up(x)
            else:
                x = ops.conv(block.conv, F.interpolate(x, scale_factor=2, mode="nearest"))
        else:
            x = ops.conv(block.conv, x)
        x = ops.act(ops.layernorm(x, block.norm))
        return F.avg_pool2d(x, 2) if block.downsample else x

    def _res_block(self, block: AdaINResBlock, x: torch.Tensor, mods: dict) -> torch.Tensor:
        ops = self.ops
        if block.fixed:
            h = ops.act(ops.adain(ops.conv(block.conv1, x), block.norm1, mods[id(block.norm1)]))
            return ops.add(ops.adain(ops.conv(block.conv2, h), block.norm2, mods[id(block.norm2)]), x)
        return ops.add(ops.adain(ops.conv(block.conv2, x), block.norm2, mods[id(block.norm2)]), x)

    def _editing_level(
        self, level: EditingLevel, up: nn.Module, x: torch.Tensor, skip: torch.Tensor, mods: dict
    ) -> torch.Tensor:
        ops = self.ops
        for block in level.res:
            x = self._res_block(block, x, mods)
        return ops.add(self._conv_norm_act(level.skip, skip), self._conv_norm_act(level.up, x, up))

    def _editing(
        self, cache: SourceCache, source: torch.Tensor, warped: torch.Tensor, mods: dict, batch: int
    ) -> torch.Tensor:
        net = self.renderer.editing_net
        ops = self.ops
        warped = self._fmt(warped)
        if cache.editing_stem_source is not None:
            conv = net.stem.conv
            weight = self.stem_warped_weight
            stem = F.conv2d(warped.to(weight.dtype), weight, None, padding=conv.padding)
            stem = self.ops.add(stem, cache.editing_stem_source)
            skips = [ops.act(ops.layernorm(stem, net.stem.norm))]
        else:
            skips = [self._conv_norm_act(net.stem, torch.cat([source, warped], dim=1))]
        for block in net.down:
            skips.append(self._conv_norm_act(block, skips[-1]))
        out = skips.pop()
        for level, up in zip(net.levels, self.subpixel, strict=True):
            out = self._editing_level(level, up, out, skips.pop(), mods)
        logits = self._thin_conv("final", net.final, out.float())  # float32 (1% of MACs)
        if net.residual:
            logits = logits + residual_base(warped)
        return torch.tanh(logits)

    def _thin_conv(self, name: str, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        """The 7x7 flow and output convs (float32): as tap GEMMs with tap_conv, else the module."""
        if name in self.tap_convs:
            return self.tap_convs[name](x)
        return F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)
