"""Run folders: the one home of a training run on disk, from its layout to its listing, renaming and deletion.

    runs/<name>/
        config.json            the TrainConfig
        status.json            status, step, wall time, message (updated as the run goes)
        metrics.csv            one row per logged step (gan_core.runlog)
        samples/step_XXXXXXX.png   fixed-noise grids
        checkpoints/step_XXXXXXX.safetensors
        progress.gif           the grids as an animation
        .lock                  held by the process training the run

One module per job, every public name importable from here (`from gan_core.runs import RunDir`):

    status.py    the statuses a run goes through (`RunStatus`, `ACTIVE`) and what status.json may hold
    folder.py    one folder's layout and files (`RunDir`, `check_layout`), and which run a path names (`run_of`,
                 `checkpoint_of`, `resolve_run`)
    lock.py      who trains a run now: its OS lock (`RunLock`) and the busy state with its reason (`busy`)
    records.py   listings: the runs under a root and each one summarised (`RunRecord`, `list_records`)
    manage.py    what changes a folder as a whole, under its lock: resume (`resume_point`), fork, rename, delete

A run folder may come from elsewhere: nothing in it is followed or waited on, every file is checked by type and
size, and a damaged run is listed as such with the reason.
"""

from gan_core.runs.folder import (
    MAX_CONFIG_BYTES,
    MAX_GIF_BYTES,
    MAX_GRID_BYTES,
    MAX_GRID_PIXELS,
    MAX_GRIDS_ON_DISK,
    MAX_STATUS_BYTES,
    RunDir,
    check_layout,
    checkpoint_of,
    resolve_run,
    run_of,
    step_of,
)
from gan_core.runs.lock import (
    HEARTBEAT_S,
    LIVE_WINDOW_S,
    MAX_LOCK_BYTES,
    Busy,
    RunBusyError,
    RunLock,
    busy,
    printable,
    training_elsewhere,
)
from gan_core.runs.manage import delete_run, fork_run, rename_run, resume_point
from gan_core.runs.records import (
    RunRecord,
    checkpoint_rows,
    created_time,
    list_records,
    list_runs,
    metrics_safely,
    run_record,
)
from gan_core.runs.status import ACTIVE, MAX_TEXT, STATUS_FIELDS, DamagedRunError, RunStatus

__all__ = [
    "ACTIVE", "HEARTBEAT_S", "LIVE_WINDOW_S", "MAX_CONFIG_BYTES", "MAX_GIF_BYTES", "MAX_GRIDS_ON_DISK",
    "MAX_GRID_BYTES", "MAX_GRID_PIXELS", "MAX_LOCK_BYTES", "MAX_STATUS_BYTES", "MAX_TEXT", "STATUS_FIELDS", "Busy",
    "DamagedRunError", "RunBusyError", "RunDir", "RunLock", "RunRecord", "RunStatus", "busy", "check_layout",
    "checkpoint_of", "checkpoint_rows", "created_time", "delete_run", "fork_run", "list_records", "list_runs",
    "metrics_safely", "printable", "rename_run", "resolve_run", "resume_point", "run_of", "run_record", "step_of",
    "training_elsewhere",
]
