"""Latent vs pixel arithmetic on small untrained generators (no data needed), with a stand-in classifier."""

import pytest
import torch
from torch import nn

from gan_core.arithmetic import (
    OPERATIONS,
    PRESETS,
    ClassNotFoundError,
    Operand,
    arithmetic,
    class_mean_latent,
    expression,
    seed_latent,
    typical_length,
)
from gan_core.data import CLASS_NAMES
from gan_core.latent import Latent, blend
from gan_core.models import ModelConfig, build_generator
from gan_core.sampling import generate, interpolate


@pytest.fixture(scope="module")
def g_uncond():
    torch.manual_seed(0)
    return build_generator(ModelConfig(width=0.25)).eval()


@pytest.fixture(scope="module")
def g_cond():
    torch.manual_seed(1)
    return build_generator(ModelConfig(width=0.25, num_classes=10)).eval()


class BrightnessClassifier(nn.Module):
    """Class 0 for images brighter than `threshold`, class 1 otherwise, never any other class.

    It has the `features`/`head` layout that gan_core.classifier.predict reads, like the shipped CNN.
    """

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.head = nn.Linear(1, len(CLASS_NAMES))
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[0, 0], self.head.weight[1, 0] = 1.0, -1.0
            self.head.bias.fill_(-1e3)
            self.head.bias[:2] = 0.0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3))[:, None] - self.threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _ops(*terms):
    """Operands from (sign, z, label) or (sign, z, label, code) terms."""
    return [Operand(sign, Latent(z, rest[1] if len(rest) > 1 else None), rest[0] if rest else None)
            for sign, z, *rest in terms]


def _brightness(g, z):
    with torch.no_grad():
        return g(z).mean(dim=(1, 2, 3))


def test_latent_and_pixel_results_have_image_shapes_and_ranges(g_uncond):
    zs = [seed_latent(g_uncond, s) for s in (1, 2, 3)]
    ops = _ops(*zip(OPERATIONS["A − B + C"], zs, [None] * 3, strict=True))
    res = arithmetic(g_uncond, ops)
    assert res.operand_images.shape == (3, 1, 28, 28)
    assert res.latent_result.shape == res.pixel_result.shape == res.pixel_result_raw.shape == (1, 1, 28, 28)
    for img in (res.operand_images, res.latent_result):
        assert img.min() >= -1 and img.max() <= 1
    expected_raw = res.operand_images[0] - res.operand_images[1] + res.operand_images[2]
    assert torch.allclose(res.pixel_result_raw[0], expected_raw, atol=1e-6)
    assert res.pixel_result.min().item() == pytest.approx(-1, abs=1e-5)
    assert res.pixel_result.max().item() == pytest.approx(1, abs=1e-5)
    assert "min-max" in res.rescaling_note()
    # The raw sum of three images can leave [-1, 1]; the latent sum is one vector, decoded once.
    assert torch.allclose(res.z_result, zs[0] - zs[1] + zs[2], atol=1e-6)
    assert torch.allclose(res.latent_result, generate(g_uncond, 1, z=res.z_result[None]), atol=1e-5)

    clipped = arithmetic(g_uncond, ops, rescale="clip")
    assert torch.equal(clipped.pixel_result, clipped.pixel_result_raw.clamp(-1, 1))
    assert "clipped" in clipped.rescaling_note()


def test_a_plus_b_minus_b_in_latent_space_gives_g_of_a_exactly(g_uncond):
    za, zb = seed_latent(g_uncond, 5), seed_latent(g_uncond, 6)
    res = arithmetic(g_uncond, _ops((1, za, None), (1, zb, None), (-1, zb, None)))
    assert torch.equal(res.z_result, za)
    assert torch.equal(res.latent_result[0], res.operand_images[0])
    # ...while in pixel space A + B − B is A only up to rounding, and the rescaling stretches it.
    assert torch.allclose(res.pixel_result_raw[0], res.operand_images[0], atol=1e-5)


def test_renormalize_puts_means_and_sums_back_at_the_typical_length(g_cond):
    a, b = class_mean_latent(g_cond, "Sandal", k=4, seed=0), class_mean_latent(g_cond, "Sneaker", k=4, seed=0)
    d = g_cond.latent_dim
    assert a.z.norm() < 0.75 * d**0.5, "a mean of 4 latents is about half as long as one latent"
    ops = _ops((1, a.z, a.cls), (1, b.z, b.cls))
    raw, renorm = arithmetic(g_cond, ops), arithmetic(g_cond, ops, renormalize=True)
    assert renorm.renormalized and not raw.renormalized
    assert renorm.z_result.norm().item() == pytest.approx(d**0.5, rel=1e-5)
    expected = typical_length(typical_length(a.z) + typical_length(b.z))
    assert torch.allclose(renorm.z_result, expected, atol=1e-5)
    assert torch.allclose(renorm.operand_images[0], generate(g_cond, 1, label=a.cls, z=typical_length(a.z)[None]),
                          atol=1e-5)
    assert not torch.allclose(renorm.operand_images, raw.operand_images, atol=1e-3)


