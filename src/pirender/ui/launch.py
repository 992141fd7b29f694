"""Serving the app: offline settings, loopback by default, upload limits.

`configure_offline()` must run before gradio is imported (huggingface_hub reads HF_HUB_OFFLINE at
import); `build_app` calls it first thing, and so does `serve`. With analytics on, gradio looks up
its telemetry and version-check hosts (seen with strace); with these settings the only sockets are
the loopback server's, and the page needs nothing from outside (its fonts and scripts are in the
gradio wheel; tests/ui checks that the browser requests no other host).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_FILE_SIZE = "50mb"
# Small renders (64-256 px) are shown scaled to their box rather than at their pixel size.
CSS = (
    "#edit-preview img, #source-crop img {width: 100%; height: 100%; object-fit: contain;}\n"
    "#source-notice {color: var(--body-text-color-subdued);}"
)
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def configure_offline() -> None:
    """Turn off every outside call gradio and huggingface_hub would make (call before importing them)."""
    os.environ.update(OFFLINE_ENV)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    app: gr.Blocks,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    max_file_size: str | int = DEFAULT_MAX_FILE_SIZE,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Start the server and return its URL; with `block`, serve until interrupted.

    Args:
        app: from `build_app`.
        host: interface to bind; anything but loopback makes the app reachable from other machines.
        port: TCP port (None: gradio picks a free one from 7860 up).
        max_file_size: largest accepted upload ("50mb", or bytes); larger ones are refused in the page.
        block: wait here until Ctrl-C (the CLI); False returns at once with the server running in
            threads (tests; stop it with `app.close()`).
    """
    configure_offline()
    if not is_loopback(host):
        print(
            f"pirender ui: warning: binding {host} makes the app reachable from other machines",
            file=sys.stderr,
        )
    app.queue(default_concurrency_limit=1)  # CPU-bound renders: one at a time, the rest wait in line
    # gradio checks that the fresh server answers with one 3-second HEAD request; on a loaded machine
    # that first answer can be late, so a failed check is retried before giving up.
    for attempt in range(3):
        try:
            _, url, _ = app.launch(
                server_name=host,
                server_port=port,
                share=False,
                inbrowser=False,
                prevent_thread_lock=True,
                # The app's handlers raise one-line gr.Errors themselves; this shows the message (never a
                # traceback) of what fails before them, e.g. gradio reading an upload that is not an image.
                show_error=True,
                max_file_size=max_file_size,
                ssr_mode=False,  # no node server
                pwa=False,
                mcp_server=False,
                enable_monitoring=False,
                footer_links=[],
                css=CSS,
                quiet=True,  # gradio's banner suggests share=True; we print our own line
            )
            break
        except ValueError as e:
            if "localhost is not accessible" not in str(e) or attempt == 2:
                raise
            app.close()
    if not quiet:
        print(f"pirender ui: serving on {url} (Ctrl-C to stop)", file=sys.stderr)
    if block:
        _stop_on_sigterm()
        try:
            app.block_thread()  # returns on Ctrl-C (or SIGTERM), having closed the server
        finally:
            app.close()
    return str(url)


def _stop_on_sigterm() -> None:
    """`kill PID` stops the server as Ctrl-C does (a service manager or a background job sends SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
