"""How numbers read in every table, caption and message: one home, so the terminal and the pages agree."""

from __future__ import annotations

MISSING = "—"


def duration(seconds: float | None) -> str:
    """`7.4 s`, `42 s`, `3 min 05 s`, `1 h 02 min`."""
    if seconds is None:
        return MISSING
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def clock(seconds: float | None) -> str:
    """`0:42`, `12:05`, `1:02:03`: a duration that fits a narrow metric tile."""
    if seconds is None:
        return MISSING
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def number(x: float | None, digits: int = 3, *, missing: str = MISSING) -> str:
    """`1,234.568` at 3 digits, thousands separated."""
    return missing if x is None else f"{x:,.{digits}f}"


def count(x: int | None, *, missing: str = MISSING) -> str:
    return missing if x is None else f"{x:,}"


def percent(x: float | None, digits: int = 1, *, missing: str = MISSING) -> str:
    """A share as `12.3 %` (0.123 in, a space before the sign as in the project's tables)."""
    return missing if x is None else f"{x:.{digits}%}".replace("%", " %")


def size(n_bytes: float) -> str:
    """`897 MB`, `58.8 GB` (binary units, as free and du print them)."""
    return f"{number(n_bytes / 2**30, 1)} GB" if n_bytes >= 2**30 else f"{number(n_bytes / 2**20, 0)} MB"
