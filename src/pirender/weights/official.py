"""Import of official PIRender checkpoints (RenYurui/PIRender trainer files), StyleGAN3-legacy style.

The official trainer writes `{net_G, net_G_ema, opt_G, sch_G, current_epoch, current_iteration}`
(the released `epoch_00190_iteration_000400000_checkpoint.pt` has no `opt_G`/`sch_G`). `net_G` comes
from a DDP-wrapped module, so its keys carry `module.`. No official file carries its architecture:
every width and layer count is inferred from the tensor shapes.

Official module names (including the `warpping_net` typo) appear only in this file: the import is a
prefix-rename table generated from the config, where every source key must be consumed and every
target key filled.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from pirender.config import RendererConfig
from pirender.errors import CheckpointError
from pirender.weights.strict import short_list
from pirender.weights.torch_file import read_torch_file

WEIGHT_SETS = {"ema": "net_G_ema", "raw": "net_G"}
TRAINER_KEYS = ("net_G", "net_G_ema", "opt_G", "sch_G", "current_epoch", "current_iteration")


def rename_table(config: RendererConfig) -> list[tuple[str, str]]:
    """(official prefix, our prefix) pairs covering every tensor of a generator with this config."""
    enc, dec, levels = config.warping_encoder_layers, config.warping_decoder_layers, config.editing_layers
    table = [("mapping_net.first.0.", "mapping_net.first.")]
    table += [
        (f"mapping_net.encoder{i}.1.", f"mapping_net.blocks.{i}.") for i in range(config.mapping_layers)
    ]
    table.append(("warpping_net.hourglass.encoder.input_layer.", "warping_net.hourglass.stem."))
    table += [
        (f"warpping_net.hourglass.encoder.encoder{i}.", f"warping_net.hourglass.down.{i}.")
        for i in range(enc)
    ]
    table += [
        (f"warpping_net.hourglass.decoder.decoder{i}.", f"warping_net.hourglass.up.{j}.")
        for j, i in enumerate(reversed(range(enc - dec, enc)))
    ]
    table += [
        ("warpping_net.flow_out.0.", "warping_net.flow_norm."),
        ("warpping_net.flow_out.2.", "warping_net.flow_conv."),
    ]
    table += [
        ("editing_net.encoder.first.model.0.", "editing_net.stem.conv."),
        ("editing_net.encoder.first.model.1.", "editing_net.stem.norm."),
    ]
    for i in range(levels):
        table += [
            (f"editing_net.encoder.down{i}.model.0.", f"editing_net.down.{i}.conv."),
            (f"editing_net.encoder.down{i}.model.1.", f"editing_net.down.{i}.norm."),
        ]
    for j, i in enumerate(reversed(range(levels))):
        table += [
            (f"editing_net.decoder.up{i}.model.0.", f"editing_net.levels.{j}.up.conv."),
            (f"editing_net.decoder.up{i}.model.1.", f"editing_net.levels.{j}.up.norm."),
            (f"editing_net.decoder.jump{i}.model.0.", f"editing_net.levels.{j}.skip.conv."),
            (f"editing_net.decoder.jump{i}.model.1.", f"editing_net.levels.{j}.skip.norm."),
        ]
        table += [
            (f"editing_net.decoder.res{i}.res{k}.", f"editing_net.levels.{j}.res.{k}.")
            for k in range(config.editing_res_blocks)
        ]
    table.append(("editing_net.decoder.final.model.0.", "editing_net.final."))
    return table


def _rename(key: str, table: list[tuple[str, str]], *, reverse: bool = False) -> tuple[str, int] | None:
    best = None
    for index, pair in enumerate(table):
        src, dst = pair[::-1] if reverse else pair
        if key.startswith(src) and (best is None or len(src) > len(table[best][1 if reverse else 0])):
            best = index
    if best is None:
        return None
    src, dst = table[best][::-1] if reverse else table[best]
    return dst + key[len(src) :], best


def to_official_name(key: str, config: RendererConfig) -> str:
    """Our state_dict key -> the official one (for messages and export)."""
    renamed = _rename(key, rename_table(config), reverse=True)
    return renamed[0] if renamed else key


def convert_state_dict(
    official: dict[str, torch.Tensor], config: RendererConfig
) -> tuple[dict[str, torch.Tensor], list[tuple[str, str, int]]]:
    """Rename an official generator state_dict to ours.

    Returns the renamed dict and a report [(official prefix, our prefix, tensor count)].
    Raises CheckpointError listing every key no rule maps.
    """
    table = rename_table(config)
    counts = [0] * len(table)
    ours, unmapped = {}, []
    for key, tensor in official.items():
        renamed = _rename(key, table)
        if renamed is None:
            unmapped.append(key)
            continue
        ours[renamed[0]] = tensor
        counts[renamed[1]] += 1
    if unmapped:
        raise CheckpointError(f"{len(unmapped)} keys map to no renderer parameter: {short_list(unmapped)}")
    return ours, [(src, dst, n) for (src, dst), n in zip(table, counts, strict=False)]


def infer_config(state_dict: dict[str, torch.Tensor]) -> RendererConfig:
    """Every width and layer count of an official generator, read off its tensor shapes."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in state_dict:
            raise CheckpointError(f"missing key {key!r}: not a PIRenderer generator state dict")
        return tuple(state_dict[key].shape)

    def count(pattern: str) -> int:
        regex = re.compile(pattern)
        return len({m.group(1) for k in state_dict if (m := regex.fullmatch(k))})

    descriptor_nc, coeff_nc, _ = shape("mapping_net.first.0.weight")
    warping_base_nc, image_nc, _, _ = shape("warpping_net.hourglass.encoder.input_layer.weight")
    editing_base_nc = shape("editing_net.encoder.first.model.0.weight")[0]
    adain_hidden_nc = shape("warpping_net.hourglass.encoder.encoder0.norm_0.mlp_shared.0.weight")[0]
    editing_layers = count(r"editing_net\.encoder\.down(\d+)\.model\.0\.weight")
    widths = [
        t.shape[1] if ".conv_s." in k or ".conv_1." in k and "decoder" in k else t.shape[0]
        for k, t in state_dict.items()
        if k.endswith(".weight")
        and t.ndim == 4
        and not k.startswith("warpping_net.flow_out")
        and not k.startswith("editing_net.decoder.final")
    ]
    return RendererConfig(
        image_nc=image_nc,
        coeff_nc=coeff_nc,
        descriptor_nc=descriptor_nc,
        max_nc=max(widths),
        adain_hidden_nc=adain_hidden_nc,
        mapping_layers=count(r"mapping_net\.encoder(\d+)\.1\.weight"),
        warping_base_nc=warping_base_nc,
        warping_encoder_layers=count(r"warpping_net\.hourglass\.encoder\.encoder(\d+)\.conv_0\.weight"),
        warping_decoder_layers=count(r"warpping_net\.hourglass\.decoder\.decoder(\d+)\.conv_0\.weight"),
        editing_base_nc=editing_base_nc,
        editing_layers=editing_layers,
        editing_res_blocks=count(rf"editing_net\.decoder\.res{editing_layers - 1}\.res(\d+)\.conv2\.weight"),
    )


