"""Projecting real images into a generator's latent space (GAN inversion by optimisation).

Given images x (N, 1, 28, 28) in [-1, 1], find for each the full latent a generator decodes into the image closest
to it: z, the class label of a conditional generator, and the InfoGAN code of a generator with one. What is
optimised, and why (measured with `dcgan-cond` on held-out test images; every attempt is in `benchmarks/README.md`,
"Projection"):

- **Loss**: the pixel mean squared error, plus a prior term `prior · (|z|/√d − 1)²` that keeps z on the shell
  where a Gaussian latent lives, so the projected latent behaves like a sampled one in latent arithmetic and along
  directions (it also fits better: without it the median L2 was 1.49 against 1.42). No feature term: in particular
  none from the shipped classifier, which FID and the Evaluate page's measures use. So the classifier's agreement
  with a projection's true class, and its precision check, are measures this optimisation never saw.
- **Adam with a high learning rate** (0.5, warmed up over the first 5 % of steps and ramped down over the last
  25 %, as stylegan2-ada's projector ramps) and **many steps rather than many starts**: 16 starts did no better
  than 4, 1,000 steps much better than 300.
- **bf16 where it is native** (`precision` "auto", `gan_core.runtime.native_bf16`): G's passes in bf16 autocast run
  2.5× faster on this machine's AMX CPU at the same fit per step, which buys the steps; errors and the returned
  reconstructions are fp32. For one image at a time the step's fixed overhead dominates and bf16 gains little.
- **The best z seen is kept**, not the last: a high learning rate can jump out of a basin late.
- **A race for the discrete part**: the label of a conditional generator (when not given) and the InfoGAN code
  are not differentiable, so every image starts one candidate per option (each class, each code), all optimised
  together for `race_steps`; the candidate with the lowest loss goes on alone. Given labels need no race, and the
  `starts` random starts race the same way.
- **The code stays readable off z**: a generator with an InfoGAN code reads it as the argmax of z's first K entries.
  A candidate for code c starts from a Gaussian z with that argmax swapped into place, and after every step z[c]
  is kept the largest of those entries, so `G(z)` decodes exactly the projection, with no code stored beside z.
- Deterministic for a seed (on one machine and thread count): the starts come from a seeded `torch.Generator`.

The generator is put in eval mode (BatchNorm from its running statistics, so every image is independent of the
others in its batch) and its weights are never changed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as st_save

from gan_core.data import CLASS_NAMES
from gan_core.latent import Latent
from gan_core.models import Generator
from gan_core.paths import atomic_write_bytes
from gan_core.runtime import PRECISIONS, use_bf16
from gan_core.sampling import as_generator
from gan_core.tensorfile import parse_safetensors

FORMAT_LATENTS = "fashion-gan-studio/latents/1"
MAX_IMAGES = 10_000          # per call: enough for the recovery metric, bounded for memory
MAX_LATENTS_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ProjectionSettings:
    """How hard to look. The defaults meet `benchmarks/projection.py`'s aims for `dcgan-cond` on this machine."""

    steps: int = 1200         # Adam steps the kept candidate takes, race included
    lr: float = 0.5
    prior: float = 0.1        # weight of (|z|/√d − 1)²
    starts: int = 2           # random starts per image (at least one per class or code, when those race)
    race_steps: int = 30      # steps every candidate takes before each image keeps its best one
    seed: int = 0
    batch: int = 128          # images optimised together (memory: batch × candidates images through G)
    progress_every: int = 10  # steps between progress reports
    # "auto": G's passes in bf16 autocast where bf16 is native (gan_core.runtime.native_bf16), else "fp32"; the
    # final reconstructions and errors are always computed in fp32
    precision: str = "auto"

    def __post_init__(self) -> None:
        checks = (("steps", self.steps, 1, 5000), ("starts", self.starts, 1, 64), ("batch", self.batch, 1, 4096),
                  ("race_steps", self.race_steps, 0, self.steps), ("progress_every", self.progress_every, 1, 5000))
        for name, value, lo, hi in checks:
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"projection {name} must be an integer in [{lo}, {hi}] (got {value!r})")
        if self.precision not in PRECISIONS:
            raise ValueError(f"projection precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        for name, value, hi in (("lr", self.lr, 10.0), ("prior", self.prior, 100.0)):
            if not isinstance(value, (int, float)) or not 0 <= value <= hi or (name == "lr" and value == 0):
                raise ValueError(f"projection {name} must be a number in {'(0' if name == 'lr' else '[0'}, {hi:g}] "
                                 f"(got {value!r})")


@dataclass(frozen=True)
class Progress:
    """What a page shows while a projection runs: where it is, and the best reconstruction of each image so far."""

    step: int                     # steps taken by the current batch of images
    steps: int
    done: int                     # images finished before the current batch
    total: int                    # images in all
    error: torch.Tensor           # (batch,) pixel L2 of each image's best candidate so far
    reconstruction: torch.Tensor  # (batch, 1, 28, 28) in [-1, 1]

    @property
    def fraction(self) -> float:
        return (self.done + len(self.error) * self.step / self.steps) / self.total


@dataclass(frozen=True)
class Projection:
    """The projected latents of N images and how close their decodings come."""

    z: torch.Tensor                # (N, latent_dim) float32; an InfoGAN code is the argmax of its first K entries
    labels: torch.Tensor | None    # (N,) int64 class indices for a conditional generator, else None
    reconstruction: torch.Tensor   # (N, 1, 28, 28) in [-1, 1]: exactly G(z, labels) in eval mode
    error: torch.Tensor            # (N,) pixel L2 to the target, pixels in [0, 1] over 784 values
    targets: torch.Tensor          # (N, 1, 28, 28) in [-1, 1]: the images projected
    steps: int                     # Adam steps the kept candidate of each image took
    seconds: float
    labels_given: bool             # the labels were given (not chosen by the race)
    codes: torch.Tensor | None = None  # (N,) int64: the InfoGAN code each z carries, for a generator with one
    settings: ProjectionSettings = field(default_factory=ProjectionSettings)

    def __len__(self) -> int:
        return len(self.z)

    def latent(self, i: int) -> Latent:
        """Image i's latent for latent arithmetic and directions (its code is read off z)."""
        return Latent(self.z[i].clone())

    def label(self, i: int) -> int | None:
        return None if self.labels is None else int(self.labels[i])

    @property
    def z_norm(self) -> torch.Tensor:
        """(N,): |z| / √d, about 1 for a typical Gaussian latent."""
        return self.z.norm(dim=1) / math.sqrt(self.z.shape[1])

    def describe(self, i: int) -> str:
        """'L2 1.12 · |z| = 1.01 √d · as Coat (chosen) · code 3', the line under a reconstruction."""
        parts = [f"L2 {float(self.error[i]):.2f}", f"|z| = {float(self.z_norm[i]):.2f} √d"]
        if self.labels is not None:
            parts.append(f"as {CLASS_NAMES[int(self.labels[i])]} ({'given' if self.labels_given else 'chosen'})")
        if self.codes is not None:
            parts.append(f"code {int(self.codes[i])}")
        return " · ".join(parts)


def pixel_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,): L2 distance of images in [-1, 1], measured with pixels in [0, 1] over 784 values (as `nearest_real`)."""
    return 0.5 * (a.float() - b.float()).flatten(1).norm(dim=1)


def _check_targets(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"projection needs images of shape (N, 1, 28, 28) in [-1, 1]; got {shape}")
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"project between 1 and {MAX_IMAGES:,} images at a time (got {len(images):,})")
    x = images.detach().float().cpu()
    if not torch.isfinite(x).all() or x.min() < -1.001 or x.max() > 1.001:
        raise ValueError("projection needs images in [-1, 1] (uint8 images: x / 127.5 − 1)")
    return x.clamp(-1, 1)


def _check_labels(g: Generator, labels: Sequence[int] | torch.Tensor | None, n: int) -> torch.Tensor | None:
    if labels is None:
        return None
    if not g.num_classes:
        raise ValueError("this generator is unconditional: it takes no class labels")
    y = torch.as_tensor(labels).long().flatten()
    if len(y) != n:
        raise ValueError(f"{len(y)} labels given for {n} images")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= g.num_classes):
        raise ValueError(f"labels must be class indices 0..{g.num_classes - 1}")
    return y


def _lr_at(settings: ProjectionSettings, step: int) -> float:
    """Warm up over the first 5 % of steps, ramp down (cosine) over the last 25 %."""
    t = step / settings.steps
    ramp_down = min(1.0, (1.0 - t) / 0.25)
    ramp_down = 0.5 - 0.5 * math.cos(ramp_down * math.pi)
    return settings.lr * ramp_down * min(1.0, t / 0.05 + 0.05)


def _keep_code(z: torch.Tensor, codes: torch.Tensor, k: int) -> None:
    """In place: make z[i, codes[i]] the largest of z[i, :k], so the code G reads off z is the candidate's own."""
    head = z[:, :k]
    own = head.gather(1, codes[:, None])
    others = head.scatter(1, codes[:, None], float("-inf")).amax(1, keepdim=True)
    head.scatter_(1, codes[:, None], torch.maximum(own, others + 1e-3))


