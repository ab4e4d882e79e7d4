"""Directions in z that change one thing about a generated garment.

Three ways to find them, for any generator (shipped or a run's checkpoint):

- "pca" (GANSpace, Härkönen et al. 2020): sample n latents, take G's first-layer activations (the output of the
  first nonlinearity after the layer that reads z), find their principal components, and map each back to z by
  least squares (z ≈ A·x, x the coordinates along the components). `explained` is each component's share of
  the activations' variance. The components are orthogonal in activation space, not in z: the back-mapped
  vectors are unit length, but only close to orthogonal. (On the linear layer's output itself PCA would only
  find SeFa's vectors again: for h = W z the components map back to the right singular vectors of W.)
- "sefa" (Shen & Zhou 2021): the eigenvectors of WᵀW, W the weight of the layer that reads z restricted to z's
  columns (a conditional G's one-hot label and an InfoGAN code follow z and are left out): the directions the
  first layer stretches most. Unit and mutually orthogonal by construction; `explained` is the eigenvalue share.
- "class": the unit vector from one class's mean latent to another's. An unconditional G's classes are found by
  the classifier (gan_core.arithmetic.class_mean_latent); with an InfoGAN code, the means' code difference moves
  along (`Directions.code_shift`), as latent arithmetic sums codes (gan_core.latent). A conditional G takes its
  class from the label, so its z carries none: the direction is the z-shift whose effect on the first layer best
  matches switching the label (least squares), and moving along it changes the class only a little.

Signs are fixed (each vector's largest entry positive) so the same generator always gives the same sliders.
`find_directions` keeps its last results per generator object, keyed on its weights' identity and versions, so
a training step or a loaded state dict computes them again; the cache goes with the generator (weak keys).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gan_core.data import CLASS_NAMES, class_index
from gan_core.format import percent
from gan_core.images import gif_bytes, to_uint8
from gan_core.latent import read_codes
from gan_core.models import Generator
from gan_core.sampling import as_generator, generate, latents

__all__ = ["METHODS", "Directions", "class_shares_along", "find_directions", "move", "strips", "walk_gif"]

METHODS = ("pca", "sefa", "class")
MEAN_OF = 64  # latents averaged per class mean of an unconditional G
_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)


@dataclass(frozen=True)
class Directions:
    method: str
    vectors: torch.Tensor                 # (k, latent_dim), each row a unit vector in z-space
    names: tuple[str, ...]                # "PC 1 (23.1 % of variance)", "SeFa 1 (eigenvalue share 18.0 %)", ...
    explained: tuple[float, ...] | None   # variance / eigenvalue share per direction (None for "class")
    # (k, info_codes): how far the InfoGAN code moves per σ along each direction; None keeps the base z's code.
    # A class direction of a G with a code carries the class means' code difference (the code holds much of the class).
    code_shift: torch.Tensor | None = None


# ----------------------------------------------------------------------------- finding directions
_CACHE: weakref.WeakKeyDictionary[nn.Module, OrderedDict[tuple, Directions]] = weakref.WeakKeyDictionary()
_CACHE_SIZE = 16  # results kept per generator object
_LOCK = threading.Lock()


def _weights_key(g: nn.Module) -> tuple:
    """Which tensors G holds and how often each was changed in place: optimiser steps and load_state_dict bump it."""
    return tuple((t.data_ptr(), t._version) for t in (*g.parameters(), *g.buffers()))


def find_directions(g: Generator, method: str, k: int = 8, *, seed: int = 0, n: int = 2000,
                    classes: tuple[int, int] | None = None) -> Directions:
    """k directions by `method` (see the module notes); "class" needs classes=(from, to) and ignores k.

    Cached per generator and weights (see the module notes); the same arguments give the same vectors.
    """
    g = as_generator(g)
    if method not in METHODS:
        raise ValueError(f"unknown direction method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "class":
        if classes is None or len(classes) != 2:
            raise ValueError("class directions need two classes: classes=(from, to)")
        pair = (class_index(classes[0]), class_index(classes[1]))
        if pair[0] == pair[1]:
            raise ValueError(f"class directions need two different classes (got {CLASS_NAMES[pair[0]]} twice)")
        k = 1
    else:
        pair = None
        if not 1 <= k <= g.latent_dim:
            raise ValueError(f"k must be between 1 and the latent size {g.latent_dim} (got {k})")
    if not 2 <= n <= 50_000:
        raise ValueError(f"n must be between 2 and 50000 (got {n})")
    key = (_weights_key(g), method, k, seed, n, pair)
    with _LOCK:
        found = _CACHE.get(g, {}).get(key)
    if found is not None:
        return found
    found = {"pca": _pca, "sefa": _sefa, "class": lambda *a: _class(*a, pair)}[method](g, k, seed, n)
    with _LOCK:
        cache = _CACHE.setdefault(g, OrderedDict())
        cache[key] = found
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return found


def _first_layer(g: Generator) -> nn.Module:
    first = g.body[0] if isinstance(g.body, nn.Sequential) and len(g.body) else None
    if not isinstance(first, (nn.Linear, nn.ConvTranspose2d)):
        raise ValueError(f"this generator's first layer is {type(first).__name__}: directions need a Linear or "
                         "transposed-conv layer reading z")
    return first


def _input_weight(g: Generator) -> torch.Tensor:
    """(out, inputs): the first layer's weight on G's input [z, one-hot label, code] (a transposed conv read as a
    map from a 1x1 input)."""
    first = _first_layer(g)
    w = first.weight.detach().double().cpu()
    if isinstance(first, nn.ConvTranspose2d):  # (in, out, kh, kw) -> (out·kh·kw, in)
        w = w.permute(1, 2, 3, 0).reshape(-1, w.shape[0])
    return w


def _signed(v: torch.Tensor) -> torch.Tensor:
    """Each row flipped so its largest-magnitude entry is positive: eigenvectors' signs are otherwise arbitrary."""
    pick = v.gather(1, v.abs().argmax(1, keepdim=True))
    return v * torch.where(pick < 0, -1.0, 1.0).to(v.dtype)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return (v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)).float()


