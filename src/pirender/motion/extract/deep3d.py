"""Official-compatible extraction: a Deep3DFaceRecon R-Net checkpoint behind its 5-landmark alignment.

What users need (never downloaded by pirender; see docs/motion.md):
* the Deep3DFaceRecon_pytorch checkpoint `checkpoints/<name>/epoch_20.pth` (a dict with `net_recon`);
* its BFM folder, for `similarity_Lm3D_all.mat` (the standard landmarks of the alignment).

Per frame: 5 landmarks (MediaPipe, motion.faces) -> transform parameters (w0, h0, s, tx, ty) and the
224 x 224 aligned image (motion.extract.align) -> R-Net -> 257 coefficients -> (exp, angle, trans) +
(s, tx, ty) = 73 values, exactly the columns the official LMDB was built from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from pirender.errors import CheckpointError, InputError
from pirender.motion.coeffs import D3D_DIM, from_d3d
from pirender.motion.extract.align import align_image, load_standard_landmarks, to_reference_crop
from pirender.motion.extract.resnet import ResNet, resnet50
from pirender.weights.strict import load_strict
from pirender.weights.torch_file import read_torch_file

if TYPE_CHECKING:
    from pirender.motion.faces import FaceCropper

# Output heads in concatenation order: id, exp, tex, angle, gamma, trans xy, trans z.
HEAD_SIZES = (80, 64, 80, 3, 27, 2, 1)


class ReconNet(nn.Module):
    """Deep3DFaceRecon's R-Net: ResNet-50 trunk `backbone` + seven 1x1 conv heads `final_layers`."""

    def __init__(self, backbone: ResNet | None = None) -> None:
        super().__init__()
        self.backbone = backbone or resnet50()
        self.final_layers = nn.ModuleList(nn.Conv2d(self.backbone.out_channels, n, 1) for n in HEAD_SIZES)

    def forward(self, aligned_image: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) RGB in [0, 1] -> (B, 257) coefficients."""
        features = self.backbone(aligned_image)  # (B, 2048, 1, 1)
        return torch.cat([head(features) for head in self.final_layers], dim=1).flatten(1)


def load_recon_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The `net_recon` state dict of a Deep3DFaceRecon checkpoint (loaded with weights_only=True)."""
    path = Path(path)
    data = read_torch_file(path, what="Deep3DFaceRecon checkpoint")
    if isinstance(data, dict) and "net_recon" in data:
        data = data["net_recon"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: expected a dict with a 'net_recon' state dict of tensors")
    # Checkpoints saved from DataParallel carry `module.`.
    return {k.removeprefix("module."): v for k, v in data.items()}


class Deep3DExtractor:
    """Frames -> (T, 73) through a Deep3DFaceRecon checkpoint; crop values re-expressed for 256 px frames."""

    name = "deep3d"

    def __init__(
        self,
        net: ReconNet,
        standard_landmarks: np.ndarray,
        *,
        landmark_model: str | os.PathLike[str] | None = None,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
    ) -> None:
        self.net = net.eval().to(device)
        self.standard_landmarks = np.asarray(standard_landmarks, dtype=np.float64).reshape(5, 3)
        self.landmark_model = landmark_model
        self.batch_size = batch_size
        self.device = torch.device(device)
        self._cropper: FaceCropper | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        bfm_dir: str | os.PathLike[str] | None = None,
        *,
        device: str | torch.device = "cpu",
        landmark_model: str | os.PathLike[str] | None = None,
    ) -> Deep3DExtractor:
        """Load `{'net_recon': state_dict}` strictly (a torchvision fc layer, if present, is ignored)."""
        state = load_recon_state(path)
        state = {k: v for k, v in state.items() if not k.startswith("backbone.fc.")}  # unused by R-Net
        net = ReconNet()
        load_strict(net, state, path, what="Deep3DFaceRecon R-Net")
        return cls(net, load_standard_landmarks(bfm_dir), device=device, landmark_model=landmark_model)

    def _face_cropper(self) -> FaceCropper:
        """One landmark detector for the extractor's lifetime (creating one costs ~0.1 s)."""
        from pirender.motion.faces import FaceCropper

        if self._cropper is None:
            self._cropper = FaceCropper(model_path=self.landmark_model)
        return self._cropper

    def close(self) -> None:
        if self._cropper is not None:
            self._cropper.close()
            self._cropper = None

    @torch.no_grad()
    def regress(self, aligned: np.ndarray) -> np.ndarray:
        """(N, 224, 224, 3) uint8 aligned images -> (N, 257) float32 coefficients."""
        outputs = []
        for start in range(0, len(aligned), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(aligned[start : start + self.batch_size]))
            batch = batch.to(self.device).permute(0, 3, 1, 2).float() / 255.0
            outputs.append(self.net(batch).cpu().numpy())
        coeff = np.concatenate(outputs).astype(np.float32)
        assert coeff.shape[1] == D3D_DIM
        return coeff

    def extract_d3d(self, frames: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Deep3DFaceRecon output for each frame, as the official data's .mat files held it.

        Returns:
            coeff (T, 257) float32 and transform_params (T, 5) float32 (w0, h0, s, tx, ty) in the
            frames' own pixels. Frames without a face take the landmarks of the nearest frame that has one.
        """
        frames = list(frames)
        if not frames:
            raise InputError("no frames to extract motion from")
        cropper = self._face_cropper()
        landmarks = []
        for frame in frames:
            faces = cropper.detect(np.ascontiguousarray(frame))
            landmarks.append(faces[0].five if faces else None)
        landmarks = _fill_missing(landmarks)
        aligned, params = zip(
            *(align_image(f, lm, self.standard_landmarks) for f, lm in zip(frames, landmarks, strict=True)),
            strict=True,
        )
        return self.regress(np.stack(aligned)), np.stack(params).astype(np.float32)

    def extract(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(T, S, S, 3) uint8 face crops -> (T, 73) float32."""
        frames = list(frames)
        coeff, params = self.extract_d3d(frames)
        sizes = np.array([frame.shape[1] for frame in frames])
        crop = np.stack([to_reference_crop(p, int(size)) for p, size in zip(params, sizes, strict=True)])
        return from_d3d(coeff, crop)


def _fill_missing(landmarks: list[np.ndarray | None]) -> list[np.ndarray]:
    found = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not found:
        raise InputError("no face found in any frame")
    return [
        lm if lm is not None else landmarks[min(found, key=lambda j: abs(j - i))]  # type: ignore[misc]
        for i, lm in enumerate(landmarks)
    ]
