"""Generator and discriminator architectures behind one registry.

Every architecture is a plain `nn.Sequential` body wrapped by `Generator` or
`Discriminator`, which add what all of them share: class conditioning (one-hot
labels concatenated to z; a projection term in D), the optional sigmoid output
and spectral normalisation. Keeping the bodies as flat Sequentials is what lets
`summarize` print a Keras-style layer table that matches the seed reports.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class ModelConfig:
    """What it takes to rebuild a generator and discriminator (stored with every weights file)."""

    arch: str = "dcgan"
    latent_dim: int = 100
    width: float = 1.0
    num_classes: int = 0  # 0: unconditional; 10: class-conditional
    d_width: float = 0.0  # 0: the discriminator follows `width` (files written before this field)
    info_codes: int = 0  # InfoGAN categories read off z's first entries (0: off)
    batch_norm: bool = True
    spectral_norm: bool = False
    d_output: str = "logit"
    dropout: float = 0.3

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
        """`codes` (n, info_codes) replaces the one-hot InfoGAN code read off z, e.g. by a sum or a blend of codes."""
        x = z
        if self.num_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
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

    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """The one-hot InfoGAN codes (n, info_codes) that `forward` reads off z."""
        k = self.cfg.info_codes
        if not k:
            raise ValueError("this generator has no InfoGAN code (info_codes is 0)")
        return F.one_hot(info_code(z, k), k).to(z.dtype)


def info_code(z: torch.Tensor, k: int) -> torch.Tensor:
    """The InfoGAN category a latent vector carries: the argmax of its first k entries (uniform over k).

    Read off z rather than drawn beside it, so z stays one plain Gaussian vector for sampling, seeds and
    latent arithmetic, while the generator still sees a discrete switch it can use to keep modes apart.
    """
    return z[:, :k].argmax(dim=1)


class Discriminator(nn.Module):
    """Features -> linear score, plus a projection term when class-conditional."""

    def __init__(self, features: nn.Sequential, feature_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = cfg.num_classes
        self.features = features
        self.head = nn.Linear(feature_dim, 1)
        self.embed = nn.Embedding(cfg.num_classes, feature_dim) if cfg.num_classes else None
        if self.embed is not None:
            # Start unconditional: N(0,1) rows dotted with thousands of features swamp the logit.
            nn.init.zeros_(self.embed.weight)
        # InfoGAN's Q head: recovers the generator's code from D's features (trained on generated images only).
        self.q_head = nn.Linear(feature_dim, cfg.info_codes) if cfg.info_codes else None
        self.out_act = nn.Sigmoid() if cfg.d_output == "sigmoid" else None
        if cfg.spectral_norm:
            for module in [*self.features, self.head]:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    @property
    def outputs_probabilities(self) -> bool:
        return self.out_act is not None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self._score(self.features(x), labels)

    def score_and_code(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The score and the Q head's code logits from one pass through the features."""
        if self.q_head is None:
            raise ValueError("this discriminator has no Q head (info_codes is 0)")
        h = self.features(x)
        return self._score(h, labels), self.q_head(h)

    def _score(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            out = out + (self.embed(labels) * h).sum(dim=1)
        if self.out_act is not None:
            out = self.out_act(out)
        return out

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Scores on the logit scale whatever the output layer, for realness comparisons."""
        out = self(x, labels)
        return torch.logit(out, eps=1e-6) if self.outputs_probabilities else out


# ----------------------------------------------------------------------------- helpers
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


# ----------------------------------------------------------------------------- dcgan (studio)
def _dcgan_to_14(cfg: ModelConfig, c1: int, c2: int) -> list[nn.Module]:
    """Dense to c1x7x7, then a 4x4 transposed conv to c2x14x14: the start both DCGAN generators share."""
    return [
        nn.Linear(_gen_in(cfg), c1 * 7 * 7, bias=not cfg.batch_norm),
        nn.Unflatten(1, (c1, 7, 7)),
        *_bn2d(c1, cfg),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(c1, c2, 4, 2, 1, bias=not cfg.batch_norm),
        *_bn2d(c2, cfg),
        nn.LeakyReLU(0.2),
    ]


def _dcgan_g(cfg: ModelConfig) -> Generator:
    c1, c2 = _ch(128, cfg), _ch(64, cfg)
    body = nn.Sequential(
        *_dcgan_to_14(cfg, c1, c2),
        nn.ConvTranspose2d(c2, 1, 4, 2, 1),
        nn.Tanh(),
    )
    return Generator(body, cfg)


def _dcgan_d(cfg: ModelConfig) -> Discriminator:
    c1, c2 = _dch(64, cfg), _dch(128, cfg)
    features = nn.Sequential(
        nn.Conv2d(1, c1, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Dropout(cfg.dropout),
        nn.Conv2d(c1, c2, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Dropout(cfg.dropout),
        nn.Flatten(),
    )
    return Discriminator(features, c2 * 7 * 7, cfg)


def _dcgan_deep_g(cfg: ModelConfig) -> Generator:
    """The studio G with a 3x3 conv after each upsampling: more nonlinearity to keep classes apart.

    The two-layer studio G must turn one Gaussian into ten separate clothing manifolds with a single
    dense layer; unconditionally it fills the gaps with shirt/coat/pullover blends (low precision).
    """
    c1, c2, c3 = _ch(128, cfg), _ch(64, cfg), _ch(32, cfg)
    body = nn.Sequential(
        *_dcgan_to_14(cfg, c1, c2),
        nn.Conv2d(c2, c2, 3, 1, 1, bias=not cfg.batch_norm),
        *_bn2d(c2, cfg),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(c2, c3, 4, 2, 1, bias=not cfg.batch_norm),
        *_bn2d(c3, cfg),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c3, 1, 3, 1, 1),
        nn.Tanh(),
    )
    return Generator(body, cfg)


# ----------------------------------------------------------------------------- mlp (report 004)
def _mlp_g(cfg: ModelConfig) -> Generator:
    h1, h2, h3 = _ch(128, cfg), _ch(256, cfg), _ch(512, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), h1),
        nn.ReLU(),
        nn.Linear(h1, h2),
        *_bn1d(h2, cfg),
        nn.ReLU(),
        nn.Linear(h2, h3),
        *_bn1d(h3, cfg),
        nn.ReLU(),
        nn.Linear(h3, 28 * 28),
        nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )
    return Generator(body, cfg)


def _mlp_d(cfg: ModelConfig) -> Discriminator:
    h1, h2 = _dch(512, cfg), _dch(256, cfg)
    features = nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, h1),
        *_bn1d(h1, cfg),
        nn.LeakyReLU(0.2),
        nn.Linear(h1, h2),
        *_bn1d(h2, cfg),
        nn.LeakyReLU(0.2),
    )
    return Discriminator(features, h2, cfg)


# ----------------------------------------------------------------------------- tf-tutorial (reports 000, 003)
# Keras' BatchNormalization uses momentum 0.99 for the moving averages: PyTorch momentum 0.01.
def _tf_g(cfg: ModelConfig) -> Generator:
    c1, c2, c3 = _ch(256, cfg), _ch(128, cfg), _ch(64, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), 7 * 7 * c1, bias=False),
        *_bn1d(7 * 7 * c1, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.Unflatten(1, (c1, 7, 7)),
        nn.ConvTranspose2d(c1, c2, 5, 1, 2, bias=False),
        *_bn2d(c2, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(c2, c3, 5, 2, 2, output_padding=1, bias=False),
        *_bn2d(c3, cfg, 0.01),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(c3, 1, 5, 2, 2, output_padding=1, bias=False),
        nn.Tanh(),
    )
    return Generator(body, cfg)


def _tf_d(cfg: ModelConfig) -> Discriminator:
    c1, c2 = _dch(64, cfg), _dch(128, cfg)
    features = nn.Sequential(
        nn.Conv2d(1, c1, 5, 2, 2),
        nn.LeakyReLU(0.3),
        nn.Dropout(cfg.dropout),
        nn.Conv2d(c1, c2, 5, 2, 2),
        nn.LeakyReLU(0.3),
        nn.Dropout(cfg.dropout),
        nn.Flatten(),
    )
    return Discriminator(features, c2 * 7 * 7, cfg)


# ----------------------------------------------------------------------------- compact-dcgan (report 001)
def _compact_g(cfg: ModelConfig) -> Generator:
    c = _ch(128, cfg)
    body = nn.Sequential(
        nn.Linear(_gen_in(cfg), 7 * 7 * c),
        nn.Unflatten(1, (c, 7, 7)),
        nn.ConvTranspose2d(c, c, 4, 2, 1),
        *_bn2d(c, cfg, 0.01),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(c, c, 4, 2, 1),
        *_bn2d(c, cfg, 0.01),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c, 1, 7, 1, 3),
        nn.Tanh(),
    )
    return Generator(body, cfg)


def _compact_d(cfg: ModelConfig) -> Discriminator:
    c1, c2 = _dch(64, cfg), _dch(128, cfg)
    features = nn.Sequential(
        nn.Conv2d(1, c1, 3, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c1, c2, 3, 2, 1),
        *_bn2d(c2, cfg, 0.01),
        nn.LeakyReLU(0.2),
        GlobalMaxPool2d(),
    )
    return Discriminator(features, c2, cfg)


# ----------------------------------------------------------------------------- ankle-boot (report 002)
# The report gives only GAN2's totals (G 106,641, D 29,089) and the ratios GAN2/GAN1
# (D 25.6 %, whole GAN 41.0 %); these layers are our choice, sized to land within 5 %.
def _ankle_g(c_dense: int, c1: int, c2: int) -> Callable[[ModelConfig], Generator]:
    def build(cfg: ModelConfig) -> Generator:
        a, b, c = _ch(c_dense, cfg), _ch(c1, cfg), _ch(c2, cfg)
        body = nn.Sequential(
            nn.Linear(_gen_in(cfg), 7 * 7 * a, bias=False),
            *_bn1d(7 * 7 * a, cfg, 0.01),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (a, 7, 7)),
            nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
            *_bn2d(b, cfg, 0.01),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(b, c, 4, 2, 1, bias=False),
            *_bn2d(c, cfg, 0.01),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 1, 3, 1, 1),
            nn.Tanh(),
        )
        return Generator(body, cfg)

    return build


def _ankle_d(c1: int, c2: int) -> Callable[[ModelConfig], Discriminator]:
    def build(cfg: ModelConfig) -> Discriminator:
        a, b = _dch(c1, cfg), _dch(c2, cfg)
        features = nn.Sequential(
            nn.Conv2d(1, a, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Dropout(cfg.dropout),
            nn.Conv2d(a, b, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Dropout(cfg.dropout),
            nn.Flatten(),
        )
        return Discriminator(features, b * 7 * 7, cfg)

    return build


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
