"""How an evaluation reads: the numbers of one evaluation (`EvalReport`), its JSON form and its table beside the
real-data floor, with the labels that say the features are the Fashion classifier's, not Inception's."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from gan_core.data import CLASS_NAMES
from gan_core.format import number, percent
from gan_core.metrics.memorization import COPY_RATIO

FID_LABEL = "FID (Fashion classifier)"
IS_LABEL = "Inception-style score (Fashion classifier)"

@dataclass
class EvalReport:
    """All numbers of one evaluation. `kind` is "generator" or "real" (the floor)."""

    label: str
    kind: str
    n: int
    seed: int
    classes: tuple[str, ...]               # target classes; () = all ten
    reference_n: int                       # test images in the reference half
    fid: float
    inception_score: float
    precision: float
    recall: float
    k: int
    pr_n: int                              # points per manifold for precision/recall
    class_shares: tuple[float, ...]
    coverage_classes: int
    coverage_of: int
    coverage_kl: float
    off_target_share: float
    memorization_median: float | None      # median L2 (pixels in [0,1]) to the nearest training image (context only)
    memorization_n: int
    copy_ratio_median: float | None        # median nearest-training distance / that image's own neighbour distance
    copy_share: float | None               # share of samples with that ratio under COPY_RATIO: copies
    conditional_accuracy: float | None     # conditional G: share classified as the class asked for
    seconds: float
    classifier: str                        # hash of the classifier file the features came from
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["class_shares"] = {name: round(s, 4) for name, s in zip(CLASS_NAMES, self.class_shares, strict=True)}
        d["fid_label"] = FID_LABEL
        d["feature_space"] = "128-d penultimate layer of the Fashion-MNIST classifier (weights/classifier/fashion-cnn)"
        return d

    def rows(self, floor: EvalReport | None = None) -> list[tuple[str, str, str, str]]:
        """(metric, this, real-data floor, how to read it) for tables in the terminal and the app."""

        def pair(fmt: Callable[[EvalReport], str]) -> tuple[str, str]:
            return fmt(self), (fmt(floor) if floor is not None else "")

        out = [
            (FID_LABEL, *pair(lambda r: f"{r.fid:.2f}"), "lower is better; not comparable with Inception FIDs"),
            (IS_LABEL, *pair(lambda r: f"{r.inception_score:.2f}"), f"higher is better; at most {self.coverage_of}"),
            (f"Precision (k={self.k}, n={self.pr_n:,})", *pair(lambda r: self._with_n(r.precision, r.pr_n)),
             "fidelity: share of samples on the real manifold"),
            (f"Recall (k={self.k}, n={self.pr_n:,})", *pair(lambda r: self._with_n(r.recall, r.pr_n)),
             "diversity: share of real images the samples cover"),
            ("Classes with ≥ 5 % of samples", *pair(lambda r: f"{r.coverage_classes} / {r.coverage_of}"),
             "fewer than all = missing modes"),
            ("Class mix: KL from uniform", *pair(lambda r: f"{r.coverage_kl:.3f}"),
             f"0 = even; {math.log(self.coverage_of):.2f} = a single class"),
        ]
        if self.classes:
            out.append(("Share outside the trained classes", *pair(lambda r: f"{r.off_target_share:.1%}"), "lower is better"))
        if self.conditional_accuracy is not None:
            out.append(("Conditional accuracy", *pair(lambda r: percent(r.conditional_accuracy, missing="")),
                        "classified as the class asked for (floor: classifier accuracy on real images)"))
        if self.copy_share is not None:
            out.append((f"Copies of training images (n={self.memorization_n:,})",
                        *pair(lambda r: percent(r.copy_share, missing="")),
                        f"nearest training image closer than {COPY_RATIO} × its own nearest neighbour; "
                        "well above the floor = copying"))
            out.append(("Distance to nearest training image ÷ its neighbour's (median)",
                        *pair(lambda r: number(r.copy_ratio_median, missing="")),
                        "≈ 1 = as new as real unseen images (median 1.1); ≪ 1 = copies; well above = unlike training images"))
        return out

    def _with_n(self, value: float, n: int) -> str:
        """A precision/recall value, with its n when it differs from this report's (so unlike sizes show)."""
        return f"{value:.3f}" + (f" (n={n:,})" if n != self.pr_n else "")

    def table(self, floor: EvalReport | None = None) -> str:
        head = ("metric", f"{self.label} (n={self.n:,})", "real-data floor" if floor is not None else "", "reading")
        rows = [head, *self.rows(floor)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths if w))
        shares = "  ".join(f"{name} {s:.1%}" for name, s in zip(CLASS_NAMES, self.class_shares, strict=True))
        lines += ["", f"class shares (predicted): {shares}"]
        if floor is not None:
            lines.append(f"floor: {floor.n:,} real test images outside the reference, measured like the samples against "
                         f"the same {floor.reference_n:,}-image reference half of the test split")
            if floor.n < self.n:
                lines.append(f"note: only {floor.n:,} held-out real images exist for the floor; with fewer points FID reads "
                             "slightly higher, so the floor is a little pessimistic next to these samples")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)
