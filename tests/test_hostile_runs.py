"""Run folders that came from elsewhere (a tarball, a damaged disk, an attacker): links, FIFOs, damaged and huge files.

Whatever a run folder holds, the listing, the `runs` command and the pages finish, show that run as damaged with the
reason, keep every other run usable, and let the damaged one be deleted; nothing is written through a link.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gan_core import runlog
from gan_core.config import ConfigError, TrainConfig
from gan_core.runs import (
    DamagedRunError,
    RunBusyError,
    RunDir,
    RunLock,
    delete_run,
    fork_run,
    list_records,
    rename_run,
    resume_point,
    run_record,
)
from tests.conftest import in_process

ROOT = Path(__file__).resolve().parent.parent
HEADER = ",".join(runlog.METRIC_FIELDS) + "\n"


def _row(step: int) -> str:
    """A row of HEADER: step to d_fake logged, the evaluation's and the rates' columns empty."""
    logged = [step, 1, step / 10, 300, 0.5, 0.9, 0.6, 0.4]
    return ",".join(map(str, logged + [""] * (len(runlog.METRIC_FIELDS) - len(logged)))) + "\n"


def _listed(root: Path, timeout: float = 60) -> dict:
    """list_records in a thread, so a listing that blocks fails the test instead of hanging it."""
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update({r.name: r for r in list_records(root)}), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "the listing blocked"
    return out


def _with_checkpoint(run: RunDir, step: int = 4) -> None:
    run.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    run.checkpoint_path(step).write_bytes(b"not read by these tests")


def test_a_symlinked_lock_is_never_followed_truncated_or_written(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    run = RunDir.create(TrainConfig(name="shared"), tmp_path / "runs")
    _with_checkpoint(run)
    run.lock_path.symlink_to(victim)
    with pytest.raises(DamagedRunError, match="symbolic link"):
        RunLock.acquire(run)
    with pytest.raises(DamagedRunError, match="symbolic link"):
        resume_point(run.path)
    assert victim.read_text() == "keep me"
    record = _listed(tmp_path / "runs")["shared"]
    assert record.status == "damaged" and ".lock is a symbolic link" in record.error
    delete_run(run, runs_root=tmp_path / "runs")  # the way out: only the link goes, never what it points to
    assert not run.path.exists() and victim.read_text() == "keep me"


@pytest.mark.parametrize("entry", [".lock", "config.json", "status.json", "metrics.csv"])
def test_a_fifo_in_a_run_folder_blocks_nothing_and_the_run_can_be_deleted(tmp_path, entry, capsys):
    root = tmp_path / "runs"
    good = RunDir.create(TrainConfig(name="good"), root)
    good.write_status(status="finished", step=3)
    bad = RunDir.create(TrainConfig(name="fifo"), root)
    (bad.path / entry).unlink(missing_ok=True)
    os.mkfifo(bad.path / entry)
    records = _listed(root)
    assert records["good"].status == "finished" and records["good"].error == ""
    assert records["fifo"].status == "damaged" and f"{entry} is not a regular file" in records["fifo"].error
    with pytest.raises(DamagedRunError):
        resume_point(bad.path)
    cli = in_process(capsys, "runs", "--runs-root", str(root))  # its subprocess: test_compare.py
    assert cli.returncode == 0, cli.stderr
    assert "damaged" in cli.stdout and "good" in cli.stdout
    delete_run(bad, runs_root=root)
    assert not bad.path.exists() and good.path.is_dir()


@pytest.mark.parametrize(("content", "reason"), [
    (b"[]", "holds list"),
    (b'{"step": "12"}', "'step' is '12'"),
    (b'{"total_steps": null}', "'total_steps' is 'None'"),
    (b'{"status": "running", "world_size": 0}', "'world_size' is '0'"),
    (b'{"status": "hacked"}', "'status' is 'hacked'"),
    (b'{"wall_time_s": 1e999}', "'wall_time_s'"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"message": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nested too deeply"),
    (b'{"message": "' + b"x" * 70_000 + b'"}', "more than such a file ever holds"),
])
def test_a_damaged_status_shows_that_run_as_damaged_and_deletable(tmp_path, content, reason):
    root = tmp_path / "runs"
    RunDir.create(TrainConfig(name="good"), root).write_status(status="stopped", step=8, total_steps=16)
    bad = RunDir.create(TrainConfig(name="bad"), root)
    bad.status_path.write_bytes(content)
    with pytest.raises(DamagedRunError, match=reason):
        bad.read_status()
    records = _listed(root)
    assert records["good"].status == "stopped" and records["good"].total_steps == 16
    assert records["bad"].status == "damaged" and reason in records["bad"].error
    bad.write_status(status="running", step=1)  # a trainer that resumes replaces it with what it knows
    assert bad.read_status()["step"] == 1
    delete_run(bad, runs_root=root)
    assert [r.name for r in list_records(root)] == ["good"]


@pytest.mark.parametrize(("content", "reason"), [
    ('{"max_steps": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"name": "' + "x" * 300_000 + '"}', "more than such a file ever holds"),
    ('{"name": "a\\nb"}', "control characters"),
])
def test_a_hostile_config_is_refused_with_the_reason_and_the_listing_goes_on(tmp_path, content, reason):
    root = tmp_path / "runs"
    RunDir.create(TrainConfig(name="good"), root)
    bad = RunDir.create(TrainConfig(name="bad"), root)
    bad.config_path.write_text(content)
    with pytest.raises(ConfigError, match=reason):
        bad.read_config()
    records = _listed(root)
    assert records["good"].config is not None and records["bad"].config is None and reason in records["bad"].error


@pytest.mark.parametrize("name", ["two\nlines", "\x1b[31mred", "tab\there", ".hidden"])
def test_run_names_with_control_characters_or_a_leading_dot_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="control characters"):
        TrainConfig(name=name)
    run = RunDir.create(TrainConfig(name="plain"), tmp_path)
    with pytest.raises(ConfigError):
        rename_run(run, name, runs_root=tmp_path)
    assert run.path.is_dir()


def test_a_lock_holders_text_reaches_no_terminal_as_escapes(tmp_path):
    run = RunDir.create(TrainConfig(name="escapes"), tmp_path)
    lock = RunLock.acquire(run)
    try:
        run.lock_path.write_text("pid 1 \x1b]0;owned\x07 on host\n")
        assert RunLock.holder(run) == "pid 1 ?]0;owned? on host"
    finally:
        lock.release()


def test_a_long_metrics_file_costs_a_rerun_only_what_was_appended(tmp_path):
    run = RunDir.create(TrainConfig(name="long"), tmp_path)
    run.metrics_path.write_text(HEADER + "".join(_row(s) for s in range(1, 100_001)))
    first = run.metrics_summary()
    assert first.count == 100_000 and first.last["step"] == 100_000 and len(first.rows) <= runlog.MAX_POINTS
    assert first.rows[0]["step"] == 1 and first.rows[-1]["step"] == 100_000
    again = run.metrics_summary()
    assert again.bytes_read == 0 and again.count == 100_000, "an unchanged file is not read again"
    run.append_metrics([{"step": 100_001, "epoch": 2, "d_loss": 0.4, "fid": 7.5}])
    later = run.metrics_summary()
    assert 0 < later.bytes_read < 100, "only the appended row is read"
    assert later.count == 100_001 and later.last_values["fid"] == 7.5 and later.evaluated[-1]["step"] == 100_001
    run.truncate_metrics(50)  # a resume rewinds: the file is replaced, and read afresh
    rewound = run.metrics_summary()
    assert rewound.count == 50 and rewound.last["step"] == 50


def test_a_probe_never_makes_a_concurrent_acquire_fail(tmp_path):
    """The listing probes every run's lock on each rerun; an acquire at that moment must still succeed."""
    run = RunDir.create(TrainConfig(name="probed"), tmp_path)
    stop = threading.Event()
    probes = [0]

    def probe() -> None:
        while not stop.is_set():
            RunLock.holder(run)  # its answer races with the acquires; it must never make one fail
            probes[0] += 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    failures = 0
    try:
        for _ in range(3000):
            try:
                RunLock.acquire(run).release()
            except RunBusyError:
                failures += 1
    finally:
        stop.set()
        prober.join(30)
    assert probes[0] > 1000, "the probe barely ran: the test proves nothing"
    assert failures == 0, f"{failures} acquires failed because of a probe"


