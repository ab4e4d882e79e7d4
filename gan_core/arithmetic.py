"""Latent-space vs pixel-space arithmetic, side by side.

Radford et al. (DCGAN, 2015, Fig. 7) averaged the latent vectors of three exemplars
per concept, then did the arithmetic on those means and decoded the result: a new
image. Doing the same sums on the decoded images gives overlays, because the
images are not aligned. `arithmetic` returns both for the same operands.

An operand is a latent vector: either one seed's z, or a *class mean*, the mean z
of k samples the generator makes for that class. A conditional generator makes
them by conditioning (the class travels as the label); an unconditional one has
no labels, so its samples are sorted by the shipped Fashion-MNIST classifier.

A generator with an InfoGAN code reads a discrete switch off z (the argmax of its
first entries, fed in as a one-hot), so its full input is (z, code): a `Latent`
(gan_core.latent). The arithmetic is done on both parts: a class mean's code is the
mean of its exemplars' one-hots, and the result's code is the signed sum of the
operands' codes. Summing z alone would let the argmax of the sum pick one operand's
switch and drop the others.

A conditional generator's label is part of its latent in the same way: a one-hot
fed in beside z. So the result is decoded with the signed sum of the operands'
one-hot labels (sandal + sneaker decodes z_sandal + z_sneaker with both classes
switched on), and the class arithmetic happens with the style arithmetic. With
`sum_labels` False it is decoded with operand A's label alone: the sum then moves
the style within A's class and nothing else.

An `Operand` is one term of the sum: its sign, its latent, the class a conditional
generator decodes it with, and what it is (a seed, a class mean, or a real garment
projected into the latent space by gan_core.projection), which also gives the text
that names it. For a real garment the pixel-space sum takes the real image itself,
not its reconstruction: G(ẑA − ẑB + ẑC) beside xA − xB + xC.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gan_core.data import CLASS_NAMES, class_index
from gan_core.images import scale_to_unit
from gan_core.latent import Latent, signed_rows, signed_sum, stacked_codes, with_codes
from gan_core.models import Generator
from gan_core.sampling import generate, latents

#: sign patterns of the operations the app offers
OPERATIONS: dict[str, tuple[int, ...]] = {
    "A − B": (1, -1),
    "A + B": (1, 1),
    "A − B + C": (1, -1, 1),
}
RESCALINGS = ("minmax", "clip")
NAMES = "ABC"  # operands are named by their position in the sum


@dataclass(frozen=True)
class ArithmeticPreset:
    name: str
    operation: str                 # a key of OPERATIONS
    classes: tuple[str, ...]       # one class name per operand
    expect: str = ""               # one line: what a good latent result looks like, in the measures the page shows

    @property
    def operands(self) -> list[tuple[int, str]]:
        return list(zip(OPERATIONS[self.operation], self.classes, strict=True))


PRESETS: dict[str, ArithmeticPreset] = {
    p.name: p
    for p in (
        ArithmeticPreset("pullover − t-shirt", "A − B", ("Pullover", "T-shirt/top"),
                         "what a pullover has that a T-shirt lacks: long sleeves, a full top, not a ghost; the classifier "
                         "says Pullover or Coat, confidently, on the real manifold"),
        ArithmeticPreset("sandal + sneaker", "A + B", ("Sandal", "Sneaker"),
                         "one shoe between the two (an open, strappy sneaker), not two shoes overlaid; the classifier "
                         "says Sandal or Sneaker, on the real manifold, ratio near 1"),
        ArithmeticPreset("ankle boot − sneaker + sandal", "A − B + C", ("Ankle boot", "Sneaker", "Sandal"),
                         "the analogy boot : sneaker = ? : sandal, a tall open shoe; the classifier says Sandal or "
                         "Ankle boot, on the real manifold, ratio near 1"),
        ArithmeticPreset("bag + T-shirt/top", "A + B", ("Bag", "T-shirt/top"),
                         "one object mixing both (a top-shaped bag or a bag-shaped top), not an overlay; the "
                         "classifier is sure of Bag or T-shirt/top, on the real manifold"),
    )
}


class ClassNotFoundError(ValueError):
    """An unconditional generator (as the classifier sees it) did not produce the asked class."""


@dataclass(frozen=True)
class LatentMean:
    """The mean of the latents of `n_found` samples of one class, out of `n_drawn` drawn."""

    z: torch.Tensor           # (latent_dim,)
    n_found: int
    n_drawn: int
    cls: int
    k: int
    members: torch.Tensor     # (n_found, latent_dim): the exemplars that were averaged
    by: str                   # "conditioning" | "classifier"
    code: torch.Tensor | None = None  # (info_codes,): mean of the exemplars' InfoGAN one-hots, if G has a code

    @property
    def complete(self) -> bool:
        return self.n_found >= self.k

    @property
    def rate(self) -> float:
        """Share of drawn samples that were of this class (1.0 when conditioning)."""
        return self.n_found / self.n_drawn if self.n_drawn else 0.0

    @property
    def latent(self) -> Latent:
        return Latent(self.z, self.code)

    def describe(self) -> str:
        name = CLASS_NAMES[self.cls]
        if self.by == "conditioning":
            return f"mean of {self.n_found} latents decoded as {name} by conditioning"
        text = (f"mean of {self.n_found} latents whose samples the classifier called {name} "
                f"({self.n_found} of {self.n_drawn} drawn, {self.rate:.1%})")
        if not self.complete:
            text += (f"; only {self.n_found} of the {self.k} asked for were found: this generator rarely draws "
                     f"{name}, a sign of partial mode collapse")
        return text


def seed_latent(g: Generator, seed: int) -> torch.Tensor:
    """One seed's z, (latent_dim,): the z of a 1-image Sample grid and of an interpolation end with that seed.

    (torch fills larger normal tensors differently, so it is not the first z of a bigger grid.)
    """
    return latents(1, g.latent_dim, seed)[0]


def _class_seed(seed: int, cls: int) -> int:
    # A conditional G's z says nothing about the class, so each class gets its own draws;
    # seed*10 + cls is one-to-one for seed >= 0 and the ten classes.
    return seed * len(CLASS_NAMES) + cls


@torch.no_grad()
def class_mean_latent(
    g: Generator,
    cls: int | str,
    k: int = 3,
    seed: int = 0,
    classifier: torch.nn.Module | None = None,
    *,
    batch: int = 256,
    max_draws: int = 4096,
) -> LatentMean:
    """Mean z of k samples of class `cls` (see the module notes for the two ways they are found).

    Unconditional: latents are drawn in batches from `seed` (the same draws for every class),
    decoded, classified, and the first k assigned to `cls` are kept; the search stops at
    `max_draws`. Fewer than k found returns what there is (`complete` False); none raises
    ClassNotFoundError, whose message says what that tells of the generator.
    """
    c = class_index(cls)
    if not 1 <= k <= 1000:
        raise ValueError(f"k must be between 1 and 1000 (got {k})")
    if g.num_classes:
        members = latents(k, g.latent_dim, _class_seed(seed, c))
        mean = Latent.mean_of(members, g.cfg.info_codes)
        return LatentMean(mean.z, k, k, c, k, members, "conditioning", mean.code)

    if classifier is None:
        from gan_core.classifier import load_classifier

        classifier = load_classifier()
    from gan_core.classifier import predict

    if max_draws < 1:
        raise ValueError(f"max_draws must be at least 1 (got {max_draws})")
    device = next(g.parameters()).device
    g.eval()
    rng = torch.Generator().manual_seed(seed)
    found: list[torch.Tensor] = []
    n_found = drawn = 0
    while n_found < k and drawn < max_draws:
        m = min(batch, max_draws - drawn)
        z = torch.randn(m, g.latent_dim, generator=rng)
        pred = predict(classifier, g(z.to(device)).cpu()).cpu()
        # Count the draws up to the k-th hit only, so the reported rate is not diluted by the batch size.
        hits = torch.nonzero(pred == c).flatten()[: k - n_found]
        drawn += int(hits[-1]) + 1 if n_found + len(hits) >= k else m
        found.append(z[hits])
        n_found += len(hits)
    members = torch.cat(found) if found else torch.zeros(0, g.latent_dim)
    if n_found == 0:
        raise ClassNotFoundError(
            f"none of the {drawn:,} samples drawn from this generator was classified as {CLASS_NAMES[c]}: it "
            f"rarely or never makes this class, a sign of mode collapse (or of a generator not trained far enough "
            f"yet). Pick another class, use a seed operand, or a class-conditional generator."
        )
    mean = Latent.mean_of(members, g.cfg.info_codes)
    return LatentMean(mean.z, n_found, drawn, c, k, members, "classifier", mean.code)


@torch.no_grad()
def exemplar_images(g: Generator, mean: LatentMean) -> torch.Tensor:
    """(n_found, 1, 28, 28): the exemplars that were averaged, each decoded from its own latent."""
    return generate(g, mean.n_found, z=mean.members, label=mean.cls if g.num_classes else None)


def signed(sign: int, position: int, text: str) -> str:
    """'A', '− B', '+ C': the first operand's plus sign is not written."""
    return f"{'−' if sign < 0 else '+'} {text}" if position or sign < 0 else text


