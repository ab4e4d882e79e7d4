"""Fashion-MNIST loading without torchvision's checksum gate.

Debian's ``dataset-fashion-mnist`` ships the original IDX payloads re-gzipped
with different headers, so torchvision's MD5 check rejects them. We therefore
parse IDX ourselves and only use torchvision (lazily) as a last-resort
downloader.
"""

import functools
import gzip
import hashlib
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan_core.paths import cache_dir

if TYPE_CHECKING:
    import torch

__all__ = [
    "ALLOW_DOWNLOAD",
    "CLASS_NAMES",
    "DEBIAN_DIR",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "FashionMNIST",
    "class_index",
    "find_dataset",
    "load_split",
    "read_idx",
]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# Names short enough to sit under a 28-pixel image (the classes of CLASS_NAMES, in the same order).
SHORT_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

#: Set to False (or export FASHION_MNIST_NO_DOWNLOAD=1) to never touch the network.
ALLOW_DOWNLOAD: bool = True

SPLITS = ("train", "test")
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_ALL_FILES = tuple(name for pair in _SPLIT_FILES.values() for name in pair)
_MAGIC_LABELS = 0x00000801
_MAGIC_IMAGES = 0x00000803
_GZIP_MAGIC = b"\x1f\x8b"
_IMAGE_SHAPE = (28, 28)
_TRUTHY = {"1", "true", "yes", "on"}


class DatasetNotFoundError(FileNotFoundError):
    """No location held the four Fashion-MNIST IDX files."""


class CorruptDatasetError(ValueError):
    """An IDX file exists but cannot be trusted; the message names the file."""


# --------------------------------------------------------------------------- classes


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_ALIASES: dict[str, int] = {_norm(n): i for i, n in enumerate(CLASS_NAMES)}
_ALIASES.update({"tshirt": 0, "top": 0, "tee": 0, "boot": 9, "trousers": 1})


def class_index(name_or_index: str | int) -> int:
    """Map the many spellings users type (UI, CLI, reports) to a label id."""
    if isinstance(
        name_or_index, bool
    ):  # bool is an int; True -> 1 would be a silent bug
        raise TypeError(f"class must be a name or index, not {name_or_index!r}")
    if isinstance(name_or_index, (int, np.integer)):
        idx = int(name_or_index)
    elif isinstance(name_or_index, str):
        text = name_or_index.strip()
        if text.isdigit():
            idx = int(text)
        else:
            key = _norm(text)
            if key not in _ALIASES:
                raise ValueError(
                    f"unknown class {name_or_index!r}; valid: {_valid_names()}"
                )
            return _ALIASES[key]
    else:
        raise TypeError(
            f"class must be a name or index, not {type(name_or_index).__name__}"
        )
    if not 0 <= idx < len(CLASS_NAMES):
        raise ValueError(
            f"class index {idx} out of range 0..{len(CLASS_NAMES) - 1}; "
            f"valid: {_valid_names()}"
        )
    return idx


def target_ids(classes: Sequence[str | int] | None) -> list[int]:
    """Sorted class indices of names or indices; all ten for None or empty."""
    if not classes:
        return list(range(len(CLASS_NAMES)))
    if isinstance(classes, (str, int)):
        classes = [classes]
    return sorted({class_index(c) for c in classes})


def canonical_classes(classes: Sequence[str | int] | None) -> tuple[str, ...]:
    """Class names in index order, () for all ten: the one spelling of a class set in reports and cache keys."""
    ids = target_ids(classes)
    return () if len(ids) == len(CLASS_NAMES) else tuple(CLASS_NAMES[i] for i in ids)


def _valid_names() -> str:
    return ", ".join(f"{i}={n!r}" for i, n in enumerate(CLASS_NAMES))


# --------------------------------------------------------------------------- IDX