def test_seed_latent_matches_a_one_image_grid_and_interpolation_ends(g_uncond):
    z = seed_latent(g_uncond, 42)
    assert z.shape == (g_uncond.latent_dim,)
    one = generate(g_uncond, 1, z=z[None])
    assert torch.allclose(one, generate(g_uncond, 1, seed=42), atol=1e-6)
    assert torch.allclose(one, interpolate(g_uncond, 42, 7, steps=3)[:1], atol=1e-5)


def test_class_mean_on_a_conditional_generator(g_cond):
    mean = class_mean_latent(g_cond, "Pullover", k=3, seed=7)
    assert (mean.n_found, mean.n_drawn, mean.cls, mean.by) == (3, 3, 2, "conditioning")
    assert mean.members.shape == (3, g_cond.latent_dim)
    assert torch.allclose(mean.z, mean.members.mean(0))
    again = class_mean_latent(g_cond, 2, k=3, seed=7)
    assert torch.equal(again.z, mean.z), "same class, k and seed must give the same mean"
    other = class_mean_latent(g_cond, "T-shirt/top", k=3, seed=7)
    assert not torch.equal(other.z, mean.z), "two classes with one seed must not share their latents"
    res = arithmetic(g_cond, _ops((1, mean.z, mean.cls), (-1, other.z, other.cls)))
    expected = torch.zeros(10)
    expected[2], expected[0] = 1.0, -1.0
    assert torch.equal(res.label_result, expected), "Pullover − T-shirt/top: the one-hot labels are summed"
    assert res.label_terms() == "-1·T-shirt/top, +1·Pullover"
    assert torch.allclose(res.latent_result, g_cond(res.z_result[None], expected[None]), atol=1e-5)
    first = arithmetic(g_cond, _ops((1, mean.z, mean.cls), (-1, other.z, other.cls)), sum_labels=False)
    assert not first.labels_summed and first.label_terms() == "+1·Pullover"
    assert torch.allclose(first.latent_result, generate(g_cond, 1, label=2, z=res.z_result[None]), atol=1e-5)
    assert not torch.allclose(first.latent_result, res.latent_result, atol=1e-3), "the label sum changes the result"
    with pytest.raises(ValueError, match="needs a class"):
        arithmetic(g_cond, _ops((1, mean.z, None)))


def test_class_mean_of_an_unconditional_generator_keeps_what_the_classifier_assigns(g_uncond):
    seed, batch = 11, 64
    z_first = torch.randn(batch, g_uncond.latent_dim, generator=torch.Generator().manual_seed(seed))
    bright = _brightness(g_uncond, z_first)
    clf = BrightnessClassifier(float(bright.median()))
    hits = torch.nonzero(bright > clf.threshold).flatten()
    assert len(hits) >= 5
    mean = class_mean_latent(g_uncond, 0, k=5, seed=seed, classifier=clf, batch=batch)
    assert (mean.n_found, mean.by, mean.complete) == (5, "classifier", True)
    assert mean.n_drawn == int(hits[4]) + 1, "draws are counted up to the k-th hit"
    assert torch.equal(mean.members, z_first[hits[:5]])
    assert torch.allclose(mean.z, z_first[hits[:5]].mean(0))
    assert "classifier called T-shirt/top" in mean.describe()


def test_a_rare_class_returns_fewer_and_says_so(g_uncond):
    z_first = torch.randn(64, g_uncond.latent_dim, generator=torch.Generator().manual_seed(3))
    # Only the brightest 2 % of samples count as class 0, so 10 cannot be found in 100 draws.
    clf = BrightnessClassifier(float(torch.quantile(_brightness(g_uncond, z_first), 0.98)))
    mean = class_mean_latent(g_uncond, 0, k=10, seed=3, classifier=clf, batch=64, max_draws=100)
    assert 0 < mean.n_found < 10 and mean.n_drawn == 100 and not mean.complete
    assert "only" in mean.describe() and "mode collapse" in mean.describe()


