"""Named starting points: the systems of the five seed reports, and our own default.

A preset is data: a dict of TrainConfig fields plus where it comes from and
what its authors saw. Every field stays editable on the Train page and
overridable on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gan_core.config import ConfigError, TrainConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    report: str
    observed: str
    fields: dict[str, Any] = field(default_factory=dict)

    def config(self, /, **overrides: Any) -> TrainConfig:
        return TrainConfig(**{**self.fields, "preset": self.name, **overrides})


_STUDIO = dict(arch="dcgan", width=1.0, latent_dim=100, loss="bce", lr_g=2e-4, lr_d=2e-4, beta1=0.5, batch_size=64,
               epochs=10, ema=0.999, sample_every=200)
_TF_TUTORIAL = dict(arch="tf-tutorial", latent_dim=100, loss="bce", lr_g=1e-4, lr_d=1e-4, beta1=0.9, beta2=0.999,
                    batch_size=256, epochs=50, grid_size=16, sample_every=0, dropout=0.3)
_COMPACT = dict(arch="compact-dcgan", latent_dim=128, loss="bce", lr_g=2e-4, lr_d=2e-4, beta1=0.5, batch_size=128,
                epochs=50, sample_every=0)
_ANKLE = dict(classes=("Ankle boot",), max_images=100, latent_dim=100, loss="bce", lr_g=2e-4, lr_d=2e-4, beta1=0.5,
              batch_size=32, epochs=300, sample_every=30, checkpoint_every=50, grid_size=20)

_FAST_DEEP = {**_STUDIO, "arch": "dcgan-deep", "conditional": True, "dropout": 0.0, "lr_g": 2e-3, "lr_d": 2e-3,
              "r1_gamma": 0.1, "r1_every": 16, "grid_size": 100, "eval_every": 1000, "eval_samples": 2000}
# The default's anneal: both rates to a tenth over its 10 epochs of 937 steps (benchmarks/README.md, "An anneal in
# the default"); studio-fast-sub keeps it.
_ANNEALED = {**_FAST_DEEP, "lr_anneal_steps": 9370, "lr_final": 0.1}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "studio-fast-deep",
            "The default: press Start and see clothes within a minute. A DCGAN with a deeper generator (dcgan-deep: "
            "a 3x3 conv after each upsampling), class-conditional, at ten times studio's learning rates (2e-3) "
            "annealed within the run (along a half cosine to 2e-4 at the end of its 10 epochs, 9,370 steps; a longer "
            "run keeps 2e-4), no dropout in D, the R1 penalty on D (gamma 0.1, applied lazily every 16 steps), an EMA "
            "of G with a warm-up, bf16 autocast where the CPU or GPU has native bf16, on all cores; the grid shows one "
            "class per row.",
            "Fashion GAN Studio",
            "On a 2-core CPU with AMX-BF16, in one session (2026-12-07) beside the same recipe at constant rates: "
            "after 10 minutes FID 1.19 and 1.16 in two runs (1.46 and 1.49), precision 0.77 (0.76), recall 0.65 "
            "(0.58), every class at 8.8-10.7 % of samples, 92.6-93.0 % of the class asked for; after 2 minutes FID "
            "3.5-4.6 with or without the anneal, set by the host's speed that minute. In a later session the same "
            "day, on a faster host: 3.18 after 2 minutes and 1.03 after 10 (the default of 2026-12-03, fp32 with R1 "
            "on every step: 4.92 and 1.46) (benchmarks/README.md). The "
            "shipped default generator dcgan-cond is this recipe on both cores for an hour, one run (2026-12-07, "
            "64,000 steps): FID 0.51, precision 0.779, recall 0.737, 94.1 % of samples of the class asked for (at "
            "constant rates for 20 minutes, then 40 at lr 2e-4 by a resume: 0.76, 0.779, 0.692, 94.2 %; the fp32 "
            "recipe: 1.14; benchmarks/shipped_generators.md).",
            # Lazy R1 (StyleGAN2's regularisation every 16 steps at 16 x gamma) and bf16 learn as much per step as R1 on
            # every step in fp32 (benchmarks/quality_per_step.py) and together double the images/s here. FID and
            # class coverage every 1,000 steps on 2,000 samples, so the live view has a quality curve
            # (benchmarks/README.md, "What in-training evaluation costs"); the anneal is _ANNEALED's.
            _ANNEALED,
        ),
        Preset(
            "studio-fast-sub",
            "The default with sub-classes: studio-fast-deep (its anneal included) with each class split into 4 "
            "sub-classes (a balanced k-means of that class's training pixels), a 4-way InfoGAN code beside the class "
            "that the Q head also learns to read off each real image as its sub-class, and D conditioned on class "
            "and sub-class together (the class-splitting GAN of Grinblat et al. 2017 with a projection D), so the "
            "code comes to pick a sub-class of the class asked for.",
            "Fashion GAN Studio",
            "On a 2-core CPU with AMX-BF16, in one session (2026-12-07) beside the default, seeds 0 and 1: after 2 "
            "minutes FID 2.17 and 2.06 (the default: 3.18 and 2.99) at about as many steps; after 10 minutes FID 0.97 "
            "and 0.80 (1.03 and 1.05), precision 0.816 and 0.804 (0.773 and 0.771), recall 0.639 and 0.645 (0.673 and "
            "0.680), every class at 9.0-10.7 % of samples, 95.3 % of the class asked for (92.8 and 93.6 %) "
            "(benchmarks/README.md, \"Point 2 in one session\"). For an hour it is worse than the default: in 59.6 "
            "minutes (2026-12-07, 67,000 steps) FID 0.64, precision 0.821, recall 0.694, 96.3 % of the class asked for, "
            "where the default read 0.51, 0.779, 0.737 and 94.1 %: the sub-classes lead until about step 38,000 "
            "(benchmarks/shipped_generators.md, session 17).",
            {**_ANNEALED, "info_codes": 4, "info_weight": 0.2, "info_clusters": True, "code_projection": True},
        ),
        Preset(
            "studio-fast-info",
            "The default without labels: studio-fast-deep unconditional and at constant rates (its anneal is not "
            "measured without labels), with an 80-way InfoGAN code anchored to the "
            "data (the Q head also learns each real image's cluster, from a balanced k-means of the training pixels "
            "into 80 clusters; no labels are used) and D conditioned on it as a conditional D is on classes (a "
            "projection term: a generated image against its code, a real one against its cluster), so each value of "
            "the code comes to draw one kind of garment.",
            "Fashion GAN Studio",
            "The shipped unconditional generator dcgan is this recipe on both cores for 15 minutes, then lr 2e-4 "
            "(resume with --lr-g 2e-4 --lr-d 2e-4) to step 32,342: FID 1.49 (1.50 and 1.43 with latent seeds 1 and 2), "
            "precision 0.822, recall 0.668, every class at 8.4-11.5 %; at the hour (step 28,691) 1.50 (with 40 "
            "clusters, the same hour: 1.59, 0.800, 0.657; with a 10-way code and an unconditional D: 2.84, 0.720, "
            "0.633). Per step, in a probe of 1,500 steps on one thread "
            "(n = 2,000): FID 3.35 with 80 clusters; 3.73 with 40, 6.46 with 10, 8.08 with a 10-way code and an "
            "unconditional D (benchmarks/shipped_generators.md).",
            {**_FAST_DEEP, "conditional": False, "info_codes": 80, "info_weight": 0.2, "info_clusters": True,
             "code_projection": True},
        ),
        Preset(
            "studio-fast",
            "The default until 2026-12-01: studio-fast-deep with studio's two-layer generator and without R1. Faster "
            "per image; clothes sooner in the first seconds, worse after the first minute.",
            "Fashion GAN Studio",
            "On a 2-core CPU: after 2 minutes FID 6.2-7.0 with every class at 7.2-13.3 % of samples; after 10, FID "
            "3.7-3.8, precision 0.79-0.80, recall 0.48-0.49, what the studio recipe needed 51 minutes for; at this "
            "rate its G stops improving at FID 3.7-3.8 (n = 2,000) (benchmarks/README.md).",
            {**_STUDIO, "conditional": True, "dropout": 0.0, "lr_g": 2e-3, "lr_d": 2e-3, "grid_size": 100,
             "eval_every": 1000, "eval_samples": 2000},
        ),
        Preset(
            "studio",
            "The first studio recipe: a two-layer DCGAN (logit output, BCE, EMA of G); the class-conditional "
            "generator shipped until 2026-12-01 was trained with it. studio-fast is its faster successor.",
            "Fashion GAN Studio",
            "Recognisable clothes after a few epochs on one CPU core; unconditionally, many samples fall between "
            "classes (benchmarks/shipped_generators.md).",
            _STUDIO,
        ),
        Preset(
            "studio-deep",
            "The studio settings with a deeper G (a 3x3 conv after each upsampling, `dcgan-deep`) and no dropout "
            "in D. About 30 % slower per step than studio on a CPU, better per epoch; studio-info adds an InfoGAN "
            "code to it (benchmarks/shipped_generators.md).",
            "Fashion GAN Studio",
            "The two-layer studio G left many samples between classes (low precision); the deeper G with a "
            "dropout-free D keeps classes apart and covers more of the real data.",
            {**_STUDIO, "arch": "dcgan-deep", "dropout": 0.0},
        ),
        Preset(
            "studio-info",
            "The recipe of the unconditional generator dcgan shipped until 2026-12-06 (studio-fast-info's since): "
            "studio-deep plus a 10-way InfoGAN code (weight 0.2). G "
            "gets a discrete switch read off z, and a Q head on D makes it keep the switch's modes apart, without "
            "labels.",
            "Fashion GAN Studio",
            "Without labels, studio-deep's samples still blended classes (precision 0.69); the code lifts "
            "precision and lowers FID. The shipped generator trained 26 epochs, then 10 at a quarter of the "
            "learning rates (resume with --lr-g 5e-5 --lr-d 5e-5): FID 3.12, precision 0.709, recall 0.531 "
            "(benchmarks/shipped_generators.md; its card is under `previous` in dcgan's).",
            {**_STUDIO, "arch": "dcgan-deep", "dropout": 0.0, "info_codes": 10, "info_weight": 0.2},
        ),
        Preset(
            "tf-tutorial",
            "TensorFlow's DCGAN tutorial as report 000 ran it: 5x5 convs, Adam 1e-4, batch 256, a 16-image grid "
            "per epoch, a checkpoint every 5 epochs, a GIF at the end.",
            "000 (Kanoria), following TensorFlow's DCGAN tutorial",
            "Judged by eye from the GIF of per-epoch grids; images become recognisable clothes over 50 epochs.",
            {**_TF_TUTORIAL, "checkpoint_every": 5},
        ),
        Preset(
            "tf-tutorial-best",
            "The same tutorial GAN as report 003 ran it: checkpoints every 15 epochs, then the best one picked "
            "(here by FID instead of by eye).",
            "003 (Narkhede)",
            "Samples improve over 50 epochs; the report warns of mode collapse on a few clothing types.",
            {**_TF_TUTORIAL, "checkpoint_every": 15},
        ),
        Preset(
            "compact-dcgan",
            "Report 001's most successful model, layer for layer: G 1,340,929 parameters (dense to 7x7x128 from a "
            "128-d z, two 4x4 transposed convs), D 75,137 (two 3x3 convs, global max pooling, linear output).",
            "001 (Cuesta Córdova)",
            "Specialised in pullovers and dress-like images: mode collapse onto one or two classes.",
            _COMPACT,
        ),
        Preset(
            "compact-dcgan-nobn",
            "Report 001's ablation: the compact DCGAN without batch normalisation.",
            "001 (Cuesta Córdova)",
            "Less crisp images, though some looked like shoes and trousers.",
            {**_COMPACT, "batch_norm": False},
        ),
        Preset(
            "compact-dcgan-sigmoid",
            "Report 001's ablation: sigmoid output, probabilities fed to BCE.",
            "001 (Cuesta Córdova)",
            "Both losses stuck at 0.6931 (= ln 2) from epoch 6 to 50; blurry images.",
            {**_COMPACT, "d_output": "sigmoid"},
        ),
        Preset(
            "ankle-boot",
            "Report 002's smaller GAN2 on the first 100 ankle boots. The report gives only its totals (G 106,641, "
            "D 29,089); our layers (dense 7x7x16, transposed convs to 32 and 32 channels, 3x3 output conv; D convs "
            "40 and 72 filters with dropout) land at G 106,657 and D 29,921.",
            "002 (Venkatesh)",
            "GAN2, a quarter of GAN1's discriminator size, produced better ankle boots faster.",
            {**_ANKLE, "arch": "ankle-boot-gan2"},
        ),
        Preset(
            "ankle-boot-gan1",
            "Report 002's first, larger GAN on the first 100 ankle boots; layers are our choice (dense 7x7x32, "
            "transposed convs to 48 and 32; D convs 96 and 128) so that GAN2/GAN1 is 25.4 % for D and 41.3 % "
            "overall (report: 25.6 % and 41.0 %).",
            "002 (Venkatesh)",
            "Larger and slower than GAN2 for no better ankle boots.",
            {**_ANKLE, "arch": "ankle-boot-gan1"},
        ),
        Preset(
            "mlp-gan",
            "Report 004's PyTorch MLP GAN: linear layers with BatchNorm, sigmoid output into BCE.",
            "004",
            "Recognisable classes, less crisp than the originals; used for latent vs pixel arithmetic.",
            dict(arch="mlp", latent_dim=100, d_output="sigmoid", loss="bce", lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                 batch_size=64, epochs=20, sample_every=0),
        ),
    ]
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None


def preset_config(name: str, /, **overrides: Any) -> TrainConfig:
    """The preset's TrainConfig with `overrides` applied on top (only those fields change)."""
    return get_preset(name).config(**overrides)

# The preset the Train page selects first, `python -m gan_core train` uses without --preset, and README names.
DEFAULT_PRESET = "studio-fast-deep"
