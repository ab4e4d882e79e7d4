"""Making images from a trained generator: seeded grids, class and code grids, interpolation, the truncation trick,
the Sample page's and the `sample` command's modes (`sample_images`) and the nearest real images of an image.

How new an image is next to the training set (memorization) is measured in gan_core.metrics.memorization."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gan_core.data import class_index
from gan_core.latent import Latent, blend, lerp, planted_codes
from gan_core.models import Generator


def as_generator(g: Any) -> Generator:
    """The Generator of a LoadedGenerator, or the module itself: what every function taking "a generator" accepts."""
    g = getattr(g, "generator", g)
    if not isinstance(g, Generator):
        raise ValueError(f"expected a generator (gan_core.models.Generator or LoadedGenerator), got {type(g).__name__}")
    return g


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """The same seed always gives the same z, whatever else has used the global RNG."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def truncated_latents(n: int, latent_dim: int, psi: float, seed: int) -> torch.Tensor:
    """z(seed) scaled by ψ toward the mean latent (0): the truncation trick's quality/diversity trade.

    ψ = 1 is exactly `latents(n, latent_dim, seed)`; ψ → 0 pulls every z to the mean, so all images become one.
    Scaling keeps the argmax of z's first entries, so an InfoGAN code read off z is unchanged.
    """
    psi = check_truncation(psi)
    z = latents(n, latent_dim, seed)
    return z if psi == 1.0 else z * psi


def check_truncation(psi: float) -> float:
    """ψ as a float, or a ValueError saying the range: ψ ≤ 0 has no images left to choose from, ψ > 1 is no truncation."""
    psi = float(psi)
    if not 0.0 < psi <= 1.0:
        raise ValueError(f"truncation ψ must be in (0, 1] (got {psi:g}): 1 is plain sampling, smaller trades diversity "
                         "for quality")
    return psi


@torch.no_grad()
def generate(
    g: Generator, n: int, seed: int = 0, label: int | str | Sequence[int] | torch.Tensor | None = None, *,
    z: torch.Tensor | None = None, codes: torch.Tensor | None = None, batch: int = 500,
    progress: Callable[[int], None] | None = None, truncation: float = 1.0,
) -> torch.Tensor:
    """(n,1,28,28) images in [-1, 1] from z(seed), in batches; G's train/eval mode is left as it was.

    `label` is one class for all, one per image, or one mix of classes (n, num_classes) per image (conditional G
    only); `codes` (n, info_codes) replace the InfoGAN codes read off z (see `Generator.forward`); `progress(done)`
    after each batch. `truncation` ψ scales z(seed) toward the mean latent (`truncated_latents`); a given `z` is used
    as it is.
    """
    if not 1 <= n <= 50_000:
        raise ValueError(f"n must be between 1 and 50000 (got {n})")
    check_truncation(truncation)
    device = next(g.parameters()).device
    z = truncated_latents(n, g.latent_dim, truncation, seed) if z is None else z
    labels = labels_for(g, n, label)
    was_training = g.training
    g.eval()
    out = []
    try:
        for s in range(0, n, batch):
            y = None if labels is None else labels[s : s + batch].to(device)
            c = None if codes is None else codes[s : s + batch].to(device)
            out.append(g(z[s : s + batch].to(device), y, c).float().cpu())
            if progress is not None:
                progress(min(s + batch, n))
    finally:
        g.train(was_training)
    return torch.cat(out)


def labels_for(g: Generator, n: int, label: int | str | Sequence[int] | torch.Tensor | None) -> torch.Tensor | None:
    if not g.num_classes:
        if label is not None:
            raise ValueError("this generator is unconditional: it cannot be asked for a class")
        return None
    if label is None:  # a conditional G with no class asked: cycle through the classes
        return torch.arange(n) % g.num_classes
    if isinstance(label, (int, str)):
        return torch.full((n,), class_index(label), dtype=torch.long)
    if isinstance(label, torch.Tensor) and label.is_floating_point() and label.ndim == 2:
        labels = label  # mixes of one-hots, whose width G checks (`Generator.label_input`)
    elif isinstance(label, torch.Tensor):
        labels = label.long()
        if len(labels) and (labels.min() < 0 or labels.max() >= g.num_classes):
            raise ValueError(f"labels must be class indices 0..{g.num_classes - 1}")
    else:
        labels = torch.as_tensor([class_index(x) for x in label], dtype=torch.long)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels given for {n} images")
    return labels


@torch.no_grad()
def class_grid(g: Generator, per_class: int = 10, seed: int = 0) -> torch.Tensor:
    """10 x per_class images, row r = class r, the same z in every row (so columns share a style)."""
    if not g.num_classes:
        raise ValueError("a class-by-row grid needs a class-conditional generator")
    z = latents(per_class, g.latent_dim, seed).repeat(g.num_classes, 1)
    labels = torch.arange(g.num_classes).repeat_interleave(per_class)
    return generate(g, len(z), z=z, label=labels.tolist())


@torch.no_grad()
def code_grid(g: Generator, per_code: int = 10, seed: int = 0) -> torch.Tensor:
    """info_codes x per_code images, row r = InfoGAN code r, the same z in every row: what each code switches."""
    k = g.cfg.info_codes
    if not k:
        raise ValueError("a code-by-row grid needs a generator trained with an InfoGAN code (info_codes > 0)")
    z = latents(per_code, g.latent_dim, seed).repeat(k, 1)
    return generate(g, len(z), z=z, codes=planted_codes(k, per_code))