def test_a_class_never_made_is_a_clear_error(g_uncond):
    clf = BrightnessClassifier(0.0)
    with pytest.raises(ClassNotFoundError, match=r"none of the 300 samples .* Ankle boot.*mode collapse"):
        class_mean_latent(g_uncond, "Ankle boot", k=3, seed=0, classifier=clf, batch=128, max_draws=300)


def test_bad_operands_are_explained(g_uncond):
    z = seed_latent(g_uncond, 0)
    with pytest.raises(ValueError, match="sign must be"):
        arithmetic(g_uncond, _ops((2, z, None)))
    with pytest.raises(ValueError, match=r"shape \(100,\)"):
        arithmetic(g_uncond, _ops((1, z[:10], None)))
    with pytest.raises(ValueError, match="unconditional"):
        arithmetic(g_uncond, _ops((1, z, 3)))
    with pytest.raises(ValueError, match="rescale"):
        arithmetic(g_uncond, _ops((1, z, None)), rescale="stretch")


def test_presets_name_valid_classes_and_operations():
    assert set(PRESETS) == {"pullover − t-shirt", "sandal + sneaker", "ankle boot − sneaker + sandal", "bag + T-shirt/top"}
    for preset in PRESETS.values():
        ops = preset.operands
        assert len(ops) == len(OPERATIONS[preset.operation])
        assert all(name in CLASS_NAMES for _, name in ops)
        assert preset.expect and "\n" not in preset.expect and "classifier" in preset.expect  # one line, in measures
    assert PRESETS["ankle boot − sneaker + sandal"].operands == [(1, "Ankle boot"), (-1, "Sneaker"), (1, "Sandal")]


@pytest.fixture(scope="module")
def g_info():
    torch.manual_seed(2)
    return build_generator(ModelConfig(width=0.25, info_codes=10)).eval()


def test_an_infogan_code_is_summed_with_z(g_info):
    za, zb, zc = (seed_latent(g_info, s) for s in (1, 2, 3))
    onehots = g_info.codes_of(torch.stack([za, zb, zc]))
    res = arithmetic(g_info, _ops(*zip(OPERATIONS["A − B + C"], (za, zb, zc), [None] * 3, strict=True)))
    assert torch.allclose(res.code_result, onehots[0] - onehots[1] + onehots[2])
    assert torch.allclose(res.latent_result, g_info(res.z_result[None], codes=res.code_result[None]), atol=1e-5)
    # Summing z alone would hand the result one operand's switch: argmax(zA − zB + zC) is a single one-hot.
    assert len(set(onehots.argmax(1).tolist())) == 3, "seeds 1, 2, 3 carry three different codes"
    assert not torch.allclose(res.latent_result, g_info(res.z_result[None]), atol=1e-4)
    # A + B − B is A exactly, the code included.
    same = arithmetic(g_info, _ops((1, za, None), (1, zb, None), (-1, zb, None)))
    assert torch.equal(same.code_result, onehots[0])
    assert torch.equal(same.latent_result[0], same.operand_images[0])


def test_a_class_mean_carries_the_mean_of_its_exemplars_codes():
    torch.manual_seed(3)
    g = build_generator(ModelConfig(width=0.25, num_classes=10, info_codes=10)).eval()
    mean = class_mean_latent(g, "Bag", k=6, seed=0)
    assert torch.allclose(mean.code, g.codes_of(mean.members).mean(0))
    assert mean.code.sum().item() == pytest.approx(1.0) and mean.code.min() >= 0
    res = arithmetic(g, _ops((1, mean.z, mean.cls, mean.code)))
    assert torch.allclose(res.operand_images, generate(g, 1, label=mean.cls, z=mean.z[None], codes=mean.code[None]),
                          atol=1e-5)


def test_codes_are_checked(g_uncond, g_info):
    z = seed_latent(g_info, 0)
    with pytest.raises(ValueError, match="no InfoGAN code"):
        arithmetic(g_uncond, _ops((1, z, None, torch.ones(10))))
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        arithmetic(g_info, _ops((1, z, None, torch.ones(3))))
    with pytest.raises(ValueError, match="no InfoGAN code"):
        g_uncond(z[None], codes=torch.ones(1, 10))