def expression(signs: Sequence[int], term: str = "{}") -> str:
    """The sum written out, operand i named by term.format(NAMES[i]): "G(z{})" gives 'G(zA) − G(zB)'."""
    return " ".join(signed(s, i, term.format(NAMES[i])) for i, s in enumerate(signs))


@dataclass(frozen=True)
class Operand:
    """One term of a sum: its sign, its latent, the class a conditional G decodes it with, and what it is.

    `arithmetic` returns the operands again with `image` filled in.
    """

    sign: int                          # +1 or -1
    latent: Latent
    label: int | None = None           # class index for a conditional generator; None for an unconditional one
    position: int = 0                  # 0, 1, 2: A, B, C in the written sum
    seed: int | None = None            # a seed operand: the seed of its z
    mean: LatentMean | None = None     # a class operand: the class mean that is its latent
    image: torch.Tensor | None = None  # (1, 28, 28) in [-1, 1]: G of its latent, as `arithmetic` decoded it
    real: torch.Tensor | None = None   # (1, 28, 28) in [-1, 1]: a projected operand's real image (its pixel term)
    source: str = ""                   # what a projected operand's real image is ("test[12] · Coat", "coat.jpg")

    @classmethod
    def of_seed(cls, g: Generator, seed: int, *, sign: int = 1, position: int = 0,
                label: int | str | None = None) -> Operand:
        """One seed's z; the code is read off it. `label` is the class a conditional G decodes it as."""
        return cls(sign, Latent(seed_latent(g, seed)), None if label is None else class_index(label), position, seed=seed)

    @classmethod
    def of_mean(cls, g: Generator, mean: LatentMean, *, sign: int = 1, position: int = 0) -> Operand:
        """A class mean with its mean code; a conditional G decodes it with its class."""
        return cls(sign, mean.latent, mean.cls if g.num_classes else None, position, mean=mean)

    @classmethod
    def of_real(cls, z: torch.Tensor, real: torch.Tensor, source: str, *, label: int | None = None, sign: int = 1,
                position: int = 0) -> Operand:
        """A real garment by its projected latent ẑ (gan_core.projection); its pixel term is the real image itself."""
        real = torch.as_tensor(real).float().reshape(1, 28, 28)
        return cls(sign, Latent(torch.as_tensor(z).float()), label, position, real=real, source=source)

    @property
    def kind(self) -> str:
        return ("class mean" if self.mean is not None else "seed" if self.seed is not None else
                "real garment" if self.real is not None else "latent")

    @property
    def pixel_term(self) -> str:
        """How it enters the pixel sum: 'xA' (the real image) or 'G(zA)' (its decoded latent)."""
        return f"x{self.name}" if self.real is not None else f"G(z{self.name})"

    @property
    def latent_term(self) -> str:
        """How it enters the latent sum: 'ẑA' (a projected latent) or 'zA'."""
        return f"ẑ{self.name}" if self.real is not None else f"z{self.name}"

    @property
    def name(self) -> str:
        return NAMES[self.position]

    def heading(self) -> str:
        """'− B: Sneaker' for a class mean, '− B: seed 101' for a seed."""
        what = (CLASS_NAMES[self.mean.cls] if self.mean is not None else
                f"seed {self.seed}" if self.seed is not None else self.source or "latent")
        return f"{signed(self.sign, self.position, self.name)}: {what}"

    def caption(self) -> str:
        """What its image is: 'G(zB), mean of 3', or 'G(zB) as Sneaker' for a seed decoded with a class."""
        if self.mean is not None:
            return f"G(z{self.name}), mean of {self.mean.n_found}"
        if self.real is not None:
            return f"x{self.name}, the real image"
        return f"G(z{self.name})" + (f" as {CLASS_NAMES[self.label]}" if self.label is not None else "")


