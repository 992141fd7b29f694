"""Take the web app screenshots in docs/images/ (ui_edit.png, ui_error.png) with the shipped models.

    OMP_NUM_THREADS=1 python scripts/ui_screenshots.py [--out docs/images] [--seed 6]

Serves `pirender ui`'s app in this process on a free 127.0.0.1 port, with the same models the
command uses by default (the shipped SynthHead renderer, extractor and audio flow), and drives it in
headless Debian Chromium through Playwright (never `playwright install`; set PIRENDER_CHROMIUM to use
another executable):

* ui_edit.png: a SynthHead portrait uploaded, the yaw and jaw-open sliders dragged, the new preview;
* ui_error.png: then `5=abc` typed as a raw expression coefficient, and the one-line message shown.

Re-run it whenever the shipped models change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pirender.ui.browser import CHROMIUM_ARGS, chromium_path, free_port, preview_src, wait_for_new_preview

REPO = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 120_000  # renders share a busy CPU
# Where to drag each slider, as a fraction of its track (yaw: -45..45 degrees, jaw open: 0..1).
DRAGS = {"yaw": 0.72, "jaw_open": 0.9}  # yaw ~ +20 deg (the slider spans -45..45): inside the training range
BAD_RAW = "5=abc"
BAD_RAW_MESSAGE = "raw coefficients: 5=abc: 'abc' is not a number"


def write_portrait(path: Path, seed: int) -> Path:
    """A SynthHead head at rest, as a 256-px PNG (square: the app takes it as a face crop)."""
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    image = SynthHead(Identity.from_seed(seed), 256).render(neutral_coeffs())
    Image.fromarray(np.asarray(image)).save(path)
    return path


def serve_app() -> tuple[object, str]:
    """The app over the shipped models (loaded now), served on loopback: (app, url)."""
    from pirender.pipelines.models import ExtractorSpec
    from pirender.ui.app import build_app
    from pirender.ui.handlers import AppModels
    from pirender.ui.launch import serve

    models = AppModels(extractor=ExtractorSpec("synthhead"))  # `pirender ui` without options
    models.edit_pipeline()
    app = build_app(models)
    return app, serve(app, port=free_port(), block=False, quiet=True)


def drag_slider(page, name: str, fraction: float) -> None:  # noqa: ANN001
    """Drag a slider from its knob to `fraction` of its track and let go (which re-renders)."""
    track = page.locator(f"#slider-{name} input[type=range]")
    box = track.bounding_box()
    low, high, value = (float(track.get_attribute(a) or 0) for a in ("min", "max", "value"))
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * (value - low) / (high - low), y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=8)
    old = preview_src(page)
    page.mouse.up()
    wait_for_new_preview(page, old)


def settle(page) -> None:  # noqa: ANN001
    """Close the messages and wait until every picture has loaded and no spinner is left."""
    page.evaluate("document.querySelectorAll('.toast-close').forEach(button => button.click())")
    page.locator(".toast-body").first.wait_for(state="detached")
    page.wait_for_function("[...document.images].every(img => img.complete)")
    page.locator(".eta-bar, .progress-text").first.wait_for(state="detached")


def edit_screenshot(page, portrait: Path, out: Path) -> None:  # noqa: ANN001
    page.locator("#source-upload input[type=file]").set_input_files(str(portrait))
    wait_for_new_preview(page, None)
    for name, fraction in DRAGS.items():
        drag_slider(page, name, fraction)
    settle(page)
    page.screenshot(path=str(out), full_page=True)


def error_screenshot(page, out: Path) -> None:  # noqa: ANN001
    """A mistake on top of the edit: a raw expression coefficient that is not a number."""
    page.get_by_text("Advanced").click()
    raw = page.locator("#raw-coeffs textarea, #raw-coeffs input").first
    raw.fill(BAD_RAW)
    raw.press("Enter")
    page.locator(".toast-body").filter(has_text=BAD_RAW_MESSAGE).first.wait_for(state="visible")
    page.wait_for_timeout(500)  # let the message finish sliding in
    page.screenshot(path=str(out), full_page=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images", help="output folder")
    parser.add_argument("--seed", type=int, default=6, help="SynthHead identity of the portrait")
    args = parser.parse_args()

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("ui_screenshots: playwright (python) is not installed: pip install playwright")
    chromium = chromium_path()
    if chromium is None:
        sys.exit("ui_screenshots: no chromium executable (install the Debian package 'chromium')")

    args.out.mkdir(parents=True, exist_ok=True)
    app, url = serve_app()
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
            workdir = Path(tmp)
            portrait = write_portrait(workdir / f"synthhead_{args.seed}.png", args.seed)
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.locator("#render").wait_for()
            edit_screenshot(page, portrait, args.out / "ui_edit.png")
            error_screenshot(page, args.out / "ui_error.png")
            browser.close()
    finally:
        app.close()
    for name in ("ui_edit.png", "ui_error.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