def test_delete_and_rename_hold_the_lock_while_they_act(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    seen: list[str] = []

    def try_to_resume(run: RunDir) -> None:
        try:
            RunLock.acquire(run).release()
            seen.append("acquired")
        except RunBusyError:
            seen.append("busy")

    run = RunDir.create(TrainConfig(name="doomed"), root)
    real_rmtree = shutil.rmtree
    monkeypatch.setattr(shutil, "rmtree", lambda path, *a, **k: (try_to_resume(RunDir(Path(path))),
                                                                 real_rmtree(path, *a, **k)))
    delete_run(run, runs_root=root)
    assert seen == ["busy"] and not run.path.exists()

    run = RunDir.create(TrainConfig(name="old"), root)
    real_rename = Path.rename
    monkeypatch.setattr(Path, "rename", lambda self, target: (try_to_resume(RunDir(self)), real_rename(self, target))[1])
    renamed = rename_run(run, "new", runs_root=root)
    assert seen == ["busy", "busy"] and renamed.read_config().name == "new"
    RunLock.acquire(renamed).release()  # released afterwards


def test_a_fork_that_fails_leaves_no_half_made_run(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run = RunDir.create(TrainConfig(name="source"), root)
    for step in (4, 8):
        _with_checkpoint(run, step)
    run.metrics_path.write_text(HEADER + _row(4) + _row(8))
    real = shutil.copyfileobj

    def failing(fsrc, fdst, *args):  # the disk fills while the checkpoint is copied
        if str(fdst.name).endswith(".safetensors"):
            raise OSError(28, "No space left on device")
        return real(fsrc, fdst, *args)

    monkeypatch.setattr(shutil, "copyfileobj", failing)
    with pytest.raises(OSError, match="No space left"):
        fork_run(run, 4)
    assert sorted(p.name for p in root.iterdir()) == ["source"], "a failed fork left a folder behind"
    monkeypatch.setattr(shutil, "copyfileobj", real)
    forked = fork_run(run, 4)
    assert forked.name == "source-from-4" and [s for s, _ in forked.checkpoints()] == [4]
    assert [r["step"] for r in forked.read_metrics()] == [4.0]
    assert json.loads(forked.status_path.read_text())["forked_from"] == "source@4"
    assert sorted(p.name for p in root.iterdir()) == ["source", "source-from-4"]
    assert run_record(forked).status == "created"


def test_a_metrics_file_rewritten_in_place_is_read_afresh(tmp_path):
    """Rewritten through the same inode (an editor, or a new file reusing a deleted one's inode), longer than what
    was read: the summary must not go on from the old offset."""
    run = RunDir.create(TrainConfig(name="rewritten"), tmp_path)
    run.metrics_path.write_text(HEADER + "".join(_row(s) for s in range(1, 101)))
    assert run.metrics_summary().count == 100
    inode = run.metrics_path.stat().st_ino
    with run.metrics_path.open("w") as fh:  # truncates and rewrites the same inode
        fh.write(HEADER + "".join(_row(s) for s in range(1000, 1201)))
    assert run.metrics_path.stat().st_ino == inode
    again = run.metrics_summary()
    assert again.count == 201 and again.rows[0]["step"] == 1000 and again.last["step"] == 1200


def _png(path: Path, size: int = 30) -> None:
    from PIL import Image

    Image.new("L", (size, size), 128).save(path, format="PNG")


@pytest.mark.parametrize("kind", ["symlink", "fifo", "bomb", "not a png"])
def test_a_hostile_grid_is_refused_by_name_and_the_gif_leaves_it_out(tmp_path, kind):
    secret = tmp_path / "secret.png"
    _png(secret)
    run = RunDir.create(TrainConfig(name="grids"), tmp_path / "runs")
    run.samples_dir.mkdir()
    _png(run.samples_dir / "step_0000000.png")
    bad = run.samples_dir / "step_0000002.png"
    if kind == "symlink":
        bad.symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(bad)
    elif kind == "bomb":
        _png(bad, 4000)  # a few KB on disk, 16 M pixels decoded
    else:
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    done = threading.Event()
    out: dict = {}

    def load() -> None:
        try:
            run.load_grid(bad)
        except Exception as exc:  # the type is what is checked
            out["error"] = exc
        done.set()

    threading.Thread(target=load, daemon=True).start()
    assert done.wait(30), "loading the grid blocked"
    assert isinstance(out.get("error"), DamagedRunError) and "step_0000002.png" in str(out["error"])
    assert run.write_gif() == run.gif_path  # the good grid makes the GIF; the bad one is left out
    assert run.read_gif()[:6] == b"GIF89a"


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_hostile_progress_gif_is_never_read(tmp_path, kind):
    secret = tmp_path / "secret.gif"
    secret.write_bytes(b"GIF89a secret")
    run = RunDir.create(TrainConfig(name="gif"), tmp_path / "runs")
    if kind == "symlink":
        run.gif_path.symlink_to(secret)
    else:
        os.mkfifo(run.gif_path)
    with pytest.raises(DamagedRunError, match=r"progress\.gif"):
        run.read_gif()


def test_a_fork_copies_no_link_and_a_refused_one_leaves_nothing(tmp_path):
    root = tmp_path / "runs"
    secret = tmp_path / "secret.png"
    _png(secret)
    run = RunDir.create(TrainConfig(name="source"), root)
    for step in (4, 8):
        _with_checkpoint(run, step)
    run.samples_dir.mkdir()
    _png(run.samples_dir / "step_0000000.png")
    (run.samples_dir / "step_0000002.png").symlink_to(secret)
    with pytest.raises(DamagedRunError, match="symbolic link"):
        fork_run(run, 4)
    assert sorted(p.name for p in root.iterdir()) == ["source"], "a refused fork left a folder behind"
    (run.samples_dir / "step_0000002.png").unlink()
    run.checkpoint_path(4).unlink()
    run.checkpoint_path(4).symlink_to(secret)  # a linked checkpoint: resuming from it would fork a link
    with pytest.raises(DamagedRunError, match="symbolic link"):
        resume_point(run.checkpoint_path(4))
    assert sorted(p.name for p in root.iterdir()) == ["source"]
    run.checkpoint_path(4).unlink()
    _with_checkpoint(run, 4)
    forked, _, lock = resume_point(run.checkpoint_path(4))
    lock.release()
    assert not any(p.is_symlink() for p in forked.path.rglob("*"))
    assert [s for s, _ in forked.grids()] == [0] and [s for s, _ in forked.checkpoints()] == [4]


def test_probes_from_other_processes_never_fail_an_acquire(tmp_path):
    """As the Runs page of another server (or `runs` in a terminal) would probe: from separate processes."""
    run = RunDir.create(TrainConfig(name="probed"), tmp_path)
    probe = ("import sys, time\nfrom pathlib import Path\nfrom gan_core.runs import RunDir, RunLock\n"
             "run, n = RunDir(Path(sys.argv[1])), 0\nend = time.monotonic() + 60\n"
             "RunLock.holder(run)\nprint('probing', flush=True)\n"
             "while not Path(sys.argv[2]).exists() and time.monotonic() < end:\n"
             "    RunLock.holder(run)\n    n += 1\nprint(n)\n")
    stop = tmp_path / "stop"
    probers = [subprocess.Popen([sys.executable, "-c", probe, str(run.path), str(stop)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    failures = 0
    try:
        for p in probers:  # both probing before the first acquire (their deadline bounds the wait)
            assert p.stdout is not None and p.stdout.readline() == "probing\n"
        for _ in range(2000):
            try:
                RunLock.acquire(run).release()
            except RunBusyError:
                failures += 1
    finally:
        stop.touch()
        counts = [int(p.communicate(timeout=90)[0] or 0) for p in probers]
    assert min(counts) > 100, f"the probes barely ran ({counts}): the test proves nothing"
    assert failures == 0, f"{failures} of 2000 acquires failed because of a probe in another process"


def test_without_fcntl_or_pread_as_on_windows_runs_still_list_lock_and_summarise(tmp_path, monkeypatch):
    from gan_core.runs import lock as run_lock

    monkeypatch.setattr(run_lock, "fcntl", None)
    monkeypatch.delattr(os, "pread")
    run = RunDir.create(TrainConfig(name="fallback"), tmp_path)
    run.metrics_path.write_text(HEADER + "".join(_row(s) for s in range(1, 101)))
    assert run.metrics_summary().count == 100
    run.append_metrics([{"step": 101, "epoch": 1, "d_loss": 0.3}])
    later = run.metrics_summary()
    assert later.count == 101 and 0 < later.bytes_read < 100
    lock = RunLock.acquire(run)
    run.write_status(status="running", step=101)
    with pytest.raises(RunBusyError, match="files changed"):
        RunLock.acquire(run)  # a fresh heartbeat with an active status reads as training
    lock.release()
    run.write_status(status="stopped")
    assert RunLock.holder(run) is None and _listed(tmp_path)["fallback"].status == "stopped"


def test_a_resume_rewinds_a_long_metrics_file_streaming_and_reads_no_further_than_its_step(tmp_path, monkeypatch):
    run = RunDir.create(TrainConfig(name="rewind"), tmp_path)
    text = HEADER.replace("\n", "\r\n") + "".join(_row(s) for s in range(1, 100_001))
    run.metrics_path.write_text(text, newline="")
    assert len(text) > 3 * runlog.CHUNK
    read = [0]
    real = runlog._pread
    monkeypatch.setattr(runlog, "_pread", lambda fd, n, offset: (data := real(fd, n, offset), read.__setitem__(
        0, read[0] + len(data)))[0])
    chunks: list[int] = []
    real_write = runlog.atomic_write_bytes
    monkeypatch.setattr(runlog, "atomic_write_bytes", lambda path, data: real_write(
        path, (chunks.append(len(c)) or c for c in data)))
    run.truncate_metrics(100_000)  # everything kept: the file's bytes unchanged, written a chunk at a time
    assert run.metrics_path.read_bytes() == text.encode() and len(chunks) > 3
    assert max(chunks) <= runlog.CHUNK + runlog.MAX_LINE
    read[0] = 0
    run.truncate_metrics(50)
    assert read[0] <= 2 * runlog.CHUNK < len(text), f"rewinding to step 50 read {read[0]:,} bytes of a {len(text):,}-byte file"
    assert [r["step"] for r in run.read_metrics()] == [float(s) for s in range(1, 51)]
