"""What changes a run folder as a whole, each under the run's lock: a resume (which may fork the run first), a fork,
renaming and deleting; each refuses a run that is being trained (gan_core.runs.lock's `busy`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from gan_core.paths import UnsafeFileError, default_runs_root, open_regular
from gan_core.runs.folder import RunDir, check_layout, checkpoint_of, run_of, step_of
from gan_core.runs.lock import RunLock, busy
from gan_core.runs.status import DamagedRunError, RunStatus


def resume_point(path: str | Path, runs_root: Path | None = None) -> tuple[RunDir, Path, RunLock]:
    """The run and checkpoint a resume from `path` (a run folder or one checkpoint file) continues, locked.

    A checkpoint older than its run's latest forks a new run (under `runs_root`, else beside the old one), so the
    later history is kept. The run is locked before it is rewound to the checkpoint's step, so a run that another
    process trains is refused (RunBusyError) before anything of it is touched. The caller releases the lock.
    """
    path = Path(path)
    run = run_of(path)
    check_layout(run)  # before anything is read, or written through a link or into a FIFO
    ckpt = checkpoint_of(path)
    step = step_of(ckpt)
    latest = run.latest_checkpoint()
    if latest is not None and step_of(latest) > step:
        run = fork_run(run, step, runs_root or run.path.parent)
        ckpt = run.checkpoint_path(step)
    lock = RunLock.acquire(run)
    try:
        run.remove_temporaries()
        run.rewind(step)
    except BaseException:
        lock.release()
        raise
    return run, ckpt, lock


def fork_run(run: RunDir, step: int, root: Path | None = None) -> RunDir:
    """A new run holding `run`'s history up to `step`, so a rollback loses nothing already saved.

    Made under `run`'s lock (so no trainer prunes or rewinds what is copied) in a hidden folder that is renamed
    into place only when complete: a failure leaves no half-made run behind.
    """
    config = run.read_config()
    source = run.checkpoint_path(step)
    lock = RunLock.acquire(run)
    try:
        root = Path(root or run.path.parent)
        base = f"{run.name}-from-{step}"
        work = RunDir(root / f".{base}.{os.getpid()}.forking")
        shutil.rmtree(work.path, ignore_errors=True)
        try:
            work.path.mkdir(parents=True)
            work.samples_dir.mkdir()
            for s, p in run.grids():
                if s <= step:
                    _copy_regular(p, work.samples_dir / p.name)
            work.checkpoints_dir.mkdir()
            _copy_regular(source, work.checkpoint_path(step))
            with contextlib.suppress(FileNotFoundError):
                _copy_regular(run.metrics_path, work.metrics_path)
                work.truncate_metrics(step)
            work.write_status(status=RunStatus.CREATED, forked_from=f"{run.name}@{step}")
            name, n = base, 2
            while True:
                work.write_config(config.replace(name=name))
                target = root / name
                if not target.exists():
                    try:
                        os.rename(work.path, target)  # atomic; refused if the name was taken meanwhile
                        return RunDir(target)
                    except OSError:
                        if not work.path.is_dir():
                            raise
                name, n = f"{base}-{n}", n + 1
        except BaseException:
            shutil.rmtree(work.path, ignore_errors=True)
            raise
    finally:
        lock.release()


def _copy_regular(src: Path, dst: Path) -> None:
    """Copy a run's file into a new folder: DamagedRunError when `src` is a link or a special file (a fork copies
    contents, never a link that would point the new run anywhere, nor blocks on a FIFO)."""
    try:
        fd = open_regular(src)
    except UnsafeFileError as exc:
        raise DamagedRunError(str(exc)) from None
    with os.fdopen(fd, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


# ------------------------------------------------------------------ rename and delete
def rename_run(run: RunDir, new_name: str, active_run_name: str | None = None, *,
               runs_root: Path | None = None) -> RunDir:
    """Rename the folder and the name in its config.json; returns the renamed run (a run folder inside the root only)."""
    _check_run_folder(run, runs_root, "rename")
    new_name = new_name.strip()
    if not new_name:
        raise ValueError("the new name is empty: type a name for the run")
    if new_name == run.name:
        raise ValueError(f"the run is already named {new_name!r}")
    config = run.read_config()
    config.replace(name=new_name)  # the same rule as a new run's name (raises ConfigError)
    if trainer := busy(run, active_run_name):  # this app's trainer (`active_run_name`) or another process
        raise trainer.error("rename")
    target = run.path.parent / new_name
    if target.exists():
        raise ValueError(f"a run named {new_name!r} already exists in {run.path.parent}: pick another name")
    lock = _lock_for(run, "rename")  # held while renaming: no resume can start in between (the lock moves along)
    try:
        created = run.config_path.stat()
        run.path.rename(target)
        renamed = RunDir(target)
        try:
            renamed.write_config(config.replace(name=new_name))
            os.utime(renamed.config_path, (created.st_atime, created.st_mtime))  # listings keep their order
        except OSError:
            target.rename(run.path)
            raise
    finally:
        lock.release()
    return renamed


def delete_run(run: RunDir, active_run_name: str | None = None, *, runs_root: Path | None = None) -> None:
    """Remove a run folder with its checkpoints; only ever a run folder directly inside the runs root."""
    _check_run_folder(run, runs_root, "delete")
    if trainer := busy(run, active_run_name):  # this app's trainer (`active_run_name`) or another process
        raise trainer.error("delete")
    lock = _lock_for(run, "delete")  # held while deleting: no resume can start on a half-deleted folder
    try:
        shutil.rmtree(run.path)  # never follows a link inside the folder: it removes the link itself
    finally:
        lock.release()


def _check_run_folder(run: RunDir, runs_root: Path | None, verb: str) -> None:
    """Rename and delete touch only a real run folder directly inside the runs root, never a path given by a link.

    A damaged run (a link or a FIFO inside it, a bad config.json) can still be deleted: that is how it goes away.
    """
    root = Path(runs_root or default_runs_root()).resolve()
    if run.path.is_symlink() or run.path.resolve().parent != root:
        raise ValueError(f"{run.path} is not a run folder inside {root}: refusing to {verb} it")
    if not os.path.lexists(run.config_path):  # any entry named config.json: a damaged one too
        raise ValueError(f"{run.path} is not a run folder (no config.json): refusing to {verb} it")


def _lock_for(run: RunDir, verb: str) -> RunLock:
    """The run's lock for a rename or delete; a .lock that is a link or a FIFO is removed first (deleting or renaming
    the folder is the way out of such a run, and the removed entry is only a name in it, never what it points to)."""
    try:
        return RunLock.acquire(run)
    except DamagedRunError:
        if run.lock_path.is_symlink() or (run.lock_path.exists() and not run.lock_path.is_file()):
            run.lock_path.unlink()
            return RunLock.acquire(run)
        raise
