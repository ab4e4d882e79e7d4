"""Latent recovery: does the generator reproduce its training images better than images it never saw?

Webster et al., CVPR 2019 ("Detecting overfitting of deep generative networks via latent recovery"): project k
training images and k held-out test images into the generator's latent (gan_core.projection) and compare how
closely each set is recovered. A generator that memorised its training set recovers those images much better than
unseen ones, so the ratio of the medians (train ÷ test) falls well below 1; one that generalises recovers both
alike (ratio near 1). Unlike the copy check of gan_core.metrics, which asks whether samples sit on training images,
this asks whether training images sit on the generator's output, so it catches memorisation that sampling misses.

The projection's loss is pixel error plus a |z| prior only: no classifier features, so this measure is not
optimised against the features FID and the Evaluate page's other numbers use. As context, each test image's
distance to its nearest training image (exact, over all 60,000) is what a generator that only copies training
images could reach at best.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_core.cards import trained_classes
from gan_core.data import class_index, load_split
from gan_core.projection import Progress, ProjectionSettings, dataset_images, project
from gan_core.sampling import as_generator, nearest_real

DEFAULT_K = 50
MAX_K = 1000
DATASET_LABELS = "dataset labels"  # how a conditional generator's images are projected: each with its true class
READING = "ratio near 1 = generalises (unseen images recovered as closely as training ones); well below 1 = memorises"
EXPLANATION = (
    "Latent recovery (Webster et al., CVPR 2019) projects training images and held-out test images into the "
    "generator's latent space and compares how closely it can reproduce each. A generator that memorised its training "
    "set recovers those images much better than unseen ones: the ratio train ÷ test falls well below 1. Near 1, it "
    "reproduces images it never saw as well as those it trained on: it generalises. The nearest-training-image "
    "distance of the test images is what a generator that only copied training images could reach at best. The "
    "projection's loss is pixel error plus a |z| prior only, with no classifier features, so this measure is not "
    "optimised against the features FID (Fashion classifier) uses. Distances are pixel L2 with pixels in [0, 1].")


@dataclass(frozen=True)
class Recovery:
    """The medians of one latent-recovery measurement; pixel L2 with pixels in [0, 1] over 784 values."""

    n_train: int
    n_test: int
    train_median: float          # median projection L2 on n_train training images
    test_median: float           # ... on n_test held-out test images
    nearest_train_median: float  # median L2 of those test images to their nearest training image (all 60,000)
    seed: int
    steps: int                   # projection steps per image
    seconds: float
    labels: str = ""             # DATASET_LABELS for a conditional generator, "" otherwise
    classes: tuple[str, ...] = ()  # the class subset the images were drawn from (() = all ten)

    @property
    def ratio(self) -> float:
        """train ÷ test median: near 1 generalises, well below 1 memorises (NaN when the test median is 0)."""
        return self.train_median / self.test_median if self.test_median > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["ratio"] = self.ratio  # for readers of a card; from_dict recomputes it
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recovery:
        """A Recovery from to_dict()'s output (a card's "latent_recovery"); a ValueError says what is missing."""
        if not isinstance(d, dict):
            raise ValueError(f"a latent recovery is a dict, got {type(d).__name__}")
        out: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                if f.name in ("labels", "classes"):
                    continue
                raise ValueError(f"latent recovery is missing {f.name!r}")
            value = d[f.name]
            try:
                if f.name in ("n_train", "n_test", "seed", "steps"):
                    if isinstance(value, bool) or int(value) != value:
                        raise TypeError
                    out[f.name] = int(value)
                elif f.name == "labels":
                    out[f.name] = str(value)
                elif f.name == "classes":
                    out[f.name] = tuple(str(c) for c in value)
                else:  # strict JSON writes NaN as null
                    out[f.name] = math.nan if value is None else float(value)
            except (TypeError, ValueError):
                raise ValueError(f"latent recovery {f.name!r} has an unreadable value {value!r}") from None
        return cls(**out)

    def describe(self) -> str:
        """One line for the terminal and the cards' readers, with the n of each median."""
        line = (f"latent recovery: train {self.train_median:.2f} (n {self.n_train}), held-out test "
                f"{self.test_median:.2f} (n {self.n_test}), ratio {self.ratio:.2f}; the test images' nearest training "
                f"images lie at {self.nearest_train_median:.2f} (pixel L2, pixels in [0, 1])")
        extras = []
        if self.classes:
            extras.append(f"images of {', '.join(self.classes)} only (the classes it was trained on)")
        if self.labels:
            extras.append(f"each projected with its {self.labels}")
        return line + "".join(f"; {e}" for e in extras)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(measure, median, n, how to read it) for the Evaluate page's table."""
        return [
            ("Training images: projection L2 (median)", f"{self.train_median:.2f}", f"{self.n_train:,}",
             "how closely the generator reproduces images it trained on"),
            ("Held-out test images: projection L2 (median)", f"{self.test_median:.2f}", f"{self.n_test:,}",
             "the same for images it never saw"),
            ("Ratio train ÷ test", f"{self.ratio:.2f}", f"{self.n_train:,} + {self.n_test:,}", READING),
            ("Test images to their nearest training image: L2 (median)", f"{self.nearest_train_median:.2f}",
             f"{self.n_test:,} against all 60,000",
             "the best a generator that only copied training images could do on them"),
        ]


