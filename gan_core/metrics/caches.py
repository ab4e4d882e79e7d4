"""What the metrics keep between calls: the test split's features (in memory and on disk, keyed by the classifier
file's hash), the reference statistics per class set, and the real-data floors (memory and disk).

The reference is a fixed, class-stratified half of the test split (5,000 images); the other half plays a perfect
generator for the floor. Every cache is bounded (MAX_CACHED entries, the oldest dropped) and guarded by one lock,
so a training run's periodic evaluation and the app's pages can share them from several threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_core.classifier import classifier_path, embed, load_classifier
from gan_core.data import CLASS_NAMES, load_split
from gan_core.metrics.maths import feature_stats
from gan_core.metrics.report import EvalReport
from gan_core.paths import atomic_write_bytes, atomic_write_text, cache_dir

REFERENCE_SEED = 0  # the test split's halves never change, whatever seed an evaluation uses
MAX_CACHED = 64     # floors and class statistics kept in memory (and floor files on disk): one per seed/n/class set

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Reference:
    key: str                   # classifier hash
    feats: torch.Tensor        # (10000,128) float32, test split order
    probs: torch.Tensor        # (10000,10)
    labels: np.ndarray         # true labels
    half_a: np.ndarray         # indices of the reference half
    half_b: np.ndarray         # indices of the held-out half (the floor's "samples")

    def indices(self, targets: list[int], half: str = "a") -> np.ndarray:
        """The test images of one half whose true class is among `targets`."""
        idx = self.half_a if half == "a" else self.half_b
        return idx[np.isin(self.labels[idx], targets)]


_REF: dict[str, Reference] = {}
_STATS: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] = {}
_FLOOR: dict[tuple, EvalReport] = {}
_HASHES: dict[tuple[str, int, int], str] = {}
LOCK = threading.RLock()


def remember(cache: dict, key: Any, value: Any) -> None:
    """Store in a bounded in-memory cache: past MAX_CACHED entries the oldest goes (callers hold LOCK)."""
    cache[key] = value
    while len(cache) > MAX_CACHED:
        del cache[next(iter(cache))]


def classifier_hash(path: str | Path | None = None) -> str:
    p = Path(path) if path is not None else classifier_path()
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with LOCK:
        if key not in _HASHES:
            _HASHES[key] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        return _HASHES[key]


def _halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class-stratified 50/50 split with a fixed seed: 500 + 500 test images per class."""
    rng = np.random.default_rng(REFERENCE_SEED)
    a, b = [], []
    for c in range(len(CLASS_NAMES)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        a.append(idx[: len(idx) // 2])
        b.append(idx[len(idx) // 2 :])
    return np.sort(np.concatenate(a)), np.sort(np.concatenate(b))


def reference(clf_path: str | Path | None = None, progress: Progress | None = None) -> Reference:
    """Test-split features and predictions, from memory, else the disk cache, else computed once."""
    clf = load_classifier(clf_path)
    key = classifier_hash(clf_path)
    with LOCK:
        if key in _REF:
            return _REF[key]
        test = load_split("test")
        labels = np.asarray(test.labels, dtype=np.int64)
        cache = cache_dir() / f"metrics-reference-{key}-{len(labels)}.npz"
        feats = probs = None
        try:
            with np.load(cache, allow_pickle=False) as z:
                if z["feats"].shape == (len(labels), clf.head.in_features) and np.array_equal(z["labels"], labels):
                    feats, probs = torch.from_numpy(z["feats"].copy()), torch.from_numpy(z["probs"].copy())
        except (OSError, ValueError, KeyError, EOFError):
            pass
        if feats is None:
            if progress:
                progress(0.0, "embedding the 10,000 test images once (cached afterwards)")
            feats, probs = embed(clf, test.to_tensor())
            _store_npz(cache, feats=feats.numpy(), probs=probs.numpy(), labels=labels)
        a, b = _halves(labels)
        ref = Reference(key, feats, probs, labels, a, b)
        _REF[key] = ref
        return ref


def _store_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic; a failed write only means computing again next time."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with contextlib.suppress(OSError):
        atomic_write_bytes(path, buf.getvalue())


def reference_stats(ref: Reference, targets: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the reference half's features of the target classes, computed once per class set."""
    key = (ref.key, tuple(targets))
    with LOCK:
        if key not in _STATS:
            remember(_STATS, key, feature_stats(ref.feats[ref.indices(targets)]))
        return _STATS[key]


# ----------------------------------------------------------------------------- real-data floors
def _floor_file(key: tuple) -> Path:
    tag = hashlib.sha256(repr(key).encode()).hexdigest()[:12]
    return cache_dir() / f"metrics-floor-{key[0]}-{tag}.json"


def cached_floor(key: tuple) -> EvalReport | None:
    """A floor measured before under `key` (its first item the classifier hash): from memory, else from disk."""
    with LOCK:
        if key in _FLOOR:
            return _FLOOR[key]
    cached = _load_report(_floor_file(key))
    if cached is not None:
        with LOCK:
            remember(_FLOOR, key, cached)
    return cached


def keep_floor(key: tuple, report: EvalReport) -> None:
    """Keep a measured floor in memory and on disk; the oldest floor files beyond MAX_CACHED go."""
    with LOCK:
        remember(_FLOOR, key, report)
    disk = _floor_file(key)
    with contextlib.suppress(OSError):
        atomic_write_text(disk, json.dumps(asdict(report)))
    floors = sorted(disk.parent.glob("metrics-floor-*.json"), key=lambda p: p.stat().st_mtime)
    for old in floors[:-MAX_CACHED]:  # every seed and n tried leaves a file: keep the newest
        old.unlink(missing_ok=True)


def _load_report(path: Path) -> EvalReport | None:
    """A cached floor; anything unreadable or from an older layout just means recomputing it."""
    try:
        d = json.loads(path.read_text())
        d["classes"], d["class_shares"] = tuple(d["classes"]), tuple(d["class_shares"])
        return EvalReport(**d)
    except (OSError, ValueError, TypeError, KeyError):
        return None
