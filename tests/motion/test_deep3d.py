"""The official-compatible path: ResNet-50 names, POS alignment, and a random Deep3DFaceRecon checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from pirender.errors import CheckpointError, InputError
from pirender.motion.extract.align import (
    TEMPLATE_5,
    align_image,
    load_standard_landmarks,
    pos_fit,
    reduce_68_to_5,
    transform_params,
)
from pirender.motion.extract.deep3d import Deep3DExtractor, ReconNet

from .conftest import requires_faces


def _fake_bfm(folder: Path) -> Path:
    """A BFM folder whose similarity_Lm3D_all.mat reduces to TEMPLATE_5 (the real file is not redistributable)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    lm = rng.normal(0, 0.3, (68, 3))
    for (a, b), point in zip([(36, 39), (42, 45)], TEMPLATE_5[:2], strict=True):
        lm[a], lm[b] = point + [-0.1, 0, 0], point + [0.1, 0, 0]
    lm[30], lm[48], lm[54] = TEMPLATE_5[2], TEMPLATE_5[3], TEMPLATE_5[4]
    scipy.io.savemat(folder / "similarity_Lm3D_all.mat", {"lm": lm})
    return folder


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    """A random-weight R-Net state dict, built once (24 M parameters take a while to initialise)."""
    torch.manual_seed(0)
    return ReconNet().state_dict()


def test_state_dict_uses_torchvision_and_deep3d_names(random_state: dict[str, torch.Tensor]) -> None:
    state = random_state
    keys = list(state)
    for key in (
        "backbone.conv1.weight",
        "backbone.bn1.running_var",
        "backbone.layer1.0.conv1.weight",
        "backbone.layer1.0.downsample.0.weight",
        "backbone.layer1.0.downsample.1.running_mean",
        "backbone.layer3.5.bn3.bias",
        "backbone.layer4.2.conv3.weight",
        "final_layers.0.weight",
        "final_layers.6.bias",
    ):
        assert key in keys
    assert not any(k.startswith("backbone.fc") for k in keys)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["backbone.conv1.weight"] == (64, 3, 7, 7)
    assert [shapes[f"final_layers.{i}.weight"][0] for i in range(7)] == [80, 64, 80, 3, 27, 2, 1]
    assert (
        sum(v.numel() for k, v in state.items() if "num_batches" not in k and "running" not in k)
        == 24_034_625
    )


def test_pos_fit_recovers_a_known_weak_perspective() -> None:
    rng = np.random.default_rng(1)
    points_3d = rng.normal(size=(5, 3))
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0][:2]
    projected = 87.0 * points_3d @ rotation.T + [120.0, 99.0]
    s_pos, t = pos_fit(projected, points_3d)
    assert s_pos == pytest.approx(87.0, rel=1e-6)
    np.testing.assert_allclose(t, [120.0, 99.0], atol=1e-6)


def test_transform_params_of_the_template_itself() -> None:
    # The template drawn at scale 102 around (128, 128) of a 256 image (y down): s = 1, t = (128, 128).
    landmarks = TEMPLATE_5[:, :2] * [102.0, -102.0] + [128.0, 255 - 128.0]
    np.testing.assert_allclose(
        transform_params(landmarks, (256, 256), TEMPLATE_5), [256, 256, 1.0, 128, 128], atol=1e-9
    )


def test_bfm_folder_loading(tmp_path: Path) -> None:
    np.testing.assert_allclose(load_standard_landmarks(_fake_bfm(tmp_path / "BFM")), TEMPLATE_5, atol=1e-12)
    assert reduce_68_to_5(np.arange(68 * 2).reshape(68, 2)).shape == (5, 2)
    with pytest.raises(InputError, match="similarity_Lm3D_all.mat"):
        load_standard_landmarks(tmp_path)
    # No folder: Deep3DFaceRecon's own points, shipped (its load_lm3d reduction, image-left first).
    standard = load_standard_landmarks()
    np.testing.assert_allclose(standard[0], [-0.31148657, 0.29036078, 0.13377953])
    np.testing.assert_allclose(standard[2], [0.0032535, -0.04617932, 0.55244243])
    assert standard[0, 0] < 0 < standard[1, 0] and standard[3, 0] < 0 < standard[4, 0]
    assert np.abs(standard - TEMPLATE_5).max() < 0.01  # our cropping template is these, rounded