def pick_images(classes: tuple[str, ...], k: int, seed: int, train_labels: np.ndarray, test_labels: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The k training and k test indices latent recovery projects: drawn without replacement by a numpy
    Generator(seed), among the images of `classes` only (() = all ten), so a class-subset generator is asked to
    recover only the kind of clothes it learnt. Sorted, for reading."""
    targets = [class_index(c) for c in classes]
    rng = np.random.default_rng(seed)
    out = []
    for labels, split in ((train_labels, "training"), (test_labels, "test")):
        pool = np.flatnonzero(np.isin(labels, targets)) if targets else np.arange(len(labels))
        if k > len(pool):
            raise ValueError(f"k = {k} is more than the {len(pool):,} {split} images of the generator's classes")
        out.append(np.sort(rng.choice(pool, k, replace=False)))
    return out[0], out[1]


def latent_recovery(generator: Any, k: int = DEFAULT_K, seed: int = 0, *, settings: ProjectionSettings | None = None,
                    progress: Callable[[float], None] | None = None, data_dir: str | Path | None = None) -> Recovery:
    """Project k training and k test images (drawn with `seed`) and return their median reconstruction errors.

    `generator`: a LoadedGenerator (a class-subset run draws only images of its classes) or a bare Generator.
    A conditional generator projects each image with its dataset label, so the race cannot pick an easier class.
    `settings` default to ProjectionSettings(seed=seed); `progress` gets the fraction done, 0 to 1.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ValueError(f"latent recovery k must be an integer between 1 and {MAX_K:,} (got {k!r})")
    k = int(k)
    g = as_generator(generator)
    classes = trained_classes(generator)
    settings = settings or ProjectionSettings(seed=seed)
    t0 = time.perf_counter()
    train, test = load_split("train", data_dir=data_dir), load_split("test", data_dir=data_dir)
    train_idx, test_idx = pick_images(classes, k, seed, train.labels, test.labels)
    x_train, y_train, _ = dataset_images(train.images, train.labels, "train", train_idx)
    x_test, y_test, _ = dataset_images(test.images, test.labels, "test", test_idx)
    x, y = torch.cat([x_train, x_test]), torch.cat([y_train, y_test])

    def report(p: Progress) -> None:
        if progress is not None:
            progress(0.95 * min(max(p.fraction, 0.0), 1.0))

    # One call for both sets: in eval mode every image is optimised independently of its batch neighbours.
    proj = project(g, x, y if g.num_classes else None, settings=settings, progress=report)
    error = proj.error.numpy()
    _, nearest = nearest_real(x_test, train.images, k=1)
    if progress is not None:
        progress(1.0)
    return Recovery(
        n_train=k, n_test=k, train_median=float(np.median(error[:k])), test_median=float(np.median(error[k:])),
        nearest_train_median=float(np.median(nearest[:, 0])), seed=seed, steps=settings.steps,
        seconds=round(time.perf_counter() - t0, 2), labels=DATASET_LABELS if g.num_classes else "", classes=classes)


__all__ = ["DATASET_LABELS", "DEFAULT_K", "EXPLANATION", "MAX_K", "READING", "Recovery", "latent_recovery", "pick_images"]


def with_recovery(card: dict[str, Any], recovery: dict[str, Any]) -> dict[str, Any]:
    """A copy of the card with a latent recovery (Recovery.to_dict()) under "latent_recovery", every other key kept.

    Its own key, not inside "metrics": a different measurement (real images projected, with its own k and seed),
    so the quality bar and `recheck` read the evaluation exactly as before. Checked by Recovery.from_dict, so a
    card never carries a malformed one; NaN (a zero test median) is stored as null to keep the card strict JSON.
    """
    checked = Recovery.from_dict(recovery).to_dict()
    strict = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in checked.items()}
    return {**card, "latent_recovery": strict}