def _starting_z(n: int, per: int, d: int, codes: torch.Tensor | None, k: int, rng: torch.Generator) -> torch.Tensor:
    """Gaussian z, `per` for each of n images, drawn image by image (one draw of n·per rows would not give the same
    numbers as n draws of per: the batch size would change the starts); for a code candidate the argmax of the
    first k entries is swapped to the code's place."""
    z = torch.cat([torch.randn(per, d, generator=rng) for _ in range(n)])
    if codes is not None:
        rows = torch.arange(n * per)
        top = z[:, :k].argmax(1)
        a, b = z[rows, top].clone(), z[rows, codes].clone()
        z[rows, top], z[rows, codes] = b, a
    return z


class _Race:
    """The candidates of one batch of images: z, label and code for each, and which image each belongs to."""

    def __init__(self, g: Generator, x: torch.Tensor, labels: torch.Tensor | None, settings: ProjectionSettings,
                 rng: torch.Generator) -> None:
        n, k = len(x), g.cfg.info_codes
        classes = [None] if not g.num_classes or labels is not None else list(range(g.num_classes))
        codes = [None] if not k else list(range(k))
        options = [(c, q) for c in classes for q in codes]  # the discrete parts to race, one candidate each
        per = max(settings.starts, len(options))
        self.per_image = per
        self.owner = torch.arange(n).repeat_interleave(per)
        option = torch.arange(per).repeat(n) % len(options)
        self.labels = None
        if g.num_classes:
            self.labels = (labels[self.owner] if labels is not None else
                           torch.tensor([options[i][0] for i in option.tolist()], dtype=torch.long))
        self.codes = torch.tensor([options[i][1] for i in option.tolist()], dtype=torch.long) if k else None
        self.k = k
        self.z = _starting_z(n, per, g.latent_dim, self.codes, k, rng)
        self.targets = x[self.owner]

    def keep(self, index: torch.Tensor) -> None:
        self.owner, self.z, self.targets = self.owner[index], self.z[index], self.targets[index]
        if self.labels is not None:
            self.labels = self.labels[index]
        if self.codes is not None:
            self.codes = self.codes[index]


