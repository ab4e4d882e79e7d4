"""Honest numbers for a generator, each with the score real data gets beside it.

Everything is measured through the Fashion-MNIST classifier (gan_core.classifier),
not Inception: Fréchet distance in its 128-d penultimate features — always called
"FID (Fashion classifier)", because it is not comparable with published Inception
FIDs —, an Inception-style score from its softmax, class coverage from its
predictions, and precision/recall on the k-NN feature manifold (Kynkäänniemi et
al. 2019). A memorization check divides each sample's pixel distance to its nearest
training image by that image's own distance to its nearest other training image
(gan_core.sampling.novelty): raw pixel distances call dark or blurry images copies,
the ratio does not (≈ 1 for real unseen images, ≪ 1 for a copy).

The reference is a fixed, class-stratified half of the test split (5,000 images).
The other half plays a perfect generator: the *real-data floor*, so every number
comes with the value that real, unseen images reach under the same protocol.
Reference features are cached on disk (keyed by the classifier file's hash) and
in memory, so a training run's periodic evaluation only embeds its own samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_core.classifier import classifier_path, embed, load_classifier
from gan_core.data import CLASS_NAMES, class_index, load_split
from gan_core.format import number, percent
from gan_core.paths import atomic_write_bytes, atomic_write_text, cache_dir
from gan_core.sampling import COPY_RATIO, Novelty, generate, neighbour_distances, novelty

FID_LABEL = "FID (Fashion classifier)"
IS_LABEL = "Inception-style score (Fashion classifier)"
COVERAGE_THRESHOLD = 0.05
DEFAULT_K = 3
PR_MAX = 5000          # manifold size cap: 5,000² exact distances stay a few seconds on one core
MEMORIZATION_N = 1000  # samples compared with all 60,000 training images
REFERENCE_SEED = 0     # the test split's halves never change, whatever seed an evaluation uses
_GEN_BATCH = 500

Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------- pure metrics
def _stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = feats.double()
    mu = f.mean(0)
    cov = torch.cov(f.T) if len(f) > 1 else torch.zeros(f.shape[1], f.shape[1], dtype=torch.float64)
    return mu, cov


def _sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def fid_from_stats(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """Fréchet distance of two Gaussians; tr sqrt(S1 S2) = Σ sqrt eig(√S1 S2 √S1), a symmetric PSD matrix,
    so two eigen-decompositions replace scipy's sqrtm and never produce complex parts."""
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    r1 = _sqrtm_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    return max(float(diff @ diff + s1.trace() + s2.trace() - 2 * tr_covmean), 0.0)


