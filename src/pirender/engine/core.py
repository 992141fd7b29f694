"""RenderEngine: descriptors of a whole motion at once, frames rendered in streamed batches.

Every pipeline renders through this class. It picks a backend (torch or onnxruntime), a precision
and a batch size, and on the torch backend runs `FastRenderer` (graph.py) with the techniques that
measured fastest here (docs/performance.md). The float32 paths stay within 1e-4 max-abs of
`PIRenderer.forward` (spec 10.1); `techniques=Techniques.reference()` is bit-identical to it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pirender.engine.graph import FastRenderer, SourceCache, Techniques
from pirender.engine.options import RuntimeOptions
from pirender.errors import InputError
from pirender.models.renderer import PIRenderer, RenderOutput

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BACKENDS = ("torch", "onnx")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Defaults chosen by measurement on the idle 2-core CPU (docs/performance.md): at 256x256 with 2 threads,
# batch 1 rendered 1.98 frames/s, batch 4 1.31 (its activations overflow the caches) and two frame
# workers 1.78 (fp32; 2.85 vs 2.58 in bf16). On CUDA a batch of 8 fills the GPU.
CPU_BATCH = 1
CUDA_BATCH = 8
CPU_TECHNIQUES = Techniques(
    fused_norms=True, subpixel_up=True, split_stem=True, channels_last=True, weight_cache=True, tap_conv=True
)
CUDA_TECHNIQUES = Techniques(
    fused_norms=True, subpixel_up=False, split_stem=True, channels_last=True, weight_cache=True
)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """image (B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8, rounded to nearest."""
    scaled = ((image.float() + 1) * 127.5).round_().clamp_(0, 255)
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 convolutions run natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: torch.device, backend: str) -> str:
    """'auto' -> fp16 on CUDA (the widest-supported fast type); fp32 on CPUs (bf16 is emulated on
    AVX2 and measured slower; on CPUs with native bf16 pass precision='bf16', docs/performance.md)."""
    if precision != "auto":
        return precision
    return "fp16" if device.type == "cuda" and backend == "torch" else "fp32"


@dataclass(frozen=True)
class EnginePlan:
    """What the engine runs: printed by describe() and by `pirender bench`."""

    backend: str
    device: str
    precision: str
    batch_size: int
    threads: int
    techniques: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"backend={self.backend} device={self.device} precision={self.precision} "
            f"batch={self.batch_size} threads={self.threads} techniques={','.join(self.techniques) or 'eager'}"
        )


class RenderEngine:
    """Renders frames from a PIRenderer with the fastest configuration measured for this kind of machine.

    Args:
        renderer: a loaded PIRenderer; its weights are used as they are (not copied or modified).
        device: "cpu" or a CUDA device.
        precision: "fp32" (within 1e-4 of the reference), "bf16", "fp16", or "auto" (fp16 on CUDA,
            fp32 on CPUs).
        backend: "torch" or "onnx" (onnxruntime, needs the `onnx` extra).
        batch_size: frames per batch; None: 1 on CPU (`workers` with frame workers), 8 on CUDA.
        onnx_path: an exported graph (`pirender export-onnx`) for backend="onnx"; None exports one
            per image size into a temporary directory on first use.
        techniques: override the torch graph's techniques (Techniques.reference() = bit-exact).
        threads: CPU threads while rendering (torch and onnxruntime); None keeps torch's setting. On a
            shared, loaded machine 1 thread can be several times faster than 2 (docs/performance.md).
        workers: torch backend on CPU: frames of a batch rendered concurrently, each on
            threads // workers intra-op threads (frame parallelism: no thread synchronisation inside a
            frame). None or 1: all threads work on one frame at a time (measured faster on an idle
            machine in float32); frame workers win in bf16 and on a loaded machine, where intra-op
            threads wait for each other (docs/performance.md).
    """

    @classmethod
    def from_options(cls, renderer: PIRenderer, options: RuntimeOptions | None = None) -> RenderEngine:
        """The engine for `renderer` run as `options` say (the pipelines' one way to build one); an
        InputError when the device is not on this machine."""
        options = options or RuntimeOptions()
        options.check_available()
        return cls(
            renderer,
            device=options.device,
            precision=options.precision,
            backend=options.backend,
            batch_size=options.batch_size,
            workers=options.workers,
        )

    def __init__(
        self,
        renderer: PIRenderer,
        *,
        device: str | torch.device = "cpu",
        precision: str = "auto",
        backend: str = "torch",
        batch_size: int | None = None,
        onnx_path: str | Path | None = None,
        techniques: Techniques | None = None,
        threads: int | None = None,
        workers: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if backend not in BACKENDS:
            raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")
        if workers is not None and workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")
        self.threads = threads
        self.device = torch.device(device)
        self.renderer = renderer.to(self.device).eval()
        self.config = renderer.config
        self.backend = backend
        self.precision = resolve_precision(precision, self.device, backend)
        if backend == "onnx" and self.precision != "fp32":
            raise InputError("the onnx backend runs fp32 graphs; use precision='fp32' or 'auto'")
        if self.precision == "fp16" and self.device.type == "cpu":
            raise InputError("fp16 runs on GPUs only; on CPU use fp32 or bf16")
        frame_parallel = backend == "torch" and self.device.type == "cpu"
        if workers is not None and workers > 1 and not frame_parallel:
            raise InputError("workers > 1 is for the torch backend on CPU")
        cuda = self.device.type == "cuda"
        self.workers = workers or 1
        self.batch_size = batch_size or (CUDA_BATCH if cuda else max(CPU_BATCH, self.workers))
        self.techniques = techniques or (CUDA_TECHNIQUES if cuda else CPU_TECHNIQUES)
        self.fast = (
            FastRenderer(self.renderer, self.techniques, editing_dtype=_DTYPES.get(self.precision))
            if backend == "torch"
            else None
        )
        self._onnx_path = Path(onnx_path) if onnx_path is not None else None
        self._onnx: dict[tuple[int, int], object] = {}
        self._tmpdir: tempfile.TemporaryDirectory | None = None

    # ---- public API ------------------------------------------------------------------------------

    @property
    def image_size(self) -> int:
        """The side its renderer was trained at (PIRenderer.image_size)."""
        return self.renderer.image_size

    @torch.inference_mode()
    def encode_motion(
        self, windows: np.ndarray | torch.Tensor, source_coeffs: np.ndarray | torch.Tensor | None = None
    ) -> torch.Tensor:
        """windows (N, 73, 27) -> descriptors (N, D, 1) float32 on the engine device, in one pass
        (the mapping net costs ~0.01% of a frame). source_coeffs (N, 73): each frame's source image's
        own coefficients, needed by a source-conditioned renderer, ignored by the others."""
        coeffs = _tensor(windows).to(self.device, torch.float32)
        own = None if source_coeffs is None else _tensor(source_coeffs).to(self.device, torch.float32)
        return self.renderer.encode_motion(coeffs, own)

    def render_frames(
        self, source_image: torch.Tensor, descriptors: torch.Tensor, *, warp_only: bool = False
    ) -> Iterator[np.ndarray]:
        """Yield rendered frames batch by batch (nothing is held beyond one batch).

        Args:
            source_image: (1, 3, H, W) in [-1, 1], shared by every frame, or (N, 3, H, W), one per frame.
            descriptors: (N, D, 1) from encode_motion.
            warp_only: yield the warped source instead of the edited image.
        Yields:
            (b, H, W, 3) uint8 arrays, b <= batch_size, N frames in all, in order.
        """
        for image, warped, _ in self._batches(source_image, descriptors, warp_only=warp_only):
            yield to_uint8(warped if warp_only else image)

    def render(
        self,
        source_image: torch.Tensor,
        windows: np.ndarray | torch.Tensor,
        *,
        source_coeffs: np.ndarray | torch.Tensor | None = None,
        warp_only: bool = False,
    ) -> RenderOutput:
        """Render every window: source (1 or N, 3, H, W), windows (N, 73, 27), source_coeffs (N, 73) or
        None (see encode_motion) -> RenderOutput of float32 CPU tensors: flow (N, 2, H/4, W/4),
        warped_image (N, 3, H, W), image (N, 3, H, W) or None."""
        descriptors = self.encode_motion(windows, source_coeffs)
        outs = list(self._batches(source_image, descriptors, warp_only=warp_only))
        return RenderOutput(
            flow=torch.cat([o[2].float().cpu() for o in outs]),
            warped_image=torch.cat([o[1].float().cpu() for o in outs]),
            image=None if warp_only else torch.cat([o[0].float().cpu() for o in outs]),
        )

    @property
    def plan(self) -> EnginePlan:
        techniques = self.techniques.names() if self.backend == "torch" else ["onnxruntime"]
        if self.backend == "torch" and self.precision != "fp32":
            techniques.append(f"{self.precision}-editing-convs")
        threads = self.threads or torch.get_num_threads()
        if self.workers > 1:
            techniques.append(f"{self.workers}-frame-workers")
        return EnginePlan(
            self.backend, str(self.device), self.precision, self.batch_size, threads, tuple(techniques)
        )

    def describe(self) -> str:
        """One line: backend, device, precision, batch size and the techniques in use."""
        return str(self.plan)

    # ---- internals -------------------------------------------------------------------------------

    def _batches(
        self, source_image: torch.Tensor, descriptors: torch.Tensor, *, warp_only: bool
    ) -> Iterator[tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]]:
        n = descriptors.shape[0]
        if descriptors.ndim != 3 or descriptors.shape[1] != self.config.descriptor_nc:
            raise InputError(
                f"descriptors must be (N, {self.config.descriptor_nc}, 1), got {tuple(descriptors.shape)}"
            )
        if source_image.ndim != 4 or source_image.shape[0] not in (1, n):
            raise InputError(
                f"source_image must be (1, 3, H, W) or ({n}, 3, H, W), got {tuple(source_image.shape)}"
            )
        m = self.config.size_multiple
        if (
            source_image.shape[1] != self.config.image_nc
            or source_image.shape[2] % m
            or source_image.shape[3] % m
        ):
            raise InputError(
                f"source_image must be (B, {self.config.image_nc}, H, W) with H, W multiples of {m}, "
                f"got {tuple(source_image.shape)}"
            )
        source_image = source_image.to(self.device, torch.float32)
        descriptors = descriptors.to(self.device, torch.float32)
        shared = source_image.shape[0] == 1
        cache = None
        if self.workers > 1 and self.backend == "torch":
            yield from self._parallel_batches(source_image, descriptors, warp_only=warp_only)
            return
        for start in range(0, n, self.batch_size):
            desc = descriptors[start : start + self.batch_size]
            src = source_image if shared else source_image[start : start + desc.shape[0]]
            if self.backend == "onnx":
                yield self._run_onnx(src.expand(desc.shape[0], -1, -1, -1), desc)
                continue
            # The with-block closes before the yield: grad mode, threads and TF32 are process or thread
            # state and must not leak into the caller's code between batches.
            with torch.inference_mode(), self._precision_context(), _threads(self.threads):
                if cache is None or not shared:
                    cache = self.fast.source_cache(src)
                result = self._run_torch(src, desc, cache, warp_only=warp_only)
            yield result

    def _parallel_batches(
        self, source_image: torch.Tensor, descriptors: torch.Tensor, *, warp_only: bool
    ) -> Iterator[tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]]:
        """Frame parallelism: the frames of a batch on `workers` threads, each with threads // workers
        intra-op threads (torch releases the GIL inside its kernels); results in order, per batch. A
        batch of one frame runs on the calling thread with all threads."""
        total = self.threads or torch.get_num_threads()
        per_worker = max(1, total // self.workers)
        shared = source_image.shape[0] == 1

        def frame(i: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
            # Grad mode is per thread. A pool thread takes its intra-op thread count from the process
            # setting when it first runs an op: per_worker, set around every map below.
            with torch.inference_mode():
                src = source_image if shared else source_image[i : i + 1]
                frame_cache = cache if shared else self.fast.source_cache(src)
                return self._run_torch(src, descriptors[i : i + 1], frame_cache, warp_only=warp_only)

        n = descriptors.shape[0]
        with _threads(self.threads), torch.inference_mode():
            cache = self.fast.source_cache(source_image) if shared else None
        with ThreadPoolExecutor(self.workers, thread_name_prefix="pirender-frame") as pool:
            for start in range(0, n, self.batch_size):
                stop = min(start + self.batch_size, n)
                if stop - start == 1:
                    with _threads(self.threads):
                        outs = [frame(start)]
                else:
                    with _threads(per_worker):
                        outs = list(pool.map(frame, range(start, stop)))
                image = None if warp_only else torch.cat([o[0] for o in outs])
                yield image, torch.cat([o[1] for o in outs]), torch.cat([o[2] for o in outs])

    def _run_torch(
        self, src: torch.Tensor, desc: torch.Tensor, cache: SourceCache, *, warp_only: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        image, warped, flow = self.fast(src, desc, warp_only=warp_only, cache=cache)
        return (None if image is None else image.float()), warped.float(), flow.float()

    def _precision_context(self) -> contextlib.AbstractContextManager:
        # Reduced precision is applied inside FastRenderer (editing convolutions only); everything
        # else on CUDA is true fp32.
        return _no_tf32() if self.device.type == "cuda" else contextlib.nullcontext()

    def _run_onnx(
        self, src: torch.Tensor, desc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from pirender.engine.onnx import OnnxRenderer, export_onnx

        size = (src.shape[2], src.shape[3])
        runner = self._onnx.get(size)
        if runner is None:
            path = self._onnx_path
            if path is None:
                if size[0] != size[1]:
                    raise InputError(f"the ONNX export renders square images, got {size[0]}x{size[1]}")
                self._tmpdir = self._tmpdir or tempfile.TemporaryDirectory(prefix="pirender-onnx-")
                path = export_onnx(
                    self.renderer, Path(self._tmpdir.name) / f"renderer_{size[0]}.onnx", image_size=size[0]
                )
            runner = self._onnx[size] = OnnxRenderer(path, device=self.device, threads=self.threads)
        return runner.run(src, desc)


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """torch.set_num_threads for the duration of one batch (the setting is process-wide)."""
    if threads is None or threads == torch.get_num_threads():
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    """fp32 on CUDA means fp32: TF32 convolutions and matmuls drift ~1e-3 (spec 10.1)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _tensor(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    return values if torch.is_tensor(values) else torch.from_numpy(np.asarray(values))
