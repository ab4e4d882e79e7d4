"""Honest numbers for a generator, each with the score real data gets beside it.

Everything is measured through the Fashion-MNIST classifier (gan_core.classifier),
not Inception: Fréchet distance in its 128-d penultimate features — always called
"FID (Fashion classifier)", because it is not comparable with published Inception
FIDs —, an Inception-style score from its softmax, class coverage from its
predictions, and precision/recall on the k-NN feature manifold (Kynkäänniemi et
al. 2019). A memorization check divides each sample's pixel distance to its nearest
training image by that image's own distance to its nearest other training image
(gan_core.metrics.memorization): raw pixel distances call dark or blurry images copies,
the ratio does not (≈ 1 for real unseen images, ≪ 1 for a copy).

The reference is a fixed, class-stratified half of the test split (5,000 images).
The other half plays a perfect generator: the *real-data floor*, so every number
comes with the value that real, unseen images reach under the same protocol.
Reference features are cached on disk (keyed by the classifier file's hash) and
in memory, so a training run's periodic evaluation only embeds its own samples.

The package, one job a module:

    maths          FID, Inception-style score, class coverage, precision/recall: pure functions of tensors
    caches         the test split's features, reference statistics and real-data floors (memory and disk)
    memorization   nearest training images, the novelty ratio, copies (`COPY_RATIO`)
    report         `EvalReport`: one evaluation's numbers, as JSON and as a table beside the floor
    evaluation     `evaluate_generator`, `real_floor`, `quick_evaluate` (the trainer's), `truncation_sweep`
    checks         `image_checks`: one image at a time, for Latent arithmetic's verdict

The names callers use are re-exported here, so `from gan_core import metrics; metrics.evaluate_generator(...)`
and `from gan_core.metrics import FID_LABEL` keep working.
"""

from __future__ import annotations

from gan_core.metrics.caches import MAX_CACHED, REFERENCE_SEED, Reference, classifier_hash, reference, remember
from gan_core.metrics.checks import ImageCheck, image_checks
from gan_core.metrics.evaluation import PR_MAX, evaluate_generator, quick_evaluate, real_floor, truncation_sweep
from gan_core.metrics.maths import (
    COVERAGE_THRESHOLD,
    DEFAULT_K,
    Coverage,
    class_coverage,
    fid_from_features,
    fid_from_stats,
    inception_score,
    precision_recall,
)
from gan_core.metrics.memorization import (
    COPY_RATIO,
    MEMORIZATION_N,
    Memorization,
    NearestPair,
    Novelty,
    memorization,
    memorization_pairs,
    novelty,
    training_novelty,
    training_spacing,
)
from gan_core.metrics.report import FID_LABEL, IS_LABEL, EvalReport

_remember = remember  # the name the run-folder tests know the bounded cache by

__all__ = [
    "COPY_RATIO", "COVERAGE_THRESHOLD", "DEFAULT_K", "FID_LABEL", "IS_LABEL", "MAX_CACHED", "MEMORIZATION_N", "PR_MAX",
    "REFERENCE_SEED", "Coverage", "EvalReport", "ImageCheck", "Memorization", "NearestPair", "Novelty", "Reference",
    "class_coverage", "classifier_hash", "evaluate_generator", "fid_from_features",
    "fid_from_stats", "image_checks", "inception_score", "memorization", "memorization_pairs", "novelty",
    "precision_recall", "quick_evaluate", "real_floor", "reference", "remember", "training_novelty",
    "training_spacing", "truncation_sweep",
]