@dataclass(frozen=True)
class ArithmeticResult:
    operand_images: torch.Tensor    # (n_operands, 1, 28, 28) in [-1, 1]: G(z_i)
    latent_result: torch.Tensor     # (1, 1, 28, 28): G(sum of sign_i * z_i)
    pixel_result: torch.Tensor      # (1, 1, 28, 28): sum of sign_i * G(z_i), rescaled to [-1, 1]
    pixel_result_raw: torch.Tensor  # (1, 1, 28, 28): the same before rescaling, in [-n, n]
    z_result: torch.Tensor          # (latent_dim,): the vector decoded into latent_result
    # (num_classes,): the class part a conditional G decoded the result with: the signed sum of the operands'
    # one-hot labels, or operand A's one-hot (`sum_labels` False); None for an unconditional G
    label_result: torch.Tensor | None
    rescaling: str
    renormalized: bool = False      # operands and result were set to length sqrt(latent_dim) before decoding
    labels_summed: bool = True      # label_result is the sum of the operands' labels, not operand A's alone
    code_result: torch.Tensor | None = None  # (info_codes,): the signed sum of the operands' InfoGAN codes
    operands: tuple[Operand, ...] = ()       # the operands, each with its decoded image
    # (n_operands, 1, 28, 28): each operand's image as the pixel sum took it: G(z_i), or a real garment's own x_i
    pixel_operands: torch.Tensor | None = None

    def pixel_formula(self) -> str:
        """The pixel sum written out: 'xA − xB + G(zC)' (real garments enter as themselves)."""
        return " ".join(signed(op.sign, op.position, op.pixel_term) for op in self.operands)

    def latent_terms(self) -> str:
        """The latent sum written out: 'ẑA − ẑB + zC' (a projected latent wears a hat)."""
        return " ".join(signed(op.sign, op.position, op.latent_term) for op in self.operands)

    def rescaling_note(self) -> str:
        lo, hi = float(self.pixel_result_raw.min()), float(self.pixel_result_raw.max())
        if self.rescaling == "clip":
            return f"pixel sum ranged over [{lo:.2f}, {hi:.2f}]; values outside the image range [-1, 1] were clipped"
        return f"pixel sum ranged over [{lo:.2f}, {hi:.2f}]; min-max rescaled to the image range [-1, 1]"

    def label_terms(self) -> str:
        """The class part of the result as '+1·Sandal, +1·Sneaker' (zero weights left out; '0' when all are)."""
        if self.label_result is None:
            return ""
        return ", ".join(f"{w:+g}·{CLASS_NAMES[c]}" for c, w in enumerate(self.label_result.tolist())
                         if abs(w) > 1e-6) or "0"

    def code_terms(self) -> str:
        """The summed InfoGAN code as '+1.00·c3, -1.00·c7' (zero weights left out; '0' when all are)."""
        if self.code_result is None:
            return ""
        return ", ".join(f"{w:+.2f}·c{j}" for j, w in enumerate(self.code_result.tolist()) if abs(w) > 1e-6) or "0"