def _read_idx(path: Path) -> tuple[np.ndarray, bool]:
    """Return (array, was_gzipped); gzip is sniffed because Debian/torchvision names vary."""
    raw = path.read_bytes()
    gzipped = raw[:2] == _GZIP_MAGIC
    if gzipped:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise CorruptDatasetError(f"{path}: bad gzip data ({exc})") from exc
    return _parse_idx(raw, path), gzipped


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4:
        raise CorruptDatasetError(
            f"{path}: truncated, only {len(data)} bytes (no IDX header)"
        )
    magic = int.from_bytes(data[:4], "big")
    if magic not in (_MAGIC_LABELS, _MAGIC_IMAGES):
        raise CorruptDatasetError(
            f"{path}: bad magic number 0x{magic:08x}; expected 0x{_MAGIC_LABELS:08x} (uint8 "
            f"labels) or 0x{_MAGIC_IMAGES:08x} (uint8 images) - not a Fashion-MNIST IDX file"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptDatasetError(
            f"{path}: truncated header, {len(data)} bytes but {ndim} "
            f"dimensions need {header}"
        )
    dims = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = int(np.prod(dims, dtype=object))
    actual = len(data) - header
    if actual != expected:
        what = (
            "truncated" if actual < expected else f"{actual - expected} trailing bytes"
        )
        raise CorruptDatasetError(
            f"{path}: {what}: header dims {dims} need {expected} payload "
            f"bytes, file has {actual}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read a (gzipped or plain) uint8 IDX file strictly; the result is read-only."""
    return _read_idx(Path(path))[0]


# --------------------------------------------------------------------------- caching


def _disk_cache_path(path: str, size: int, mtime_ns: int) -> Path:
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    return cache_dir() / f"{Path(path).name}-{digest}-{size}-{mtime_ns}.npy"


def _disk_cache_load(cache: Path) -> np.ndarray | None:
    """Any problem means 'no cache': decoding again is always a correct fallback."""
    try:
        arr = np.load(cache, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.dtype != np.uint8 or arr.ndim not in (1, 3):
        return None
    return arr


def _disk_cache_store(cache: Path, arr: np.ndarray) -> None:
    """Atomic so a concurrent reader or a crash never sees half a file; failures are ignored."""
    tmp_name = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=cache.parent, prefix=".tmp-", suffix=".npy", delete=False
        ) as tmp:
            tmp_name = tmp.name
            np.save(tmp, arr, allow_pickle=False)
        os.replace(tmp_name, cache)
        tmp_name = None
        stem = cache.name.rsplit("-", 2)[0]  # same source file, older size/mtime
        for stale in cache.parent.glob(f"{stem}-*.npy"):
            if stale != cache:
                stale.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    cache = _disk_cache_path(path, size, mtime_ns)
    arr = _disk_cache_load(cache)
    if arr is None:
        arr, gzipped = _read_idx(Path(path))
        # Plain IDX is already a direct read; only decompression is worth caching.
        if gzipped:
            _disk_cache_store(cache, arr)
    arr.flags.writeable = False
    return arr


def _load_idx(path: Path) -> np.ndarray:
    """Cached read keyed by (resolved path, size, mtime) so edited files are re-read."""
    resolved = path.resolve()
    st = resolved.stat()
    return _load_cached(str(resolved), st.st_size, st.st_mtime_ns)


def _clear_memory_cache() -> None:
    _load_cached.cache_clear()


# --------------------------------------------------------------------------- locating


def _idx_file(directory: Path, base: str) -> Path | None:
    # Plain first: torchvision keeps both, and plain skips decompression.
    for name in (base, base + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _missing(directory: Path) -> list[str]:
    return [base for base in _ALL_FILES if _idx_file(directory, base) is None]


def _describe(directory: Path) -> str | None:
    """None if `directory` holds all four files, else why not."""
    if not directory.is_dir():
        return "does not exist" if not directory.exists() else "is not a directory"
    missing = _missing(directory)
    if missing:
        return "missing " + ", ".join(f"{m}[.gz]" for m in missing)
    return None


def _download_disabled() -> bool:
    env = os.environ.get("FASHION_MNIST_NO_DOWNLOAD", "").strip().lower()
    return not ALLOW_DOWNLOAD or env in _TRUTHY


def _download_with_torchvision(root: Path) -> None:
    import torchvision  # lazy: optional dependency, and slow to import

    torchvision.datasets.FashionMNIST(root=str(root), download=True)


def _not_found_message(tried: list[tuple[str, Path | None, str]]) -> str:
    lines = ["Fashion-MNIST not found. Places tried, in order:"]
    for label, path, reason in tried:
        where = f" {path}" if path is not None else ""
        lines.append(f"  - {label}:{where} ({reason})")
    lines += [
        "Fix it in one of three ways:",
        (
            "  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
            f"(installs into {DEBIAN_DIR})"
        ),
        (
            "  2. set FASHION_MNIST_DIR to a folder holding train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
            "(each plain or .gz)"
        ),
        (
            f"  3. be online so torchvision can download it into {Path.cwd() / 'data'} "
            "(and do not set FASHION_MNIST_NO_DOWNLOAD=1)"
        ),
    ]
    return "\n".join(lines)


def find_dataset(data_dir: str | Path | None = None) -> Path:
    """Locate the IDX files; a bad explicit location warns and falls through rather than
    failing, because a working copy elsewhere on the machine is still what the user wants."""
    tried: list[tuple[str, Path | None, str]] = []
    explicit: tuple[str, Path] | None = None
    if data_dir is not None:
        explicit = ("data_dir argument", Path(data_dir).expanduser().absolute())
    elif os.environ.get("FASHION_MNIST_DIR"):
        env_dir = Path(os.environ["FASHION_MNIST_DIR"]).expanduser().absolute()
        explicit = ("FASHION_MNIST_DIR", env_dir)

    candidates: list[tuple[str, Path]] = []
    if explicit is not None:
        label, path = explicit
        candidates.append((label, path))
        # Accept a torchvision root too (e.g. data_dir="./data"), a common habit.
        candidates.append(
            (f"{label} (torchvision layout)", path / "FashionMNIST" / "raw")
        )
    tv_raw = Path.cwd() / "data" / "FashionMNIST" / "raw"
    candidates.append(("torchvision layout under ./data", tv_raw))
    candidates.append(("Debian package dir", Path(DEBIAN_DIR)))

    n_explicit = len(candidates) - 2
    for label, path in candidates:
        reason = _describe(path)
        if reason is None:
            if len(tried) >= n_explicit > 0:
                _warn_fell_through(tried[0], path)
            return path
        tried.append((label, path, reason))

    if _download_disabled():
        tried.append(
            (
                "torchvision download",
                tv_raw.parent.parent,
                "disabled (ALLOW_DOWNLOAD=False or FASHION_MNIST_NO_DOWNLOAD set)",
            )
        )
    else:
        try:
            _download_with_torchvision(tv_raw.parent.parent)
            reason = _describe(tv_raw) or ""
        # Any failure (no network, no torchvision, checksum) just means "tried".
        except Exception as exc:
            reason = f"download failed: {type(exc).__name__}: {exc}"
        if not reason:
            if explicit is not None:
                _warn_fell_through(tried[0], tv_raw)
            return tv_raw
        tried.append(("torchvision download", tv_raw.parent.parent, reason))
    raise DatasetNotFoundError(_not_found_message(tried))


def _warn_fell_through(first_try: tuple[str, Path | None, str], found: Path) -> None:
    """Falling through is friendlier than failing, but must not be silent."""
    label, path, reason = first_try
    warnings.warn(
        f"{label} {path} does not hold Fashion-MNIST ({reason}); using {found} instead",
        UserWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True, eq=False, repr=False)
class FashionMNIST:
    """One split, immutable: arrays are read-only because unfiltered loads share the cache."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    split: str
    source: Path

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return f"FashionMNIST(split={self.split!r}, n={len(self)}, source={str(self.source)!r})"

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(CLASS_NAMES)).astype(np.int64)

    def to_tensor(self) -> "torch.Tensor":
        """GAN-ready (N,1,28,28) float32 in [-1, 1], matching a tanh generator output."""
        import torch

        x = self.images.astype(np.float32)
        x /= 127.5
        x -= 1.0
        return torch.from_numpy(x.reshape(-1, 1, *_IMAGE_SHAPE))


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def load_split(
    split: str = "train",
    *,
    data_dir: str | Path | None = None,
    classes: Sequence[str | int] | None = None,
    max_images: int | None = None,
) -> FashionMNIST:
    """Load a validated split; class filter first, then the first `max_images`
    (same order as ``x[y == c][:n]``) so results are reproducible."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if max_images is not None and (
        isinstance(max_images, bool)
        or not isinstance(max_images, (int, np.integer))
        or max_images <= 0
    ):
        raise ValueError(
            f"max_images must be a positive int or None, got {max_images!r}"
        )
    wanted: list[int] | None = None
    if classes is not None:
        if isinstance(
            classes, (str, int, np.integer)
        ):  # a lone "Bag" is a Sequence of chars
            classes = [classes]
        wanted = sorted({class_index(c) for c in classes})
        if not wanted:
            raise ValueError("classes is empty; pass None to keep every class")

    directory = find_dataset(data_dir)
    img_base, lbl_base = _SPLIT_FILES[split]
    img_path, lbl_path = _idx_file(directory, img_base), _idx_file(directory, lbl_base)
    if img_path is None or lbl_path is None:  # vanished between find and load
        raise DatasetNotFoundError(
            f"{directory} no longer holds {img_base}[.gz] and {lbl_base}[.gz]"
        )
    images, labels = _load_idx(img_path), _load_idx(lbl_path)

    if images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
        raise CorruptDatasetError(
            f"{img_path}: expected images of shape (N, 28, 28), got {images.shape}"
        )
    if labels.ndim != 1:
        raise CorruptDatasetError(
            f"{lbl_path}: expected 1-D labels, got shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise CorruptDatasetError(
            f"{img_path} has {images.shape[0]} images but {lbl_path} has "
            f"{labels.shape[0]} labels"
        )
    if labels.size and int(labels.max()) >= len(CLASS_NAMES):
        raise CorruptDatasetError(f"{lbl_path}: label {int(labels.max())} outside 0..9")

    if wanted is not None:
        mask = np.isin(labels, wanted)
        images, labels = images[mask], labels[mask]
    if max_images is not None:
        images, labels = images[:max_images], labels[:max_images]
    if len(labels) == 0:
        raise ValueError(
            f"no images left in {split!r} split for classes={classes!r}, "
            f"max_images={max_images!r}"
        )
    return FashionMNIST(
        images=_readonly(images),
        labels=_readonly(labels.astype(np.int64)),
        split=split,
        source=directory,
    )
