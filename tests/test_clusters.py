"""The balanced clusters a run's InfoGAN code is anchored to (`info_clusters`: of the pixels alone unconditionally,
within each class in a conditional run), and the step's use of them: the Q head learns each real image's cluster as
well as each fake's code, and with `code_projection` D scores each image against it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_core import step
from gan_core.clusters import balanced_clusters, clusters_within
from gan_core.config import ConfigError, TrainConfig
from tests.conftest import needs_data


def _blobs(sizes: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 1, 28, 28) around far-apart centres, `sizes[j]` of them around centre j, and which centre."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(len(sizes), 1, 28, 28, generator=g) * 3
    which = torch.cat([torch.full((s,), j) for j, s in enumerate(sizes)])
    return centres[which] + 0.1 * torch.randn(len(which), 1, 28, 28, generator=g), which


def test_well_separated_groups_of_equal_size_are_found_exactly_and_again_for_the_same_seed():
    images, which = _blobs([40, 40, 40, 40])
    a = balanced_clusters(images, 4, seed=3)
    assert torch.equal(a, balanced_clusters(images, 4, seed=3))
    # Each true group is one cluster (whatever its number), and each cluster one group.
    assert all(len(a[which == j].unique()) == 1 for j in range(4))
    assert len(a.unique()) == 4


def test_clusters_are_balanced_even_when_the_data_is_not():
    """The code read off z is uniform over k values, so each cluster must hold n / k images, however the data's
    natural groups are sized."""
    images, _ = _blobs([300, 60, 30, 10])
    sizes = torch.bincount(balanced_clusters(images, 4), minlength=4)
    assert sizes.sum() == 400 and int(sizes.min()) >= 90 and int(sizes.max()) <= 110, sizes.tolist()


@pytest.mark.parametrize("k", [1, 0, 9])
def test_k_outside_two_to_n_is_refused(k):
    with pytest.raises(ValueError, match="2 <= k <= the number of images"):
        balanced_clusters(torch.zeros(8, 1, 28, 28), k)


def test_info_clusters_needs_a_code_and_enough_images_for_its_clusters():
    with pytest.raises(ConfigError, match="info_codes of 2 or more"):
        TrainConfig(info_clusters=True)
    with pytest.raises(ConfigError, match="at least 10 training images"):
        TrainConfig(info_clusters=True, info_codes=10, max_images=8)
    # A conditional run clusters each class apart: k per trained class.
    with pytest.raises(ConfigError, match="one cluster per code value in each class, so it needs at least 40"):
        TrainConfig(info_clusters=True, info_codes=4, conditional=True, max_images=39)
    with pytest.raises(ConfigError, match="at least 8 training images"):
        TrainConfig(info_clusters=True, info_codes=4, conditional=True, classes=("Bag", "Sandal"), max_images=7)
    assert TrainConfig(info_clusters=True, info_codes=4).info_clusters
    assert TrainConfig(info_clusters=True, info_codes=4, conditional=True, max_images=40).info_clusters


def test_clusters_within_classes_split_each_class_apart():
    """Two classes, each of two far-apart groups: each class's clusters are its own two groups, numbered 0 and 1
    inside it, balanced within the class; a class with fewer images than clusters is refused by name."""
    images, groups = _blobs([20, 20, 30, 30])
    classes = torch.tensor([3] * 40 + [8] * 60)
    within = clusters_within(images, classes, 2, seed=1)
    for c, (a, b) in ((3, (0, 1)), (8, (2, 3))):
        assert sorted(within[classes == c].unique().tolist()) == [0, 1]
        assert len(within[groups == a].unique()) == 1 and len(within[groups == b].unique()) == 1
        assert torch.equal(within[classes == c], balanced_clusters(images[classes == c], 2, seed=1))
    with pytest.raises(ValueError, match="Dress has 40 training images, fewer than the 50 clusters"):
        clusters_within(images, classes, 50)


def test_the_q_head_learns_the_real_images_clusters(tiny_config, monkeypatch):
    """With info_clusters the step's real labels are the images' clusters, and D's loss adds the Q head's
    cross-entropy on them (weighted like the code's on fakes); without it the reals never reach the Q head."""
    images, classes = _blobs([16, 16, 16, 16])
    cfg = tiny_config.replace(conditional=False, info_codes=4, info_weight=0.5, batch_size=16, dropout=0.0,
                             precision="fp32")  # no dropout masks drawn, no bf16 rounding: the sums can be redone
    terms: list[tuple[int, float]] = []
    real_ce = F.cross_entropy

    def recording(logits, target):
        terms.append((len(target), float(real_ce(logits, target).detach())))
        return real_ce(logits, target)

    monkeypatch.setattr(step.F, "cross_entropy", recording)
    plain = step.GanStep(cfg, images, classes, device=torch.device("cpu"))
    plain.train_step()
    assert len(terms) == 2  # the code on D's fakes, then on G's
    anchored = step.GanStep(cfg.replace(info_clusters=True), images, classes, device=torch.device("cpu"))
    assert torch.equal(anchored.clusters, balanced_clusters(images, 4, cfg.seed))
    real, _, clusters = anchored.real_batch(0)
    _, q_real = anchored.D.score_and_code(real)
    expected = float(real_ce(q_real, clusters).detach())
    terms.clear()
    anchored.train_step()
    assert len(terms) == 3 and terms[1][0] == 16
    assert terms[1][1] == pytest.approx(expected, rel=1e-5)


def test_code_projection_needs_the_clusters():
    with pytest.raises(ConfigError, match=r"code_projection .* needs info_clusters on"):
        TrainConfig(info_codes=4, code_projection=True)
    cfg = TrainConfig(info_codes=4, info_clusters=True, code_projection=True)
    assert cfg.model_config().code_projection


def test_a_code_projected_d_scores_against_the_code_given_or_the_one_its_q_head_reads(tiny_config):
    """With code_projection D has one projection row per code value; given no code (a view scoring uploads or
    samples) it scores each image against the code its own Q head reads off it."""
    from gan_core.models import build_discriminator

    cfg = tiny_config.replace(conditional=False, info_codes=4, info_clusters=True, code_projection=True, dropout=0.0)
    D = build_discriminator(cfg.model_config()).eval()
    assert D.embed is not None and D.embed.num_embeddings == 4
    with torch.no_grad():
        D.embed.weight.normal_()  # trained rows (they start at zero, where the code changes nothing)
        x = torch.randn(6, 1, 28, 28)
        read = D.q_head(D.features(x)).argmax(dim=1)
        assert torch.allclose(D(x), D(x, codes=read))
        other = (read + 1) % 4
        assert not torch.allclose(D(x), D(x, codes=other))
    plain = build_discriminator(cfg.replace(code_projection=False).model_config())
    assert plain.embed is None


def test_the_step_scores_reals_against_their_clusters_and_fakes_against_their_codes(tiny_config, monkeypatch):
    images, classes = _blobs([16, 16, 16, 16])
    cfg = tiny_config.replace(conditional=False, info_codes=4, info_clusters=True, code_projection=True,
                              batch_size=16, dropout=0.0)
    s = step.GanStep(cfg, images, classes, device=torch.device("cpu"))
    scored, codes = _record_scores_and_codes(s, monkeypatch)
    _, _, clusters = s.real_batch(0)
    s.train_step()
    assert len(scored) == 3 and len(codes) == 1  # D's real and fake scores, then G's pass over the fakes
    assert all(labels is None for labels, _ in scored)  # no classes in an unconditional run
    assert torch.equal(scored[0][1], clusters)
    assert torch.equal(scored[1][1], codes[0]) and torch.equal(scored[2][1], codes[0])


def _record_scores_and_codes(s: step.GanStep, monkeypatch) -> tuple[list[tuple], list[torch.Tensor]]:
    """What each of D's scorings in `s`'s next steps is given (classes, codes), and each InfoGAN code drawn."""
    scored: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []
    codes: list[torch.Tensor] = []
    real_score, real_code = type(s.D)._score, step.info_code

    def recording_score(self, h, labels, codes_given):
        scored.append(tuple(None if t is None else t.clone() for t in (labels, codes_given)))
        return real_score(self, h, labels, codes_given)

    def recording_code(z, k):
        codes.append(real_code(z, k))
        return codes[-1]

    monkeypatch.setattr(type(s.D), "_score", recording_score)
    monkeypatch.setattr(step, "info_code", recording_code)
    return scored, codes


@needs_data
@pytest.mark.parametrize("conditional", [False, True])
def test_a_run_with_a_code_projected_d_saves_loads_and_its_d_views_score_without_codes(tiny_config, tmp_path,
                                                                                       conditional):
    """A weights file's model is checked as a training config would be, so code_projection's rule (it needs the
    clusters) must hold for a file whose D was trained with them: the run's checkpoint and its generator-only export
    load, D comes back with its code rows (per class in a conditional run), and D's views (which pass no code)
    score images."""
    from gan_core.checkpoints import generator_bytes, load_generator
    from gan_core.inspect import d_scores
    from gan_core.training import Trainer

    cfg = tiny_config.replace(name="coded", conditional=conditional, info_codes=4, info_clusters=True,
                              code_projection=True, max_images=128, epochs=1, sample_every=0)
    snap = Trainer(cfg, runs_root=tmp_path).run()
    assert snap.status == "finished", snap.message
    loaded = load_generator(tmp_path / "coded", with_discriminator=True)
    assert loaded.model.code_projection and loaded.discriminator.embed.num_embeddings == (40 if conditional else 4)
    scores = d_scores(loaded.discriminator, torch.zeros(3, 1, 28, 28), torch.tensor([0, 4, 9]) if conditional else None)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    export = tmp_path / "g.safetensors"
    export.write_bytes(generator_bytes(loaded.generator))
    assert load_generator(export).generator.cfg.info_codes == 4


def test_a_conditional_d_conditioned_on_the_code_has_a_row_per_class_and_code(tiny_config):
    """In a conditional run D's projection has one row per (class, code) pair, row class * k + code; given only the
    class (the D views) it reads the code off its Q head, and without the class it refuses."""
    from gan_core.models import build_discriminator

    k = 3
    cfg = tiny_config.replace(conditional=True, info_codes=k, info_clusters=True, code_projection=True, dropout=0.0)
    D = build_discriminator(cfg.model_config()).eval()
    assert D.embed is not None and D.embed.num_embeddings == 10 * k
    with torch.no_grad():
        D.embed.weight.normal_()
        x, y = torch.randn(6, 1, 28, 28), torch.tensor([0, 1, 2, 7, 8, 9])
        h = D.features(x)
        codes = torch.tensor([0, 1, 2, 2, 1, 0])
        by_hand = D.head(h).squeeze(1) + (D.embed.weight[y * k + codes] * h).sum(dim=1)
        assert torch.allclose(D(x, y, codes), by_hand, atol=1e-5)
        assert torch.allclose(D(x, y), D(x, y, D.q_head(h).argmax(dim=1)))
        assert not torch.allclose(D(x, y, codes), D(x, y, (codes + 1) % k))
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        D(x)


def test_a_conditional_step_scores_reals_by_class_and_sub_class_and_fakes_by_class_and_code(tiny_config, monkeypatch):
    images, groups = _blobs([16, 16, 16, 16])
    classes = groups // 2  # two classes, each of two groups: the clusters within a class are its groups
    cfg = tiny_config.replace(conditional=True, classes=("T-shirt/top", "Trouser"), info_codes=2, info_clusters=True,
                              code_projection=True, batch_size=16, dropout=0.0)
    s = step.GanStep(cfg, images, classes, device=torch.device("cpu"))
    assert torch.equal(s.clusters, clusters_within(images, classes, 2, cfg.seed))
    assert torch.equal(s.labels, classes)  # the classes stay what a conditional step reads
    scored, codes = _record_scores_and_codes(s, monkeypatch)
    _, y_real, c_real = s.real_batch(0)
    s.train_step()
    assert len(scored) == 3 and len(codes) == 1
    assert torch.equal(scored[0][0], y_real) and torch.equal(scored[0][1], c_real)
    assert torch.equal(scored[1][1], codes[0]) and torch.equal(scored[2][1], codes[0])
    assert torch.equal(scored[1][0], scored[2][0]) and set(scored[1][0].tolist()) <= {0, 1}
