"""Where the project's files live and how they are written: the bottom module every other one reads through.

    weights/generators/*.safetensors   shipped generators, each with a JSON card
    weights/classifier/                the Fashion-MNIST classifier behind the metrics
    runs/ (or $GAN_STUDIO_RUNS)        one folder per training run (gan_core.runs)
    ~/.cache/fashion-gan-studio/       decoded data and reference features ($XDG_CACHE_HOME respected)

Every file a run or an export writes goes through `atomic_write_bytes`, so a crash (or kill -9) at any moment
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

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
def atomic_write_bytes(path: str | Path, data: bytes, *, _before_replace: Callable[[Path], None] | None = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A crash at any point leaves either the old file or the new one, never half of one.
    `_before_replace` lets tests simulate a crash between the write and the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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


# ----------------------------------------------------------------------------- safetensors
def parse_safetensors(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and `__metadata__` of a safetensors file's bytes; ValueError when they are not readable as one.

    The one reader of the format for the checkpoints, the shipped generators and the classifier; each caller turns
    the ValueError into its own error naming the file. Nothing is unpickled.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    try:
        header_len = int.from_bytes(data[:8], "little")
        header: Any = json.loads(data[8 : 8 + header_len])
        tensors = st_load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return tensors, meta or {}