def _best_per_image(loss: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
    """Index of the lowest-loss candidate of each image (candidates are grouped by image, `per` each)."""
    per = len(loss) // n
    return loss.view(n, per).argmin(1) + torch.arange(n) * per


def _loss(g: Generator, z: torch.Tensor, race: _Race, prior: float, bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """G's images of the candidates and each one's loss: pixel MSE + prior · (|z|/√d − 1)²."""
    with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = g(z, race.labels)
    out = out.float()
    return out, out.sub(race.targets).pow(2).flatten(1).mean(1) + prior * (z.norm(dim=1) / math.sqrt(z.shape[1]) - 1).pow(2)


def _project_batch(g: Generator, x: torch.Tensor, labels: torch.Tensor | None, settings: ProjectionSettings,
                   rng: torch.Generator, report: Callable[[int, torch.Tensor, torch.Tensor], None] | None
                   ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """One batch of images: every candidate optimised, each image's best kept after the race, the best z seen returned.

    The best z of each candidate is kept, not the last: a high learning rate can jump out of a basin late, and
    what was found stays found (measured on `mlp`, where the last step lost a third of its own samples at lr 0.5).
    """
    n = len(x)
    bf16 = use_bf16(settings.precision, x.device)
    race = _Race(g, x, labels, settings, rng)
    z = race.z.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=settings.lr)
    best_z, best = z.detach().clone(), torch.full((len(z),), math.inf, device=z.device)

    def cut() -> None:  # each image keeps its best candidate; z, Adam's moments and the best so far follow it
        nonlocal z, opt, best_z, best
        kept = _best_per_image(best, race.owner, n)
        state = opt.state[z]
        race.z = z.detach()
        race.keep(kept)
        z = race.z.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=settings.lr)
        if state:  # none yet when race_steps is 0
            opt.state[z] = {"step": state["step"], "exp_avg": state["exp_avg"][kept],
                            "exp_avg_sq": state["exp_avg_sq"][kept]}
        best_z, best = best_z[kept], best[kept]

    def remember(loss: torch.Tensor) -> None:  # the z that gave `loss`, where it beats the best so far
        better = loss.detach() < best
        best_z[better] = z.detach()[better]
        best[better] = loss.detach()[better]

    for step in range(settings.steps):
        if race.per_image > 1 and step == settings.race_steps:
            cut()
        for group in opt.param_groups:
            group["lr"] = _lr_at(settings, step)
        out, loss = _loss(g, z, race, settings.prior, bf16)
        remember(loss)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if race.codes is not None:
            with torch.no_grad():
                _keep_code(z, race.codes, race.k)
        if report is not None and (step + 1) % settings.progress_every == 0 and step + 1 < settings.steps:
            with torch.no_grad():
                shown = _best_per_image(loss.detach(), race.owner, n)
                report(step + 1, pixel_l2(out[shown].detach(), x), out[shown].detach())
    with torch.no_grad():
        remember(_loss(g, z, race, settings.prior, False)[1])
    if len(z) > n:  # the race lasted all the steps
        cut()
    return best_z, race.labels, race.codes


def project(g: Generator | object, images: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None, *,
            settings: ProjectionSettings | None = None,
            progress: Callable[[Progress], None] | None = None) -> Projection:
    """Project images (N, 1, 28, 28) in [-1, 1] into G's latent space (see the module notes).

    `labels` (conditional generators): the class of each image; None lets the race choose it. `progress` is
    called every `settings.progress_every` steps with the best reconstructions so far, and once at the end.
    """
    g = as_generator(g)
    settings = settings or ProjectionSettings()
    x = _check_targets(images)
    y = _check_labels(g, labels, len(x))
    device = next(g.parameters()).device
    was_training = g.training
    frozen = [p for p in g.parameters() if p.requires_grad]
    g.eval()
    for p in frozen:
        p.requires_grad_(False)
    rng = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    zs, ys, cs, recs = [], [], [], []
    try:
        for lo in range(0, len(x), settings.batch):
            xb = x[lo : lo + settings.batch]
            yb = None if y is None else y[lo : lo + settings.batch]

            def report(step: int, err: torch.Tensor, rec: torch.Tensor, lo: int = lo) -> None:
                progress(Progress(step, settings.steps, lo, len(x), err.cpu(), rec.cpu()))

            with torch.enable_grad():
                z, yk, ck = _project_batch(g, xb.to(device), None if yb is None else yb.to(device), settings, rng,
                                           report if progress is not None else None)
            rec = decode(g, z, yk)
            zs.append(z.cpu())
            ys.append(None if yk is None else yk.cpu())
            cs.append(None if ck is None else ck.cpu())
            recs.append(rec)
            if progress is not None:
                report(settings.steps, pixel_l2(rec, xb), rec)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        g.train(was_training)
    z, rec = torch.cat(zs), torch.cat(recs)
    lab = None if not g.num_classes else torch.cat(ys)
    codes = None if not g.cfg.info_codes else torch.cat(cs)
    result = Projection(z, lab, rec, pixel_l2(rec, x), x, settings.steps, time.perf_counter() - start, y is not None,
                        codes, settings)
    return result


# ----------------------------------------------------------------------------- what to project
MAX_INDICES = 1000  # dataset images named in one index list


def parse_indices(text: str, n: int) -> list[int]:
    """'3,7,10-12' as [3, 7, 10, 11, 12], each checked against a split of n images; a ValueError says what is wrong."""
    out: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"{part!r} is not an index or a range: write indices like 3,7,10-12") from None
        if a > b:
            raise ValueError(f"the range {part!r} runs backwards: write the smaller index first")
        if a < 0 or b >= n:
            raise ValueError(f"index {a if a < 0 else b} is outside the split's 0..{n - 1}")
        if len(out) + b - a + 1 > MAX_INDICES:
            raise ValueError(f"at most {MAX_INDICES:,} images at a time")
        out.extend(range(a, b + 1))
    if not out:
        raise ValueError("no index given: write indices like 3,7,10-12")
    return out


