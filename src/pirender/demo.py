"""`pirender demo`: the three applications of the paper on SynthHead, with the shipped models.

Everything is made offline: SynthHead renders a source portrait and a talking driving video (with
its speech-like audio); the shipped SynthHead extractor turns the driving video into motion; the
shipped renderer reenacts and edits the source; the shipped audio flow makes it speak.

    1. reenact.mp4   cross-identity reenactment, source | driving | result, with the driving audio
    2. edit_grid.png one row per edit (yaw, pitch, roll and named expressions)
       edit_sweep.mp4 a head-turn and smile animation like the official intuitive-control demo
    3. speak.mp4     three motion samples for one utterance, side by side, with the audio
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_SEED = 7  # identity of the portrait we animate
DRIVER_SEED = 21  # identity of the person in the driving video
CLIP_SEED = 5  # talking clip (motion + audio) of the driver


@dataclass(frozen=True)
class DemoSettings:
    """How long each demo video is; `quick` is the same code path with fewer frames (CI)."""

    reenact_frames: int = 100  # 4 s at 25 fps
    sweep_steps: int = 25
    grid_steps: int = 5
    speak_frames: int = 100
    samples: int = 3
    fps: float = 25.0

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(reenact_frames=12, sweep_steps=6, grid_steps=3, speak_frames=12, samples=3)


GRID_SWEEPS = (
    "yaw:-25:25",
    "pitch:-15:15",
    "roll:-15:15",
    "jaw_open:0:1",
    "smile:0:1",
    "blink_left:0:1",
    "brow_raise:0:1",
    "pucker:0:1",
)


def run_demo(
    out_dir: str | Path = "pirender-demo",
    *,
    renderer: Any = None,
    motion_model: Any = None,
    settings: DemoSettings | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write the demo outputs into `out_dir` and return their paths by name.

    Args:
        renderer: renderer path (None: the shipped SynthHead renderer).
        motion_model: audio-to-motion model path (None: the shipped flow).
    """
    import soundfile as sf

    from pirender.media.image import save_image
    from pirender.media.video import VideoWriter
    from pirender.pipelines.edit import edit
    from pirender.pipelines.models import load_engine
    from pirender.pipelines.reenact import reenact
    from pirender.pipelines.speak import speak
    from pirender.synth import SynthHead, neutral_coeffs, talking_clip

    settings = settings or DemoSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = load_engine(renderer).image_size  # the renderer's image size decides every render's size
    paths: dict[str, Path] = {}

    # Step 1: the material: a source portrait and a talking driving video of another identity.
    source_coeffs = neutral_coeffs()
    source = SynthHead(SOURCE_SEED, size).render(source_coeffs)
    paths["source"] = out / "source.png"
    save_image(paths["source"], source)
    clip = talking_clip(CLIP_SEED, max(settings.reenact_frames, settings.speak_frames), settings.fps)
    driver = SynthHead(DRIVER_SEED, size)
    paths["driving"] = out / "driving.mp4"
    with VideoWriter(paths["driving"], settings.fps, (size, size), (clip.audio, clip.sample_rate)) as writer:
        for coeffs in clip.motion[: settings.reenact_frames]:
            writer.write(driver.render(coeffs))
    log(f"made a SynthHead source portrait and a {settings.reenact_frames}-frame talking driving video")

    # Step 2: cross-identity reenactment: driving video -> extracted motion -> source performs it.
    paths["reenact"] = reenact(
        paths["source"],
        paths["driving"],
        renderer=renderer,
        output=out / "reenact.mp4",
        motion="relative",
        source_coeffs=source_coeffs,
        layout="side-by-side",
        progress=progress,
    )
    log(f"reenactment: {paths['reenact']}")

    # Step 3: intuitive editing: a grid of pose and expression edits, and an animated sweep.
    grid_sweeps = [f"{s}:{settings.grid_steps}" for s in GRID_SWEEPS]
    paths["edit_grid"] = edit(
        paths["source"],
        renderer=renderer,
        output=out / "edit_grid.png",
        sweep=grid_sweeps,
        grid=True,
        source_coeffs=source_coeffs,
    )
    n = settings.sweep_steps
    paths["edit_sweep"] = edit(
        paths["source"],
        renderer=renderer,
        output=out / "edit_sweep.mp4",
        sweep=[f"yaw:-25:25:{n}", f"yaw:25:0:{n}", f"smile:0:1:{n}", f"jaw_open:0:0.8:{n}"],
        source_coeffs=source_coeffs,
        fps=settings.fps,
        progress=progress,
    )
    log(f"editing: {paths['edit_grid']}, {paths['edit_sweep']}")

    # Step 4: audio-driven reenactment: K motion samples for one utterance.
    speech = clip.audio[: int(round(settings.speak_frames / settings.fps * clip.sample_rate))]
    paths["speech"] = out / "speech.wav"
    sf.write(paths["speech"], speech, clip.sample_rate)
    paths["speak"] = speak(
        paths["source"],
        paths["speech"],
        renderer=renderer,
        motion_model=motion_model,
        output=out / "speak.mp4",
        samples=settings.samples,
        seed=0,
        fps=settings.fps,
        source_coeffs=source_coeffs,
        progress=progress,
    )
    log(f"audio-driven: {paths['speak']}")
    return {k: Path(v) for k, v in paths.items()}


def expected_outputs(settings: DemoSettings, size: int) -> dict[str, dict[str, Any]]:
    """What each demo file must contain (checked by the tests): frames, width, height, audio."""
    panels = 3
    return {
        "reenact": {"frames": settings.reenact_frames, "width": panels * size, "height": size, "audio": True},
        "edit_sweep": {"frames": 4 * settings.sweep_steps, "width": size, "height": size, "audio": False},
        "speak": {
            "frames": settings.speak_frames,
            "width": settings.samples * size,
            "height": size,
            "audio": True,
        },
        "edit_grid": {"rows": len(GRID_SWEEPS), "cols": settings.grid_steps, "size": size},
    }
