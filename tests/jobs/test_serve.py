"""`pirender serve` against a real uvicorn on loopback, through httpx: a job round trip (uploaded and
by server path), back-pressure (20 concurrent submissions, a queue of 4), cancellation, the time
limit, and every bad request a 4xx with one line and nothing written outside the job's folder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

pytest.importorskip("fastapi")
import uvicorn  # noqa: E402

from pirender.cli.main import main  # noqa: E402
from pirender.serve.app import ServeSettings, create_app  # noqa: E402


@contextlib.contextmanager
def serving(settings: ServeSettings) -> Iterator[str]:
    """A real uvicorn serving the app on 127.0.0.1 (a free port) in a thread -> its base URL."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _settings(inputs: Path, tmp_path: Path, **changes: object) -> ServeSettings:
    base = {"data_dir": tmp_path / "data", "root": inputs, "threads": 1,
            "defaults": (("renderer", str(inputs / "renderer")),)}  # fmt: skip
    return ServeSettings(**{**base, **changes})  # type: ignore[arg-type]


def _wait(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/jobs/{job_id}").json()
        if view["status"] not in ("queued", "running"):
            return view
        assert time.monotonic() < deadline, view
        time.sleep(0.1)


def _one_line_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_round_trip_upload_and_server_path(inputs: Path, tmp_path: Path) -> None:
    with serving(_settings(inputs, tmp_path)) as url, httpx.Client(base_url=url, timeout=60) as client:
        job = {"command": "edit", "preset": "jaw_open"}
        with open(inputs / "face1.png", "rb") as photo:
            posted = client.post("/jobs", data={"job": json.dumps(job)}, files={"source": ("me.png", photo)})
        assert posted.status_code == 202 and posted.headers["location"] == f"/jobs/{posted.json()['id']}"
        by_path = client.post(
            "/jobs", json={"command": "reenact", "source": "face1.png", "driving": "drive.npz"}
        )
        assert by_path.status_code == 202
        done = _wait(client, posted.json()["id"])
        assert done["status"] == "done" and done["outputs"] == ["result.png"] and done["progress"] == 1.0
        image = client.get(f"/jobs/{done['id']}/result")
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
        # the same bytes as the same job run by the CLI on one thread
        cli_out = tmp_path / "cli.png"
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        assert main(["edit", "--source", str(inputs / "face1.png"), "--preset", "jaw_open", "--renderer",
                     str(inputs / "renderer"), "-o", str(cli_out), "-q"]) == 0  # fmt: skip
        torch.set_num_threads(threads)
        assert image.content == cli_out.read_bytes()
        video = _wait(client, by_path.json()["id"])
        assert video["status"] == "done" and video["stage"] == "result.mp4"
        assert client.get(f"/jobs/{video['id']}/result").content[4:8] == b"ftyp"
        assert client.delete(f"/jobs/{video['id']}").json()["status"] == "deleted"
        _one_line_error(client.get(f"/jobs/{video['id']}"), 404)
        assert (
            client.get("/docs").status_code == 200 and "/jobs" in client.get("/openapi.json").json()["paths"]
        )


def test_twenty_concurrent_submissions_with_a_queue_of_four(inputs: Path, tmp_path: Path) -> None:
    settings = _settings(inputs, tmp_path, queue_size=4)
    job = {"command": "reenact", "source": "face2.png", "driving": "drive.npz"}

    async def submit_all(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*[client.post("/jobs", json=job) for _ in range(20)])

    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        responses = asyncio.run(submit_all(url))
        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        refused = [r for r in responses if r.status_code == 429]
        assert len(accepted) + len(refused) == 20
        assert 4 <= len(accepted) <= 6 and refused, [r.status_code for r in responses]  # 4 waiting, 1-2 taken
        assert all(r.headers["retry-after"] and "queue is full" in _one_line_error(r, 429) for r in refused)
        assert all(_wait(client, job_id)["status"] == "done" for job_id in accepted)  # none lost
        assert sorted(p.name for p in settings.data_dir.iterdir()) == sorted(accepted)  # refused: no folder
        assert client.get("/health").json()["jobs"]["done"] == len(accepted)


def test_bad_requests_are_4xx_with_one_line(inputs: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in inputs.iterdir())
    settings = _settings(inputs, tmp_path, max_upload_mb=0.01)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert "not JSON" in _one_line_error(
            client.post(
                "/jobs", content=b'{"command": "edit",', headers={"content-type": "application/json"}
            ),
            400,
        )
        big = b"\0" * 20_000
        assert "limit" in _one_line_error(
            client.post("/jobs", data={"job": "{}"}, files={"source": ("a.png", big)}), 413
        )
        for path in ("../../etc/passwd", "/etc/passwd", "renderer/../../escape.png"):
            message = _one_line_error(client.post("/jobs", json={"command": "edit", "source": path}), 403)
            assert "outside the server's root" in message
        assert "no option 'yawn'" in _one_line_error(
            client.post("/jobs", json={"command": "edit", "source": "face1.png", "yawn": 3}), 422
        )
        assert "bare file name" in _one_line_error(
            client.post("/jobs", json={"command": "edit", "source": "face1.png", "output": "../x.png"}), 422
        )
        _one_line_error(client.post("/jobs", json={"command": "sing"}), 422)
        _one_line_error(
            client.post("/jobs", data={"job": '{"command": "edit"}'}, files={"driving": ("d.npz", b"x")}), 422
        )
        evil = client.post(
            "/jobs", data={"job": '{"command": "edit"}'}, files={"../../../evil": ("x.png", b"x")}
        )
        assert "takes no file" in _one_line_error(evil, 422)
        assert not list(tmp_path.rglob("evil")) and not (tmp_path.parent / "evil").exists()
        for key, value in (
            ("preset", "/etc/x.json"),
            ("preset", "../mine.npz"),
            ("sweep", ["preset:/etc/a.json"]),
        ):
            job = {"command": "edit", "source": "face1.png", key: value}
            assert "by name" in _one_line_error(client.post("/jobs", json=job), 422)
        job = {"command": "edit", "source": "face1.png", "bfm": "/etc"}
        assert "outside the server's root" in _one_line_error(client.post("/jobs", json=job), 403)
        page = {"Origin": "http://evil.example"}
        assert "cross-origin" in _one_line_error(
            client.post("/jobs", json={"command": "edit"}, headers=page), 403
        )
        broken = {"content-type": "multipart/form-data; boundary=xyz"}
        assert "multipart" in _one_line_error(client.post("/jobs", content=b"garbage--", headers=broken), 400)
        _one_line_error(client.put("/jobs"), 405)
        _one_line_error(client.get("/jobs/0123456789abcdef"), 404)
        _one_line_error(client.get("/jobs/0123456789abcdef/result"), 404)
        _one_line_error(client.delete("/jobs/0123456789abcdef"), 404)
    assert not any(settings.data_dir.iterdir())  # refused jobs leave no folder
    assert sorted(p.name for p in inputs.iterdir()) == before


def test_api_key_is_required_when_set(inputs: Path, tmp_path: Path) -> None:
    with serving(_settings(inputs, tmp_path, api_key="s3cret")) as url, httpx.Client(base_url=url) as client:
        assert "API key" in _one_line_error(client.get("/health"), 401)
        assert "API key" in _one_line_error(client.post("/jobs", json={"command": "edit"}), 401)
        assert client.get("/health", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        _one_line_error(client.get("/health", headers={"X-API-Key": "wrong"}), 401)


def test_loopback_means_loopback() -> None:
    from pirender.serve.app import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("127.example.com") and not is_loopback("10.0.0.2")


def test_a_non_loopback_bind_without_a_key_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("PIRENDER_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 1  # refused before anything binds
    err = capsys.readouterr().err.strip()
    assert err.startswith("pirender serve: error: --host 0.0.0.0 is reachable") and "\n" not in err


def test_cancel_and_time_limit(inputs: Path, tmp_path: Path) -> None:
    long_job = {"command": "reenact", "source": "face1.png", "driving": "long.npz"}
    settings = _settings(inputs, tmp_path, job_timeout_s=60.0)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        running = client.post("/jobs", json=long_job).json()["id"]
        waiting = client.post("/jobs", json=long_job).json()["id"]
        assert client.delete(f"/jobs/{waiting}").json()["status"] == "cancelled"
        deadline = time.monotonic() + 60
        while client.get(f"/jobs/{running}").json()["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.delete(f"/jobs/{running}")
        view = _wait(client, running)
        assert view["status"] == "cancelled" and not any((settings.data_dir / running / "out").iterdir())
        after = client.post("/jobs", json={"command": "edit", "source": "face1.png", "yaw": 5}).json()["id"]
        assert _wait(client, after)["status"] == "done"  # a new worker took over
    shutil.rmtree(settings.data_dir)
    settings = _settings(inputs, tmp_path, job_timeout_s=1.0, keep_results_s=1.0)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        job_id = client.post("/jobs", json=long_job).json()["id"]
        view = _wait(client, job_id)
        assert view["status"] == "failed" and "time limit of 1 s" in view["error"]
        deadline = time.monotonic() + 20  # kept for keep_results_s, then removed with its folder
        while client.get(f"/jobs/{job_id}").status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert not (settings.data_dir / job_id).exists()
