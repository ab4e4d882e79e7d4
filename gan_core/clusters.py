"""Balanced k-means of training images: the clusters a run's InfoGAN code is anchored to.

An InfoGAN code (gan_core.latent) is a switch G and the Q head agree on between themselves; nothing ties code k to
any part of the data, and without labels the switches settle on blends of classes. With `info_clusters` the Q head
also learns to read each real image's cluster, so the code's values come to mean "draw from cluster k" (the idea of
cluster-based self-conditioning, Grinblat et al. 2017 and Liu et al. 2020; with `code_projection` D is conditioned
on the cluster too). An unconditional run clusters the pixels alone, without labels; a class-conditional run
clusters each class apart (`clusters_within`), so the code splits every class into sub-classes (the class-splitting
GAN of Grinblat et al. 2017).

The clusters are balanced (each holds n / k images, rounded up): the code read off z is
uniform over k values, so a cluster larger than 1 / k of the data would be drawn less often than it occurs.
Deterministic for the same images, k and seed: a resumed run or another process recomputes the same clusters.
"""

from __future__ import annotations

import torch

from gan_core.data import CLASS_NAMES

KMEANS_ITERS = 20     # Lloyd iterations (with balanced assignments): the centres of Fashion-MNIST settle by ~15
SINKHORN_ITERS = 10   # balancing iterations per assignment, each starting from the last one's column potentials
SINKHORN_FIRST = 60   # ... and for the first, which starts from none
TEMPERATURE = 0.02    # Sinkhorn's entropic smoothing, in units of the mean squared distance to the centres


def balanced_clusters(images: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """(n,) cluster index in [0, k) of each image (n, ...), every cluster holding about n / k images.

    k-means++ seeding from `seed`, then Lloyd iterations whose assignment step is balanced: the transport plan of
    entropic optimal transport (Sinkhorn) from the images to k equal shares, each image then taking the cluster
    its plan weighs most; the last assignment fills each cluster to at most ceil(n / k), strongest pairs first.
    """
    n = len(images)
    if not 2 <= k <= n:
        raise ValueError(f"need 2 <= k <= the number of images ({n}) to cluster them (got k = {k})")
    x = images.detach().reshape(n, -1).float().cpu()
    sq = (x * x).sum(dim=1)
    g = torch.Generator().manual_seed(seed)
    centres = _kmeanspp(x, sq, k, g)
    assign, v = torch.zeros(n, dtype=torch.long), torch.zeros(k)
    for i in range(KMEANS_ITERS):
        scores, v = _balanced_scores(_sq_dist(x, sq, centres), v, SINKHORN_FIRST if i == 0 else SINKHORN_ITERS)
        assign = scores.argmax(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).clamp(min=1).to(x.dtype)
        centres = sums / counts[:, None]
    return _fill(scores)


def clusters_within(images: torch.Tensor, labels: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """(n,) cluster index in [0, k) of each image within its own class (`labels`, (n,)): `balanced_clusters` of
    each class's images apart, so cluster j of one class and of another are unrelated (a class-conditional run's
    code means "draw sub-class j of the class asked for")."""
    out = torch.empty(len(labels), dtype=torch.long)
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().squeeze(1)
        if len(members) < k:
            raise ValueError(f"{CLASS_NAMES[c]} has {len(members)} training images, fewer than the {k} clusters info_clusters "
                             "splits each class into: lower info_codes, or train on more images (max_images)")
        out[members] = balanced_clusters(images[members], k, seed)
    return out


def _sq_dist(x: torch.Tensor, sq: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(n, k) squared Euclidean distances, clamped at 0 (the expansion can round below it)."""
    return (sq[:, None] - 2 * x @ centres.T + (centres * centres).sum(dim=1)[None, :]).clamp_(min=0)


def _kmeanspp(x: torch.Tensor, sq: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii 2007): each next centre drawn with probability ~ distance²."""
    first = int(torch.randint(len(x), (1,), generator=g))
    centres = x[first : first + 1]
    nearest = _sq_dist(x, sq, centres)[:, 0]
    for _ in range(1, k):
        pick = int(torch.multinomial(nearest + 1e-12, 1, generator=g))
        centres = torch.cat([centres, x[pick : pick + 1]])
        nearest = torch.minimum(nearest, _sq_dist(x, sq, x[pick : pick + 1])[:, 0])
    return centres


def _balanced_scores(d: torch.Tensor, v: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """How strongly each row of distances d (n, k) belongs to each cluster when every cluster must take n / k of
    the rows (the log of the balanced transport plan, up to a per-row constant), and the column potentials (k,)
    that balance it: the next call's start, since the centres move little between calls."""
    n, k = d.shape
    logits = -d / (TEMPERATURE * float(d.mean()) + 1e-12)
    log_share = torch.log(torch.tensor(n / k))
    for _ in range(iters):  # rows sum to 1 (each image placed once), columns to n / k (equal shares)
        u = -torch.logsumexp(logits + v[None, :], dim=1)
        v = log_share - torch.logsumexp(logits + u[:, None], dim=0)
    return logits + v[None, :], v


def _fill(scores: torch.Tensor) -> torch.Tensor:
    """(n,) a hard assignment from scores (n, k) with at most ceil(n / k) rows per cluster: the strongest
    (row, cluster) pairs first. The plan's own argmax can overfill a cluster when many rows are near-duplicates
    (the plan splits them; the argmax sends them all one way)."""
    n, k = scores.shape
    room = [-(-n // k)] * k
    assign = [-1] * n
    left = n
    for flat in scores.flatten().argsort(descending=True).tolist():
        row, col = divmod(flat, k)
        if assign[row] < 0 and room[col]:
            assign[row], room[col], left = col, room[col] - 1, left - 1
            if not left:
                break
    return torch.tensor(assign, dtype=torch.long)
