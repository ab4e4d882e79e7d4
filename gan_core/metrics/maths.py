"""The metric maths on feature sets and labels: Fréchet distance, the Inception-style score, class coverage and
k-NN precision/recall (Kynkäänniemi et al. 2019). Pure functions of tensors: no files, no caches, no models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gan_core.data import CLASS_NAMES, target_ids

COVERAGE_THRESHOLD = 0.05
DEFAULT_K = 3


def feature_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of (N, D) features in float64 (a zero covariance for a single point)."""
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
    return fid_from_stats(*feature_stats(a), *feature_stats(b))


def inception_score(probs: torch.Tensor) -> float:
    """exp E_x KL(p(y|x) || p(y)): 1 for one class or unsure predictions, up to the number of classes."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    return float(torch.exp((p * (p.log() - marginal.log())).sum(1).mean()))


# ----------------------------------------------------------------------------- classes
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
    targets = target_ids(classes)
    t = shares[targets]
    inside = t.sum()
    p = t / inside if inside > 0 else np.zeros_like(t)
    kl = float(np.sum(p[p > 0] * np.log(p[p > 0] * len(targets)))) if inside > 0 else math.log(len(targets))
    return Coverage(tuple(float(s) for s in shares), int((t >= COVERAGE_THRESHOLD).sum()), len(targets), kl,
                    float(1 - inside))


# ----------------------------------------------------------------------------- the k-NN manifold
def pairwise_sq(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Exact squared distances of a chunk `a` to all of `b` (|b|² precomputed), one fused matmul."""
    return torch.addmm(b_sq[None], a, b.T, alpha=-2).add_((a * a).sum(1, keepdim=True)).clamp_min_(0)


def kth_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance of each point to its k-th nearest other point of the same set (exact, chunked)."""
    x_sq = (x * x).sum(1)
    out = torch.empty(len(x), dtype=x.dtype)
    for s in range(0, len(x), chunk):
        d = pairwise_sq(x[s : s + chunk], x, x_sq)
        out[s : s + chunk] = d.topk(k + 1, dim=1, largest=False).values[:, k]  # +1: the point itself at distance 0
    return out


def _share_inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> float:
    c_sq = (centres * centres).sum(1)
    inside = 0
    for s in range(0, len(queries), chunk):
        d = pairwise_sq(queries[s : s + chunk], centres, c_sq)
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
    r_real, r_fake = kth_radius(real, k, chunk), kth_radius(fake, k, chunk)
    return _share_inside(fake, real, r_real, chunk), _share_inside(real, fake, r_fake, chunk)


def subsample(x: torch.Tensor, m: int, seed: int) -> torch.Tensor:
    """At most m rows of x, a seeded random choice (x itself when it has no more)."""
    if len(x) <= m:
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:m]]
