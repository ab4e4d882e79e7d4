"""Is a generated image new, or a copy of a training image? The one home of the memorization check.

Raw pixel distances call dark or blurry images copies (few bright pixels are close to many images), so each image's
distance to its nearest training image is divided by that training image's own distance to its nearest other
training image: ≈ 1 for real unseen images, ≪ 1 for a copy, ≫ 1 for an image unlike any training image. The pixel
search itself is `gan_core.sampling.nearest_real`; the training set's spacing is computed once per image and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gan_core.data import load_split
from gan_core.images import to_uint8
from gan_core.metrics.maths import subsample
from gan_core.models import Generator
from gan_core.sampling import generate, nearest_real

#: a nearest-training distance under this share of that training image's own nearest-neighbour distance is a copy:
#: none of the first 3,000 test images comes that close (the lowest ratio is 0.33, the median 1.1)
COPY_RATIO = 0.3
_DUPLICATE = 0.05  # below this L2 two Fashion-MNIST images are the same picture (it holds duplicates; float error)
MEMORIZATION_N = 1000  # samples an evaluation compares with all 60,000 training images


def neighbour_distances(real: np.ndarray, indices: np.ndarray | Sequence[int]) -> np.ndarray:
    """L2 distance of each real[i] to its nearest *different* image of `real` (exact duplicates skipped).

    The local spacing of the training set there: what "close" means for an image near real[i].
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return np.zeros(0, dtype=np.float32)
    own = torch.from_numpy(np.asarray(real[idx], dtype=np.float32) / 127.5 - 1.0).unsqueeze(1)
    _, d = nearest_real(own, real, k=min(4, len(real)))
    far = d > _DUPLICATE
    first = np.where(far.any(1), far.argmax(1), d.shape[1] - 1)  # the nearest one that is not the image itself
    return d[np.arange(len(idx)), first]


@dataclass(frozen=True)
class Novelty:
    """How far each image sits from the training set, relative to how far training images sit from each other.

    ratio = distance to the nearest training image / that training image's distance to its own nearest other
    one. Raw pixel distances flatter dark or blurry images (few bright pixels are close to many images); the
    ratio is ≈ 1 for real unseen images, ≪ 1 for a copy, ≫ 1 for an image unlike any training image.
    """

    index: np.ndarray      # (n,) nearest training image
    distance: np.ndarray   # (n,) L2 over 784 pixels in [0, 1]
    spacing: np.ndarray    # (n,) that training image's distance to its nearest other training image
    ratio: np.ndarray      # (n,) distance / spacing

    @property
    def copies(self) -> np.ndarray:
        return self.ratio < COPY_RATIO


def novelty(images: torch.Tensor, real: np.ndarray, spacing: Callable[[np.ndarray], np.ndarray] | None = None) -> Novelty:
    """Nearest real image, its distance and the normalised ratio for each image (see `Novelty`).

    `spacing(indices)` may supply cached neighbour distances of `real`; by default they are computed.
    """
    idx, dist = nearest_real(images, real, k=1)
    idx, dist = idx[:, 0], dist[:, 0]
    unique, inverse = np.unique(idx, return_inverse=True)
    sp = (spacing or (lambda i: neighbour_distances(real, i)))(unique)[inverse]
    return Novelty(idx, dist, sp, dist / np.maximum(sp, _DUPLICATE))


# ----------------------------------------------------------------------------- against the training split
_SPACING: dict[int, float] = {}  # training index -> distance to its nearest other training image (fixed data)
_LOCK = threading.Lock()


def training_spacing(indices: np.ndarray) -> np.ndarray:
    """Neighbour distances of training images (see `neighbour_distances`), computed once each."""
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


def memorization(images: torch.Tensor, m: int, seed: int) -> Memorization | None:
    """The evaluation's copy check on a seeded choice of m of the images (None when m is 0: not measured)."""
    if m <= 0:
        return None
    nov = training_novelty(subsample(images, m, seed))
    return Memorization(float(np.median(nov.distance)), float(np.median(nov.ratio)), float(nov.copies.mean()))


# ----------------------------------------------------------------------------- shown side by side
@dataclass(frozen=True)
class NearestPair:
    """A generated image beside the closest real image: is the sample new, or a copy?"""

    sample: np.ndarray  # (28, 28) uint8
    real: np.ndarray    # (28, 28) uint8: the nearest image of the split searched
    index: int          # that image's index in the split
    distance: float     # L2 over 784 pixels in [0, 1]
    ratio: float = float("nan")  # distance / the real image's own nearest-neighbour distance (see `Novelty`)

    @property
    def copy(self) -> bool:
        return self.ratio < COPY_RATIO


def memorization_pairs(g: Generator, n: int, seed: int, real: np.ndarray,
                       spacing: Callable[[np.ndarray], np.ndarray] | None = None) -> list[NearestPair]:
    """n samples from z(seed), each paired with its nearest image of `real` (a split's (N,28,28) uint8 images)."""
    samples = generate(g, n, seed=seed)
    nov = novelty(samples, real, spacing)
    shown = to_uint8(samples)
    return [NearestPair(shown[i], np.array(real[nov.index[i]]), int(nov.index[i]), float(nov.distance[i]),
                        float(nov.ratio[i])) for i in range(n)]
