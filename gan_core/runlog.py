"""A run's metrics.csv: rows appended as it trains, read back without what a crash leaves, summarised incrementally.

A long run logs hundreds of thousands of rows (200,000 rows were 294 MB parsed whole, about a second, on every rerun
of the Runs page). `summary()` keeps, per file, where it stopped reading and a bounded summary (the last row, the
last values of each column, a thinned series for charts, the evaluated rows), and on the next call parses only what
was appended since: the cost of a rerun does not grow with the run's length. A file rewritten in place (a resume
rewinds it; the rewrite is atomic, so it is a new inode) or cut shorter is read afresh.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_core.paths import atomic_write_bytes, open_regular

METRIC_FIELDS = (
    "step", "epoch", "time_s", "images_per_sec", "d_loss", "g_loss", "d_real", "d_fake",
    "fid", "coverage_classes", "coverage_kl", "lr_g", "lr_d",
)
GRAD_PREFIX = "grad_norm_"  # gradient-norm columns: grad_norm_g, grad_norm_d, grad_norm_g/<layer group>, ...
MAX_POINTS = 2000    # rows a summary keeps for charts (older ones thinned evenly; the first and the newest kept)
RATE_ROWS = 5        # a listing's images/s is the mean of this many last rows (each already a moving average)
CHUNK = 1 << 20      # bytes read at a time
MAX_LINE = 4096      # a longer "line" is not one of ours: skipped
TAIL = 64            # bytes compared to tell the file read before from another at the same inode
_CACHE_RUNS = 512


@dataclass(frozen=True)
class Summary:
    """What listings, run views and charts read of a metrics file: bounded, whatever the run's length."""

    rows: tuple[dict[str, float], ...] = ()        # at most MAX_POINTS rows, thinned evenly, the newest always in
    evaluated: tuple[dict[str, float], ...] = ()   # rows with an FID (thinned the same way)
    last: dict[str, float] = field(default_factory=dict)
    last_values: dict[str, float] = field(default_factory=dict)  # each column's last logged value
    rates: tuple[float, ...] = ()                  # the last RATE_ROWS images/s
    count: int = 0                                 # valid rows in the file
    bytes_read: int = 0                            # what the last call read (tests check it stays small)

    @property
    def images_per_sec(self) -> float | None:
        return sum(self.rates) / len(self.rates) if self.rates else None


@dataclass
class _Cursor:
    identity: tuple[int, int]
    offset: int = 0
    header: list[str] | None = None
    last_step: float = -math.inf
    rows: list[dict[str, float]] = field(default_factory=list)
    evaluated: list[dict[str, float]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)
    last_values: dict[str, float] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    count: int = 0
    lines: list[str] | None = None  # each kept row's text (when streaming every row)
    tail: bytes = b""               # the last bytes read: another file at the same inode (reused) differs there


_LOCK = threading.Lock()
_CURSORS: OrderedDict[Path, _Cursor] = OrderedDict()


