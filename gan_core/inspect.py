"""Looking inside a GAN: what D sees (its score and saliency per image), the power spectrum of generated against real
images, and G's feature maps layer by layer. Plain PyTorch and NumPy; the pages and `python -m gan_core inspect`
only draw what these functions return.

Every view works on a copy of the network in eval mode with its weights frozen, so looking never changes a run:
not its weights, not their gradients, not spectral norm's vectors or BatchNorm's statistics, not a random stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan_core.checkpoints import NO_DISCRIMINATOR, LoadedGenerator, generator_from_tensors, read_weights, resolve_weights_path
from gan_core.images import drawable, labelled_grid, make_grid, to_uint8, upscale
from gan_core.models import Discriminator, Generator, copy_without_streams
from gan_core.sampling import as_generator, generate, labels_for, latents

SMOOTH_COPIES = 8     # SmoothGrad: noisy copies averaged per image in the views (0: the plain input gradient)
SMOOTH_NOISE = 0.2    # their noise σ on the [-1, 1] pixel scale: 10 % of the range (Smilkov et al. suggest 10–20 %)
SPECTRUM_N = 1_000    # images per source in the views' spectra
TOP_BAND = 0.75       # "top frequency band": radius at least this fraction of the axis Nyquist frequency
_SIDE = 28


# ----------------------------------------------------------------------------- loading
def load_inspectable(source: str | Path) -> LoadedGenerator:
    """G, and D when the file holds one (a run folder or a training checkpoint; a generator file has G only).

    One read of the file: whether D is there is seen in its tensors, not guessed from an error message.
    """
    path = resolve_weights_path(source)
    tensors, meta = read_weights(path)
    has_d = any(k.startswith("D/") for k in tensors)
    return generator_from_tensors(tensors, meta, path, with_discriminator=has_d)


def discriminator_of(loaded: LoadedGenerator) -> Discriminator:
    """The loaded D, or a ValueError saying that D's views need a run or a checkpoint."""
    if loaded.discriminator is None:
        raise ValueError(NO_DISCRIMINATOR.format(path=loaded.path))
    return loaded.discriminator


# ----------------------------------------------------------------------------- what D sees
def _logit_twin(d: Discriminator) -> Discriminator:
    """A frozen eval-mode copy of D that outputs its logit (a sigmoid D's pre-activation), whatever D's output layer.

    A copy, so D's own train/eval flag is never touched (a run may be holding it); eval mode means no dropout,
    BatchNorm's running statistics and spectral norm's stored vectors (no power iteration), so a view neither
    depends on nor changes anything D trains with. A run's dropout layers draw from its own random stream: the copy
    gets none (`memo` maps each stream to None) instead of a copy of it.
    """
    twin = copy_without_streams(d)
    assert isinstance(twin, Discriminator)
    twin.out_act = None  # the logit itself: sigmoid(logit) is a sigmoid D's output, and its gradient never saturates
    return twin.eval().requires_grad_(False)


def _checked(d: Discriminator, images: torch.Tensor, labels: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, _SIDE, _SIDE):
        raise ValueError(f"images must be (N, 1, 28, 28) in [-1, 1]; got shape {tuple(images.shape)}")
    if not d.num_classes:
        return images, None
    if labels is None:
        raise ValueError("this discriminator is class-conditional: pass each image's class (labels)")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (len(images),):
        raise ValueError(f"{len(labels)} labels given for {len(images)} images")
    return images, labels