def _sefa(g: Generator, k: int, _seed: int, _n: int) -> Directions:
    w = _input_weight(g)[:, : g.latent_dim]
    vals, vecs = torch.linalg.eigh(w.T @ w)  # ascending
    vals, vecs = vals.flip(0).clamp_min(0), vecs.flip(1)
    share = (vals / vals.sum().clamp_min(1e-300))[:k]
    vectors = _unit(_signed(vecs[:, :k].T))
    names = tuple(f"SeFa {i + 1} (eigenvalue share {percent(float(s))})" for i, s in enumerate(share))
    return Directions("sefa", vectors, names, tuple(float(s) for s in share))


class _Captured(Exception):
    """Not an error: the way out of G's forward pass once the first-layer activations are read."""

    def __init__(self, out: torch.Tensor) -> None:
        self.out = out


@torch.no_grad()
def first_activations(g: Generator, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """(n, features): G's first-layer activations for z, flattened; G stops there (a hook ends the pass early)."""
    _first_layer(g)
    body = list(g.body)
    at = next((m for m in body[1:] if isinstance(m, _ACTIVATIONS)), body[0])

    def capture(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        raise _Captured(out)

    device = next(g.parameters()).device
    hook = at.register_forward_hook(capture)
    was_training = g.training
    g.eval()
    try:
        g(z.to(device), None if labels is None else labels.to(device))
    except _Captured as got:
        return got.out.flatten(1).double().cpu()
    finally:
        hook.remove()
        g.train(was_training)
    raise RuntimeError("the generator finished without reaching its first layer's activation")


def _pca(g: Generator, k: int, seed: int, n: int) -> Directions:
    z = latents(n, g.latent_dim, seed).double()
    labels = torch.arange(n) % g.num_classes if g.num_classes else None
    h = first_activations(g, z.float(), labels)
    if labels is None:
        h = h - h.mean(0)
    else:  # a label's one-hot shifts the activations: centre each class so the components describe z alone
        for c in range(g.num_classes):
            h[labels == c] -= h[labels == c].mean(0)
    if k > min(h.shape) - 1:
        raise ValueError(f"k = {k} principal directions need more samples or features (n = {n}, {h.shape[1]} features)")
    with torch.random.fork_rng(devices=[]):  # svd_lowrank draws a random projection: seeded, global RNG untouched
        torch.manual_seed(seed)
        _, s, v = torch.svd_lowrank(h, q=min(k + 10, min(h.shape)), niter=6)
    s, v = s[:k], v[:, :k]
    share = s**2 / (h**2).sum().clamp_min(1e-300)
    x = h @ v  # coordinates along the components: uncorrelated, so each regression row stands alone
    a = torch.linalg.lstsq(x, z - z.mean(0)).solution  # (k, latent_dim): z ≈ x·A
    vectors = _unit(_signed(a))
    names = tuple(f"PC {i + 1} ({percent(float(p))} of variance)" for i, p in enumerate(share))
    return Directions("pca", vectors, names, tuple(float(p) for p in share))


def _class(g: Generator, _k: int, seed: int, n: int, pair: tuple[int, int]) -> Directions:
    src, dst = pair
    code_shift = None
    if g.num_classes:
        w = _input_weight(g)
        label_shift = w[:, g.latent_dim + dst] - w[:, g.latent_dim + src]
        v = torch.linalg.lstsq(w[:, : g.latent_dim], label_shift[:, None]).solution.T
    else:
        from gan_core.arithmetic import class_mean_latent

        means = [class_mean_latent(g, c, k=MEAN_OF, seed=seed, max_draws=max(n, MEAN_OF)) for c in pair]
        v = (means[1].z - means[0].z).double()[None]
        if g.cfg.info_codes and float(v.norm()) >= 1e-12:
            code_shift = ((means[1].code - means[0].code).double() / v.norm())[None].float()
    if float(v.norm()) < 1e-12:
        raise ValueError(f"the class means of {CLASS_NAMES[src]} and {CLASS_NAMES[dst]} coincide: no direction between them")
    return Directions("class", _unit(v), (f"{CLASS_NAMES[dst]} − {CLASS_NAMES[src]}",), None, code_shift)


# ----------------------------------------------------------------------------- using them
def _base(g: Generator, z: torch.Tensor) -> torch.Tensor:
    z = torch.as_tensor(z).float().reshape(-1)
    if z.shape != (g.latent_dim,):
        raise ValueError(f"a latent of {g.latent_dim} values is needed, got {tuple(torch.as_tensor(z).shape)}")
    return z


def _decode(g: Generator, base: torch.Tensor, zs: torch.Tensor, label: int | str | None,
            code_moves: torch.Tensor | None = None) -> torch.Tensor:
    """G(zs) with the InfoGAN code, if any, read off the base z (moving must not flip the switch by accident), plus
    `code_moves` (len(zs), info_codes) where a direction carries a code shift."""
    codes = None
    if g.cfg.info_codes:
        codes = read_codes(base[None], g.cfg.info_codes).expand(len(zs), -1)
        if code_moves is not None:
            codes = codes + code_moves
    return generate(g, len(zs), z=zs, codes=codes, label=label if g.num_classes else None)


def _code_shift(g: Generator, directions: Directions) -> torch.Tensor | None:
    shift = directions.code_shift
    if shift is None or not g.cfg.info_codes:
        return None
    return torch.as_tensor(shift).float().reshape(len(directions.vectors), g.cfg.info_codes)


def _vectors(g: Generator, directions: Directions) -> torch.Tensor:
    v = torch.as_tensor(directions.vectors).float()
    if v.ndim != 2 or v.shape[1] != g.latent_dim:
        raise ValueError(f"directions of shape (k, {g.latent_dim}) are needed for this generator, got {tuple(v.shape)}")
    return v


@torch.no_grad()
def move(g: Generator, z: torch.Tensor, directions: Directions, amounts: Sequence[float],
         label: int | str | None = None) -> torch.Tensor:
    """One image (1, 1, 28, 28): G(z + Σ amounts[i]·vectors[i]), amounts in σ (z is standard normal per axis).

    Fewer amounts than directions leave the rest at 0; a conditional G without a label decodes class 0.
    """
    g = as_generator(g)
    base, v = _base(g, z), _vectors(g, directions)
    a = torch.as_tensor(list(amounts), dtype=torch.float32)
    if len(a) > len(v):
        raise ValueError(f"{len(a)} amounts given for {len(v)} directions")
    shift = _code_shift(g, directions)
    return _decode(g, base, (base + a @ v[: len(a)])[None], label, None if shift is None else (a @ shift[: len(a)])[None])


@torch.no_grad()
def strips(g: Generator, z: torch.Tensor, directions: Directions, sigmas: Sequence[float] = (-3, -2, -1, 0, 1, 2, 3),
           label: int | str | None = None) -> torch.Tensor:
    """(k·len(sigmas), 1, 28, 28): row i walks direction i from z, one image per σ."""
    g = as_generator(g)
    base, v = _base(g, z), _vectors(g, directions)
    s = torch.as_tensor(list(sigmas), dtype=torch.float32)
    if not len(s):
        raise ValueError("no σ positions given for the strips")
    zs = base + (v[:, None, :] * s[None, :, None]).reshape(-1, g.latent_dim)
    shift = _code_shift(g, directions)
    moves = None if shift is None else (shift[:, None, :] * s[None, :, None]).reshape(len(zs), -1)
    return _decode(g, base, zs, label, moves)


def class_shares_along(images: torch.Tensor, per_row: int) -> np.ndarray:
    """(rows, per_row, 10): the classifier's class probabilities for each image of each strip.

    One image per strip position, so its softmax is the share each class gets there: "direction 2 turns tops into
    dresses" reads as the Dress share rising along row 2. Raises ClassifierError without the classifier.
    """
    from gan_core.classifier import embed, load_classifier

    if per_row < 1 or len(images) % per_row:
        raise ValueError(f"{len(images)} images do not make rows of {per_row}")
    probs = embed(load_classifier(), torch.as_tensor(images).float().clamp(-1, 1))[1]
    return probs.numpy().reshape(len(images) // per_row, per_row, len(CLASS_NAMES))


@torch.no_grad()
def walk_gif(g: Generator, z: torch.Tensor, direction: torch.Tensor, *, frames: int = 24, span: float = 3.0,
             label: int | str | None = None, code_shift: torch.Tensor | None = None) -> bytes:
    """An animated GIF walking z from −span σ to +span σ along one direction and back (a seamless loop).

    `code_shift` (info_codes,): the direction's row of `Directions.code_shift`, so a class walk moves the code too.
    """
    g = as_generator(g)
    if not 2 <= frames <= 120:
        raise ValueError(f"frames must be between 2 and 120 (got {frames})")
    base = _base(g, z)
    d = torch.as_tensor(direction).float().reshape(-1)
    if d.shape != (g.latent_dim,):
        raise ValueError(f"a direction of {g.latent_dim} values is needed, got {tuple(torch.as_tensor(direction).shape)}")
    t = torch.linspace(-span, span, frames)
    moves = None
    if code_shift is not None and g.cfg.info_codes:
        moves = t[:, None] * torch.as_tensor(code_shift).float().reshape(1, g.cfg.info_codes)
    pics = list(to_uint8(_decode(g, base, base + t[:, None] * d, label, moves)))
    return gif_bytes(pics + pics[-2:0:-1], duration_ms=80, scale=4, max_frames=2 * frames)