def append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows (the header first, for a new file); the file is opened without following a link.

    A new file's header is METRIC_FIELDS and then the first row's gradient-norm columns (`grad_norm_*`, one per
    network and per layer group: fixed for a run's architecture); a file that has a header keeps it, so a run
    trained before a column existed goes on without it (its rows stay readable)."""
    fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "a+", newline="") as fh:
        if os.fstat(fd).st_size == 0:
            fields = [*METRIC_FIELDS, *(k for k in rows[0] if k.startswith(GRAD_PREFIX))] if rows else []
            csv.writer(fh).writerow(fields)
        else:
            fields = _header(fd)
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in fields})


def _header(fd: int) -> list[str]:
    """The first line of an open metrics file, as column names."""
    first = _pread(fd, MAX_LINE, 0).split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return next(csv.reader([first]), [])


def summary(path: Path) -> Summary:
    """The file's summary, reading only what was appended since the last call (see the module's docstring)."""
    key = Path(path).absolute()
    try:
        fd = open_regular(key)
    except FileNotFoundError:
        with _LOCK:
            _CURSORS.pop(key, None)
        return Summary()
    try:
        st = os.fstat(fd)
        identity = (st.st_dev, st.st_ino)
        with _LOCK:
            cur = _CURSORS.pop(key, None)
            if cur is None or cur.identity != identity or st.st_size < cur.offset or not _same_tail(cur, fd):
                cur = _Cursor(identity)
            read = _advance(cur, fd, st.st_size)
            _CURSORS[key] = cur
            while len(_CURSORS) > _CACHE_RUNS:
                _CURSORS.popitem(last=False)
            return Summary(tuple(dict(r) for r in cur.rows), tuple(dict(r) for r in cur.evaluated), dict(cur.last),
                           dict(cur.last_values), tuple(cur.rates), cur.count, read)
    finally:
        os.close(fd)


def rows(path: Path) -> list[dict[str, float]]:
    """Every valid row as numbers, streamed (for exports and tests: views read `summary`)."""
    return [row for row, _ in _stream(path)]


def truncate(path: Path, last_step: int) -> None:
    """Keep only rows logged at or before `last_step` (a resume from that step replays the rest), and drop damaged
    lines: streamed, a chunk at a time, into a new file that replaces the old one atomically."""
    try:
        atomic_write_bytes(path, _kept(path, last_step))
    except FileNotFoundError:
        return


def _kept(path: Path, last_step: int) -> Iterator[bytes]:
    """The header and the rows up to `last_step` as they were written, in chunks of about CHUNK bytes."""
    header: list[str] = []  # the file's own (its columns are the rows' columns), known once the stream has begun
    out: list[str] = []
    size, headed = 0, False
    with contextlib.closing(_stream(path, header)) as rows_:  # closed (its descriptor too) when cut short
        for row, line in rows_:
            if row["step"] > last_step:
                break  # steps only grow (a row whose step does not is skipped): nothing later is kept
            out.append(line + "\n")
            size += len(line) + 1
            if size >= CHUNK:
                yield "".join(out if headed else [_header_line(header), *out]).encode("utf-8")
                out, size, headed = [], 0, True
    yield "".join(out if headed else [_header_line(header), *out]).encode("utf-8")


def _header_line(header: list[str]) -> str:
    return ",".join(header or METRIC_FIELDS) + "\r\n"  # as csv.writer writes it


# ----------------------------------------------------------------------------- parsing
def _stream(path: Path, header: list[str] | None = None) -> Iterator[tuple[dict[str, float], str]]:
    """Every valid row with its line of text, a chunk at a time (memory bounded by a chunk, not the file); the
    file's header goes into `header` once read."""
    cur = _Cursor((0, 0), lines=[])
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        while _advance(cur, fd, size, keep_all=True, limit=CHUNK):
            if header is not None and not header and cur.header:
                header.extend(cur.header)
            yield from zip(cur.rows, cur.lines, strict=True)
            cur.rows.clear()
            cur.lines.clear()
    finally:
        os.close(fd)


def _advance(cur: _Cursor, fd: int, size: int, *, keep_all: bool = False, limit: int | None = None) -> int:
    """Parse whole lines from cur.offset on (up to `limit` bytes); returns the bytes consumed."""
    consumed = 0
    while cur.offset < size and (limit is None or consumed < limit):
        data = _pread(fd, min(CHUNK, size - cur.offset), cur.offset)
        if not data:
            break
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) < CHUNK:  # the last line, not finished yet (or cut short by a crash): read it later
                break
            end = len(data) - 1    # a "line" longer than a chunk is not ours: skip it
        block = data[: end + 1]
        for line in block.split(b"\n")[:-1]:
            _take(cur, line, keep_all)
        cur.offset += len(block)
        consumed += len(block)
        cur.tail = block[-TAIL:]
    return consumed


def _pread(fd: int, n: int, offset: int) -> bytes:
    """`n` bytes at `offset` (os.pread where the OS has it; Windows has not: a seek, on this call's own descriptor)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, n)


def _same_tail(cur: _Cursor, fd: int) -> bool:
    """The file still ends its read part with what was read (a new file may reuse a deleted one's inode)."""
    return not cur.tail or _pread(fd, len(cur.tail), cur.offset - len(cur.tail)) == cur.tail


def _take(cur: _Cursor, raw: bytes, keep_all: bool) -> None:
    """One line: the header, or a row kept only if every field is a number and its step follows the last one."""
    if not raw or b"\x00" in raw or len(raw) > MAX_LINE:
        return
    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    values = next(csv.reader([line]), [])
    if cur.header is None:
        cur.header = values
        return
    if len(values) != len(cur.header):
        return
    row: dict[str, float] = {}
    for k, v in zip(cur.header, values, strict=True):
        if v == "":
            continue
        try:
            row[k] = float(v)
        except ValueError:
            return
    step = row.get("step")
    if step is None or not math.isfinite(step) or step <= cur.last_step:
        return
    cur.last_step = step
    cur.count += 1
    cur.last = row
    cur.last_values.update(row)
    if "images_per_sec" in row:
        cur.rates = [*cur.rates[-(RATE_ROWS - 1):], row["images_per_sec"]]
    cur.rows.append(row)
    if cur.lines is not None:
        cur.lines.append(line)
    if not keep_all:
        cur.rows = _thin(cur.rows)
        if "fid" in row:
            cur.evaluated = _thin([*cur.evaluated, row])


def _thin(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """At most MAX_POINTS rows: past it, every other row of the older half goes (the first and the newest stay)."""
    if len(rows) <= MAX_POINTS:
        return rows
    half = len(rows) // 2
    return rows[:half][::2] + rows[half:]


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def forget(path: Path) -> None:
    """Drop the cached cursor of `path` (after the file was replaced or deleted by this process)."""
    with _LOCK:
        _CURSORS.pop(Path(path).absolute(), None)

