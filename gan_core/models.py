"""Generator and discriminator architectures behind one registry.

Every architecture is a plain `nn.Sequential` body wrapped by `Generator` or
`Discriminator`, which add what all of them share: class conditioning (one-hot
labels concatenated to z; a projection term in D), the optional sigmoid output
and spectral normalisation. Keeping the bodies as flat Sequentials is what lets
`summarize` print a Keras-style layer table that matches the seed reports.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_core.fields import declare as _f
from gan_core.latent import read_codes

IMAGE_SHAPE = (1, 28, 28)


D_OUTPUTS = ("logit", "sigmoid")


@dataclass(frozen=True)
class ModelFields:
    """The networks' fields, declared once: gan_core.config.TrainConfig holds them (flat, as config.json has them),
    and ModelConfig, what a weights file stores, is them plus `num_classes`."""

    arch: str = _f("dcgan", "architecture from the model registry (see `python -m gan_core info`)", "Architecture",
                   at=("essentials", 0, 0), choices=lambda: tuple(ARCHITECTURES))
    latent_dim: int = _f(100, "size of the noise vector z", "Latent size (z)", low=1, high=1024, at=("essentials", 0, 2))
    width: float = _f(1.0, "channel/width multiplier of both networks", "Width multiplier", low=0.125, high=8.0,
                      at=("essentials", 0, 1), step=0.125)
    # 0: D follows `width`, which is also what a weights file written before this field was added reads as.
    d_width: float = _f(0.0, "channel/width multiplier of the discriminator alone (0: same as width)",
                        "D width (0: same)", low=0.0, high=8.0, at=("model", 0, 0), step=0.125)
    info_codes: int = _f(0, "InfoGAN categorical code: the argmax of z's first K entries, which a Q head on D must "
                            "recover from the image (0: off; e.g. 10)", "InfoGAN code categories (0: off)",
                         low=0, high=1024, at=("optimiser", 2, 0))
    code_projection: bool = _f(False, "D also scores each image against its InfoGAN code, with a projection term as a "
                                      "conditional D has for classes: a generated image against the code G was given, a "
                                      "real one against its data cluster (needs info_clusters; in a conditional run one "
                                      "row per class and code, each class's clusters its own)",
                               "D conditioned on the code", at=("optimiser", 2, 3), widget="toggle")
    batch_norm: bool = _f(True, "use BatchNorm where the architecture has it", "Batch norm", at=("model", 0, 2))
    spectral_norm: bool = _f(False, "spectral normalisation on the discriminator's layers", "Spectral norm on D",
                             at=("model", 0, 3))
    d_output: str = _f("logit", "logit (linear output, recommended) or sigmoid (probabilities into BCE)", "D output",
                       at=("model", 0, 1), choices=D_OUTPUTS)
    dropout: float = _f(0.3, "dropout rate in the discriminator", "D dropout", low=0.0, high=0.9, at=("model", 0, 4),
                        step=0.05)


@dataclass(frozen=True)
class ModelConfig(ModelFields):
    """What it takes to rebuild a generator and discriminator (stored with every weights file).

    Its fields are TrainConfig's model fields, declared once in gan_core.config.ModelFields (defaults included),
    plus the number of classes a conditional pair is built for (TrainConfig says `conditional`).
    """

    num_classes: int = 0  # 0: unconditional; 10: class-conditional

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class GlobalMaxPool2d(nn.Module):
    """Keras' GlobalMaxPooling2D (report 001's discriminator ends with it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=(2, 3))


