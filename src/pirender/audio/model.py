"""MotionFlow: speech -> per-frame motion (exp 64 | angle 3 | trans 3), a distribution, not a guess.

PIRenderer's audio-driven application (Ren et al. 2021, Sec. 4.4) models p(motion_t | audio,
motion_<t) with a conditional normalizing flow and samples it autoregressively. Here each frame is
mapped to a latent by a conditional Glow given its audio window, z_t = f(x_t; a_t), and the latents
follow an autoregressive conditional Gaussian, z_t ~ N(mu, sigma^2) with (mu, sigma) from the
previous `history` latents and a_t (the latent-autoregressive prior of VideoFlow, Kumar et al. 2020).
Since z_<t is an invertible function of x_<t given the audio, this is exactly

    log p(x_1..T | audio) = sum_t [ log N(f(x_t; a_t); mu(z_<t, a_t), sigma(z_<t, a_t)) + log|det df/dx_t| ],

an autoregressive model on motion with an exact likelihood. Its practical gain: sampling runs the
cheap prior sequentially and inverts the flow for all frames in one batched call, far faster than
real time on one CPU core. `kind="gaussian"` drops the flow (z = x), `kind="regressor"` keeps only
the prior mean and trains it with MSE: the two baselines share every other layer.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pirender.audio.config import AudioFlowConfig
from pirender.audio.features import pad_silence, window_index
from pirender.audio.normalizing_flow import ConditionalGlow
from pirender.errors import CheckpointError, PirenderError
from pirender.weights.strict import load_strict

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_LOG_2PI = math.log(2.0 * math.pi)


class AudioEncoder(nn.Module):
    """Log-mel frames around each motion frame -> audio embedding.

    A 1-D conv net over the mel frames: a pointwise (1x1) conv applied once per mel frame, then a
    conv whose kernel spans the whole window, evaluated only at the motion frames (an MLP on the
    gathered window). The full-window kernel keeps position: whether a sound is ahead of or behind
    the frame matters for the mouth. Projecting before gathering makes training ~5x cheaper than
    convolving every frame's window separately.
    """

    def __init__(self, *, n_mels: int, window: int, channels: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.pointwise = nn.Linear(n_mels, channels)
        self.window_mlp = nn.Sequential(
            nn.Linear(window * channels, hidden), nn.SiLU(), nn.Linear(hidden, out_dim)
        )

    def forward(self, mel: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """mel (B, S, n_mels) normalised log-mel, index (B, F, W) rows of mel -> (B, F, out_dim)."""
        h = torch.nn.functional.silu(self.pointwise(mel))  # (B, S, C)
        windows = h[torch.arange(h.shape[0])[:, None, None], index]  # (B, F, W, C)
        return self.window_mlp(windows.flatten(2))


class AutoregressivePrior(nn.Module):
    """(mu, log sigma) of latent z_t from the previous H latents (with validity mask) and a_t.

    The mean is a residual on z_{t-1}: smooth head motion then starts as "stay where you are".
    The first layer is split by input so the audio and mask terms of every frame can be computed
    for a whole clip at once before the sequential loop (`precompute`, `step`).
    """

    def __init__(
        self,
        *,
        dim: int,
        history: int,
        audio_dim: int,
        hidden: int,
        log_std_bound: float,
        latent_bound: float,
    ) -> None:
        super().__init__()
        self.dim, self.history = dim, history
        self.log_std_bound, self.latent_bound = log_std_bound, latent_bound
        self.history_in = nn.Linear(history * dim, hidden)
        self.mask_in = nn.Linear(history, hidden, bias=False)
        self.audio_in = nn.Linear(audio_dim, hidden, bias=False)
        self.hidden = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 2 * dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def precompute(self, audio: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """audio (..., A), mask (..., H) float -> (..., hidden) input terms that do not depend on z."""
        return self.mask_in(mask) + self.audio_in(audio)

    def step(self, history: torch.Tensor, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """history (..., H*D) oldest first, pre (..., hidden) -> mu (..., D), log_sigma (..., D)."""
        h = torch.nn.functional.silu(self.history_in(history) + pre)
        h = torch.nn.functional.silu(self.hidden(h))
        delta, raw = self.head(h).chunk(2, dim=-1)
        log_sigma = self.log_std_bound * torch.tanh(raw / self.log_std_bound)
        return history[..., -self.dim :] + delta, log_sigma

    @torch.no_grad()
    def sample_latents(self, pre: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The autoregression z_t = mu_t + sigma_t * noise_t, t = 0 .. T-1, from an empty history.

        The same arithmetic as `step`, written as few fused ops as possible: this loop is the only
        sequential part of sampling, its tensors are tiny and each op costs ~5-10 us of dispatch.

        Args:
            pre: (T, hidden) `precompute` of each frame.
            noise: (K, T, D) standard normal noise, already scaled by the temperature.
        Returns:
            (K, T, D) latents.
        """
        silu = torch.nn.functional.silu
        d, bound, bound_z = self.dim, self.log_std_bound, self.latent_bound
        w_history, w_hidden, w_head = self.history_in.weight.T, self.hidden.weight.T, self.head.weight.T
        pre = pre + self.history_in.bias
        history = noise.new_zeros(noise.shape[0], self.history * d)
        latents = torch.empty_like(noise)
        for t in range(noise.shape[1]):
            h = silu(torch.addmm(pre[t], history, w_history))
            h = silu(torch.addmm(self.hidden.bias, h, w_hidden))
            out = torch.addmm(self.head.bias, h, w_head)
            sigma = torch.exp(torch.tanh(out[:, d:] * (1 / bound)) * bound)
            z = torch.addcmul(out[:, :d], sigma, noise[:, t]).add_(history[:, -d:]).clamp_(-bound_z, bound_z)
            history = torch.cat([history[:, d:], z], dim=1)
            latents[:, t] = z
        return latents

    def forward(
        self, history: torch.Tensor, mask: torch.Tensor, audio: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """history (..., H*D), mask (..., H), audio (..., A) -> mu, log_sigma (..., D)."""
        return self.step(history, self.precompute(audio, mask))


class MotionFlow(nn.Module):
    """Audio-conditioned autoregressive model of per-frame motion; see the module docstring.

    Motion enters and leaves in coefficient units; it is normalised inside with the training set's
    per-dimension mean and std (buffers saved with the weights), since expression (~±1), angles
    (~0.1 rad) and translation differ in scale by orders of magnitude.
    """

    def __init__(self, config: AudioFlowConfig) -> None:
        super().__init__()
        self.config = config
        d = config.motion_dim
        self.register_buffer("motion_mean", torch.zeros(d))
        self.register_buffer("motion_std", torch.ones(d))
        self.register_buffer("mel_mean", torch.zeros(config.n_mels))
        self.register_buffer("mel_std", torch.ones(config.n_mels))
        self.audio_encoder = AudioEncoder(
            n_mels=config.n_mels,
            window=config.window,
            channels=config.audio_channels,
            hidden=config.audio_hidden,
            out_dim=config.audio_dim,
        )
        self.normalizing_flow = ConditionalGlow(
            d,
            config.audio_dim,
            num_steps=config.num_flow_steps,
            hidden=config.coupling_hidden,
            scale_bound=config.scale_bound,
        )
        self.prior = AutoregressivePrior(
            dim=d,
            history=config.history,
            audio_dim=config.audio_dim,
            hidden=config.prior_hidden,
            log_std_bound=config.log_std_bound,
            latent_bound=config.latent_bound,
        )

    # ----------------------------------------------------------------------------------- statistics
    @torch.no_grad()
    def set_statistics(
        self,
        *,
        motion_mean: torch.Tensor,
        motion_std: torch.Tensor,
        mel_mean: torch.Tensor,
        mel_std: torch.Tensor,
    ) -> None:
        """Store the training set's normalisation (stds floored so constant dimensions stay finite)."""
        self.motion_mean.copy_(motion_mean)
        self.motion_std.copy_(motion_std.clamp_min(1e-4))
        self.mel_mean.copy_(mel_mean)
        self.mel_std.copy_(mel_std.clamp_min(1e-3))

    def encode_audio(self, mel: torch.Tensor, mel_index: torch.Tensor) -> torch.Tensor:
        """mel (B, S, n_mels) raw log-mel (silence-padded), mel_index (B, F, W) -> (B, F, audio_dim)."""
        return self.audio_encoder((mel - self.mel_mean) / self.mel_std, mel_index)

    # ----------------------------------------------------------------------------------- training
    def log_prob(
        self,
        motion: torch.Tensor,
        valid: torch.Tensor,
        mel: torch.Tensor,
        mel_index: torch.Tensor,
        *,
        data_noise: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame log-likelihood with teacher forcing (true previous frames).

        Args:
            motion: (B, H+L, D) motion in coefficient units; the first H frames are history only.
            valid: (B, H+L) bool, False for history frames before the clip start.
            mel: (B, S, n_mels) raw log-mel segments covering the audio windows of those frames.
            mel_index: (B, H+L, W) rows of `mel` in each frame's audio window.
            data_noise: std of Gaussian noise added to normalised motion (training only).
        Returns:
            log_lik (B, L) nats per target frame in coefficient units (flow, gaussian; for the
            regressor the Gaussian of its mean), and the normalised squared error (B, L) of the prior
            mean (the regressor's loss).
        """
        cfg = self.config
        batch, frames, d = motion.shape
        x = (motion - self.motion_mean) / self.motion_std
        if data_noise > 0:
            x = x + data_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        audio = self.encode_audio(mel, mel_index)  # (B, H+L, A)
        z, logdet = self.normalizing_flow(x.reshape(-1, d), audio.reshape(batch * frames, -1))
        z = z.reshape(batch, frames, d) * valid[..., None]
        logdet = logdet.reshape(batch, frames)[:, cfg.history :]
        # history of target frame i: frames i .. i+H-1 of the crop, oldest first
        history = z.unfold(1, cfg.history, 1)[:, :-1]  # (B, L, D, H)
        history = history.transpose(2, 3).reshape(batch, -1, cfg.history * d)
        mask = valid.float().unfold(1, cfg.history, 1)[:, :-1]  # (B, L, H)
        mu, log_sigma = self.prior(history, mask, audio[:, cfg.history :])
        target = z[:, cfg.history :]
        if cfg.kind == "regressor":
            log_sigma = torch.zeros_like(
                log_sigma
            )  # unit Gaussian in normalised units: reported, never trained
        gauss = -0.5 * ((target - mu) * torch.exp(-log_sigma)).square() - log_sigma - 0.5 * _LOG_2PI
        log_lik = gauss.sum(-1) + logdet - torch.log(self.motion_std).sum()
        squared_error = (target - mu).square().mean(-1)
        return log_lik, squared_error

    # ----------------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(
        self,
        mel: torch.Tensor,
        num_frames: int,
        *,
        num_samples: int = 1,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Autoregressive sampling of one clip, batched over samples.

        Args:
            mel: (M, n_mels) raw log-mel of the clip (features.log_mel).
            num_frames: T frames to generate at config.fps.
            num_samples: K independent samples.
            temperature: scale of the latent noise (0 = the most likely path of the prior;
                the regressor ignores it).
            generator: torch RNG for reproducible samples.
        Returns:
            (K, T, D) motion in coefficient units.
        """
        cfg, d = self.config, self.config.motion_dim
        padded = pad_silence(mel, cfg.audio_context)
        index = window_index(torch.arange(num_frames), cfg.fps, cfg.audio_context, padded.shape[0])
        audio = self.encode_audio(padded[None], index[None])[0]  # (T, A)
        steps = torch.arange(num_frames)[:, None] - cfg.history + torch.arange(cfg.history)
        pre = self.prior.precompute(audio, (steps >= 0).float())  # (T, hidden)
        noise = torch.randn((num_samples, num_frames, d), generator=generator) * temperature
        if cfg.kind == "regressor":
            noise.zero_()
        z = self.prior.sample_latents(pre, noise).reshape(-1, d)  # (K*T, D)
        x = self.normalizing_flow.inverse(z, audio.repeat(num_samples, 1))
        return (x * self.motion_std + self.motion_mean).reshape(num_samples, num_frames, d)

    # ----------------------------------------------------------------------------------- files
    def save_pretrained(
        self, directory: str | os.PathLike[str], *, provenance: dict[str, Any] | None = None
    ) -> None:
        """Write `config.json` and `model.safetensors` (weights + normalisation statistics) into a
        directory, both replaced only on success (weights/files.py)."""
        from pirender.weights.files import write_model_files

        directory = Path(directory)
        meta = {"format_version": FORMAT_VERSION, "model": "MotionFlow", "config": self.config.to_dict()}
        if provenance:
            meta["provenance"] = provenance
        write_model_files(
            directory / CONFIG_NAME,
            directory / WEIGHTS_NAME,
            meta,
            self.state_dict(),
            metadata={"format_version": str(FORMAT_VERSION)},
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MotionFlow:
        """Load a model directory (config.json + model.safetensors), a file inside it, or a training
        run directory holding `model/`. Strict: missing or unexpected tensors are an error."""
        from pirender.weights.files import read_model_files

        directory = _model_directory(Path(path))
        config_path = directory / CONFIG_NAME
        meta, state = read_model_files(config_path, directory / WEIGHTS_NAME, what="motion model")
        if meta.get("format_version") != FORMAT_VERSION or meta.get("model") != "MotionFlow":
            raise CheckpointError(
                f"cannot read {config_path}: not a MotionFlow config of format {FORMAT_VERSION}"
            )
        try:
            config = AudioFlowConfig.from_dict(meta["config"])
        except (ValueError, KeyError, TypeError, PirenderError) as e:  # a bad config
            raise CheckpointError(f"cannot read {config_path}: {e}") from None
        model = cls(config)
        load_strict(model, state, directory / WEIGHTS_NAME, what="motion flow")
        return model.eval()


def _model_directory(path: Path) -> Path:
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise CheckpointError(f"motion model not found: {path}")
    if not (path / CONFIG_NAME).is_file() and (path / "model" / CONFIG_NAME).is_file():
        return path / "model"  # a training run directory
    if not (path / CONFIG_NAME).is_file():
        raise CheckpointError(f"{path} holds no {CONFIG_NAME} of a motion model")
    return path
