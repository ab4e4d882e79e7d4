"""What a latent is: z, plus an optional InfoGAN code.

z is one standard Gaussian vector (latent_dim,). A generator trained with `info_codes` = K also takes a
categorical code, a one-hot over K values (InfoGAN, Chen et al. 2016). The code is not drawn beside z but read
off it: the argmax of z's first K entries, uniform over K for a Gaussian z. So a seed still names one plain z
and sampling needs nothing else, while the generator sees a discrete switch it can use to keep modes apart.

The code read off z is only the default. Whatever makes a new latent out of others carries the code along
explicitly, because the argmax of a mix picks one input's switch and drops the rest:

- a mean of latents has the mean of their one-hots (a class mean in latent arithmetic);
- a signed sum has the signed sum of their codes (latent arithmetic);
- a blend moves the code linearly from one end's to the other's (interpolation);
- a code grid plants code r into every latent of row r.

The generator takes such a code beside z (`Generator.forward(z, labels, codes)`) instead of reading its own.
A class-conditional generator's label is a one-hot beside z too, and the same two operations make its mixes
(`signed_rows` for a sum of classes, `lerp` for a blend from one class into another).
This module only does tensor arithmetic; it knows nothing of generators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def info_code(z: torch.Tensor, k: int) -> torch.Tensor:
    """The InfoGAN category a latent vector carries: the argmax of its first k entries (uniform over k).

    Read off z rather than drawn beside it, so z stays one plain Gaussian vector for sampling, seeds and
    latent arithmetic, while the generator still sees a discrete switch it can use to keep modes apart.
    """
    return z[:, :k].argmax(dim=1)


def read_codes(z: torch.Tensor, k: int) -> torch.Tensor:
    """(n, k): the one-hot codes a generator reads off z (n, latent_dim) when it is given none."""
    return F.one_hot(info_code(z, k), k).to(z.dtype)


def carrying(z: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
    """z (n, latent_dim) with each row's first k entries permuted so that it carries code codes[i]: its largest
    entry swapped with entry codes[i]. A permutation of a Gaussian vector's entries is still one, so each row is a
    plain z again, one that reads off the wanted code (a fixed grid with a code per row)."""
    z, rows = z.clone(), torch.arange(len(z))
    top = info_code(z, k)
    largest, wanted = z[rows, top].clone(), z[rows, codes].clone()
    z[rows, top], z[rows, codes] = wanted, largest
    return z


def planted_codes(k: int, per_code: int) -> torch.Tensor:
    """(k * per_code, k): code r planted in the r-th run of `per_code` rows (a code-by-row grid)."""
    return torch.eye(k).repeat_interleave(per_code, dim=0)


@dataclass(frozen=True)
class Latent:
    """One generator input: z, and the code it carries when the generator has one.

    `code` None means the code read off z (a seed's latent); a tensor is a code given explicitly,
    e.g. a mean or a sum of one-hots.
    """

    z: torch.Tensor                   # (latent_dim,)
    code: torch.Tensor | None = None  # (K,): a one-hot or a mix of one-hots

    @classmethod
    def mean_of(cls, members: torch.Tensor, k: int) -> Latent:
        """The mean of latents (n, latent_dim): their mean z and, for k > 0, the mean of their one-hot codes."""
        return cls(members.mean(0), read_codes(members, k).mean(0) if k else None)


def signed_rows(signs: Sequence[int], rows: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """sum(sign_i * row_i) in float64, returned as float32: the signed sum of one-hots (codes, class labels)."""
    return sum(s * torch.as_tensor(r).double() for s, r in zip(signs, rows, strict=True)).float()


def lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, k): from a to b along a straight line, ends included (how a code or a class label blends)."""
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * torch.as_tensor(a).float() + t * torch.as_tensor(b).float()


def with_codes(latents: Sequence[Latent], k: int) -> list[Latent]:
    """The latents with their codes made explicit: each keeps its own, or gets the one-hot read off its z.

    k = 0 (a generator without a code) leaves them as they are. Given codes are taken as float32; shapes are
    the caller's to check, where it can say which input is wrong.
    """
    if not k:
        return list(latents)
    read = read_codes(torch.stack([torch.as_tensor(x.z) for x in latents]).float(), k)
    return [Latent(x.z, read[i] if x.code is None else torch.as_tensor(x.code, dtype=torch.float32))
            for i, x in enumerate(latents)]


def stacked_codes(latents: Sequence[Latent]) -> torch.Tensor | None:
    """(n, K): the latents' explicit codes in one batch for the generator; None when they carry none."""
    codes = [x.code for x in latents]
    if all(c is None for c in codes):
        return None
    if any(c is None for c in codes):
        raise ValueError("some latents carry a code and some do not: make them explicit with with_codes first")
    return torch.stack(codes)


def signed_sum(signs: Sequence[int], latents: Sequence[Latent]) -> Latent:
    """sum(sign_i * latent_i), z and code alike, in float64 so that A + B − B is exactly A.

    Give explicit codes (`with_codes`): summing z alone would let the argmax of the sum keep one switch.
    """
    z = sum(s * torch.as_tensor(x.z).double() for s, x in zip(signs, latents, strict=True)).float()
    codes = stacked_codes(latents)
    code = None if codes is None else signed_rows(signs, codes)
    return Latent(z, code)


def blend(a: Latent, b: Latent, steps: int, k: int, *, spherical: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`steps` latents from a to b, ends included: z (steps, latent_dim) and codes (steps, k), None for k = 0.

    z follows the great circle (slerp), which keeps |z| typical for a Gaussian, or the straight line. The code
    moves linearly from a's to b's, so the walk blends the two switches instead of jumping where the argmax of
    z's first entries changes hands.
    """
    za, zb = a.z, b.z
    t = torch.linspace(0, 1, steps)
    if spherical:
        omega = torch.arccos(torch.clamp(torch.dot(za / za.norm(), zb / zb.norm()), -1, 1))
        so = torch.sin(omega)
        if so.abs() < 1e-6:
            z = lerp(za, zb, steps)
        else:
            z = (torch.sin((1 - t) * omega) / so)[:, None] * za + (torch.sin(t * omega) / so)[:, None] * zb
    else:
        z = lerp(za, zb, steps)
    codes = None
    if k:
        ca, cb = stacked_codes(with_codes([a, b], k))
        codes = lerp(ca, cb, steps)
    return z, codes