def dataset_images(images: np.ndarray, labels: np.ndarray, split: str, indices: Sequence[int]
                   ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A split's images at `indices` as projection targets: (n, 1, 28, 28) in [-1, 1], their labels, and names
    like 'test[12] · Coat' that say where each came from."""
    idx = np.asarray(list(indices), dtype=np.int64)
    x = torch.from_numpy(np.asarray(images[idx], dtype=np.float32) / 127.5 - 1.0).unsqueeze(1)
    y = torch.from_numpy(np.asarray(labels[idx], dtype=np.int64))
    return x, y, [f"{split}[{i}] · {CLASS_NAMES[int(c)]}" for i, c in zip(idx.tolist(), y.tolist(), strict=True)]


# ----------------------------------------------------------------------------- the latents file
@dataclass(frozen=True)
class LatentsFile:
    """Projected latents on disk: `z`, `labels` (conditional generators), the targets, and where each came from."""

    z: torch.Tensor                 # (N, latent_dim) float32
    labels: torch.Tensor | None     # (N,) int64
    targets: torch.Tensor           # (N, 1, 28, 28) float32 in [-1, 1]: the images that were projected
    error: torch.Tensor             # (N,) pixel L2 of the reconstruction
    sources: tuple[str, ...]        # "test[12]", "train[3]", "coat.jpg", one per row
    generator: str                  # the weights the latents belong to
    model: dict                     # the generator's ModelConfig, to check a file is read with the right G
    settings: dict


def latents_bytes(proj: Projection, sources: Sequence[str], generator: str, model: dict) -> bytes:
    if len(sources) != len(proj):
        raise ValueError(f"{len(sources)} source names for {len(proj)} projected images")
    tensors = {"z": proj.z.float().contiguous(), "targets": proj.targets.float().contiguous(),
               "error": proj.error.float().contiguous()}
    if proj.labels is not None:
        tensors["labels"] = proj.labels.long().contiguous()
    meta = {"format": FORMAT_LATENTS, "sources": json.dumps(list(sources)), "generator": str(generator),
            "model": json.dumps(model), "settings": json.dumps(asdict(proj.settings)),
            "labels_given": json.dumps(proj.labels_given)}
    return st_save(tensors, metadata=meta)


def save_latents(path: str | Path, proj: Projection, sources: Sequence[str], generator: str, model: dict) -> None:
    atomic_write_bytes(path, latents_bytes(proj, sources, generator, model))


def read_latents(path: str | Path) -> LatentsFile:
    """A latents file written by `save_latents`, checked by shape and type; a ValueError says what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such latents file (write one with `python -m gan_core project`)")
    if p.stat().st_size > MAX_LATENTS_BYTES:
        raise ValueError(f"{p} is larger than any latents file ({MAX_LATENTS_BYTES // 2**20} MiB at most)")
    try:
        tensors, meta = parse_safetensors(p.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{p} is not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT_LATENTS:
        raise ValueError(f"{p} is not a latents file of `python -m gan_core project` (format {meta.get('format')!r})")
    try:
        z, targets, error = tensors["z"], tensors["targets"], tensors["error"]
        labels = tensors.get("labels")
        sources = json.loads(meta["sources"])
        model = json.loads(meta["model"])
        settings = json.loads(meta.get("settings", "{}"))
        n = len(z)
        ok = (z.ndim == 2 and z.dtype == torch.float32 and tuple(targets.shape) == (n, 1, 28, 28)
              and tuple(error.shape) == (n,) and isinstance(sources, list) and len(sources) == n
              and all(isinstance(s, str) for s in sources) and isinstance(model, dict) and isinstance(settings, dict)
              and (labels is None or (labels.dtype == torch.int64 and tuple(labels.shape) == (n,))))
    except (KeyError, json.JSONDecodeError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ValueError(f"{p}: its tensors or metadata are not those of a latents file (z (N, d) float32, targets "
                         "(N, 1, 28, 28), error (N,), labels (N,) int64 for a conditional generator, one source each)")
    return LatentsFile(z, labels, targets, error, tuple(sources), meta.get("generator", ""), model, settings)


def check_latents_fit(latents: LatentsFile, g: Generator) -> None:
    """A ValueError unless the file's latents were projected with a generator of G's shape."""
    if latents.z.shape[1] != g.latent_dim:
        raise ValueError(f"the latents have {latents.z.shape[1]} dimensions; this generator reads {g.latent_dim}")
    if bool(g.num_classes) != (latents.labels is not None):
        raise ValueError("the latents were projected with a " + ("conditional" if latents.labels is not None else
                         "unconditional") + " generator; this one is " + ("conditional" if g.num_classes else
                                                                         "unconditional"))
    if latents.labels is not None and len(latents.labels) and (latents.labels.min() < 0 or
                                                                latents.labels.max() >= g.num_classes):
        raise ValueError(f"the latents' labels must be class indices 0..{g.num_classes - 1}")


def decode(g: Generator, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """G(z, labels) in eval mode: what a projection's latents decode to."""
    was = g.training
    g.eval()
    try:
        with torch.no_grad():
            return g(z.to(next(g.parameters()).device), None if labels is None else
                     labels.to(next(g.parameters()).device)).cpu().float()
    finally:
        g.train(was)


__all__ = ["FORMAT_LATENTS", "LatentsFile", "Progress", "Projection", "ProjectionSettings", "check_latents_fit",
           "dataset_images", "decode", "latents_bytes", "parse_indices", "pixel_l2", "project", "read_latents", "save_latents"]
