"""End to end: the web app served on loopback, driven in headless Debian Chromium through Playwright.

Render without a source, upload a file that is not an image and one over the size limit (each gives
a one-line message in the page), upload a picture with no face (centre-crop notice), drag the yaw
slider, check that the served preview changed and is exactly the renderer's image for the new pose,
render and download the PNG, type an invalid raw coefficient, and check that the page asked nothing
of any other host. Screenshots go to a temporary directory (the published ones in docs/images/ come
from scripts/ui_screenshots.py, with the shipped models).

Never runs `playwright install`: it uses the system chromium (CI installs the Debian package).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from pirender.ui.browser import CHROMIUM_ARGS, chromium_path, free_port, wait_for_new_preview

pytestmark = pytest.mark.browser

MAX_UPLOAD = "1mb"  # small, so the test can exceed it cheaply
TIMEOUT_MS = 60_000  # a render on a busy 2-core CI machine can take seconds


def _chromium_path() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no chromium executable (install the Debian package 'chromium'; never `playwright install`)"
        )
    return path


@pytest.fixture(scope="module")
def server(app_models) -> Iterator[str]:
    from pirender.ui.app import build_app
    from pirender.ui.launch import serve

    app = build_app(app_models)
    url = serve(app, port=free_port(), block=False, quiet=True, max_file_size=MAX_UPLOAD)
    assert urlparse(url).hostname == "127.0.0.1"
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    executable = _chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _screenshot(page, name: str, out_dir: Path) -> None:  # noqa: ANN001 (playwright Page)
    path = out_dir / f"ui_{name}.png"
    page.screenshot(path=str(path), full_page=True)


def _served_image(page, src: str) -> np.ndarray:  # noqa: ANN001
    response = page.request.get(src)
    assert response.ok, f"{src}: HTTP {response.status}"
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"), dtype=np.int16)


def _wait_for_new_preview(page, old: str | None) -> str:  # noqa: ANN001
    return wait_for_new_preview(page, old, timeout_ms=TIMEOUT_MS)


def _expect_message(page, text: str, field=None) -> None:  # noqa: ANN001
    """Wait for a message (gradio's toast) showing `text`; on a timeout, say what the page showed instead."""
    toast = page.locator(".toast-body").filter(has_text=text)
    try:
        toast.first.wait_for(state="visible", timeout=TIMEOUT_MS)
    except Exception as e:  # playwright's TimeoutError: name what was there, not only what was not
        shown = page.locator(".toast-body").all_inner_texts()
        value = field.input_value() if field is not None else None
        raise AssertionError(f"no message {text!r}; messages shown: {shown}; field value: {value!r}") from e
    assert "Traceback" not in toast.first.inner_text()


def _type_into(page, field, text: str) -> None:  # noqa: ANN001
    """Type `text` into a field that has just appeared, as a person would once it is on screen.

    A field in a panel that has just opened can still be mounted again by the page (its content is made
    when the panel opens), which empties it: a person sees that and types again; so does this, until the
    text has stayed in the field for half a second.
    """
    for _ in range(5):
        field.click()  # waits until the field is visible, enabled and no longer moving
        field.fill(text)
        page.wait_for_timeout(500)
        if field.input_value() == text:
            return
    raise AssertionError(f"the field would not keep {text!r} (it shows {field.input_value()!r})")


def _expected_render(app_models, source: Path, **pose: float) -> np.ndarray:  # noqa: ANN001
    from pirender.ui import handlers
    from pirender.ui.handlers import EditValues

    portrait = handlers.load_portrait(app_models, source)
    own = handlers.own_values(portrait)
    image = handlers.render_edit(app_models, portrait, EditValues({**own.pose, **pose}, own.controls))
    return image.astype(np.int16)


def test_edit_in_a_real_browser(  # noqa: ANN001
    server: str, browser, app_models, faceless_png: Path, tmp_path: Path
) -> None:
    from pirender.ui.app import NO_SOURCE

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or request.url))
    page.goto(server)
    page.locator("#render").wait_for()

    # 1. An error shown as a message in the page: render before there is a source.
    page.locator("#render").click()
    _expect_message(page, NO_SOURCE)
    assert "Traceback" not in page.content()
    _screenshot(page, "error", tmp_path)

    # 2. An upload that is not an image: the page says so in one line, naming the file.
    not_image = tmp_path / "notes.png"
    not_image.write_text("these are notes, not pixels")
    page.locator("#source-upload input[type=file]").set_input_files(str(not_image))
    _expect_message(page, "notes.png: not a readable image (unknown or corrupt format)")
    page.locator("#source-upload button[aria-label='Remove Image']").first.click()

    # 3. An upload over the size limit is refused before it reaches the app.
    too_big = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 256, (700, 800, 3), dtype=np.uint8)
    Image.fromarray(noise).save(too_big)  # ~1.7 MB of incompressible pixels
    page.locator("#source-upload input[type=file]").set_input_files(str(too_big))
    _expect_message(page, "exceed the maximum allowed size of 1.0 Mb")

    # 4. Upload a picture with no face: centre crop, with the notice in the page; a first preview.
    page.locator("#source-upload input[type=file]").set_input_files(str(faceless_png))
    notice = page.locator("#source-notice")
    notice.get_by_text("centre square").wait_for()
    first_src = _wait_for_new_preview(page, None)
    before = _served_image(page, first_src)
    assert before.shape == (72, 96, 3)  # the render pasted back into the 96x72 photo

    # 5. Drag the yaw slider to the right: releasing it re-renders the preview.
    yaw = page.locator("#slider-yaw input[type=range]")
    box = yaw.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert float(yaw.input_value()) > 20.0
    moved_src = _wait_for_new_preview(page, first_src)
    after = _served_image(page, moved_src)
    assert not np.array_equal(after, before), "turning the head did not change the rendered image"
    # ... and it is exactly the renderer's image for the pose the slider shows (same models, in-process).
    expected = _expected_render(app_models, faceless_png, yaw=float(yaw.input_value()))
    assert np.array_equal(after, expected)

    # 6. The Render button gives the same (deterministic) image for the same sliders, and a PNG to download.
    page.locator("#render").click()
    rendered = _served_image(page, _wait_for_new_preview(page, moved_src))
    assert np.array_equal(rendered, after)
    download = page.locator("#download-png")
    download.get_by_text("Download PNG").wait_for()
    with page.expect_download() as info:
        download.click()
    downloaded = Image.open(info.value.path())
    assert downloaded.format == "PNG"
    assert np.array_equal(np.asarray(downloaded.convert("RGB"), dtype=np.int16), rendered)
    # Tidy the screenshot: dismiss the messages still shown (they also close by themselves, so no waiting).
    page.evaluate("document.querySelectorAll('.toast-close').forEach(button => button.click())")
    _screenshot(page, "edit", tmp_path)

    # 7. Another mistake, in the advanced panel: a raw coefficient that is not a number.
    page.get_by_text("Advanced").click()
    raw = page.locator("#raw-coeffs textarea, #raw-coeffs input").first
    _type_into(page, raw, "5=abc")
    # Enter, as the field's hint says: the submit event carries the field's own value.
    raw.press("Enter")
    _expect_message(page, "raw coefficients: 5=abc: 'abc' is not a number", field=raw)

    # 8. Nothing was asked of any host but the app's own.
    assert hosts <= {"127.0.0.1"}, f"the page contacted other hosts: {sorted(hosts - {'127.0.0.1'})}"
    page.close()