def d_scores(d: Discriminator, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """D's probability that each image is real, (N,) in [0, 1]: sigmoid of a logit D's output, a sigmoid D's output
    itself (as `gan_core.losses.realness` reads them). `labels`: the class of each image, for a conditional D."""
    images, labels = _checked(d, images, labels)
    twin = _logit_twin(d)
    dev, dtype = next(twin.parameters()).device, next(twin.parameters()).dtype
    with torch.no_grad():
        logit = twin(images.to(dev, dtype), None if labels is None else labels.to(dev))
    return torch.sigmoid(logit).cpu()


def saliency(d: Discriminator, images: torch.Tensor, labels: torch.Tensor | None = None, *, smooth: int = 0,
             noise: float = SMOOTH_NOISE, seed: int = 0) -> torch.Tensor:
    """|∂ logit / ∂ pixel| of D for each image, (N, 28, 28): where a small change of the image moves D's verdict most.

    Why the input gradient of the logit: it is exactly the signal G learns from (G's loss reaches its weights only
    through D's gradient on the image), it has the image's full 28×28 resolution for every architecture (Grad-CAM
    would give D's 7×7 feature grid, and nothing for the MLP D), and it costs one backward pass. The logit, not the
    probability: the probability's gradient is the logit's times p(1 − p), which vanishes wherever D is sure, so the
    images D judges most confidently would show nothing. `smooth` > 0 averages the gradient over that many copies
    of each image with Gaussian noise σ = `noise` (SmoothGrad, Smilkov et al. 2017; drawn from `seed`, never the
    global stream), which keeps what the pixel's neighbourhood agrees on and drops the speckle of LeakyReLU kinks.
    """
    images, labels = _checked(d, images, labels)
    if smooth < 0 or noise < 0:
        raise ValueError(f"smooth (copies) and noise (σ) cannot be negative (got {smooth}, {noise})")
    twin = _logit_twin(d)
    dev, dtype = next(twin.parameters()).device, next(twin.parameters()).dtype
    x = images.to(dev, dtype)
    y = None if labels is None else labels.to(dev)
    k = max(1, smooth)
    if smooth:
        gen = torch.Generator().manual_seed(seed)
        x = x.repeat(k, 1, 1, 1) + noise * torch.randn((k * len(x), *x.shape[1:]), generator=gen).to(dev, dtype)
        y = None if y is None else y.repeat(k)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        # In eval mode every image's logit depends on that image alone: one backward of the sum gives each gradient.
        (grad,) = torch.autograd.grad(twin(x, y).sum(), x)
    return grad.view(k, len(images), _SIDE, _SIDE).mean(0).abs().cpu()


@dataclass(frozen=True)
class DView:
    """Images with D's verdict on each: the probability of "real" and the saliency map."""

    images: torch.Tensor              # (N, 1, 28, 28) in [-1, 1]
    scores: torch.Tensor              # (N,) in [0, 1]
    saliency: torch.Tensor            # (N, 28, 28), ≥ 0
    labels: torch.Tensor | None = None


def d_view(d: Discriminator, images: torch.Tensor, labels: torch.Tensor | None = None, *,
           smooth: int = SMOOTH_COPIES, seed: int = 0) -> DView:
    """`d_scores` and `saliency` of the same images, kept together."""
    labels = None if labels is None or not d.num_classes else torch.as_tensor(labels, dtype=torch.long)
    return DView(images.detach().float().cpu(), d_scores(d, images, labels),
                 saliency(d, images, labels, smooth=smooth, seed=seed).float(), labels)


@dataclass(frozen=True)
class WhatDSees:
    generated: DView
    real: DView

    @property
    def vmax(self) -> float:
        """One colour scale for both sets (their 99th percentile), so their maps compare."""
        both = torch.cat([self.generated.saliency.flatten(), self.real.saliency.flatten()])
        return max(float(torch.quantile(both, 0.99)), 1e-12)


def what_d_sees(loaded: LoadedGenerator, real_images: torch.Tensor, real_labels: Sequence[int] | np.ndarray | None,
                n: int = 8, seed: int = 0, smooth: int = SMOOTH_COPIES) -> WhatDSees:
    """n generated images (from the file's G: its EMA when it has one) and n real ones picked by `seed`, each with D's
    score and saliency. A conditional G draws the classes of the real images beside them, so each pair is one class."""
    d = discriminator_of(loaded)
    if not 1 <= n <= len(real_images):
        raise ValueError(f"n must be between 1 and the {len(real_images)} real images available (got {n})")
    pick = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(seed))[:n]
    labels = None
    if d.num_classes:
        if real_labels is None:
            raise ValueError("this discriminator is class-conditional: pass the real images' labels")
        labels = torch.as_tensor(np.asarray(real_labels), dtype=torch.long)[pick]
    g = loaded.generator
    fake = generate(g, n, seed, label=labels if g.num_classes else None)
    return WhatDSees(d_view(d, fake, labels, smooth=smooth, seed=seed),
                     d_view(d, real_images[pick].float(), labels, smooth=smooth, seed=seed))


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB floats in [0, 1] (..., 3): black, red, yellow, white (a "hot" map: brighter = more)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    return np.clip(np.concatenate([3 * v, 3 * v - 1, 3 * v - 2], axis=-1), 0.0, 1.0)


