"""Measuring a generator: generate, embed in the classifier, score against the reference half of the test split,
and the same protocol applied to held-out real images (the real-data floor). `quick_evaluate` is the trainer's
periodic check: FID and class coverage only; `truncation_sweep` the same measures at several ψ."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_core.cards import trained_classes
from gan_core.classifier import embed, load_classifier
from gan_core.data import canonical_classes, load_split, target_ids
from gan_core.metrics.caches import Progress, Reference, cached_floor, keep_floor, reference, reference_stats
from gan_core.metrics.maths import (
    DEFAULT_K,
    class_coverage,
    feature_stats,
    fid_from_stats,
    inception_score,
    precision_recall,
    subsample,
)
from gan_core.metrics.memorization import COPY_RATIO, MEMORIZATION_N, memorization
from gan_core.metrics.report import EvalReport
from gan_core.models import Generator
from gan_core.sampling import as_generator, check_truncation, generate

PR_MAX = 5000  # manifold size cap: 5,000² exact distances stay a few seconds on one core
_GEN_BATCH = 500


@torch.no_grad()
def generate_for_evaluation(g: Generator, n: int, seed: int, targets: list[int], progress: Progress | None,
                            span: tuple[float, float], truncation: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n images from fixed latents (scaled by ψ = `truncation`); a conditional G is asked for the target classes in
    equal turns. Restores G's train/eval mode and never touches the global RNG."""
    asked = None
    if g.num_classes:
        asked = torch.tensor(targets, dtype=torch.long)[torch.arange(n) % len(targets)]
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
        asked = asked[perm]

    def report(done: int) -> None:
        if progress:
            progress(span[0] + (span[1] - span[0]) * done / n, f"generating {n:,} images")

    images = generate(g, n, seed, label=asked, batch=_GEN_BATCH, progress=report, truncation=truncation)
    return images.clamp(-1, 1), asked


def _score(label: str, kind: str, images: torch.Tensor, feats: torch.Tensor, probs: torch.Tensor, *, ref: Reference,
           targets: list[int], classes: tuple[str, ...], seed: int, k: int, memorization_n: int,
           asked: torch.Tensor | None, progress: Progress | None, t0: float) -> EvalReport:
    mu, cov = reference_stats(ref, targets)
    ref_feats = ref.feats[ref.indices(targets)]
    fid = fid_from_stats(*feature_stats(feats), mu, cov) if len(feats) > 1 else float("nan")
    pred = probs.argmax(1)
    cov_ = class_coverage(pred.numpy(), classes)
    if progress:
        progress(0.7, "precision and recall on the feature manifold")
    pr_n = min(PR_MAX, len(feats), len(ref_feats))
    if pr_n > k:
        precision, recall = precision_recall(subsample(ref_feats, pr_n, seed + 2), subsample(feats, pr_n, seed + 3), k)
    else:
        precision = recall = float("nan")
    if progress:
        progress(0.8, "distances to the nearest training images")
    mem = memorization(images, memorization_n, seed + 4)
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
    g = as_generator(generator)
    classes_t = canonical_classes(classes)
    targets = target_ids(classes_t)
    ref = reference(clf_path, progress)
    clf = load_classifier(clf_path)
    images, asked = generate_for_evaluation(g, n, seed, targets, progress, (0.0, 0.45), truncation)
    if progress:
        progress(0.5, f"embedding {n:,} images in the classifier")
    feats, probs = embed(clf, images)
    report = _score(label, "generator", images, feats, probs, ref=ref, targets=targets, classes=classes_t, seed=seed, k=k,
                    memorization_n=memorization_n, asked=asked, progress=progress, t0=t0)
    if truncation != 1.0:
        report.notes.append(f"truncated sampling: z scaled by ψ = {truncation:g} toward the mean latent")
    if g.num_classes and classes_t:
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
    classes_t = canonical_classes(classes)
    targets = target_ids(classes_t)
    ref = reference(clf_path, progress)
    pool = ref.indices(targets, half="b")
    n_used = len(pool) if n is None else min(int(n), len(pool))
    if n_used < 2:
        raise ValueError(f"the real-data floor needs at least 2 images (n={n})")
    key = (ref.key, classes_t, n_used, seed, k, memorization_n, COPY_RATIO)
    cached = cached_floor(key)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    idx = pool if n_used == len(pool) else np.sort(np.random.default_rng(seed).choice(pool, n_used, replace=False))
    test = load_split("test")
    images = torch.from_numpy(test.images[idx].astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    true = torch.from_numpy(ref.labels[idx])
    report = _score("real test images", "real", images, ref.feats[idx], ref.probs[idx], ref=ref, targets=targets,
                    classes=classes_t, seed=seed, k=k, memorization_n=memorization_n, asked=true, progress=progress, t0=t0)
    keep_floor(key, report)
    return report


def quick_evaluate(generator: Any, *, n: int = 2000, seed: int = 0, classes: Sequence[str] | None = ()) -> dict[str, float]:
    """The trainer's periodic check: FID and class coverage only, on n samples (about 2 s for 2,000 on one core).

    Runs under a forked RNG, so the training run's random stream is the same with or without evaluation.
    """
    with torch.random.fork_rng(devices=[]):
        g = as_generator(generator)
        classes_t = canonical_classes(classes)
        targets = target_ids(classes_t)
        ref = reference()
        clf = load_classifier()
        images, _ = generate_for_evaluation(g, n, seed, targets, None, (0.0, 1.0))
        feats, probs = embed(clf, images)
        cov = class_coverage(probs.argmax(1).numpy(), classes_t)
        fid = fid_from_stats(*feature_stats(feats), *reference_stats(ref, targets))
    return {"fid": round(fid, 3), "coverage_classes": float(cov.classes), "coverage_kl": round(cov.kl, 4)}


def truncation_sweep(g: Any, psis: Sequence[float], n: int = 1000, seed: int = 0, *,
                     classes: Sequence[str | int] | None = None) -> list[dict[str, float]]:
    """[{"psi", "fid", "precision", "recall"}] per ψ, each measured by `evaluate_generator`.

    The same seed for every ψ, so only the scaling differs; no memorization check (it does not depend on ψ's
    trade and costs a search of the training set). `classes` default: what a LoadedGenerator was trained on.
    """
    if not psis:
        raise ValueError("no ψ values to sweep")
    psis = [check_truncation(p) for p in psis]
    if classes is None:
        classes = trained_classes(g)
    out = []
    for psi in psis:
        r = evaluate_generator(g, n=n, seed=seed, classes=classes, memorization_n=0, truncation=psi, label=f"ψ = {psi:g}")
        out.append({"psi": psi, "fid": r.fid, "precision": r.precision, "recall": r.recall})
    return out
