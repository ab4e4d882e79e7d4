"""How well does a checkpoint's discriminator still tell real from generated images?

At equilibrium D cannot separate the two (AUC near 0.5); a D that separates them
perfectly (AUC near 1) has won, and its generator's samples are easy to spot.
Scores are on the logit scale (`D.logits`), so threshold 0 means "probability 0.5"
whatever the discriminator's output layer. Only training checkpoints hold a
discriminator: shipped generator files keep G alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gan_core.cards import trained_classes
from gan_core.checkpoints import NO_DISCRIMINATOR, LoadedGenerator
from gan_core.data import FashionMNIST, class_index, load_split
from gan_core.sampling import generate


@dataclass(frozen=True)
class DiscriminatorReport:
    """D's logit-scale scores on n real and n generated images."""

    scores_real: np.ndarray
    scores_fake: np.ndarray
    seed: int = 0

    @property
    def n(self) -> int:
        return len(self.scores_real)

    @property
    def accuracy_real(self) -> float:
        """Share of real images called real (score > 0)."""
        return float((self.scores_real > 0).mean())

    @property
    def accuracy_fake(self) -> float:
        """Share of generated images called fake (score <= 0)."""
        return float((self.scores_fake <= 0).mean())

    @property
    def accuracy(self) -> float:
        """Balanced accuracy at threshold 0 (both sets have n images, so it is plain accuracy too)."""
        correct = (self.scores_real > 0).sum() + (self.scores_fake <= 0).sum()
        return float(correct / (len(self.scores_real) + len(self.scores_fake)))

    @property
    def roc_auc(self) -> float:
        return roc_auc(self.scores_real, self.scores_fake)

    def histograms(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(edges, counts_real, counts_fake) over shared bins, so the two can be overlaid."""
        if bins < 1:
            raise ValueError(f"bins must be at least 1 (got {bins})")
        both = np.concatenate([self.scores_real, self.scores_fake])
        lo, hi = float(both.min()), float(both.max())
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        return edges, np.histogram(self.scores_real, edges)[0], np.histogram(self.scores_fake, edges)[0]

    def text_histogram(self, bins: int = 20, width: int = 30) -> str:
        """A terminal rendering: one row per bin, real as '#', generated as '*'."""
        edges, real, fake = self.histograms(bins)
        top = max(int(real.max()), int(fake.max()), 1)
        lines = [f"{'D logit':>19}  {'real (#)':<{width}}  generated (*)"]
        for i in range(bins):
            bar_r = "#" * round(real[i] / top * width)
            bar_f = "*" * round(fake[i] / top * width)
            lines.append(f"[{edges[i]:7.2f},{edges[i + 1]:7.2f})  {bar_r:<{width}}  {bar_f}")
        return "\n".join(lines)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney U statistic (ties count one half)."""
    pos, neg = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("ROC AUC needs at least one score of each kind")
    both = np.concatenate([pos, neg])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct value: the ties share the middle of their run of ranks.
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


@torch.no_grad()
def _scores(d: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor | None, batch: int = 500) -> np.ndarray:
    device = next(d.parameters()).device
    out = []
    for s in range(0, len(images), batch):
        y = None if labels is None else labels[s : s + batch].to(device)
        out.append(d.logits(images[s : s + batch].to(device), y).float().cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def discriminator_test(
    loaded: LoadedGenerator,
    real_images: torch.Tensor,
    real_labels: torch.Tensor | np.ndarray | Sequence[int] | None,
    n: int = 1000,
    seed: int = 0,
) -> DiscriminatorReport:
    """Score n real images (a seeded random subset) and n generated ones with the checkpoint's D.

    A conditional D sees each real image with its own label; the generated images get the
    same labels shuffled, so both sets have the same class mix (and a run trained on a few
    classes is judged on those classes if the caller passes only those real images).
    """
    g, d = loaded.generator, loaded.discriminator
    if d is None:
        raise ValueError(NO_DISCRIMINATOR.format(path=loaded.path))
    if real_images.ndim != 4 or tuple(real_images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"real images must be (N,1,28,28) in [-1,1]; got shape {tuple(real_images.shape)}")
    if not 1 <= n <= len(real_images):
        raise ValueError(f"n must be between 1 and the {len(real_images)} real images available (got {n})")
    conditional = bool(d.num_classes)
    if conditional and real_labels is None:
        raise ValueError("this discriminator is class-conditional: pass the real images' labels")
    rng = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(real_images), generator=rng)[:n]
    real = real_images[pick].float()
    labels_real = None
    if conditional:
        all_labels = torch.from_numpy(np.array(real_labels, dtype=np.int64))
        if len(all_labels) != len(real_images):
            raise ValueError(f"{len(all_labels)} labels given for {len(real_images)} real images")
        labels_real = all_labels[pick]
    labels_fake = labels_real[torch.randperm(n, generator=rng)] if labels_real is not None else None

    d.eval()
    fake = generate(g, n, seed, label=labels_fake if g.num_classes else None)
    return DiscriminatorReport(_scores(d, real, labels_real), _scores(d, fake, labels_fake), seed)


def real_test_set(loaded: LoadedGenerator, data_dir: str | None = None, test: FashionMNIST | None = None,
                  ) -> tuple[torch.Tensor, np.ndarray, tuple[str, ...]]:
    """The test split's images and labels, limited to the classes the run trained on (all ten when it trained on all),
    and those classes (`gan_core.cards.trained_classes`). `test`: the split already loaded (the app's cached copy)."""
    if test is None:
        test = load_split("test", data_dir=data_dir or None)
    classes = trained_classes(loaded)
    keep = np.isin(test.labels, [class_index(c) for c in classes]) if classes else np.ones(len(test), dtype=bool)
    return test.to_tensor()[keep], np.asarray(test.labels)[keep], classes