def read_checkpoint(path: Path) -> dict:
    """torch.load with weights_only=True; every failure becomes a CheckpointError naming the file."""
    data = read_torch_file(path, what="PIRender checkpoint")
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path}: wrong container: expected a dict with 'net_G_ema' (official trainer checkpoint), "
            f"got {type(data).__name__}"
        )
    return data


def generator_state_dict(data: dict, path: Path, weights: str) -> dict[str, torch.Tensor]:
    """Pick `net_G_ema` (weights='ema') or `net_G` ('raw') from a trainer checkpoint, strip `module.`.

    A bare generator state_dict (keys `mapping_net.*`) is accepted as is.
    """
    if weights not in WEIGHT_SETS:
        raise CheckpointError(f"weights must be 'ema' or 'raw', got {weights!r}")
    if any(isinstance(k, str) and _strip(k).startswith("mapping_net.") for k in data):
        state = data
    else:
        key = WEIGHT_SETS[weights]
        if key not in data:
            found = ", ".join(map(repr, list(data)[:8])) or "nothing"
            raise CheckpointError(
                f"{path}: wrong container: no {key!r} entry (an official PIRender checkpoint has "
                f"{', '.join(TRAINER_KEYS[:2])}); found {found}"
            )
        state = data[key]
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: {key!r} is a {type(state).__name__}, expected a state dict")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: non-tensor entries in the state dict: {short_list(map(str, bad))}")
    return {_strip(k): v for k, v in state.items()}


def _strip(key: str) -> str:
    for prefix in ("module.", "_orig_mod."):
        while key.startswith(prefix):
            key = key[len(prefix) :]
    return key
