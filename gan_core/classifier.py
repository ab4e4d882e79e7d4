"""The Fashion-MNIST classifier that the metrics see through.

There are no Inception weights for 28×28 grayscale clothes, so — as with LeNet
features for MNIST — a small CNN trained on the same data provides the feature
space: its 128-d penultimate layer for Fréchet distance and precision/recall,
its softmax for the Inception-style score and class coverage. It reads images
in [-1, 1], exactly what the generators output, so nothing is rescaled between
a generator and a metric.

The weights ship in `weights/classifier/` as safetensors (never pickle) with a
JSON card that records the test accuracy and the command that trained them.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save
from torch import nn

from gan_core.data import CLASS_NAMES, load_split
from gan_core.paths import CLASSIFIER_PATH, atomic_write_bytes, atomic_write_text
from gan_core.runtime import set_threads
from gan_core.tensorfile import parse_safetensors

FORMAT_CLASSIFIER = "fashion-gan-studio/classifier/1"
FEATURE_DIM = 128
TRAIN_COMMAND = "python -m gan_core train-classifier"


def classifier_path() -> Path:
    """The shipped weights, unless $GAN_STUDIO_CLASSIFIER points elsewhere (tests, a retrained copy)."""
    return Path(os.environ.get("GAN_STUDIO_CLASSIFIER") or CLASSIFIER_PATH)


class ClassifierError(ValueError):
    """The classifier weights are missing or unusable; the message says how to rebuild them."""


class FashionClassifier(nn.Module):
    """Two conv blocks (32 then 64 channels), a 128-d feature layer, 10 logits.

    Batch norm before every ReLU lets it reach 93.3 % test accuracy in 10 epochs (the shipped weights).
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, dropout: float = 0.3) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *conv(1, 32), *conv(32, 32), nn.MaxPool2d(2),       # 28 -> 14
            *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),      # 14 -> 7
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(64 * 7 * 7, feature_dim, bias=False), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True),
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, len(CLASS_NAMES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N,1,28,28) in [-1,1] -> (N,128): the penultimate activations the metrics compare."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- inference
@torch.no_grad()
def embed(clf: FashionClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (float32) and softmax probabilities of a batch of [-1,1] images, in chunks."""
    _check_images(images)
    feats, probs = [], []
    for start in range(0, len(images), batch_size):
        f = clf.features(images[start : start + batch_size].float())
        feats.append(f)
        probs.append(torch.softmax(clf.head(f), dim=1))
    if not feats:
        return torch.zeros(0, FEATURE_DIM), torch.zeros(0, len(CLASS_NAMES))
    return torch.cat(feats), torch.cat(probs)


def predict(clf: FashionClassifier, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted class ids (N,) of (N,1,28,28) images in [-1,1]."""
    return embed(clf, images, batch_size)[1].argmax(1)


def _check_images(images: torch.Tensor) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"the classifier reads (N,1,28,28) images in [-1,1]; got shape {tuple(images.shape)}")


# ----------------------------------------------------------------------------- loading
_CACHE: dict[tuple[str, int, int, str], FashionClassifier] = {}
_CACHE_LOCK = threading.Lock()


def _missing_message(path: Path, why: str) -> str:
    return (f"the Fashion-MNIST classifier {path} {why}. The metrics need it; rebuild it with "
            f"`{TRAIN_COMMAND}` (10 epochs; 50 minutes on one shared CPU core here), "
            "or restore weights/classifier/ from the repository.")


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> FashionClassifier:
    """The classifier in eval mode, loaded once per process (keyed by path, size and mtime)."""
    p = Path(path) if path is not None else classifier_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ClassifierError(_missing_message(p, "is missing")) from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, str(device))
    with _CACHE_LOCK:
        clf = _CACHE.get(key)
        if clf is None:
            clf = _read(p).to(device).eval()
            for stale in [k for k in _CACHE if k[0] == key[0] and k[3] == key[3]]:
                del _CACHE[stale]
            _CACHE[key] = clf
    return clf


def _read(path: Path) -> FashionClassifier:
    data = path.read_bytes()
    try:
        tensors, meta = parse_safetensors(data)
    except ValueError as exc:
        raise ClassifierError(_missing_message(path, f"is not a readable safetensors file ({exc})")) from None
    if meta.get("format") != FORMAT_CLASSIFIER:
        raise ClassifierError(_missing_message(path, f"is not a Fashion GAN Studio classifier (format {meta.get('format')!r})"))
    with torch.random.fork_rng(devices=[]):  # initialising layers draws from the global RNG; a training run must not notice
        clf = FashionClassifier(feature_dim=int(meta.get("feature_dim", FEATURE_DIM)))
    try:
        clf.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ClassifierError(_missing_message(path, f"does not fit the classifier network ({first})")) from None
    return clf