def test_interpolation_blends_an_infogan_code_between_its_ends(g_info):
    za, zb = seed_latent(g_info, 4), seed_latent(g_info, 9)
    strip = interpolate(g_info, 4, 9, steps=5)
    assert torch.allclose(strip[0], generate(g_info, 1, z=za[None])[0], atol=1e-5)
    assert torch.allclose(strip[-1], generate(g_info, 1, z=zb[None])[0], atol=1e-5)
    assert torch.allclose(generate(g_info, 3, seed=5), generate(g_info, 3, seed=5, codes=g_info.codes_of(
        torch.randn(3, 100, generator=torch.Generator().manual_seed(5)))), atol=1e-6)


def test_operands_name_themselves_and_come_back_with_their_images(g_cond):
    mean = class_mean_latent(g_cond, "Sneaker", k=3, seed=0)
    ops = [Operand.of_seed(g_cond, 101, label="Sandal"), Operand.of_mean(g_cond, mean, sign=-1, position=1)]
    assert (ops[0].kind, ops[0].heading(), ops[0].caption()) == ("seed", "A: seed 101", "G(zA) as Sandal")
    assert (ops[1].kind, ops[1].heading(), ops[1].caption()) == ("class mean", "− B: Sneaker", "G(zB), mean of 3")
    assert expression([1, -1, 1], "G(z{})") == "G(zA) − G(zB) + G(zC)"
    res = arithmetic(g_cond, ops)
    assert res.label_terms() == "+1·Sandal, -1·Sneaker"
    assert all(torch.equal(op.image, img) for op, img in zip(res.operands, res.operand_images, strict=True))
    assert res.code_terms() == ""


def test_the_summed_code_is_written_out(g_info):
    za, zb = seed_latent(g_info, 1), seed_latent(g_info, 2)
    a, b = g_info.codes_of(torch.stack([za, zb])).argmax(1).tolist()
    res = arithmetic(g_info, _ops((1, za, None), (-1, zb, None)))
    assert res.code_terms() == ", ".join(f"{w:+.2f}·c{j}" for j, w in sorted({a: 1.0, b: -1.0}.items()))
    assert arithmetic(g_info, _ops((1, za, None), (-1, za, None))).code_terms() == "0"


def test_a_conditional_sum_that_cancels_gives_back_the_first_operand_label_and_all(g_cond):
    """A + B − B is exactly A for the class part too: Sandal + Sneaker − Sneaker decodes as Sandal, not a mix."""
    za, zb = seed_latent(g_cond, 3), seed_latent(g_cond, 4)
    sandal, sneaker = CLASS_NAMES.index("Sandal"), CLASS_NAMES.index("Sneaker")
    res = arithmetic(g_cond, _ops((1, za, sandal), (1, zb, sneaker), (-1, zb, sneaker)))
    assert res.label_terms() == "+1·Sandal"
    assert torch.allclose(res.latent_result, generate(g_cond, 1, label=sandal, z=za[None]), atol=1e-5)
    assert arithmetic(g_cond, _ops((1, za, sneaker), (-1, za, sneaker))).label_terms() == "0"


def test_a_conditional_generator_takes_class_mixes_of_the_right_shape(g_cond):
    z = seed_latent(g_cond, 5)[None]
    one_hot = torch.zeros(1, 10)
    one_hot[0, 7] = 1.0
    assert torch.allclose(g_cond(z, one_hot), g_cond(z, torch.tensor([7])), atol=1e-6)
    with pytest.raises(ValueError, match=r"class mixes must have shape \(1, 10\)"):
        g_cond(z, torch.zeros(1, 9))


def test_interpolation_can_blend_a_conditional_generators_label_between_two_classes(g_cond):
    za, zb = seed_latent(g_cond, 4), seed_latent(g_cond, 9)
    strip = interpolate(g_cond, 4, 9, steps=5, label="Sandal", label_b="Sneaker")
    assert torch.allclose(strip[0], generate(g_cond, 1, label="Sandal", z=za[None])[0], atol=1e-5)
    assert torch.allclose(strip[-1], generate(g_cond, 1, label="Sneaker", z=zb[None])[0], atol=1e-5)
    z_mid = blend(Latent(za), Latent(zb), 5, 0)[0][2:3]
    half = torch.zeros(1, 10)
    half[0, 5] = half[0, 7] = 0.5
    assert torch.allclose(strip[2], g_cond(z_mid, half)[0], atol=1e-5), "halfway: half of each one-hot"
    same = interpolate(g_cond, 4, 9, steps=5, label="Sandal")
    assert torch.allclose(same, interpolate(g_cond, 4, 9, steps=5, label="Sandal", label_b="Sandal"), atol=1e-6)
    with pytest.raises(ValueError, match="needs the class it starts from"):
        interpolate(g_cond, 4, 9, steps=5, label_b="Sneaker")
