"""The web app (`pirender ui`): edit, reenact and speak in the browser, offline.

    app.py       build_app(models) -> gradio Blocks (layout and event wiring; nothing at import)
    handlers.py  what the widgets do, as plain functions over the pipelines (testable without gradio)
    launch.py    serve(app): loopback by default, analytics off, upload limit
    browser.py   driving it in the system chromium (the browser test, scripts/ui_screenshots.py)

Needs the `ui` extra (gradio); importing this package imports nothing heavy.
"""
