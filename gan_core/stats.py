"""Per-class pixel statistics of a split: what an "average sandal" looks like, and where sandals vary."""

from __future__ import annotations

import numpy as np

from gan_core.data import CLASS_NAMES, FashionMNIST


def class_means_stds(ds: FashionMNIST) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard-deviation image of every class, pixels in [0, 1].

    Returns two float32 arrays of shape (10, 28, 28). A class absent from `ds`
    (a filtered split) gets NaN images, so a caller cannot mistake it for a black one.
    Computed class by class in float64 to keep memory at one class's worth of floats.
    """
    n_classes = len(CLASS_NAMES)
    means = np.full((n_classes, *ds.images.shape[1:]), np.nan, dtype=np.float32)
    stds = np.full_like(means, np.nan)
    for c in range(n_classes):
        imgs = ds.images[ds.labels == c]
        if len(imgs) == 0:
            continue
        x = imgs.astype(np.float64) / 255.0
        means[c] = x.mean(axis=0)
        stds[c] = x.std(axis=0)
    return means, stds


def intensity_histogram(img: np.ndarray, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of one uint8 image's pixel values over the full 0..255 range."""
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be between 1 and 256 (got {bins})")
    counts, edges = np.histogram(np.asarray(img).ravel(), bins=bins, range=(0, 256))
    return counts, edges