def typical_length(z: torch.Tensor) -> torch.Tensor:
    """z rescaled to length sqrt(latent_dim), where nearly all of a standard Gaussian's mass lies.

    A mean of k latents is only about 1/sqrt(k) as long, and a sum of three about sqrt(3) times as long:
    both leave the shell G was trained on, and a DCGAN decodes such vectors as faint or blank images.
    """
    z64 = z.double()
    return (z64 * (math.sqrt(z.shape[-1]) / z64.norm().clamp_min(1e-12))).to(z.dtype)


def _checked(g: Generator, op: Operand, i: int) -> int | None:
    """The operand's class index for G (None for an unconditional G), after checking the operand fits G."""
    if op.sign not in (1, -1):
        raise ValueError(f"operand {i + 1}: sign must be +1 or -1 (got {op.sign!r})")
    z = torch.as_tensor(op.latent.z)
    if z.shape != (g.latent_dim,):
        raise ValueError(f"operand {i + 1}: a latent vector of shape ({g.latent_dim},) is needed, got {tuple(z.shape)}")
    k, code = g.cfg.info_codes, op.latent.code
    if code is not None:
        if not k:
            raise ValueError("this generator has no InfoGAN code: operands cannot carry codes")
        if torch.as_tensor(code).shape != (k,):
            raise ValueError(f"operand {i + 1}: an InfoGAN code of shape ({k},) is needed, "
                             f"got {tuple(torch.as_tensor(code).shape)}")
    if not g.num_classes:
        if op.label is not None:
            raise ValueError(f"operand {i + 1}: this generator is unconditional and cannot take a class label")
        return None
    if op.label is None:
        raise ValueError(f"operand {i + 1}: this generator is class-conditional, so every operand needs a class")
    return class_index(op.label)