def overlay_grid(view: DView, *, vmax: float | None = None, nrow: int | None = None, scale: int = 3,
                 alpha: float = 0.7) -> np.ndarray:
    """The images with their saliency overlaid in the hot colours and D's score under each: (H, W, 3) uint8.

    `vmax`: saliency drawn at full strength (default: this set's 99th percentile; `WhatDSees.vmax` shares one).
    The grid is `make_grid`'s and the scores `labelled_grid`'s, drawn per colour channel.
    """
    sal = view.saliency.numpy()
    top = vmax if vmax is not None else max(float(np.quantile(sal, 0.99)), 1e-12)
    heat = np.clip(sal / top, 0.0, 1.0)
    gray = to_uint8(view.images).astype(np.float32)[..., None] / 255.0
    weight = alpha * heat[..., None]
    rgb = np.rint(255 * ((1 - weight) * gray + weight * heat_colours(heat))).astype(np.uint8)
    labels = [f"D {float(p):.2f}" for p in view.scores]
    channels = [np.asarray(labelled_grid(make_grid(rgb[..., c], nrow=nrow), scale=scale, cell_labels=labels))
                for c in range(3)]
    return np.stack(channels, axis=-1)


# ----------------------------------------------------------------------------- spectra
@dataclass(frozen=True)
class Spectrum:
    """The mean power spectrum of n images: each image's mean brightness (the DC term) removed, |FFT|² averaged over
    the images, fftshifted (zero frequency at [14, 14], the Nyquist corner at [0, 0])."""

    power: np.ndarray   # (28, 28) mean power, linear
    n: int

    @property
    def log_power(self) -> np.ndarray:
        return np.log10(self.power + 1e-12)

    @property
    def radial(self) -> np.ndarray:
        """log10 of the mean power at each whole radius 0..20 from zero frequency (14 is Nyquist on an axis, 19.8 the
        corner: a checkerboard's frequency)."""
        r = _radius_bins()
        sums, counts = np.bincount(r.ravel(), self.power.ravel()), np.bincount(r.ravel())
        return np.log10(sums / np.maximum(counts, 1) + 1e-12)

    def band_power(self, lo: float, hi: float = math.inf) -> float:
        """Mean power over frequencies with radius in [lo, hi) × the axis Nyquist frequency."""
        r = np.hypot(*np.meshgrid(np.arange(_SIDE) - _SIDE // 2, np.arange(_SIDE) - _SIDE // 2, indexing="ij"))
        band = (r >= lo * _SIDE / 2) & (r < hi * _SIDE / 2)
        return float(self.power[band].mean())


def _radius_bins() -> np.ndarray:
    c = np.arange(_SIDE) - _SIDE // 2
    return np.rint(np.hypot(*np.meshgrid(c, c, indexing="ij"))).astype(int)


def power_spectrum(images: torch.Tensor | np.ndarray) -> Spectrum:
    """`Spectrum` of (N, 1, 28, 28) or (N, 28, 28) images in [-1, 1] (measured on the [0, 1] pixel scale)."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[-2:] != (_SIDE, _SIDE) or x.size != len(x) * _SIDE * _SIDE or not len(x):
        raise ValueError(f"images must be (N, 1, 28, 28) or (N, 28, 28) with N ≥ 1; got shape {x.shape}")
    x = (x.reshape(len(x), _SIDE, _SIDE).astype(np.float64) + 1) / 2
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(1, 2))) ** 2
    return Spectrum(power.mean(0), len(x))


@dataclass(frozen=True)
class SpectrumComparison:
    generated: Spectrum
    real: Spectrum

    def band_ratio(self, lo: float = TOP_BAND, hi: float = math.inf) -> float:
        """Generated over real mean power in a band (radius in [lo, hi) × Nyquist): 1 is like real images, above 1
        an excess (transposed convolutions' checkerboard), below 1 a lack (blur)."""
        return self.generated.band_power(lo, hi) / max(self.real.band_power(lo, hi), 1e-30)


def compare_spectra(g: Generator | LoadedGenerator, real_images: torch.Tensor,
                    real_labels: Sequence[int] | np.ndarray | None = None, n: int = SPECTRUM_N, seed: int = 0
                    ) -> SpectrumComparison:
    """Spectra of n generated and n real images (a seeded pick); a conditional G draws the real images' classes."""
    g = as_generator(g)
    if not 1 <= n <= len(real_images):
        raise ValueError(f"n must be between 1 and the {len(real_images)} real images available (got {n})")
    pick = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(seed))[:n]
    label = None
    if g.num_classes:
        label = None if real_labels is None else torch.as_tensor(np.asarray(real_labels), dtype=torch.long)[pick]
    return SpectrumComparison(power_spectrum(generate(g, n, seed, label=label)), power_spectrum(real_images[pick]))


def spectrum_pictures(comparison: SpectrumComparison) -> tuple[np.ndarray, np.ndarray]:
    """The two log spectra as (28, 28, 3) uint8 heat pictures on one shared scale (generated, real); the removed DC
    term (the centre) is drawn at the bottom of the scale and left out of it, or its log(0) would flatten the rest."""
    logs = [comparison.generated.log_power.copy(), comparison.real.log_power.copy()]
    centre = (_SIDE // 2, _SIDE // 2)
    rest = np.concatenate([np.delete(a.ravel(), centre[0] * _SIDE + centre[1]) for a in logs])
    lo, hi = float(rest.min()), float(rest.max())
    for a in logs:
        a[centre] = lo
    gen, real = (np.rint(255 * heat_colours((a - lo) / max(hi - lo, 1e-12))).astype(np.uint8) for a in logs)
    return gen, real


def spectrum_png_image(comparison: SpectrumComparison, scale: int = 8) -> Image.Image:
    """For a file: the two spectra side by side, titled, above the radial curves (generated orange, real blue)."""
    pics = [upscale_rgb(p, scale) for p in spectrum_pictures(comparison)]
    side, gap, title = pics[0].shape[0], 16, 22
    chart = radial_chart(comparison, width=2 * side + gap, height=260)
    canvas = Image.new("RGB", (2 * side + gap, title + side + chart.height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (pic, name) in enumerate(zip(pics, ("generated", "real"), strict=True)):
        x = i * (side + gap)
        draw.text((x + side / 2, title / 2), f"{name} (log power, n={comparison.real.n:,})", fill=(0, 0, 0), anchor="mm")
        canvas.paste(Image.fromarray(pic), (x, title))
    canvas.paste(chart, (0, title + side))
    return canvas


def upscale_rgb(img: np.ndarray, factor: int) -> np.ndarray:
    """`gan_core.images.upscale` for an (H, W, 3) picture."""
    return np.stack([upscale(img[..., c], factor) for c in range(img.shape[-1])], axis=-1)


def radial_chart(comparison: SpectrumComparison, width: int = 480, height: int = 260) -> Image.Image:
    """The radial log-power curves drawn with PIL (the library needs no plotting package)."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 44, 10, 10, 34
    curves = [(comparison.generated.radial, (245, 133, 24), "generated"), (comparison.real.radial, (76, 120, 168), "real")]
    lo = min(float(c[0][1:].min()) for c in curves)  # radius 0 is the removed DC term
    hi = max(float(c[0].max()) for c in curves)
    r_max = len(curves[0][0]) - 1

    def xy(r: int, v: float) -> tuple[float, float]:
        return (left + r / r_max * (width - left - right),
                top + (hi - v) / max(hi - lo, 1e-12) * (height - top - bottom))

    draw.rectangle((left, top, width - right, height - bottom), outline=(160, 160, 160))
    nyquist = xy(_SIDE // 2, lo)[0]
    draw.line((nyquist, top, nyquist, height - bottom), fill=(200, 200, 200))
    for values, colour, _ in curves:
        draw.line([xy(r, float(v)) for r, v in enumerate(values) if r > 0], fill=colour, width=2)
    draw.text((left, height - bottom + 4), drawable("radius 1 (low frequency) -> 14: Nyquist (grey line) -> 20: corner"),
              fill=(0, 0, 0))
    draw.text((left, height - bottom + 18), "log10 power: generated (orange), real (blue)", fill=(0, 0, 0))
    draw.text((2, top), f"{hi:.1f}", fill=(0, 0, 0))
    draw.text((2, height - bottom - 10), f"{lo:.1f}", fill=(0, 0, 0))
    return img


# ----------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class LayerMaps:
    """The output of one layer of G's body for one latent, as channels (C, H, W); a dense layer's units are C
    channels of 1×1."""

    index: int
    kind: str
    maps: np.ndarray    # (C, H, W) float32

    @property
    def name(self) -> str:
        return f"{self.index} {self.kind}"

    @property
    def dense(self) -> bool:
        return self.maps.shape[1:] == (1, 1)

    @property
    def zero_share(self) -> float:
        """Share of activations exactly zero (a ReLU's dead units: they pass no signal and no gradient)."""
        return float((self.maps == 0).mean())

    @property
    def dead_channels(self) -> int:
        """Channels all zero for this latent (a LeakyReLU never outputs zero: look at `constant_channels`)."""
        return int((self.maps == 0).reshape(len(self.maps), -1).all(1).sum())

    @property
    def constant_channels(self) -> int:
        """Channels with (almost) the same value everywhere: they carry no spatial information for this latent."""
        return int((self.maps.reshape(len(self.maps), -1).std(1) < 1e-6).sum()) if not self.dense else 0

    def summary(self) -> dict[str, float | int | str]:
        m = self.maps
        return {"layer": self.name, "output": " × ".join(map(str, m.shape)), "mean": float(m.mean()),
                "std": float(m.std()), "min": float(m.min()), "max": float(m.max()), "zero share": self.zero_share,
                "dead channels": self.dead_channels, "constant channels": self.constant_channels}

    def channel_stats(self) -> list[dict[str, float | int]]:
        """Per channel: mean, std, min, max and the share of zeros (for a dense layer, one row per unit is noise:
        read `summary`)."""
        flat = self.maps.reshape(len(self.maps), -1)
        return [{"channel": c, "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
                 "max": float(v.max()), "zero share": float((v == 0).mean())} for c, v in enumerate(flat)]


def layer_maps(g: Generator | LoadedGenerator, seed: int = 0, label: int | str | None = None) -> list[LayerMaps]:
    """Every layer's output in G's body for z(seed) (and the class `label` of a conditional G: class 0 by default),
    through forward hooks on a G left as it was (eval mode for the pass, no gradients)."""
    g = as_generator(g)
    if g.num_classes and label is None:
        label = 0
    labels = labels_for(g, 1, label)
    outputs: list[LayerMaps] = []
    hooks = [m.register_forward_hook(_recorder(outputs, i, type(m).__name__)) for i, m in enumerate(g.body)]
    was_training = g.training
    device = next(g.parameters()).device
    try:
        g.eval()
        with torch.no_grad():
            g(latents(1, g.latent_dim, seed).to(device), None if labels is None else labels.to(device))
    finally:
        g.train(was_training)
        for h in hooks:
            h.remove()
    return outputs


def _recorder(outputs: list[LayerMaps], index: int, kind: str) -> Callable[..., None]:
    """A forward hook keeping the first image's output of layer `index` as channels."""
    def hook(_module: torch.nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        a = out.detach().float().cpu()[0].numpy()
        maps = a.reshape(-1, 1, 1) if a.ndim == 1 else a.reshape(-1, *a.shape[-2:])
        outputs.append(LayerMaps(index, kind, maps.astype(np.float32)))

    return hook


def layer_picture(layer: LayerMaps) -> np.ndarray:
    """One layer as a uint8 picture on one scale (the layer's min to max, so weak and dead channels look dark): its
    channels as a grid, or a dense layer's units as the pixels of one square (unused places at the layer's min)."""
    m = layer.maps
    lo, hi = float(m.min()), float(m.max())
    norm = (m - lo) / max(hi - lo, 1e-12)
    if layer.dense:
        side = math.ceil(math.sqrt(len(m)))
        square = np.zeros(side * side, np.float32)
        square[: len(m)] = norm.ravel()
        return np.rint(square.reshape(side, side) * 255).astype(np.uint8)
    cells = np.rint(norm * 255).astype(np.uint8)
    return make_grid(cells, nrow=math.ceil(math.sqrt(len(cells))), pad=1)


def fit_scale(picture: np.ndarray, width: int = 560) -> int:
    """A whole upscaling factor (1..16) that brings a picture near `width` pixels: small maps stay legible."""
    return max(1, min(16, width // max(picture.shape[1], 1)))


def file_stem(layer: LayerMaps) -> str:
    """`layers_<k>_<name>`, the CLI's file name of a layer's picture."""
    return f"layers_{layer.index}_{layer.kind.lower()}"
