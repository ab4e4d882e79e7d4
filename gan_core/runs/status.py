"""What a run's status is: the statuses a run goes through, and what status.json may hold (each field checked)."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Any

MAX_TEXT = 4000  # characters kept of a string field of status.json (a message)


class RunStatus(str, Enum):
    """The status in status.json and in the trainer's snapshot (a str, so it compares equal to the bare word)."""

    def __str__(self) -> str:  # "running", not "RunStatus.RUNNING", in messages and f-strings (as StrEnum, 3.11+)
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    IDLE = "idle"                # no run in this server yet (the trainer's snapshot only)
    CREATED = "created"          # a forked run, not trained yet
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # listings only: an active status whose files went quiet, so its process died
    UNKNOWN = "unknown"          # listings only: no status.json
    DAMAGED = "damaged"          # listings only: a file of the run is a link, a special file or not what it claims


ACTIVE = frozenset({RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING})


class DamagedRunError(ValueError):
    """A file in a run folder is damaged, hostile (a link, a FIFO) or of the wrong shape; the message says which."""


# status.json's fields and what each must be; any other field is ignored. The statuses a file may hold are those
# a trainer writes (idle, interrupted, unknown and damaged are what listings make of a run, never written).
_RUN_STATES = ("created", "starting", "running", "paused", "stopping", "finished", "stopped", "failed")
_WHOLE, _NUMBER, _TEXT = "a whole number >= 0", "a finite number >= 0", "text"
STATUS_FIELDS = {
    "status": "one of " + ", ".join(map(repr, _RUN_STATES)),
    "step": _WHOLE, "total_steps": _WHOLE, "world_size": "a whole number >= 1", "wall_time_s": _NUMBER,
    "updated": _NUMBER, "message": _TEXT, "last_checkpoint": _TEXT, "forked_from": _TEXT,
}


def checked_status(data: Any, path: Path) -> dict[str, Any]:
    """status.json's known fields from its parsed JSON `data` (long texts cut to MAX_TEXT), each checked against
    STATUS_FIELDS; DamagedRunError naming the file `path` and the field when it is not a JSON object or a field is
    of the wrong type."""
    if not isinstance(data, dict):
        raise DamagedRunError(f"{path} holds {type(data).__name__}, not a JSON object of status fields")
    status: dict[str, Any] = {}
    for key, value in data.items():
        if key in STATUS_FIELDS:
            if not _valid_status_field(key, value):
                raise DamagedRunError(f"{path}: {key!r} is {str(value)[:40]!r}, where it must be {STATUS_FIELDS[key]}")
            status[key] = value[:MAX_TEXT] if isinstance(value, str) else value
    return status


def _valid_status_field(key: str, value: Any) -> bool:
    if key == "status":
        return value in _RUN_STATES
    expected = STATUS_FIELDS[key]
    if expected == _TEXT:
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if expected == _NUMBER:
        return math.isfinite(value) and value >= 0
    return isinstance(value, int) and value >= (1 if key == "world_size" else 0)