def code_rows_classes(images: torch.Tensor, rows: int, classifier: torch.nn.Module | None = None) -> list[tuple[int, int]]:
    """(class the shipped classifier sees most, its count) per row of a code grid: what each code learned.

    Raises ClassifierError when the classifier file is missing or broken.
    """
    from gan_core.classifier import load_classifier, predict

    return row_majorities(predict(classifier or load_classifier(), images), rows)


def row_majorities(predicted: torch.Tensor, rows: int) -> list[tuple[int, int]]:
    """(most frequent class, its count) of each of `rows` equal rows of predicted class ids."""
    out = []
    for row in predicted.reshape(rows, -1):
        counts = torch.bincount(row)
        out.append((int(counts.argmax()), int(counts.max())))
    return out


@torch.no_grad()
def interpolate(g: Generator, seed_a: int, seed_b: int, steps: int = 10, label: int | str | None = None,
                spherical: bool = True, label_b: int | str | None = None) -> torch.Tensor:
    """Images along the path from z(seed_a) to z(seed_b); slerp keeps |z| typical for a Gaussian.

    An InfoGAN code moves linearly from A's to B's (see `gan_core.latent.blend`), and so does a conditional G's
    label from class `label` to class `label_b` (None: the same class all along), its one-hot being part of the
    latent too.
    """
    a, b = Latent(latents(1, g.latent_dim, seed_a)[0]), Latent(latents(1, g.latent_dim, seed_b)[0])
    z, codes = blend(a, b, steps, g.cfg.info_codes, spherical=spherical)
    labels = label
    if g.num_classes and label_b is not None:
        if label is None:
            raise ValueError("a strip that ends at class label_b needs the class it starts from (label)")
        ends = F.one_hot(torch.tensor([class_index(label), class_index(label_b)]), g.num_classes)
        labels = lerp(ends[0], ends[1], steps)
    return generate(g, steps, z=z, codes=codes, label=labels if g.num_classes else None)


# ----------------------------------------------------------------------------- the modes
SAMPLE_MODES = ("mixed", "one", "grid", "codes", "interpolate")


@dataclass(frozen=True)
class SampleRequest:
    """What to draw, as the Sample page's widgets and the `sample` command's flags both say it.

    mode: "mixed" (n images from z(seed), a conditional G cycling its classes), "one" (n images of class `cls`),
    "grid" (class-by-row: each class a row, columns sharing z), "codes" (InfoGAN code-by-row, columns sharing z) or
    "interpolate" (a strip of n images from z(seed) to z(seed_b)). A grid has n // rows images a row (at least 1).
    """

    mode: str = "mixed"
    n: int = 64
    seed: int = 0
    cls: int | str | None = None    # "one": the class; "interpolate": the class the strip starts from (default 0)
    psi: float = 1.0                # truncation ψ of "mixed" and "one"
    seed_b: int = 1                 # "interpolate": the seed the strip ends at
    cls_b: int | str | None = None  # "interpolate": the class the label blends into (None: the same class all along)


@dataclass(frozen=True)
class Samples:
    images: torch.Tensor  # (n, 1, 28, 28) in [-1, 1]
    nrow: int | None      # images a row the mode fixes (a grid's row, a whole strip); None leaves it to the caller
    label: int | str | None = None  # the class asked for ("one"), or the class an interpolation starts from


def sample_images(g: Generator, request: SampleRequest) -> Samples:
    """The images of one request (see `SampleRequest`): the one dispatch of the sample modes."""
    mode, n, seed = request.mode, request.n, request.seed
    if mode not in SAMPLE_MODES:
        raise ValueError(f"unknown sample mode {mode!r}: choose one of {', '.join(SAMPLE_MODES)}")
    if mode == "grid":
        per = n // (g.num_classes or 10) or 1
        return Samples(class_grid(g, per_class=per, seed=seed), per)
    if mode == "codes":
        per = n // (g.cfg.info_codes or 1) or 1
        return Samples(code_grid(g, per_code=per, seed=seed), per)
    if mode == "interpolate":
        if not g.num_classes and (request.cls is not None or request.cls_b is not None):
            raise ValueError("this generator is unconditional: it cannot be asked for a class")
        start = (request.cls if request.cls is not None else 0) if g.num_classes else None
        strip = interpolate(g, seed, request.seed_b, steps=n, label=start, label_b=request.cls_b)
        return Samples(strip, n, start)
    label = request.cls if mode == "one" else None
    return Samples(generate(g, n, seed=seed, label=label, truncation=request.psi), None, label)


def nearest_real(
    images: torch.Tensor, real: np.ndarray, k: int = 5, chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and L2 distances (pixels in [0,1], over 784 values) of the k nearest real images to each image.

    `real` is the (N,28,28) uint8 array of a split; the search is exact and chunked to bound memory.
    """
    q = ((images.reshape(len(images), -1).float() + 1) / 2).clamp(0, 1)
    q_sq = (q**2).sum(1, keepdim=True)
    best_d = torch.full((len(q), k), float("inf"))
    best_i = torch.zeros((len(q), k), dtype=torch.long)
    for start in range(0, len(real), chunk):
        r = torch.from_numpy(np.asarray(real[start : start + chunk], dtype=np.float32).reshape(-1, 784) / 255.0)
        d2 = (q_sq - 2 * q @ r.T + (r**2).sum(1)[None]).clamp_min(0)
        cand_d = torch.cat([best_d, d2], 1)
        cand_i = torch.cat([best_i, torch.arange(start, start + len(r))[None].expand(len(q), -1)], 1)
        best_d, pos = cand_d.topk(k, dim=1, largest=False)
        best_i = cand_i.gather(1, pos)
    return best_i.numpy(), best_d.sqrt().numpy()