class Generator(nn.Module):
    def __init__(self, body: nn.Sequential, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim = cfg.latent_dim
        self.num_classes = cfg.num_classes
        self.body = body

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                codes: torch.Tensor | None = None) -> torch.Tensor:
        """`labels` are class indices (n,) or class mixes (n, num_classes) (see `label_input`); `codes`
        (n, info_codes) replaces the one-hot InfoGAN code read off z, e.g. by a sum or a blend of codes."""
        x = z
        if self.num_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            # z.shape[0], not len(z): a traced batch size stays symbolic, so the ONNX export takes any N
            x = torch.cat([x, self.label_input(labels, z.shape[0]).to(z.dtype)], dim=1)
        if codes is not None:
            k = self.cfg.info_codes
            if not k:
                raise ValueError("this generator has no InfoGAN code (info_codes is 0): codes cannot be given")
            if codes.shape != (len(z), k):
                raise ValueError(f"codes must have shape ({len(z)}, {k}), got {tuple(codes.shape)}")
            x = torch.cat([x, codes.to(z.dtype)], dim=1)
        elif self.cfg.info_codes:
            x = torch.cat([x, self.codes_of(z)], dim=1)
        return self.body(x)

    def label_input(self, labels: torch.Tensor, n: int) -> torch.Tensor:
        """The class part of G's input: the one-hots of class indices (n,), or mixes of them given as floats
        (n, num_classes). A mix is what latent arithmetic makes of a conditional G's labels (a signed sum of
        classes): the label is part of its latent, as the InfoGAN code is part of an unconditional one's."""
        if labels.is_floating_point():
            if labels.shape != (n, self.num_classes):
                raise ValueError(f"class mixes must have shape ({n}, {self.num_classes}), got {tuple(labels.shape)}")
            return labels
        return F.one_hot(labels, self.num_classes)

    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """The one-hot InfoGAN codes (n, info_codes) that `forward` reads off z."""
        k = self.cfg.info_codes
        if not k:
            raise ValueError("this generator has no InfoGAN code (info_codes is 0)")
        return read_codes(z, k)


