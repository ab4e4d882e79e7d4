"""One image at a time, by an evaluation's measures: the classifier's class and confidence, the memorization ratio
and membership of the real feature manifold, so "which result is more garment-like" (Latent arithmetic, the
`arithmetic` command) is a number."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_core.classifier import embed, load_classifier
from gan_core.data import CLASS_NAMES
from gan_core.format import percent
from gan_core.metrics.caches import Reference, reference, remember
from gan_core.metrics.maths import DEFAULT_K, kth_radius, pairwise_sq
from gan_core.metrics.memorization import COPY_RATIO, training_novelty

_MANIFOLD: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
_LOCK = threading.Lock()


def _manifold(ref: Reference, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(centre, centred reference features, their squared k-NN radii): the real manifold precision counts on."""
    key = (ref.key, k)
    with _LOCK:
        if key not in _MANIFOLD:
            feats = ref.feats[ref.half_a].float()
            centre = feats.mean(0)
            feats = feats - centre
            remember(_MANIFOLD, key, (centre, feats, kth_radius(feats, k, 1000)))
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
    inside = (pairwise_sq(feats - centre, points, (points * points).sum(1)) <= radii[None]).any(1)
    nov = training_novelty(images)
    conf, cls = probs.max(1)
    return [ImageCheck(int(c), float(p), float(d), float(r), bool(m))
            for c, p, d, r, m in zip(cls, conf, nov.distance, nov.ratio, inside, strict=True)]
