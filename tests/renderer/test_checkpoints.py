"""Bad checkpoints raise CheckpointError with a useful message; malicious pickles never run."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path

import pytest
import torch

import pirender
from pirender import CheckpointError


@pytest.fixture(scope="module")
def tiny_ckpt(tiny_checkpoint: Path) -> dict:
    return torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)


def _save(tmp_path: Path, obj: object, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        pirender.load_renderer(tmp_path / "nope.pt")


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    with pytest.raises(
        CheckpointError,
        match=r"notes\.pt: not a PyTorch PIRender checkpoint \(22 bytes; it(s first bytes| is)",
    ):
        pirender.load_renderer(path)


def test_truncated(tiny_checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.pt"
    path.write_bytes(tiny_checkpoint.read_bytes()[:3_000_000])
    with pytest.raises(
        CheckpointError,
        match=r"truncated\.pt: a truncated or damaged PyTorch file \(3,000,000 bytes; the zip directory at its"
        r" end is missing\): download or copy it again$",
    ):
        pirender.load_renderer(path)


def test_wrong_container(tmp_path: Path, tiny_ckpt: dict) -> None:
    with pytest.raises(CheckpointError, match="wrong container.*got list"):
        pirender.load_renderer(_save(tmp_path, [tiny_ckpt["net_G_ema"]]))
    with pytest.raises(CheckpointError, match="no 'net_G_ema' entry.*found 'state_dict'"):
        pirender.load_renderer(_save(tmp_path, {"state_dict": {"a": torch.zeros(1)}}))
    with pytest.raises(CheckpointError, match="no 'net_G' entry"):
        pirender.load_renderer(_save(tmp_path, {"net_G_ema": tiny_ckpt["net_G_ema"]}), weights="raw")


def test_missing_keys(tmp_path: Path, tiny_ckpt: dict) -> None:
    state = dict(tiny_ckpt["net_G_ema"])
    del state["editing_net.decoder.res1.res0.conv1.weight"]  # a dead-branch tensor is still required
    del state["warpping_net.flow_out.2.bias"]
    with pytest.raises(CheckpointError, match=r"missing 2 keys: .*warpping_net\.flow_out\.2\.bias") as e:
        pirender.load_renderer(_save(tmp_path, {"net_G_ema": state}))
    assert "editing_net.decoder.res1.res0.conv1.weight" in str(e.value)
    assert "ckpt.pt" in str(e.value)


def test_unexpected_keys(tmp_path: Path, tiny_ckpt: dict) -> None:
    state = dict(tiny_ckpt["net_G_ema"])
    state["warpping_net.extra.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"warpping_net\.extra\.weight"):
        pirender.load_renderer(_save(tmp_path, {"net_G_ema": state}))


def test_mis_shaped(tmp_path: Path, tiny_ckpt: dict) -> None:
    state = dict(tiny_ckpt["net_G_ema"])
    state["editing_net.decoder.jump1.model.0.weight"] = torch.zeros(16, 16, 5, 5)
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatch.*jump1\.model\.0\.weight \(16, 16, 5, 5\) vs expected \(16, 16, 3, 3\)",
    ):
        pirender.load_renderer(_save(tmp_path, {"net_G_ema": state}))


def test_non_tensor_entries(tmp_path: Path, tiny_ckpt: dict) -> None:
    state = dict(tiny_ckpt["net_G_ema"])
    state["mapping_net.first.0.bias"] = [1.0, 2.0]
    with pytest.raises(CheckpointError, match="non-tensor entries.*mapping_net.first.0.bias"):
        pirender.load_renderer(_save(tmp_path, {"net_G_ema": state}))


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "pwned"
    payload = {"net_G_ema": _Exploit(marker)}
    path = tmp_path / "evil.pt"
    if container == "torch-zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    assert not marker.exists()
    expected = {
        "torch-zip": r"evil\.pt: refused: it references posix\.system, code that unpickling would run",
        "raw-pickle": r"evil\.pt: a pickle that is not a torch\.save file of tensors",
    }[container]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's own notes on pickle protocols stay out of the terminal
        with pytest.raises(CheckpointError, match=expected) as e:
            pirender.load_renderer(path)
    said = str(e.value).removeprefix(str(path))
    assert "weights_only" not in said and "malicious" not in said
    assert not marker.exists(), "the pickle's code ran"


def test_messages_say_what_the_file_is(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from pirender.weights.torch_file import read_torch_file

    def message(name: str, data: bytes) -> str:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as e:
            read_torch_file(tmp_path / name)
        text = str(e.value)
        assert "\n" not in text and "weights_only" not in text and text.count(" (") <= 2
        return text.removeprefix(f"{tmp_path / name}: ")

    assert message("empty.pt", b"") == "not a PyTorch checkpoint (0 bytes; it is empty)"
    assert message("model.pt", b"\x89HDF\r\n\x1a\n" + bytes(100)).endswith("it is an HDF5 file (Keras .h5?))")
    assert "safetensors" in message("w.pt", (10).to_bytes(8, "little") + b'{"a": 1}  ')
    legacy = tmp_path / "legacy.pt"
    torch.save({"a": torch.zeros(1000)}, legacy, _use_new_zipfile_serialization=False)
    assert message("cut.pt", legacy.read_bytes()[:500]) == (
        "a truncated PyTorch file (500 bytes): download or copy it again"
    )


def test_bad_model_directories(tmp_path: Path, tiny_checkpoint: Path) -> None:
    good = tmp_path / "good"
    pirender.load_renderer(tiny_checkpoint).save_pretrained(good)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="not a pirender model directory"):
        pirender.load_renderer(empty)
    meta = json.loads((good / "config.json").read_text())
    meta["config"]["warping_base_nc"] = 8  # config no longer matches the weights
    (good / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        pirender.load_renderer(good)
    meta["config"]["nonsense"] = 1
    (good / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="unknown RendererConfig keys: nonsense"):
        pirender.load_renderer(good)
    (good / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="invalid JSON"):
        pirender.load_renderer(good)
    with pytest.raises(CheckpointError, match="one set of weights"):
        pirender.load_renderer(empty, weights="raw")


def test_truncated_safetensors(tmp_path: Path, tiny_checkpoint: Path) -> None:
    d = tmp_path / "m"
    pirender.load_renderer(tiny_checkpoint).save_pretrained(d)
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        pirender.load_renderer(d)


def test_bare_state_dict_and_prefixes(tmp_path: Path, tiny_ckpt: dict) -> None:
    bare = _save(tmp_path, {f"module.{k}": v for k, v in tiny_ckpt["net_G_ema"].items()}, "bare.pt")
    model = pirender.load_renderer(bare)
    assert model.config == pirender.RendererConfig.tiny()