@torch.no_grad()
def arithmetic(g: Generator, operands: Sequence[Operand], rescale: str = "minmax", renormalize: bool = False,
               sum_labels: bool = True) -> ArithmeticResult:
    """Vector-space and pixel-space results of sum(sign_i * operand_i) for the same operands.

    A conditional G decodes every operand with its own label and the latent result with the signed sum of their
    one-hot labels (`sum_labels` False: with operand A's label). The latent sum is taken in float64, so
    A + B − B is exactly A. A real garment (`Operand.of_real`) enters the pixel sum as its own image.
    `renormalize` sets every operand and the sum to the typical length first (see
    `typical_length`; codes and labels are not rescaled). For a G with an InfoGAN code, an operand's code is its
    latent's, or the one-hot read off its z, and the codes are summed too.
    """
    if not operands:
        raise ValueError("no operands: give at least one Operand")
    if rescale not in RESCALINGS:
        raise ValueError(f"rescale must be one of {RESCALINGS} (got {rescale!r})")
    labels = [_checked(g, op, i) for i, op in enumerate(operands)]
    signs = [op.sign for op in operands]
    zs = [torch.as_tensor(op.latent.z) for op in operands]
    terms = with_codes([Latent(typical_length(z) if renormalize else z, op.latent.code)
                        for z, op in zip(zs, operands, strict=True)], g.cfg.info_codes)
    total = signed_sum(signs, terms)
    z_sum = typical_length(total.z) if renormalize else total.z
    code_ops = stacked_codes(terms)
    c_all = None if code_ops is None else torch.cat([code_ops, total.code[None]])
    y_all = label_sum = None
    if g.num_classes:
        one_hots = F.one_hot(torch.tensor(labels), g.num_classes).float()
        label_sum = signed_rows(signs, one_hots) if sum_labels else one_hots[0]
        y_all = torch.cat([one_hots, label_sum[None]])
    # One batch for operands and result: G is in eval mode, so each image is decoded independently.
    z_all = torch.cat([torch.stack([t.z for t in terms]).float(), z_sum[None]])
    device = next(g.parameters()).device
    g.eval()
    decoded = g(z_all.to(device), None if y_all is None else y_all.to(device),
                None if c_all is None else c_all.to(device)).cpu()
    operand_images, latent_result = decoded[:-1], decoded[-1:]
    pixel_operands = torch.stack([img if op.real is None else op.real.to(img.dtype)
                                  for op, img in zip(operands, operand_images, strict=True)])
    sign_t = torch.tensor(signs, dtype=operand_images.dtype).view(-1, 1, 1, 1)
    raw = (sign_t * pixel_operands).sum(0, keepdim=True)
    pixel = scale_to_unit(raw) if rescale == "minmax" else raw.clamp(-1, 1)
    done = tuple(dataclasses.replace(op, image=img) for op, img in zip(operands, operand_images, strict=True))
    return ArithmeticResult(operand_images, latent_result, pixel, raw, z_sum, label_sum, rescale, renormalize,
                            sum_labels, total.code, done, pixel_operands)
