"""`pirender batch`: a manifest checked whole, run on a local pool and on a local Ray with the same
bytes, resumed, a killed Ray worker retried, failures recorded while the other jobs go on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from pirender.cli.main import main
from pirender.jobs.manifest import ManifestError, read_manifest

from .conftest import six_jobs, write_manifest


def _records(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / "results.jsonl").read_text().splitlines()]


def _files(outdir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(outdir).as_posix(): p.read_bytes()
        for p in sorted(outdir.rglob("*"))
        if p.is_file() and p.name != "results.jsonl"
    }


@pytest.fixture(scope="module")
def local_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """The six jobs on a local pool of two workers: (manifest, output folder, exit status)."""
    manifest = write_manifest(inputs / "six.jsonl", six_jobs())
    outdir = tmp_path_factory.mktemp("local") / "out"
    status = main(["batch", str(manifest), "-o", str(outdir), "--workers", "2", "--no-progress"])
    return manifest, outdir, status


def test_local_pool_runs_every_job(local_run: tuple[Path, Path, int]) -> None:
    manifest, outdir, status = local_run
    assert status == 0
    records = _records(outdir)
    assert sorted(r["name"] for r in records) == sorted(j["output"] for j in six_jobs())
    assert all(r["status"] == "ok" and r["outputs"] == [r["name"]] for r in records), records
    assert sorted(_files(outdir)) == sorted(j["output"] for j in six_jobs())


def test_rerun_skips_finished_jobs_and_runs_a_changed_or_missing_one(
    local_run: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, done, _ = local_run
    outdir = tmp_path / "out"
    shutil.copytree(done, outdir)
    before = {p: p.stat().st_mtime_ns for p in outdir.rglob("*.png")}
    (outdir / "reenact/face1.mp4").unlink()  # a lost output is made again
    jobs = six_jobs()
    jobs[1]["yaw"] = -12  # a changed job is a new job
    write_manifest(manifest.with_name("changed.jsonl"), jobs)
    capsys.readouterr()
    status = main(
        [
            "batch",
            str(manifest.with_name("changed.jsonl")),
            "-o",
            str(outdir),
            "--workers",
            "1",
            "--threads",
            "1",
        ]
    )  # the same threads as the first run: the same bytes
    assert status == 0
    assert "2 done, 4 skipped" in capsys.readouterr().err
    new = _records(outdir)[6:]
    assert sorted(r["name"] for r in new) == ["edit/face2.png", "reenact/face1.mp4"]
    assert (outdir / "edit/face1_jaw.png").stat().st_mtime_ns == before[outdir / "edit/face1_jaw.png"]
    assert (outdir / "reenact/face1.mp4").read_bytes() == (done / "reenact/face1.mp4").read_bytes()


def test_a_failed_job_is_recorded_and_the_others_go_on(inputs: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "not_a_video.mp4").write_bytes(b"no video in here")
    jobs = [
        {"command": "edit", "source": str(inputs / "face1.png"), "yaw": 5, "output": "a.png"},
        {"command": "dub", "source": str(tmp_path / "not_a_video.mp4"), "audio": str(inputs / "speech.wav"),
         "output": "b.mp4"},
    ]  # fmt: skip
    manifest = write_manifest(tmp_path / "jobs.jsonl", jobs, renderer=str(inputs / "renderer"))
    status = main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert status == 1
    records = {r["name"]: r for r in _records(tmp_path / "out")}
    assert records["a.png"]["status"] == "ok" and (tmp_path / "out/a.png").is_file()
    assert records["b.mp4"]["status"] == "failed" and "\n" not in records["b.mp4"]["error"]
    assert records["b.mp4"]["error"].startswith("pirender dub: error:")
    assert not (tmp_path / "out/b.mp4").exists()
    err = capsys.readouterr().err
    assert "job b.mp4 failed: pirender dub: error:" in err and "Traceback" not in err


def test_a_bad_manifest_is_refused_whole(inputs: Path, tmp_path: Path, capsys) -> None:
    jobs = six_jobs()
    lines = [json.dumps({**job, "renderer": "renderer"}) for job in jobs]
    lines[1] = '{"command": "edit", "source": "face2.png", "yawn": 3, "output": "x.png"}'
    lines.insert(3, "{not json")
    lines.append(
        json.dumps({"command": "speak", "source": "face1.png", "audio": "nope.wav", "output": "s.mp4"})
    )
    lines.append(json.dumps({"command": "edit", "source": "face1.png", "output": "edit/face1_jaw.png"}))
    lines.append(json.dumps({"command": "sing", "output": "z.mp4"}))
    lines.append(json.dumps({"command": "edit", "source": "face1.png", "output": "../escape.png"}))
    lines.append(json.dumps({"command": "reenact", "source": "face1.png", "driving": "drive.npz",
                             "fps": "x", "output": "r.mp4"}))  # fmt: skip
    manifest = inputs / "bad.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    outdir = tmp_path / "out"
    assert main(["batch", str(manifest), "-o", str(outdir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest, outdir)
    problems = caught.value.problems
    assert err == [f"pirender batch: {manifest}: {p}" for p in problems] + [
        f"pirender batch: error: {manifest}: {len(problems)} problem(s) above; nothing run"
    ]
    expected = ["line 2: edit has no option 'yawn'", "line 4: not JSON", "line 8: input not found",
                "is also line 1's output", "line 10: 'command' must be one of", "line 11: output '../escape.png'",
                "line 12: pirender reenact: argument --fps: invalid float value"]  # fmt: skip
    assert len(problems) == len(expected), problems
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert not outdir.exists() or not any(outdir.iterdir())


def test_an_output_that_is_an_input_is_refused(inputs: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    outdir.mkdir()
    photo = outdir / "me.png"
    shutil.copy(inputs / "face1.png", photo)
    os.link(photo, outdir / "hard.png")
    jobs = [{"command": "edit", "source": str(photo), "yaw": 3, "output": "./me.png"},  # the same path
            {"command": "edit", "source": str(photo), "yaw": 3, "output": "hard.png"}]  # a hard link to it  # fmt: skip
    manifest = write_manifest(tmp_path / "jobs.jsonl", jobs, renderer=str(inputs / "renderer"))
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest, outdir)
    assert caught.value.problems == [f"line 1: output me.png is line 1's input {photo}",
                                     f"line 2: output hard.png is line 1's input {photo}"]  # fmt: skip
    assert photo.read_bytes() == (inputs / "face1.png").read_bytes()


def test_csv_manifest_is_the_same_jobs(inputs: Path, tmp_path: Path) -> None:
    csv = tmp_path / "jobs.csv"
    csv.write_text(
        "command,source,driving,exp,no-audio,output\n"
        f"edit,{inputs}/face1.png,,smile=1;jaw_open=0.5,,a.png\n"
        f"reenact,{inputs}/face1.png,{inputs}/drive.npz,,true,b.mp4\n"
    )
    jsonl = write_manifest(tmp_path / "jobs.jsonl", [
        {"command": "edit", "source": f"{inputs}/face1.png", "exp": ["smile=1", "jaw_open=0.5"], "output": "a.png"},
        {"command": "reenact", "source": f"{inputs}/face1.png", "driving": f"{inputs}/drive.npz", "no_audio": True,
         "output": "b.mp4"},
    ], renderer=None)  # fmt: skip
    from_csv, from_jsonl = read_manifest(csv, tmp_path / "o"), read_manifest(jsonl, tmp_path / "o")
    assert [j.argv for j in from_csv] == [j.argv for j in from_jsonl]
    assert from_csv[0].argv[:3] == ("edit", "--source", f"{inputs}/face1.png")
    assert "--no-audio" in from_csv[1].argv


def test_ray_runs_the_same_bytes_and_survives_a_killed_worker(
    local_run: tuple[Path, Path, int], inputs: Path, tmp_path: Path
) -> None:
    ray = pytest.importorskip("ray")
    manifest, local_out, _ = local_run
    jobs = six_jobs() + [
        {"command": "reenact", "source": "face1.png", "driving": "long.npz", "output": "long.mp4"}
    ]
    write_manifest(manifest.with_name("seven.jsonl"), jobs)
    killed: list[int] = []
    stop = threading.Event()

    def kill_the_long_job() -> None:  # the worker running the long job, once, mid-job
        while not stop.is_set() and not killed:
            for pid in _ray_task_pids():
                if _running_long_job(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    killer = threading.Thread(target=kill_the_long_job, daemon=True)
    try:
        killer.start()
        status = main(["batch", str(manifest.with_name("seven.jsonl")), "-o", str(tmp_path / "out"), "--ray",
                       "--threads", "1", "--no-progress"])  # fmt: skip
    finally:
        stop.set()
        ray.shutdown()
    assert status == 0
    assert killed, "no Ray worker was seen running the long job"
    records = {r["name"]: r for r in _records(tmp_path / "out")}
    assert all(r["status"] == "ok" for r in records.values()), records
    ray_files = _files(tmp_path / "out")
    assert ray_files.pop("long.mp4")
    assert ray_files == _files(local_out)  # byte-identical to the local pool's


def test_a_killed_local_worker_is_replaced_and_its_job_run_again(inputs: Path, tmp_path: Path) -> None:
    jobs = [{"command": "reenact", "source": "face1.png", "driving": "long.npz", "output": "long.mp4"},
            {"command": "edit", "source": "face2.png", "yaw": 8, "output": "edit.png"}]  # fmt: skip
    manifest = write_manifest(inputs / "kill_local.jsonl", jobs)
    killed: list[int] = []
    stop = threading.Event()

    def kill_the_long_job() -> None:
        while not stop.is_set() and not killed:
            for pid in _children(os.getpid()):
                if _running_long_job(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_long_job, daemon=True)
    killer.start()
    try:
        status = main(
            ["batch", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "--no-progress"]
        )
    finally:
        stop.set()
    assert killed and status == 0
    assert {r["name"]: r["status"] for r in _records(tmp_path / "out")} == {
        "long.mp4": "ok",
        "edit.png": "ok",
    }
    assert sorted(_files(tmp_path / "out")) == ["edit.png", "long.mp4"]  # no partial file left


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


def _ray_task_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_run_task"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _running_long_job(pid: int) -> bool:
    """Whether the worker is writing the long job's output (rendering and encoding it)."""
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            if "long.mp4" in os.readlink(fd):  # its temporary output, being encoded
                return True
    except OSError:
        return False
    return False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.jsonl", "-o", "{tmp}/out"], "manifest not found"),
        (["{manifest}", "-o", "{tmp}/out", "--workers", "0"], "--workers must be positive"),
        (["{manifest}", "-o", "{tmp}/out", "--retries", "-1"], "--retries must be >= 0"),
        (["{manifest}", "-o", "{manifest}"], "is the input"),
        (["{manifest}", "-o", "{tmp}/afile"], "exists and is not a folder"),
        (["{empty}", "-o", "{tmp}/out"], "no jobs"),
    ],
)  # fmt: skip
def test_bad_batch_arguments_are_one_line(
    inputs: Path, tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "jobs.jsonl", six_jobs()[:1], renderer=str(inputs / "renderer"))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty.jsonl").write_text("# nothing\n\n")
    fill = {"tmp": str(tmp_path), "manifest": str(manifest), "empty": str(tmp_path / "empty.jsonl")}
    assert main(["batch", *(a.format(**fill) for a in argv)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert any(message in line for line in err) and err[-1].startswith("pirender batch: error: ")
    assert "Traceback" not in "".join(err)
    assert not (tmp_path / "out").exists()


def test_a_worker_loads_each_model_once(inputs: Path, tmp_path: Path) -> None:
    from pirender.jobs.run import run_job
    from pirender.jobs.spec import parse_job
    from pirender.pipelines import models

    renderer = str(tmp_path / "renderer")
    shutil.copytree(inputs / "renderer", renderer)  # a path no other test has loaded
    jobs = [parse_job({"command": "edit", "source": "face1.png", "yaw": y, "renderer": renderer, "output": f"{y}.png"},
                      base=inputs, outdir=tmp_path / "out") for y in (3, 6, 9)]  # fmt: skip
    (tmp_path / "out").mkdir()
    before = models._cached_engine.cache_info().misses
    assert [run_job(job).status for job in jobs] == ["ok"] * 3
    assert models._cached_engine.cache_info().misses == before + 1


def test_csv_line_numbers_count_comments_and_a_nul_is_a_problem(inputs: Path, tmp_path: Path) -> None:
    csv = tmp_path / "jobs.csv"
    csv.write_text(f"command,source,yawn,output\n# a comment\nedit,{inputs}/face1.png,3,a.png\n")
    with pytest.raises(ManifestError) as caught:
        read_manifest(csv, tmp_path / "o")
    assert caught.value.problems == ["line 3: edit has no option 'yawn'"]
    bad = tmp_path / "nul.jsonl"
    bad.write_text(
        json.dumps({"command": "edit", "source": str(inputs / "face1.png"), "output": "a\u0000.png"}) + "\n"
    )
    with pytest.raises(ManifestError, match="NUL"):
        read_manifest(bad, tmp_path / "o")


def test_a_record_cut_by_a_crash_does_not_swallow_the_next(tmp_path: Path) -> None:
    from pirender.jobs.results import Results
    from pirender.jobs.run import JobResult

    results = Results(tmp_path)
    results.path.write_text('{"name": "a.png", "digest": "1", "status": "ok", "outp')  # cut mid-line
    results.append(JobResult("b.png", "2", "ok", ["b.png"]))
    assert list(results.records()) == ["b.png"]
