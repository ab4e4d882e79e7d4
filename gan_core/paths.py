"""Where the project's files live and how they are written: the bottom module every other one reads through.

    weights/generators/*.safetensors   shipped generators, each with a JSON card
    weights/classifier/                the Fashion-MNIST classifier behind the metrics
    runs/ (or $GAN_STUDIO_RUNS)        one folder per training run (gan_core.runs)
    ~/.cache/fashion-gan-studio/       decoded data and reference features ($XDG_CACHE_HOME respected)

Every file a run or an export writes goes through `atomic_write_bytes`, so a crash (or kill -9) at any moment
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PROJECT_DIR / "weights"
CLASSIFIER_PATH = WEIGHTS_DIR / "classifier" / "fashion-cnn.safetensors"
CACHE_APP = "fashion-gan-studio"


def default_runs_root() -> Path:
    """The folder holding run folders: $GAN_STUDIO_RUNS, else ./runs."""
    return Path(os.environ.get("GAN_STUDIO_RUNS", "runs"))


def cache_dir() -> Path:
    """The per-user cache ($XDG_CACHE_HOME when it is an absolute path, else ~/.cache), our subfolder of it."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / CACHE_APP


# ----------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: str | Path, data: bytes | Iterable[bytes], *,
                       _before_replace: Callable[[Path], None] | None = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A crash at any point leaves either the old file or the new one, never half of one. `data` may be an iterable of
    chunks, so a large file is written without being held whole in memory (a failure while they are made leaves the
    old file). `_before_replace` lets tests simulate a crash between the write and the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; saved runs and weights are ordinary files
        if _before_replace is not None:
            _before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, so never toggle it while threads write


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# ----------------------------------------------------------------------------- untrusted files
class UnsafeFileError(ValueError):
    """A file that came from elsewhere is a link, a special file, too large or not what it claims to be."""


_NOFOLLOW_NONBLOCK = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: without it os.read translates line ends and stops at Ctrl-Z


def open_regular(path: str | Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """A file descriptor of `path` only if it is a regular file: a symbolic link is never followed, and a FIFO or a
    device is never waited on (opened non-blocking, then refused). FileNotFoundError when it does not exist."""
    try:
        fd = os.open(path, flags | _NOFOLLOW_NONBLOCK | _BINARY, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW on a link (EMLINK: FreeBSD)
            raise UnsafeFileError(f"{path} is a symbolic link: files in a run folder must be plain files (a link can "
                                  "point anywhere, so it is not followed); replace it with the file itself") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO without reader (write), a folder
            raise UnsafeFileError(f"{path} is not a regular file: remove it") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{path} is not a regular file (a FIFO, socket or device): remove it")
        if _NOFOLLOW_NONBLOCK and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: reads never block, and writes should complete
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `open_regular`); UnsafeFileError otherwise."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise UnsafeFileError(f"{path} is {size:,} bytes, more than such a file ever holds ({limit:,}): it is "
                                  "damaged or not one of this app's; remove it")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while being read
                raise UnsafeFileError(f"{path} grew beyond {limit:,} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json(path: str | Path, limit: int) -> Any:
    """A small JSON file from elsewhere, parsed: UnsafeFileError for a link, a special file, more than `limit`
    bytes, invalid UTF-8 or JSON, a number beyond Python's 4,300-digit limit or nesting too deep to parse."""
    data = read_regular(path, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnsafeFileError(f"{path} is not valid JSON (it is not UTF-8 text)") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError, as is a 5,000-digit integer
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:120]
        raise UnsafeFileError(f"{path} is not valid JSON ({reason})") from None
