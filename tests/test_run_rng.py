"""One random stream per run: nothing outside the trainer (a page, another thread) changes what a run trains.

torch's global RNG is shared by every thread of a process. The app trains in a thread beside the pages, which build
networks and reseed torch; a run draws its initial weights and D's dropout masks from its own generator instead.
"""

import itertools
import threading
from pathlib import Path

import pytest
import torch

from gan_core import checkpoints as ck
from gan_core.manager import TrainingManager
from gan_core.models import ARCHITECTURES, Dropout, ModelConfig, build_discriminator, build_generator, build_seeded
from gan_core.paths import atomic_write_bytes
from gan_core.runs import RunDir
from tests.conftest import needs_data

VARIANTS = list(itertools.product(ARCHITECTURES, [(0, 0, False, True), (10, 0, True, True), (0, 10, True, False),
                                                  (10, 10, False, False)]))


@pytest.mark.parametrize(("arch", "variant"), VARIANTS)
def test_a_seeded_build_draws_the_weights_manual_seed_drew_and_leaves_torch_alone(arch, variant):
    classes, codes, spectral, batch_norm = variant
    cfg = ModelConfig(arch=arch, num_classes=classes, info_codes=codes, spectral_norm=spectral, batch_norm=batch_norm)
    torch.manual_seed(11)
    expected = build_generator(cfg).state_dict(), build_discriminator(cfg).state_dict()
    after_expected = torch.rand(4)
    torch.manual_seed(5)
    global_before = torch.get_rng_state()
    stream = torch.Generator().manual_seed(11)
    got = [net.state_dict() for net in build_seeded(cfg, stream)]
    assert torch.equal(torch.get_rng_state(), global_before), "building a run's networks touched the global RNG"
    for want, have in zip(expected, got, strict=True):
        assert want.keys() == have.keys()
        different = [k for k in want if not torch.equal(want[k], have[k])]
        assert not different, f"{arch} {variant}: {different[:3]} differ"
    assert torch.equal(torch.rand(4, generator=stream), after_expected), "the stream does not continue alike"


def test_dropout_from_a_stream_masks_as_f_dropout_does_and_falls_back_without_one():
    x = torch.randn(16, 8, 14, 14, requires_grad=True)
    torch.manual_seed(2)
    want = torch.nn.functional.dropout(x, 0.3, training=True)
    layer = Dropout(0.3)
    layer.generator = torch.Generator().manual_seed(2)
    got = layer(x)
    assert torch.equal(want, got)
    (g_want,) = torch.autograd.grad(want.sum(), x)
    (g_got,) = torch.autograd.grad(got.sum(), x)
    assert torch.equal(g_want, g_got)
    assert torch.equal(layer.eval()(x), x), "evaluation passes the input through"
    layer.train().generator = None
    torch.manual_seed(2)
    assert torch.equal(layer(x), want), "without a stream it is nn.Dropout on the global RNG"


def _reseed_torch_until(stop: threading.Event, seen: list[int]) -> None:
    """What the app's pages do beside a run, as fast as possible: reseed torch, draw from it, build networks."""
    cfg = ModelConfig(width=0.25)
    for i in itertools.count():
        if stop.is_set():
            seen.append(i)
            return
        torch.manual_seed(i)
        torch.randn(1000)
        torch.nn.functional.dropout(torch.ones(64), 0.5, training=True)
        if i % 20 == 0:
            build_discriminator(cfg)


def _train(manager: TrainingManager, config, resume=None):
    manager.start(config, resume=resume)
    assert manager.join(120), "the run did not end within two minutes"
    snap = manager.snapshot()
    assert snap.status == "finished", snap.message
    manager.forget()
    return RunDir(Path(snap.run_dir))


def _weights(run: RunDir) -> dict[str, torch.Tensor]:
    tensors, _ = ck.read_weights(run.latest_checkpoint())
    return {k: v for k, v in tensors.items() if k.split("/")[0] in ("G", "D", "G_ema", "opt_g", "opt_d")}


def _metric_rows(run: RunDir) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k not in ("time_s", "images_per_sec")} for row in run.read_metrics()]


@needs_data
def test_a_run_beside_a_thread_that_reseeds_torch_trains_bit_for_bit_as_one_alone_and_resumes_exactly(
        tiny_config, runs_root):
    cfg = tiny_config.replace(ema=0.9)  # dcgan's D has dropout 0.3; BatchNorm, EMA and Adam state come along
    assert cfg.dropout > 0 and cfg.model_config().arch == "dcgan"
    manager = TrainingManager(runs_root)
    global_before = torch.get_rng_state()
    alone = _train(manager, cfg.replace(name="alone"))
    assert torch.equal(torch.get_rng_state(), global_before), "training touched torch's global RNG"

    stop, seen = threading.Event(), []
    noisy = threading.Thread(target=_reseed_torch_until, args=(stop, seen), daemon=True)
    noisy.start()
    try:
        beside = _train(manager, cfg.replace(name="beside"))
        halves = _train(manager, cfg.replace(name="halves", max_steps=8))
        resumed = _train(manager, cfg.replace(max_steps=0), resume=halves.path)
    finally:
        stop.set()
        noisy.join(30)
    assert seen and seen[0] > 100, "the reseeding thread barely ran: the test proves nothing"
    assert resumed.path == halves.path
    want = _weights(alone)
    for run in (beside, resumed):
        assert _metric_rows(run) == _metric_rows(alone), f"{run.name}'s losses differ from the run trained alone"
        got = _weights(run)
        assert got.keys() == want.keys()
        assert all(torch.equal(want[k], got[k]) for k in want), f"{run.name}'s weights differ"


@needs_data
def test_a_checkpoint_from_before_the_run_stream_resumes_exactly(tiny_config, runs_root):
    """Older checkpoints hold torch's global state as "rng/torch": the stream "rng/run" continues."""
    from safetensors.torch import save

    cfg = tiny_config.replace(ema=0.9)
    manager = TrainingManager(runs_root)
    straight = _train(manager, cfg.replace(name="straight"))
    old = _train(manager, cfg.replace(name="old", max_steps=8))
    path = old.latest_checkpoint()
    tensors, meta = ck.read_weights(path)
    tensors["rng/torch"] = tensors.pop("rng/run")
    atomic_write_bytes(path, save(tensors, metadata=meta))
    resumed = _train(manager, cfg.replace(max_steps=0), resume=old.path)
    assert _metric_rows(resumed) == _metric_rows(straight)
    want, got = _weights(straight), _weights(resumed)
    assert all(torch.equal(want[k], got[k]) for k in want)


@needs_data
def test_a_checkpoint_without_a_usable_random_state_is_refused_with_its_name(tiny_config, runs_root):
    from safetensors.torch import save

    manager = TrainingManager(runs_root)
    run = _train(manager, tiny_config.replace(name="damaged", max_steps=8))
    path = run.latest_checkpoint()
    tensors, meta = ck.read_weights(path)
    tensors["rng/run"] = torch.zeros(3, dtype=torch.uint8)
    atomic_write_bytes(path, save(tensors, metadata=meta))
    manager.start(tiny_config.replace(max_steps=0), resume=run.path)
    assert manager.join(120)
    snap = manager.snapshot()
    assert snap.status == "failed" and "rng/run" in snap.message and path.name in snap.message, snap.message
