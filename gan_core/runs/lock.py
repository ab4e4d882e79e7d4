"""Who trains a run now: the run's OS lock, held by the one process that trains it, and the busy state that listings,
rename, delete and the pages read off it (`busy`).

Linux's open-file-description locks are probed without being taken (so a listing never makes a trainer's acquire
fail); elsewhere a shared flock is tried and dropped at once; without fcntl (Windows) the lock is emulated by the
age of the run's files.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # Windows: RunLock falls back to the heartbeat's age
    fcntl = None  # type: ignore[assignment]

from gan_core.paths import UnsafeFileError, open_regular, read_regular
from gan_core.runs.folder import RunDir, mtime
from gan_core.runs.status import ACTIVE, DamagedRunError

HEARTBEAT_S = 20.0   # a trainer rewrites status.json this often while active (the lock's fallback reads its age)
LIVE_WINDOW_S = 120  # without fcntl: a run whose files changed this recently, with an active status, is training
MAX_LOCK_BYTES = 4 * 2**10      # ".lock" holds one line: "pid N on HOST"


class RunBusyError(ValueError):
    """Another process trains this run (it holds the run's lock)."""


class RunLock:
    """An OS lock on runs/<name>/.lock, held by the one process that trains the run, for as long as it trains it.

    The kernel releases it when that process ends, however it ends (kill -9 included), so a run whose status still
    says "running" but whose lock is free was interrupted. Where the OS has no `fcntl` (Windows), the lock is
    emulated by status.json's age: a run whose trainer wrote no heartbeat for LIVE_WINDOW_S counts as free.
    """

    def __init__(self, run: RunDir, fd: int | None) -> None:
        self.run, self._fd = run, fd

    @classmethod
    def acquire(cls, run: RunDir) -> RunLock:
        """Take the lock, or raise RunBusyError naming the process that holds it (DamagedRunError when `.lock` is a
        link or a special file: it is never followed, truncated or waited on)."""
        run.path.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            if _recently_written(run) and run.read_status().get("status") in ACTIVE:
                raise RunBusyError(f"run {run.name!r} is being trained by another process (its files changed in "
                                   f"the last {LIVE_WINDOW_S} s): stop that training first")
            return cls(run, None)
        try:
            fd = open_regular(run.lock_path, os.O_RDWR | os.O_CREAT)
        except UnsafeFileError as exc:
            raise DamagedRunError(str(exc)) from None
        try:
            _take(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunBusyError(f"run {run.name!r} is being trained by another process "
                               f"({cls._describe(run)}): stop that training first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        return cls(run, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the one descriptor that holds it releases the lock
            self._fd = None

    @classmethod
    def holder(cls, run: RunDir) -> str | None:
        """Who holds the run's lock ("pid N on HOST"), or None when nobody trains it now.

        Asked without taking the lock (Linux's open-file-description locks answer F_OFD_GETLK), so a probe never
        makes a concurrent acquire fail; elsewhere a shared flock is tried and dropped at once. A `.lock` that is
        a link or a special file holds no lock: None (listings show the run as damaged, `check_layout`).
        """
        if fcntl is None:
            active = run.read_status().get("status") in ACTIVE and _recently_written(run)
            return "a process that wrote its files in the last two minutes" if active else None
        try:
            fd = open_regular(run.lock_path)
        except (FileNotFoundError, UnsafeFileError):  # a link or a FIFO as .lock is nobody's lock (check_layout)
            return None
        try:
            held = _is_held(fd)
        finally:
            os.close(fd)
        return cls._describe(run) if held else None

    @staticmethod
    def _describe(run: RunDir) -> str:
        try:
            text = read_regular(run.lock_path, MAX_LOCK_BYTES).decode("utf-8", errors="replace").strip()
        except (OSError, UnsafeFileError):
            return "a process"
        return printable(text)[:200] or "a process"


# Linux's open-file-description locks: owned by the open file (like flock, so a lock is never dropped by another
# descriptor of the same file closing) and queryable with F_OFD_GETLK without being taken. struct flock on 64-bit
# Linux: l_type, l_whence, padding, l_start, l_len, l_pid, padding (32 bytes).
_FLOCK = "hhxxxxqqixxxx"
_OFD = (fcntl is not None and sys.platform.startswith("linux") and hasattr(fcntl, "F_OFD_SETLK")
        and struct.calcsize(_FLOCK) == 32 and sys.maxsize > 2**32)


def _take(fd: int) -> None:
    """An exclusive lock on the whole file, or OSError (EAGAIN/EACCES) when another open file holds one."""
    if _OFD:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        return
    for attempt in range(20):  # flock's probe takes a shared lock for microseconds: a trainer holds it for good
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == 19:
                raise
            time.sleep(0.005)


def _is_held(fd: int) -> bool:
    if _OFD:
        answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False  # closing the descriptor drops the probe's shared lock


def printable(text: str) -> str:
    """`text` without control characters (a hostile file's terminal escapes must not reach a terminal or a page)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _recently_written(run: RunDir, within_s: float = LIVE_WINDOW_S) -> bool:
    times = [mtime(p) for p in (run.status_path, run.metrics_path)]  # 0.0 for a file gone meanwhile
    return time.time() - max(times) < within_s


@dataclass(frozen=True)
class Busy:
    """Who trains a run right now, so it cannot be renamed, deleted or resumed: this app's trainer, or another
    process holding the run's lock."""

    run_name: str
    holder: str  # "pid N on HOST" (the lock's file), or "this app"
    here: bool   # this app trains it: its Train page stops it

    def reason(self, verb: str) -> str:
        """Why `verb` ("rename", "delete", ...) must wait, and what to do first."""
        if self.here:
            return f"run {self.run_name!r} is training right now: stop it on the Train page before you {verb} it"
        return (f"run {self.run_name!r} is being trained by another process ({self.holder}; a `python -m gan_core "
                f"train` in a terminal?): stop that training before you {verb} it")

    def error(self, verb: str) -> ValueError:
        """The refusal to raise: RunBusyError when another process trains the run."""
        return ValueError(self.reason(verb)) if self.here else RunBusyError(self.reason(verb))


def busy(run: RunDir, active_run_name: str | None = None) -> Busy | None:
    """Who trains `run` now (None: nobody). `active_run_name` is the run this app's trainer trains, if any."""
    if active_run_name and run.name == active_run_name:
        return Busy(run.name, "this app", here=True)
    holder = RunLock.holder(run)
    return None if holder is None else Busy(run.name, holder, here=False)


def training_elsewhere(run: RunDir) -> bool:
    """True while a process trains this run: its lock is held (by another process, or by this one's trainer)."""
    return busy(run) is not None