def classifier_card(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON card written next to the weights ({} when absent or unreadable)."""
    try:
        return json.loads(Path(path or classifier_path()).with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def save_classifier(path: str | Path, clf: FashionClassifier, card: dict[str, Any]) -> None:
    state = {k: v.detach().cpu().contiguous().clone() for k, v in clf.state_dict().items()}
    meta = {"format": FORMAT_CLASSIFIER, "feature_dim": str(clf.head.in_features), "card": json.dumps(card)}
    atomic_write_bytes(path, st_save(state, metadata=meta))
    atomic_write_text(Path(path).with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    for written in (Path(path), Path(path).with_suffix(".json")):
        written.chmod(0o644)  # shipped files: readable by everyone, like the rest of the repository
    with _CACHE_LOCK:
        _CACHE.clear()


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class ClassifierSettings:
    """What `train_classifier` was asked for: checked once, and written into the card and its command line."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    threads: int = 1
    max_images: int | None = None
    out_path: str | Path = CLASSIFIER_PATH

    def __post_init__(self) -> None:
        for name, value, lo in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 8),
                                ("threads", self.threads, 0)):
            if not isinstance(value, int) or value < lo:
                raise ValueError(f"{name} must be an integer ≥ {lo} (got {value!r})")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (got {self.lr!r})")

    def command(self) -> str:
        """The command line that trains these weights again."""
        return (f"{TRAIN_COMMAND} --epochs {self.epochs} --batch-size {self.batch_size} --lr {self.lr} "
                f"--seed {self.seed} --threads {self.threads}"
                + (f" --max-images {self.max_images}" if self.max_images else "")
                + (f" --out {shlex.quote(str(self.out_path))}" if Path(self.out_path) != CLASSIFIER_PATH else ""))


@dataclass
class _Running:
    """Loss and accuracy over the epoch's batches so far, for the progress bar."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0

    def add(self, loss: float, correct: int, n: int) -> None:
        self.loss += loss * n
        self.correct += correct
        self.seen += n


def _augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random shifts of up to `max_shift` px and left-right flips: clothes stay clothes under both."""
    n = len(x)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # -1 is the black background
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar)[:, :, None]
    cols = (dx[:, None] + ar)[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def accuracy(clf: FashionClassifier, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
    """Overall and per-class accuracy (fractions)."""
    was_training = clf.training
    clf.eval()
    pred = predict(clf, images)
    clf.train(was_training)
    correct = (pred == labels).float()
    per_class = [float(correct[labels == c].mean()) if (labels == c).any() else math.nan for c in range(len(CLASS_NAMES))]
    return float(correct.mean()), per_class


def _train_batch(clf: FashionClassifier, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
                 xb: torch.Tensor, yb: torch.Tensor) -> tuple[float, int]:
    """One optimiser and schedule step on a batch: its mean loss and how many of it the network got right."""
    logits = clf(xb)
    loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.detach()), int((logits.argmax(1) == yb).sum())


def _fit(clf: FashionClassifier, x: torch.Tensor, y: torch.Tensor, settings: ClassifierSettings, gen: torch.Generator,
         progress: bool) -> None:
    """AdamW on a one-cycle schedule over `settings.epochs` shuffles of (x, y), augmented; every shuffle and augmentation
    drawn from `gen`, in the same order on every call, so a seed gives the same weights."""
    steps_per_epoch = math.ceil(len(x) / settings.batch_size)
    opt = torch.optim.AdamW(clf.parameters(), lr=settings.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=settings.epochs * steps_per_epoch,
                                                pct_start=0.25)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.epochs * steps_per_epoch, unit="batch", dynamic_ncols=True, desc="classifier")
    clf.train()
    for epoch in range(settings.epochs):
        order = torch.randperm(len(x), generator=gen)
        running = _Running()
        for start in range(0, len(x), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            running.add(*_train_batch(clf, opt, sched, _augment(x[idx], gen), y[idx]), len(idx))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=f"{epoch + 1}/{settings.epochs}", loss=f"{running.loss / running.seen:.3f}",
                                acc=f"{running.correct / running.seen:.3f}", refresh=False)
    if bar is not None:
        bar.close()
    clf.eval()


def _card(clf: FashionClassifier, settings: ClassifierSettings, train_images: int, test_x: torch.Tensor, test_y: torch.Tensor,
          seconds: float, command: str | None) -> dict[str, Any]:
    """The JSON card shipped beside the weights: the held-out accuracy, and how to train them again."""
    test_acc, per_class = accuracy(clf, test_x, test_y)
    return {
        "name": "fashion-cnn",
        "test_accuracy": round(test_acc, 4),
        "test_images": len(test_y),
        "per_class_accuracy": {n: round(a, 4) for n, a in zip(CLASS_NAMES, per_class, strict=True)},
        "train_images": train_images,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "seed": settings.seed,
        "threads": settings.threads,
        "parameters": parameter_count(clf),
        "feature_dim": FEATURE_DIM,
        "train_seconds": round(seconds, 1),
        "command": command or settings.command(),
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "input": "(N,1,28,28) float in [-1,1], as the generators output",
        "features": "128-d penultimate activations (after batch norm and ReLU)",
    }


def train_classifier(
    epochs: int = 10, batch_size: int = 128, lr: float = 2e-3, seed: int = 0, threads: int = 1,
    out_path: str | Path = CLASSIFIER_PATH, progress: bool = True, max_images: int | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Train on the 60,000 training images, test on all 10,000, save weights + card; return the card.

    One-cycle learning rate and light augmentation; the test split is only looked at once, at the end,
    so the recorded accuracy is an honest held-out figure. The global RNG is seeded before the network is
    built (its initial weights, then dropout), `gen` draws the shuffles and augmentations: keep that order.
    """
    settings = ClassifierSettings(epochs, batch_size, lr, seed, threads, max_images, out_path)
    set_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train = load_split("train", max_images=max_images)
    test = load_split("test")
    x, y = train.to_tensor(), torch.tensor(train.labels, dtype=torch.long)
    clf = FashionClassifier()
    t0 = time.perf_counter()
    _fit(clf, x, y, settings, gen, progress)
    seconds = time.perf_counter() - t0
    test_x, test_y = test.to_tensor(), torch.tensor(test.labels, dtype=torch.long)
    card = _card(clf, settings, len(x), test_x, test_y, seconds, command)
    save_classifier(out_path, clf, card)
    return card
