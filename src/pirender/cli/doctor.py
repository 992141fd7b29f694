"""`pirender doctor`: what this installation has, what the files you point at are, and what each
command still needs. One screen; every check that fails says why in one line, never a traceback."""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from pirender.cli import common

COMMAND = "doctor"
ASSETS = Path(__file__).resolve().parents[1] / "assets"
HELP = "check the installation (extras, models, device) and the model files you use"

OFFICIAL_LICENCE = "if these are the official PIRender weights: CC BY-NC 4.0, non-commercial use only"
DEEP3D_LICENCE = "Deep3DFaceRecon_pytorch's released model (see its README for the terms of use)"

OURS_LICENCE = "Apache-2.0 (bundled with pirender, trained on SynthHead only)"
# command -> the extras it needs (the others need only the core install)
NEEDS = {
    "crop, and any photo or video that is not a square face crop": ("faces",),
    "extract": ("faces",),
    "ui": ("ui", "faces"),
    "export-onnx, --backend onnx": ("onnx",),
    "train (tensorboard; the effnet_lite0 / vgg16_hed losses)": ("train",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--renderer", type=Path, action="append", default=[], metavar="PATH",
                        help="a renderer to check: official .pt or model directory (repeatable)")  # fmt: skip
    parser.add_argument(
        "--extractor-checkpoint",
        dest="checkpoint",
        type=Path,
        metavar="PT",
        help="a Deep3DFaceRecon checkpoint to check",
    )
    common.add_alias(parser, "--checkpoint", dest="checkpoint", type=Path)
    parser.add_argument("--no-hash", action="store_true", help="skip the sha256 of model files")


@dataclass(frozen=True)
class Line:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"  [{'ok' if self.ok else '--'}] {self.text}"


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    for name in (module, module.replace("_", "-")):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed"


def installation() -> tuple[list[Line], set[str]]:
    """Lines about pirender, torch, the device and the extras; and the set of complete extras."""
    import torch

    from pirender.engine.core import bf16_supported
    from pirender.extras import EXTRA_OF_MODULE

    lines = [
        Line(
            True,
            f"pirender {importlib.metadata.version('pirender')}, Python {platform.python_version()}, "
            f"torch {torch.__version__}",
        ),  # fmt: skip
        Line(
            True,
            f"CPU: {os.cpu_count()} cores, torch uses {torch.get_num_threads()} threads; native bf16: "
            f"{'yes' if bf16_supported(torch.device('cpu')) else 'no (use fp32 on this CPU)'}",
        ),  # fmt: skip
    ]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(Line(True, f"CUDA: {names}; bf16: {'yes' if torch.cuda.is_bf16_supported() else 'no'}"))
    else:
        lines.append(Line(False, "CUDA: none (CPU rendering; --device cuda is unavailable)"))
    extras: dict[str, list[str]] = {}
    for module, extra in EXTRA_OF_MODULE.items():
        extras.setdefault(extra, []).append(module)
    complete = set()
    for extra, modules in extras.items():
        versions = {m: _version(m) for m in modules}
        missing = [m for m, v in versions.items() if v is None]
        if not missing:
            complete.add(extra)
        found = ", ".join(f"{m} {v}" for m, v in versions.items() if v is not None) or "nothing"
        tail = f'; missing {", ".join(missing)}: pip install "pirender[{extra}]"' if missing else ""
        lines.append(Line(not missing, f"extra {extra}: {found}{tail}"))
    return lines, complete


def bundled_models() -> list[Line]:
    """The face landmarker and the shipped SynthHead models."""
    from pirender.errors import PirenderError
    from pirender.motion.faces import resolve_model_path

    lines = []
    try:
        lines.append(Line(True, f"face landmarker: {resolve_model_path()}"))
    except PirenderError as e:
        lines.append(Line(False, f"face landmarker: {e}"))
    assets = ASSETS
    for name, what in (("renderer_synthhead_128", "SynthHead renderer (synthetic faces only)"),
                       ("audio_flow", "audio-to-motion flow"),
                       ("synthhead_extractor.safetensors", "SynthHead coefficient extractor")):  # fmt: skip
        path = assets / name
        lines.append(
            Line(path.exists(), f"{what}: {path if path.exists() else 'missing (reinstall pirender)'}")
        )
    return lines


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_file(path: Path) -> Path:
    return path / "model.safetensors" if path.is_dir() else path


def renderer_file(path: Path, *, hash_files: bool = True) -> list[Line]:
    """What a renderer file is: format, architecture, size, sha256, licence."""
    from pirender.errors import PirenderError
    from pirender.models.loading import read_renderer
    from pirender.weights.format import model_directory

    try:
        model, data = read_renderer(path)
    except (PirenderError, OSError, ValueError) as e:
        return [Line(False, f"renderer: {' '.join(str(e).split())}")]
    if model_directory(path) is not None:
        kind = f"pirender model directory (format {data.get('format_version')})"
        licence = (
            data.get("provenance", {}).get("license") or "as its maker says (see provenance in config.json)"
        )
        if path.resolve().parent == ASSETS:
            licence = OURS_LICENCE
    else:
        kind = (
            "official PIRender checkpoint"
            if ("net_G_ema" in data or "net_G" in data)
            else "bare generator state dict"
        )
        licence = OFFICIAL_LICENCE
    config = model.config
    lines = [
        Line(
            True,
            f"renderer {path}: {kind}; {model.image_size} px; {model.num_parameters():,} parameters; "
            f"descriptor {config.descriptor_nc}, max channels {config.max_nc}, editing output {config.editing_output}"
            + ("; source-conditioned" if config.source_conditioning else ""),
        ),  # fmt: skip
        Line(True, f"  licence: {licence}"),
    ]
    if hash_files:
        lines.append(Line(True, f"  sha256 {_sha256(_weights_file(path))}"))
    return lines


def deep3d_file(path: Path, *, hash_files: bool = True) -> list[Line]:
    from pirender.errors import PirenderError
    from pirender.motion.extract.deep3d import load_recon_state

    try:
        state = load_recon_state(path)
    except PirenderError as e:
        return [Line(False, f"Deep3DFaceRecon checkpoint: {e}")]
    lines = [
        Line(True, f"Deep3DFaceRecon checkpoint {path}: {len(state)} tensors; licence: {DEEP3D_LICENCE}")
    ]
    if hash_files:
        lines.append(Line(True, f"  sha256 {_sha256(path)}"))
    return lines


def run(args: argparse.Namespace) -> int:
    lines, complete = installation()
    sections = [("installation", lines), ("bundled models", bundled_models())]
    pointed = [line for p in args.renderer for line in renderer_file(p, hash_files=not args.no_hash)]
    if args.checkpoint is not None:
        pointed += deep3d_file(args.checkpoint, hash_files=not args.no_hash)
    if pointed:
        sections.append(("your files", pointed))
    needs = []
    for command, extras in NEEDS.items():
        missing = [e for e in extras if e not in complete]
        text = f"{command}: " + (f'needs pip install "pirender[{",".join(missing)}]"' if missing else "ready")
        needs.append(Line(not missing, text))
    needs.append(Line(True, "reenact, edit, speak, dub, demo: ready with the bundled SynthHead models; "
                            "for real faces pass --renderer with the official weights"))  # fmt: skip
    sections.append(("commands", needs))
    for title, section in sections:
        print(title)
        for line in section:
            print(line)
    return 0 if all(line.ok for line in pointed) else 1