def fid_from_features(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """FID between two (N,D) feature sets (float64 statistics)."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"FID needs at least 2 feature vectors on each side (got {len(a)} and {len(b)})")
    return fid_from_stats(*_stats(a), *_stats(b))


def inception_score(probs: torch.Tensor) -> float:
    """exp E_x KL(p(y|x) || p(y)): 1 for one class or unsure predictions, up to the number of classes."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    return float(torch.exp((p * (p.log() - marginal.log())).sum(1).mean()))


@dataclass(frozen=True)
class Coverage:
    shares: tuple[float, ...]   # share of samples per predicted class, all ten
    classes: int                # target classes holding ≥ 5 % of the samples
    of: int                     # number of target classes
    kl: float                   # KL(shares over the targets, renormalised || uniform over the targets), nats
    off_target: float           # share predicted as a class outside the targets (class-subset runs)


def class_coverage(labels: torch.Tensor | np.ndarray | Sequence[int], classes: Sequence[str | int] | None = None) -> Coverage:
    """How evenly predicted labels spread over the target classes (all ten when `classes` is empty).

    KL from uniform is 0 for a perfect spread and ln(k) when every sample falls in one of k classes.
    """
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    if lab.size == 0:
        raise ValueError("class coverage needs at least one label")
    shares = np.bincount(lab, minlength=len(CLASS_NAMES)).astype(np.float64) / lab.size
    targets = _target_ids(classes)
    t = shares[targets]
    inside = t.sum()
    p = t / inside if inside > 0 else np.zeros_like(t)
    kl = float(np.sum(p[p > 0] * np.log(p[p > 0] * len(targets)))) if inside > 0 else math.log(len(targets))
    return Coverage(tuple(float(s) for s in shares), int((t >= COVERAGE_THRESHOLD).sum()), len(targets), kl,
                    float(1 - inside))


def _target_ids(classes: Sequence[str | int] | None) -> list[int]:
    if not classes:
        return list(range(len(CLASS_NAMES)))
    if isinstance(classes, (str, int)):
        classes = [classes]
    return sorted({class_index(c) for c in classes})


def _pairwise_sq(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Exact squared distances of a chunk `a` to all of `b` (|b|² precomputed), one fused matmul."""
    return torch.addmm(b_sq[None], a, b.T, alpha=-2).add_((a * a).sum(1, keepdim=True)).clamp_min_(0)


def _kth_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance of each point to its k-th nearest other point of the same set (exact, chunked)."""
    x_sq = (x * x).sum(1)
    out = torch.empty(len(x), dtype=x.dtype)
    for s in range(0, len(x), chunk):
        d = _pairwise_sq(x[s : s + chunk], x, x_sq)
        out[s : s + chunk] = d.topk(k + 1, dim=1, largest=False).values[:, k]  # +1: the point itself at distance 0
    return out


def _share_inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> float:
    c_sq = (centres * centres).sum(1)
    inside = 0
    for s in range(0, len(queries), chunk):
        d = _pairwise_sq(queries[s : s + chunk], centres, c_sq)
        inside += int((d <= radii[None]).any(1).sum())
    return inside / len(queries)


def precision_recall(real_feats: torch.Tensor | np.ndarray, fake_feats: torch.Tensor | np.ndarray, k: int = DEFAULT_K,
                     chunk: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with exact k-NN balls.

    Precision: share of fake points inside some real point's k-NN ball (fidelity).
    Recall: share of real points inside some fake point's k-NN ball (diversity).
    """
    real = torch.as_tensor(real_feats).float()
    fake = torch.as_tensor(fake_feats).float()
    centre = real.mean(0)  # centring keeps the float32 |a|² - 2ab + |b|² expansion accurate
    real, fake = real - centre, fake - centre
    if not 1 <= k < min(len(real), len(fake)):
        raise ValueError(f"k must be between 1 and the smaller set's size - 1 (k={k}, sets of {len(real)} and {len(fake)})")
    r_real, r_fake = _kth_radius(real, k, chunk), _kth_radius(fake, k, chunk)
    return _share_inside(fake, real, r_real, chunk), _share_inside(real, fake, r_fake, chunk)


# ----------------------------------------------------------------------------- the reference
@dataclass(frozen=True)
class _Reference:
    key: str                   # classifier hash
    feats: torch.Tensor        # (10000,128) float32, test split order
    probs: torch.Tensor        # (10000,10)
    labels: np.ndarray         # true labels
    half_a: np.ndarray         # indices of the reference half
    half_b: np.ndarray         # indices of the held-out half (the floor's "samples")


_REF: dict[str, _Reference] = {}
_STATS: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] = {}
_FLOOR: dict[tuple, EvalReport] = {}
MAX_CACHED = 64  # floors and class statistics kept in memory (and floor files on disk): one per seed/n/class set
_HASHES: dict[tuple[str, int, int], str] = {}
_LOCK = threading.RLock()


def classifier_hash(path: str | Path | None = None) -> str:
    p = Path(path) if path is not None else classifier_path()
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
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


def reference(clf_path: str | Path | None = None, progress: Progress | None = None) -> _Reference:
    """Test-split features and predictions, from memory, else the disk cache, else computed once."""
    clf = load_classifier(clf_path)
    key = classifier_hash(clf_path)
    with _LOCK:
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
        ref = _Reference(key, feats, probs, labels, a, b)
        _REF[key] = ref
        return ref


def _store_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic; a failed write only means computing again next time."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with contextlib.suppress(OSError):
        atomic_write_bytes(path, buf.getvalue())


def _reference_idx(ref: _Reference, targets: list[int], half: str = "a") -> np.ndarray:
    idx = ref.half_a if half == "a" else ref.half_b
    return idx[np.isin(ref.labels[idx], targets)]


def _reference_stats(ref: _Reference, targets: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    key = (ref.key, tuple(targets))
    with _LOCK:
        if key not in _STATS:
            _remember(_STATS, key, _stats(ref.feats[_reference_idx(ref, targets)]))
        return _STATS[key]


# ----------------------------------------------------------------------------- the report
@dataclass
class EvalReport:
    """All numbers of one evaluation. `kind` is "generator" or "real" (the floor)."""

    label: str
    kind: str
    n: int
    seed: int
    classes: tuple[str, ...]               # target classes; () = all ten
    reference_n: int                       # test images in the reference half
    fid: float
    inception_score: float
    precision: float
    recall: float
    k: int
    pr_n: int                              # points per manifold for precision/recall
    class_shares: tuple[float, ...]
    coverage_classes: int
    coverage_of: int
    coverage_kl: float
    off_target_share: float
    memorization_median: float | None      # median L2 (pixels in [0,1]) to the nearest training image (context only)
    memorization_n: int
    copy_ratio_median: float | None        # median nearest-training distance / that image's own neighbour distance
    copy_share: float | None               # share of samples with that ratio under COPY_RATIO: copies
    conditional_accuracy: float | None     # conditional G: share classified as the class asked for
    seconds: float
    classifier: str                        # hash of the classifier file the features came from
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["class_shares"] = {name: round(s, 4) for name, s in zip(CLASS_NAMES, self.class_shares, strict=True)}
        d["fid_label"] = FID_LABEL
        d["feature_space"] = "128-d penultimate layer of the Fashion-MNIST classifier (weights/classifier/fashion-cnn)"
        return d

    def rows(self, floor: EvalReport | None = None) -> list[tuple[str, str, str, str]]:
        """(metric, this, real-data floor, how to read it) for tables in the terminal and the app."""

        def pair(fmt: Callable[[EvalReport], str]) -> tuple[str, str]:
            return fmt(self), (fmt(floor) if floor is not None else "")

        out = [
            (FID_LABEL, *pair(lambda r: f"{r.fid:.2f}"), "lower is better; not comparable with Inception FIDs"),
            (IS_LABEL, *pair(lambda r: f"{r.inception_score:.2f}"), f"higher is better; at most {self.coverage_of}"),
            (f"Precision (k={self.k}, n={self.pr_n:,})", *pair(lambda r: self._with_n(r.precision, r.pr_n)),
             "fidelity: share of samples on the real manifold"),
            (f"Recall (k={self.k}, n={self.pr_n:,})", *pair(lambda r: self._with_n(r.recall, r.pr_n)),
             "diversity: share of real images the samples cover"),
            ("Classes with ≥ 5 % of samples", *pair(lambda r: f"{r.coverage_classes} / {r.coverage_of}"),
             "fewer than all = missing modes"),
            ("Class mix: KL from uniform", *pair(lambda r: f"{r.coverage_kl:.3f}"),
             f"0 = even; {math.log(self.coverage_of):.2f} = a single class"),
        ]
        if self.classes:
            out.append(("Share outside the trained classes", *pair(lambda r: f"{r.off_target_share:.1%}"), "lower is better"))
        if self.conditional_accuracy is not None:
            out.append(("Conditional accuracy", *pair(lambda r: percent(r.conditional_accuracy, missing="")),
                        "classified as the class asked for (floor: classifier accuracy on real images)"))
        if self.copy_share is not None:
            out.append((f"Copies of training images (n={self.memorization_n:,})",
                        *pair(lambda r: percent(r.copy_share, missing="")),
                        f"nearest training image closer than {COPY_RATIO} × its own nearest neighbour; "
                        "well above the floor = copying"))
            out.append(("Distance to nearest training image ÷ its neighbour's (median)",
                        *pair(lambda r: number(r.copy_ratio_median, missing="")),
                        "≈ 1 = as new as real unseen images (median 1.1); ≪ 1 = copies; well above = unlike training images"))
        return out

    def _with_n(self, value: float, n: int) -> str:
        """A precision/recall value, with its n when it differs from this report's (so unlike sizes show)."""
        return f"{value:.3f}" + (f" (n={n:,})" if n != self.pr_n else "")

    def table(self, floor: EvalReport | None = None) -> str:
        head = ("metric", f"{self.label} (n={self.n:,})", "real-data floor" if floor is not None else "", "reading")
        rows = [head, *self.rows(floor)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths if w))
        shares = "  ".join(f"{name} {s:.1%}" for name, s in zip(CLASS_NAMES, self.class_shares, strict=True))
        lines += ["", f"class shares (predicted): {shares}"]
        if floor is not None:
            lines.append(f"floor: {floor.n:,} real test images outside the reference, measured like the samples against "
                         f"the same {floor.reference_n:,}-image reference half of the test split")
            if floor.n < self.n:
                lines.append(f"note: only {floor.n:,} held-out real images exist for the floor; with fewer points FID reads "
                             "slightly higher, so the floor is a little pessimistic next to these samples")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- evaluation
def _unwrap(generator: Any) -> nn.Module:
    g = getattr(generator, "generator", generator)  # a LoadedGenerator or the module itself
    if not isinstance(g, nn.Module) or not hasattr(g, "latent_dim"):
        raise ValueError(f"expected a generator (gan_core.models.Generator or LoadedGenerator), got {type(generator).__name__}")
    return g


@torch.no_grad()
def _generate(g: nn.Module, n: int, seed: int, targets: list[int], progress: Progress | None, span: tuple[float, float],
              truncation: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n images from fixed latents (scaled by ψ = `truncation`); a conditional G is asked for the target classes in
    equal turns. Restores G's train/eval mode and never touches the global RNG."""
    asked = None
    if getattr(g, "num_classes", 0):
        asked = torch.tensor(targets, dtype=torch.long)[torch.arange(n) % len(targets)]
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
        asked = asked[perm]

    def report(done: int) -> None:
        if progress:
            progress(span[0] + (span[1] - span[0]) * done / n, f"generating {n:,} images")

    images = generate(g, n, seed, label=asked, batch=_GEN_BATCH, progress=report, truncation=truncation)
    return images.clamp(-1, 1), asked


def _subsample(x: torch.Tensor, m: int, seed: int) -> torch.Tensor:
    if len(x) <= m:
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:m]]


_SPACING: dict[int, float] = {}  # training index -> distance to its nearest other training image (fixed data)


def training_spacing(indices: np.ndarray) -> np.ndarray:
    """Neighbour distances of training images (see gan_core.sampling.neighbour_distances), computed once each."""
    with _LOCK:
        missing = np.array(sorted({int(i) for i in indices} - _SPACING.keys()), dtype=np.int64)
    if missing.size:
        found = neighbour_distances(load_split("train").images, missing)
        with _LOCK:
            _SPACING.update(zip(missing.tolist(), found.tolist(), strict=True))
    with _LOCK:
        return np.array([_SPACING[int(i)] for i in indices], dtype=np.float32)


def training_novelty(images: torch.Tensor) -> Novelty:
    """Nearest training image and the normalised distance ratio of each image (≈ 1 like real images, ≪ 1 a copy)."""
    return novelty(images, load_split("train").images, training_spacing)


@dataclass(frozen=True)
class Memorization:
    median_l2: float     # median pixel L2 to the nearest training image (context only: flatters dark images)
    median_ratio: float  # median of that distance / the training image's own nearest-neighbour distance
    copy_share: float    # share of images whose ratio is under COPY_RATIO


def _memorization(images: torch.Tensor, m: int, seed: int) -> Memorization | None:
    if m <= 0:
        return None
    nov = training_novelty(_subsample(images, m, seed))
    return Memorization(float(np.median(nov.distance)), float(np.median(nov.ratio)), float(nov.copies.mean()))


def _score(label: str, kind: str, images: torch.Tensor, feats: torch.Tensor, probs: torch.Tensor, *, ref: _Reference,
           targets: list[int], classes: tuple[str, ...], seed: int, k: int, memorization_n: int,
           asked: torch.Tensor | None, progress: Progress | None, t0: float) -> EvalReport:
    mu, cov = _reference_stats(ref, targets)
    ref_feats = ref.feats[_reference_idx(ref, targets)]
    fid = fid_from_stats(*_stats(feats), mu, cov) if len(feats) > 1 else float("nan")
    pred = probs.argmax(1)
    cov_ = class_coverage(pred.numpy(), classes)
    if progress:
        progress(0.7, "precision and recall on the feature manifold")
    pr_n = min(PR_MAX, len(feats), len(ref_feats))
    if pr_n > k:
        precision, recall = precision_recall(_subsample(ref_feats, pr_n, seed + 2), _subsample(feats, pr_n, seed + 3), k)
    else:
        precision = recall = float("nan")
    if progress:
        progress(0.8, "distances to the nearest training images")
    mem = _memorization(images, memorization_n, seed + 4)
    cond = float((pred == asked).float().mean()) if asked is not None else None
    return EvalReport(
        label=label, kind=kind, n=len(feats), seed=seed, classes=classes, reference_n=len(ref_feats), fid=fid,
        inception_score=inception_score(probs), precision=precision, recall=recall, k=k, pr_n=pr_n,
        class_shares=cov_.shares, coverage_classes=cov_.classes, coverage_of=cov_.of, coverage_kl=cov_.kl,
        off_target_share=cov_.off_target, memorization_median=mem and mem.median_l2,
        memorization_n=min(memorization_n, len(images)) if mem else 0,
        copy_ratio_median=mem and mem.median_ratio, copy_share=mem and mem.copy_share,
        conditional_accuracy=cond, seconds=round(time.perf_counter() - t0, 2), classifier=ref.key,
    )


def _canonical(classes: Sequence[str | int] | None) -> tuple[str, ...]:
    ids = _target_ids(classes)
    return () if len(ids) == len(CLASS_NAMES) else tuple(CLASS_NAMES[i] for i in ids)


def evaluate_generator(
    generator: Any, n: int = 10_000, seed: int = 0, classes: Sequence[str | int] | None = None,
    progress: Progress | None = None, *, k: int = DEFAULT_K, memorization_n: int = MEMORIZATION_N, label: str = "generator",
    clf_path: str | Path | None = None, truncation: float = 1.0,
) -> EvalReport:
    """Generate n images and measure them against the reference half of the test split.

    `classes`: the classes the generator was trained on (empty/None = all ten); the reference, the
    coverage targets and a conditional generator's requested labels are all restricted to them.
    `truncation` ψ < 1 samples z scaled toward the mean latent (gan_core.sampling.truncated_latents).
    """
    t0 = time.perf_counter()
    g = _unwrap(generator)
    classes_t = _canonical(classes)
    targets = _target_ids(classes_t)
    ref = reference(clf_path, progress)
    clf = load_classifier(clf_path)
    images, asked = _generate(g, n, seed, targets, progress, (0.0, 0.45), truncation)
    if progress:
        progress(0.5, f"embedding {n:,} images in the classifier")
    feats, probs = embed(clf, images)
    report = _score(label, "generator", images, feats, probs, ref=ref, targets=targets, classes=classes_t, seed=seed, k=k,
                    memorization_n=memorization_n, asked=asked, progress=progress, t0=t0)
    if truncation != 1.0:
        report.notes.append(f"truncated sampling: z scaled by ψ = {truncation:g} toward the mean latent")
    if getattr(g, "num_classes", 0) and classes_t:
        report.notes.append(f"conditional generator asked for {', '.join(classes_t)} in equal turns")
    if progress:
        progress(1.0, "done")
    return report


def real_floor(classes: Sequence[str | int] | None = None, n: int | None = None, seed: int = 0, *, k: int = DEFAULT_K,
               memorization_n: int = MEMORIZATION_N, clf_path: str | Path | None = None,
               progress: Progress | None = None) -> EvalReport:
    """The same metrics for real data: held-out test images (the half not in the reference) measured like samples.

    Pass the generator's `n`: FID's small-sample bias and the k-NN radii of precision/recall depend on the
    number of points, so the floor uses as many images as the samples (up to the 5,000 held out, or
    500 per class for a class subset). Its conditional accuracy is the classifier's accuracy on those
    real images: what a perfect conditional generator would score. Cached in memory and on disk.
    """
    classes_t = _canonical(classes)
    targets = _target_ids(classes_t)
    ref = reference(clf_path, progress)
    pool = _reference_idx(ref, targets, half="b")
    n_used = len(pool) if n is None else min(int(n), len(pool))
    if n_used < 2:
        raise ValueError(f"the real-data floor needs at least 2 images (n={n})")
    key = (ref.key, classes_t, n_used, seed, k, memorization_n, COPY_RATIO)
    with _LOCK:
        if key in _FLOOR:
            return _FLOOR[key]
    tag = hashlib.sha256(repr(key).encode()).hexdigest()[:12]
    disk = cache_dir() / f"metrics-floor-{ref.key}-{tag}.json"
    cached = _load_report(disk)
    if cached is not None:
        with _LOCK:
            _remember(_FLOOR, key, cached)
        return cached
    t0 = time.perf_counter()
    idx = pool if n_used == len(pool) else np.sort(np.random.default_rng(seed).choice(pool, n_used, replace=False))
    test = load_split("test")
    images = torch.from_numpy(test.images[idx].astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    true = torch.from_numpy(ref.labels[idx])
    report = _score("real test images", "real", images, ref.feats[idx], ref.probs[idx], ref=ref, targets=targets,
                    classes=classes_t, seed=seed, k=k, memorization_n=memorization_n, asked=true, progress=progress, t0=t0)
    with _LOCK:
        _remember(_FLOOR, key, report)
    _store_text(disk, json.dumps(asdict(report)))
    floors = sorted(disk.parent.glob("metrics-floor-*.json"), key=lambda p: p.stat().st_mtime)
    for old in floors[:-MAX_CACHED]:  # every seed and n tried leaves a file: keep the newest
        old.unlink(missing_ok=True)
    return report


def _remember(cache: dict, key: Any, value: Any) -> None:
    """Store in a bounded in-memory cache: past MAX_CACHED entries the oldest goes (callers hold _LOCK)."""
    cache[key] = value
    while len(cache) > MAX_CACHED:
        del cache[next(iter(cache))]


def _load_report(path: Path) -> EvalReport | None:
    """A cached floor; anything unreadable or from an older layout just means recomputing it."""
    try:
        d = json.loads(path.read_text())
        d["classes"], d["class_shares"] = tuple(d["classes"]), tuple(d["class_shares"])
        return EvalReport(**d)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _store_text(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        atomic_write_text(path, text)


def quick_evaluate(generator: Any, *, n: int = 2000, seed: int = 0, classes: Sequence[str] | None = ()) -> dict[str, float]:
    """The trainer's periodic check: FID and class coverage only, on n samples (about 2 s for 2,000 on one core).

    Runs under a forked RNG, so the training run's random stream is the same with or without evaluation.
    """
    with torch.random.fork_rng(devices=[]):
        g = _unwrap(generator)
        classes_t = _canonical(classes)
        targets = _target_ids(classes_t)
        ref = reference()
        clf = load_classifier()
        images, _ = _generate(g, n, seed, targets, None, (0.0, 1.0))
        feats, probs = embed(clf, images)
        cov = class_coverage(probs.argmax(1).numpy(), classes_t)
        fid = fid_from_stats(*_stats(feats), *_reference_stats(ref, targets))
    return {"fid": round(fid, 3), "coverage_classes": float(cov.classes), "coverage_kl": round(cov.kl, 4)}


# ----------------------------------------------------------------------------- single images
_MANIFOLD: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _manifold(ref: _Reference, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(centre, centred reference features, their squared k-NN radii): the real manifold precision counts on."""
    key = (ref.key, k)
    with _LOCK:
        if key not in _MANIFOLD:
            feats = ref.feats[ref.half_a].float()
            centre = feats.mean(0)
            feats = feats - centre
            _remember(_MANIFOLD, key, (centre, feats, _kth_radius(feats, k, 1000)))
        return _MANIFOLD[key]


@dataclass(frozen=True)
class ImageCheck:
    """How garment-like one image is, by the Evaluate page's measures: class, confidence, novelty, manifold."""

    cls: int              # the classifier's top class
    confidence: float     # its softmax probability
    distance: float       # pixel L2 to the nearest training image
    ratio: float          # that distance / the training image's own nearest-neighbour distance (≈ 1 like real images)
    on_manifold: bool     # inside a reference image's k-NN ball in classifier features, as precision counts a sample

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.cls]

    def describe(self) -> str:
        """'classifier: Sandal 87 % · 1.05× the spacing of training images · on the real manifold'."""
        where = ("a copy of a training image" if self.ratio < COPY_RATIO else
                 f"{self.ratio:.2f}× the spacing of training images")
        return (f"classifier: {self.class_name} {percent(self.confidence, 0)} · {where} · "
                f"{'on' if self.on_manifold else 'off'} the real manifold")

    @property
    def score(self) -> tuple[bool, bool, float]:
        """Sorts images from least to most garment-like: on the manifold, then not a copy, then confidence."""
        return self.on_manifold, self.ratio >= COPY_RATIO, self.confidence


@torch.no_grad()
def image_checks(images: torch.Tensor, *, k: int = DEFAULT_K, clf_path: str | Path | None = None) -> list[ImageCheck]:
    """The classifier's class and confidence, the novelty ratio and manifold membership of each (N,1,28,28) image.

    The same measures as an evaluation (precision's k-NN balls around the reference half, the memorization
    ratio against the 60,000 training images), so "which result is more garment-like" is a number.
    Raises ClassifierError without the classifier and the data errors of load_split without the data.
    """
    images = torch.as_tensor(images).float().clamp(-1, 1)
    clf = load_classifier(clf_path)
    ref = reference(clf_path)
    feats, probs = embed(clf, images)
    centre, points, radii = _manifold(ref, k)
    inside = (_pairwise_sq(feats - centre, points, (points * points).sum(1)) <= radii[None]).any(1)
    nov = training_novelty(images)
    conf, cls = probs.max(1)
    return [ImageCheck(int(c), float(p), float(d), float(r), bool(m))
            for c, p, d, r, m in zip(cls, conf, nov.distance, nov.ratio, inside, strict=True)]


def trained_classes(loaded: Any) -> tuple[str, ...]:
    """The classes a loaded generator was trained on, from its checkpoint config or model card (() = all ten)."""
    config = getattr(loaded, "train_config", None) or (getattr(loaded, "card", None) or {}).get("train_config") or {}
    return _canonical(config.get("classes") or None)