@requires_faces
def test_extract_with_a_deep3d_checkpoint_needs_no_bfm_folder(
    tmp_path: Path,
    astronaut: np.ndarray,
    random_state: dict[str, torch.Tensor],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pirender.cli.main import main
    from pirender.media.image import save_image
    from pirender.motion import load_motion

    torch.set_num_threads(1)
    torch.save({"net_recon": random_state, "epoch": 20}, tmp_path / "epoch_20.pth")
    save_image(tmp_path / "astronaut.png", astronaut)
    code = main(["extract", str(tmp_path / "astronaut.png"), "-o", str(tmp_path / "m.npz"),
                 "--extractor", "deep3d", "--checkpoint", str(tmp_path / "epoch_20.pth")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    motion = load_motion(tmp_path / "m.npz")
    assert motion.coeffs.shape == (1, 73) and np.isfinite(motion.coeffs).all()


def test_bad_checkpoints_are_rejected_clearly(tmp_path: Path) -> None:
    bfm = _fake_bfm(tmp_path / "BFM")
    torch.save({"net_recon": {"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match=r"R-Net architecture: missing \d+ keys"):
        Deep3DExtractor.from_checkpoint(tmp_path / "partial.pth", bfm)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        Deep3DExtractor.from_checkpoint(tmp_path / "junk.pth", bfm)
    with pytest.raises(CheckpointError, match="not found"):
        Deep3DExtractor.from_checkpoint(tmp_path / "missing.pth", bfm)


@requires_faces
def test_random_weight_checkpoint_loads_and_runs(
    tmp_path: Path, astronaut: np.ndarray, random_state: dict[str, torch.Tensor]
) -> None:
    from pirender.motion.faces import FaceCropper

    torch.set_num_threads(1)
    torch.save({"net_recon": random_state, "epoch": 20}, tmp_path / "epoch_20.pth")  # the official container
    extractor = Deep3DExtractor.from_checkpoint(tmp_path / "epoch_20.pth", _fake_bfm(tmp_path / "BFM"))
    with FaceCropper() as cropper:
        crop, _ = cropper.crop_image(astronaut)
        aligned, params = align_image(crop, cropper.landmarks5(crop), extractor.standard_landmarks)
        # the aligned 224 image holds the face at Deep3DFaceRecon's framing: s = 1, centred
        realigned = transform_params(cropper.landmarks5(aligned), (224, 224), extractor.standard_landmarks)
    assert aligned.shape == (224, 224, 3)
    assert realigned[2] == pytest.approx(1.0, abs=0.04)
    assert abs(realigned[3] - 111.5) < 5 and abs(realigned[4] - 111.5) < 5
    # the same face at 512 px too: its crop values, re-expressed for 256 px frames, match
    big = np.asarray(Image.fromarray(crop).resize((512, 512)))
    coeff, transform = extractor.extract_d3d([crop, big])
    assert coeff.shape == (2, 257) and transform.shape == (2, 5) and np.isfinite(coeff).all()
    np.testing.assert_allclose(transform[:, :2], [[256, 256], [512, 512]])
    motion = extractor.extract([crop, big])
    assert motion.shape == (2, 73) and motion.dtype == np.float32
    np.testing.assert_allclose(motion[:, :64], coeff[:, 80:144], rtol=1e-4, atol=1e-5)  # exp columns
    np.testing.assert_allclose(motion[0, 70:], transform[0, 2:], rtol=1e-5)  # crop = (s, tx, ty) at 256
    np.testing.assert_allclose(motion[1, 70:], motion[0, 70:], rtol=0.03)