class Discriminator(nn.Module):
    """Features -> linear score, plus a projection term when class-conditional."""

    def __init__(self, features: nn.Sequential, feature_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = cfg.num_classes
        self.features = features
        self.head = nn.Linear(feature_dim, 1)
        # The projection term's rows: one per class, and with `code_projection` one per InfoGAN code value within it
        # (class c, code j: row c * info_codes + j).
        rows = (cfg.num_classes or 1) * cfg.info_codes if cfg.code_projection else cfg.num_classes
        self.embed = nn.Embedding(rows, feature_dim) if rows else None
        self.initial_choices()
        # InfoGAN's Q head: recovers the generator's code from D's features (trained on generated images, and with
        # info_clusters on each real image's cluster too).
        self.q_head = nn.Linear(feature_dim, cfg.info_codes) if cfg.info_codes else None
        self.out_act = nn.Sigmoid() if cfg.d_output == "sigmoid" else None
        if cfg.spectral_norm:
            for module in [*self.features, self.head]:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    @torch.no_grad()
    def initial_choices(self) -> None:
        """Where D's start differs from its layers' defaults (`initialize` repeats it after redrawing them)."""
        if self.embed is not None:
            # Start unconditional: N(0,1) rows dotted with thousands of features swamp the logit.
            nn.init.zeros_(self.embed.weight)

    @property
    def outputs_probabilities(self) -> bool:
        return self.out_act is not None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, codes: torch.Tensor | None = None
                ) -> torch.Tensor:
        return self._score(self.features(x), labels, codes)

    def score_and_code(self, x: torch.Tensor, labels: torch.Tensor | None = None, codes: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """The score and the Q head's code logits from one pass through the features."""
        if self.q_head is None:
            raise ValueError("this discriminator has no Q head (info_codes is 0)")
        h = self.features(x)
        return self._score(h, labels, codes), self.q_head(h)

    def _score(self, h: torch.Tensor, labels: torch.Tensor | None, codes: torch.Tensor | None) -> torch.Tensor:
        """`labels` are classes; with `code_projection`, `codes` are code values (a generated image's code, a real
        one's cluster). Without codes such a D scores an image against the code its own Q head reads off it, so every
        view that scores images with a class or nothing works unchanged."""
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if self.num_classes and labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            rows = labels
            if self.cfg.code_projection:
                if codes is None:
                    codes = self.q_head(h).argmax(dim=1)
                rows = codes if labels is None else labels * self.cfg.info_codes + codes
            out = out + (self.embed(rows) * h).sum(dim=1)
        if self.out_act is not None:
            out = self.out_act(out)
        return out

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Scores on the logit scale whatever the output layer, for realness comparisons."""
        out = self(x, labels)
        return torch.logit(out, eps=1e-6) if self.outputs_probabilities else out


# ----------------------------------------------------------------------------- a run's own random stream
class Dropout(nn.Dropout):
    """nn.Dropout that draws its masks from `generator` when one is set (a training run's own stream).

    torch's global RNG is shared by every thread of a process: in the app a page that builds a network or reseeds
    torch would otherwise change the dropout masks of the run training beside it. The mask is made as F.dropout
    makes it on the CPU (bernoulli(1 - p), divided by 1 - p), so a stream seeded alike draws the same masks.
    Without a generator (evaluation, a network outside a trainer) it is nn.Dropout.
    """

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0 < self.p < 1 or self.generator is None:
            return super().forward(x)
        noise = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * noise.div_(1 - self.p)


def draw_dropout_from(net: nn.Module, generator: torch.Generator | None) -> None:
    """Let every dropout layer of `net` draw from `generator` (None: back to the global RNG)."""
    for m in net.modules():
        if isinstance(m, Dropout):
            m.generator = generator


def copy_without_streams(net: nn.Module) -> nn.Module:
    """A deep copy of `net` whose dropout layers draw from no run's stream: a view of a network a run is training
    must neither copy nor advance that run's random stream."""
    streams = {id(m.generator): None for m in net.modules() if isinstance(m, Dropout) and m.generator is not None}
    return copy.deepcopy(net, memo=streams)


@torch.no_grad()
def initialize(net: nn.Module, generator: torch.Generator) -> None:
    """Draw `net`'s initial weights from `generator` instead of torch's global RNG.

    The same draws, in the same order, as building the network after `torch.manual_seed` (each layer's
    reset_parameters in construction order, then the discriminator's own choices, then spectral norm's vectors),
    so a generator seeded with s gives the weights `torch.manual_seed(s)` gave: tested for every architecture.
    What it buys is that no other thread (a page building a network, reseeding torch) can change them.
    """
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            weight = _original(m)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, generator=generator)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()  # ones, zeros and fresh statistics: no draws
    for m in net.modules():
        if isinstance(m, Discriminator):
            m.initial_choices()  # no draws: after the layers', as in its constructor
        if nn.utils.parametrize.is_parametrized(m, "weight"):
            _redraw_spectral_norm(m, generator)


def _original(m: nn.Module) -> torch.Tensor:
    """A layer's weight tensor itself (under spectral norm, the parametrization's original)."""
    if nn.utils.parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def _redraw_spectral_norm(m: nn.Module, generator: torch.Generator) -> None:
    """Spectral norm's start: u and v drawn and normalised, then the 15 power iterations of its registration and
    the one of the check that registering runs (torch.nn.utils.parametrizations._SpectralNorm)."""
    sn = m.parametrizations.weight[0]
    weight_mat = sn._reshape_weight_to_matrix(m.parametrizations.weight.original)
    h, w = weight_mat.size()
    sn._u.copy_(F.normalize(weight_mat.new_empty(h).normal_(0, 1, generator=generator), dim=0, eps=sn.eps))
    sn._v.copy_(F.normalize(weight_mat.new_empty(w).normal_(0, 1, generator=generator), dim=0, eps=sn.eps))
    sn._power_method(weight_mat, 15)
    sn._power_method(weight_mat, sn.n_power_iterations)


# ----------------------------------------------------------------------------- building blocks
# The blocks return lists of layers that the architectures splice into one flat Sequential, so each layer
# keeps its own index: the indices are part of the state_dict keys that shipped weights and checkpoints load by.
#
# Shape comments give the tensor after the line they sit on. A generator body takes (B, z) with
# z = latent_dim + num_classes + info_codes; a discriminator body takes (B, 1, 28, 28). `w` is the width
# multiplier, `d` the discriminator's (d_width, or width when d_width is 0); "128w" channels is round(128 * w),
# at least 1.
def _ch(base: int, cfg: ModelConfig) -> int:
    return max(1, round(base * cfg.width))


def _dch(base: int, cfg: ModelConfig) -> int:
    """Discriminator channels: `d_width` when set, so D can grow without growing G."""
    return max(1, round(base * (cfg.d_width or cfg.width)))


def _bn2d(c: int, cfg: ModelConfig, momentum: float = 0.1) -> list[nn.Module]:
    return [nn.BatchNorm2d(c, momentum=momentum)] if cfg.batch_norm else []


def _bn1d(c: int, cfg: ModelConfig, momentum: float = 0.1) -> list[nn.Module]:
    return [nn.BatchNorm1d(c, momentum=momentum)] if cfg.batch_norm else []


def _gen_in(cfg: ModelConfig) -> int:
    return cfg.latent_dim + cfg.num_classes + cfg.info_codes


def _up(c_in: int, c_out: int, cfg: ModelConfig, *, bias: bool, momentum: float = 0.1) -> list[nn.Module]:
    """4x4 stride-2 transposed conv, its BatchNorm (if cfg.batch_norm), LeakyReLU(0.2): doubles H and W (7 -> 14 -> 28)."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias), *_bn2d(c_out, cfg, momentum), nn.LeakyReLU(0.2)]


def _down(c_in: int, c_out: int, cfg: ModelConfig, *, kernel: int, slope: float,
          bn_momentum: float | None = None, dropout: bool = False) -> list[nn.Module]:
    """Stride-2 conv, BatchNorm, LeakyReLU, dropout: halves H and W (28 -> 14 -> 7).

    BatchNorm only where a report put it (`bn_momentum` given) and cfg.batch_norm is on; dropout at cfg.dropout.
    Padding (kernel - 1) // 2 halves 28 and 14 exactly for the 3x3, 4x4 and 5x5 kernels used here.
    """
    return [
        nn.Conv2d(c_in, c_out, kernel, 2, (kernel - 1) // 2),
        *(_bn2d(c_out, cfg, bn_momentum) if bn_momentum is not None else []),
        nn.LeakyReLU(slope),
        *([Dropout(cfg.dropout)] if dropout else []),
    ]


def _strided_d(c1: int, c2: int, *, kernel: int, slope: float) -> Callable[[ModelConfig], Discriminator]:
    """The discriminator of dcgan, tf-tutorial and ankle-boot: two `_down` stages with dropout, flattened.

    c1 and c2 are the channels at width 1; they scale with d.
    """

    def build(cfg: ModelConfig) -> Discriminator:
        a, b = _dch(c1, cfg), _dch(c2, cfg)
        features = nn.Sequential(
            *_down(1, a, cfg, kernel=kernel, slope=slope, dropout=True),  # (B, c1·d, 14, 14)
            *_down(a, b, cfg, kernel=kernel, slope=slope, dropout=True),  # (B, c2·d, 7, 7)
            nn.Flatten(),  # (B, c2·d·7·7)
        )
        return Discriminator(features, b * 7 * 7, cfg)

    return build


# ----------------------------------------------------------------------------- dcgan (studio)
def _dcgan_to_14(cfg: ModelConfig) -> list[nn.Module]:
    """Dense to 128w x 7 x 7, then a 4x4 transposed conv to 64w x 14 x 14: the start both DCGAN generators share."""
    c1, c2 = _ch(128, cfg), _ch(64, cfg)
    return [
        nn.Linear(_gen_in(cfg), c1 * 7 * 7, bias=not cfg.batch_norm),  # (B, 128w·7·7)
        nn.Unflatten(1, (c1, 7, 7)),  # (B, 128w, 7, 7)
        *_bn2d(c1, cfg),
        nn.LeakyReLU(0.2),
        *_up(c1, c2, cfg, bias=not cfg.batch_norm),  # (B, 64w, 14, 14)
    ]


def _dcgan_g(cfg: ModelConfig) -> Generator:
    body = nn.Sequential(
        *_dcgan_to_14(cfg),  # (B, 64w, 14, 14)
        nn.ConvTranspose2d(_ch(64, cfg), 1, 4, 2, 1),  # (B, 1, 28, 28)
        nn.Tanh(),
    )
    return Generator(body, cfg)


# 4x4 convs: (B, 64d, 14, 14) -> (B, 128d, 7, 7) -> (B, 128d·7·7)
_dcgan_d = _strided_d(64, 128, kernel=4, slope=0.2)


def _dcgan_deep_g(cfg: ModelConfig) -> Generator:
    """The studio G with a 3x3 conv after each upsampling: more nonlinearity to keep classes apart.

    The two-layer studio G must turn one Gaussian into ten separate clothing manifolds with a single
    dense layer; unconditionally it fills the gaps with shirt/coat/pullover blends (low precision).
    """
    c2, c3 = _ch(64, cfg), _ch(32, cfg)
    body = nn.Sequential(
        *_dcgan_to_14(cfg),  # (B, 64w, 14, 14)
        nn.Conv2d(c2, c2, 3, 1, 1, bias=not cfg.batch_norm),  # (B, 64w, 14, 14)
        *_bn2d(c2, cfg),
        nn.LeakyReLU(0.2),
        *_up(c2, c3, cfg, bias=not cfg.batch_norm),  # (B, 32w, 28, 28)
        nn.Conv2d(c3, 1, 3, 1, 1),  # (B, 1, 28, 28)
        nn.Tanh(),
    )
    return Generator(body, cfg)


# ----------------------------------------------------------------------------- mlp (report 004)
def _dense(c_in: int, c_out: int, cfg: ModelConfig, act: nn.Module) -> list[nn.Module]:
    """Linear, its BatchNorm (if cfg.batch_norm), then the activation: the stage both MLP bodies repeat."""
    return [nn.Linear(c_in, c_out), *_bn1d(c_out, cfg), act]


def _mlp_g(cfg: ModelConfig) -> Generator:
    h1, h2, h3 = _ch(128, cfg), _ch(256, cfg), _ch(512, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), h1),  # (B, 128w)
        nn.ReLU(),
        *_dense(h1, h2, cfg, nn.ReLU()),  # (B, 256w)
        *_dense(h2, h3, cfg, nn.ReLU()),  # (B, 512w)
        nn.Linear(h3, 28 * 28),  # (B, 784)
        nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),  # (B, 1, 28, 28)
    )
    return Generator(body, cfg)


def _mlp_d(cfg: ModelConfig) -> Discriminator:
    h1, h2 = _dch(512, cfg), _dch(256, cfg)
    features = nn.Sequential(
        nn.Flatten(),  # (B, 784)
        *_dense(28 * 28, h1, cfg, nn.LeakyReLU(0.2)),  # (B, 512d)
        *_dense(h1, h2, cfg, nn.LeakyReLU(0.2)),  # (B, 256d)
    )
    return Discriminator(features, h2, cfg)


# ----------------------------------------------------------------------------- tf-tutorial (reports 000, 003)
# Keras' BatchNormalization uses momentum 0.99 for the moving averages: PyTorch momentum 0.01.
def _tf_g(cfg: ModelConfig) -> Generator:
    c1, c2, c3 = _ch(256, cfg), _ch(128, cfg), _ch(64, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), 7 * 7 * c1, bias=False),  # (B, 256w·7·7)
        *_bn1d(7 * 7 * c1, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.Unflatten(1, (c1, 7, 7)),  # (B, 256w, 7, 7)
        nn.ConvTranspose2d(c1, c2, 5, 1, 2, bias=False),  # (B, 128w, 7, 7)
        *_bn2d(c2, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(c2, c3, 5, 2, 2, output_padding=1, bias=False),  # (B, 64w, 14, 14)
        *_bn2d(c3, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(c3, 1, 5, 2, 2, output_padding=1, bias=False),  # (B, 1, 28, 28)
        nn.Tanh(),
    )
    return Generator(body, cfg)


# 5x5 convs, Keras' LeakyReLU slope 0.3: (B, 64d, 14, 14) -> (B, 128d, 7, 7) -> (B, 128d·7·7)
_tf_d = _strided_d(64, 128, kernel=5, slope=0.3)


# ----------------------------------------------------------------------------- compact-dcgan (report 001)
def _compact_g(cfg: ModelConfig) -> Generator:
    c = _ch(128, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), 7 * 7 * c),  # (B, 128w·7·7)
        nn.Unflatten(1, (c, 7, 7)),  # (B, 128w, 7, 7)
        *_up(c, c, cfg, bias=True, momentum=0.01),  # (B, 128w, 14, 14)
        *_up(c, c, cfg, bias=True, momentum=0.01),  # (B, 128w, 28, 28)
        nn.Conv2d(c, 1, 7, 1, 3),  # (B, 1, 28, 28)
        nn.Tanh(),
    )
    return Generator(body, cfg)


def _compact_d(cfg: ModelConfig) -> Discriminator:
    c1, c2 = _dch(64, cfg), _dch(128, cfg)
    features = nn.Sequential(
        *_down(1, c1, cfg, kernel=3, slope=0.2),  # (B, 64d, 14, 14)
        *_down(c1, c2, cfg, kernel=3, slope=0.2, bn_momentum=0.01),  # (B, 128d, 7, 7)
        GlobalMaxPool2d(),  # (B, 128d)
    )
    return Discriminator(features, c2, cfg)


# ----------------------------------------------------------------------------- ankle-boot (report 002)
# The report gives only GAN2's totals (G 106,641, D 29,089) and the ratios GAN2/GAN1
# (D 25.6 %, whole GAN 41.0 %); these layers are our choice, sized to land within 5 %.
# The channel arguments are at width 1 (GAN1: G 32, 48, 32 and D 96, 128; GAN2: G 16, 32, 32 and D 40, 72).
def _ankle_g(c_dense: int, c1: int, c2: int) -> Callable[[ModelConfig], Generator]:
    def build(cfg: ModelConfig) -> Generator:
        a, b, c = _ch(c_dense, cfg), _ch(c1, cfg), _ch(c2, cfg)
        body = nn.Sequential(
            nn.Linear(_gen_in(cfg), 7 * 7 * a, bias=False),  # (B, c_dense·w·7·7)
            *_bn1d(7 * 7 * a, cfg, 0.01),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (a, 7, 7)),  # (B, c_dense·w, 7, 7)
            *_up(a, b, cfg, bias=False, momentum=0.01),  # (B, c1·w, 14, 14)
            *_up(b, c, cfg, bias=False, momentum=0.01),  # (B, c2·w, 28, 28)
            nn.Conv2d(c, 1, 3, 1, 1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )
        return Generator(body, cfg)

    return build


def _ankle_d(c1: int, c2: int) -> Callable[[ModelConfig], Discriminator]:
    """3x3 convs: (B, c1·d, 14, 14) -> (B, c2·d, 7, 7) -> (B, c2·d·7·7)."""
    return _strided_d(c1, c2, kernel=3, slope=0.2)


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    generator: Callable[[ModelConfig], Generator]
    discriminator: Callable[[ModelConfig], Discriminator]


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture("dcgan", "Studio DCGAN: dense to 7x7, two 4x4 transposed convs; conv D with dropout",
                     _dcgan_g, _dcgan_d),
        Architecture("dcgan-deep", "Studio DCGAN with a 3x3 conv after each upsampling in G (4 conv layers); same D",
                     _dcgan_deep_g, _dcgan_d),
        Architecture("mlp", "MLP GAN of report 004: linear layers with BatchNorm", _mlp_g, _mlp_d),
        Architecture("tf-tutorial", "TensorFlow DCGAN tutorial (reports 000, 003): 5x5 convs, 2.3 M-parameter G",
                     _tf_g, _tf_d),
        Architecture("compact-dcgan", "Report 001: 7x7x128 dense, 4x4 transposed convs, global-max-pool D",
                     _compact_g, _compact_d),
        Architecture("ankle-boot-gan1", "Report 002's first (larger) GAN; layers chosen to match its size ratios",
                     _ankle_g(32, 48, 32), _ankle_d(96, 128)),
        Architecture("ankle-boot-gan2", "Report 002's smaller GAN2; layers chosen to match its parameter totals",
                     _ankle_g(16, 32, 32), _ankle_d(40, 72)),
    ]
}


def build_generator(cfg: ModelConfig) -> Generator:
    return _arch(cfg).generator(cfg)


def build_discriminator(cfg: ModelConfig) -> Discriminator:
    return _arch(cfg).discriminator(cfg)


def build_seeded(cfg: ModelConfig, generator: torch.Generator) -> tuple[Generator, Discriminator]:
    """G and D with their initial weights drawn from `generator` (G's first), on the CPU.

    Built on the meta device and materialised, so torch's global RNG is neither read nor advanced: a training
    run's networks are the same whatever other threads do, and as `torch.manual_seed(s)` then building made them.
    """
    with torch.device("meta"):
        g, d = build_generator(cfg), build_discriminator(cfg)
    g.to_empty(device="cpu")
    d.to_empty(device="cpu")
    initialize(g, generator)
    initialize(d, generator)
    return g, d


def _arch(cfg: ModelConfig) -> Architecture:
    try:
        return ARCHITECTURES[cfg.arch]
    except KeyError:
        raise ValueError(f"unknown architecture {cfg.arch!r}; known: {', '.join(ARCHITECTURES)}") from None


# ----------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int


@dataclass(frozen=True)
class ModelSummary:
    title: str
    rows: list[LayerRow]

    @property
    def total(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable(self) -> int:
        return sum(r.trainable for r in self.rows)

    @property
    def non_trainable(self) -> int:
        return self.total - self.trainable

    def to_text(self) -> str:
        lines = [f'Model: "{self.title}"', f"{'Layer (type)':<34}{'Output Shape':<22}{'Param #':>12}", "=" * 68]
        for r in self.rows:
            shape = "(None, " + ", ".join(str(s) for s in r.output_shape) + ")"
            lines.append(f"{r.name + ' (' + r.kind + ')':<34}{shape:<22}{r.params:>12,}")
        lines += [
            "=" * 68,
            f"Total params: {self.total:,}",
            f"Trainable params: {self.trainable:,}",
            f"Non-trainable params: {self.non_trainable:,}",
        ]
        return "\n".join(lines)


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers a reader thinks of: children of the Sequential bodies, then embed/head/Q head/output."""
    out: list[tuple[str, nn.Module]] = []
    for seq_name in ("body", "features"):
        seq = getattr(model, seq_name, None)
        if isinstance(seq, nn.Sequential):
            out += [(f"{seq_name}.{i}", m) for i, m in enumerate(seq)]
    for name in ("embed", "head", "q_head", "out_act"):
        m = getattr(model, name, None)
        if isinstance(m, nn.Module):
            out.append((name, m))
    return out


def _count(module: nn.Module) -> tuple[int, int]:
    """(total, trainable), counting BatchNorm's moving mean/var as non-trainable like Keras does."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
        frozen += module.running_mean.numel() + module.running_var.numel()
    return trainable + frozen, trainable


@torch.no_grad()
def summarize(model: Generator | Discriminator, title: str | None = None) -> ModelSummary:
    """Keras-style table: run a batch of 2 through the model and record each layer's output shape."""
    shapes: dict[int, tuple[int, ...]] = {}
    layers = _layers(model)

    def record(module: nn.Module, _inputs: object, out: torch.Tensor) -> None:
        shapes[id(module)] = tuple(out.shape[1:])

    hooks = [m.register_forward_hook(record) for _, m in layers]
    was_training = model.training
    model.eval()
    try:
        labels = torch.zeros(2, dtype=torch.long) if model.num_classes else None
        if isinstance(model, Generator):
            model(torch.zeros(2, model.latent_dim), labels)
        elif model.q_head is not None:
            model.score_and_code(torch.zeros(2, *IMAGE_SHAPE), labels)
        else:
            model(torch.zeros(2, *IMAGE_SHAPE), labels)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows = []
    for name, m in layers:
        total, trainable = _count(m)
        kind = type(m).__name__
        if name == "embed":  # the embedding runs outside forward hooks' sight only if unconditional
            shape = (m.embedding_dim,)
        else:
            shape = shapes.get(id(m), ())
        rows.append(LayerRow(name, kind, shape, total, trainable))
    return ModelSummary(title or ("generator" if isinstance(model, Generator) else "discriminator"), rows)


@functools.lru_cache(maxsize=64)
def parameter_counts(model: ModelConfig) -> tuple[int, int]:
    """(G, D) totals as the Keras-style summaries count them (BatchNorm statistics included)."""
    return summarize(build_generator(model)).total, summarize(build_discriminator(model)).total
