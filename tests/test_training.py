"""A real (short) training run on a slice of Fashion-MNIST: losses, samples, resume, failures."""

import csv
import itertools
import threading
import time

import numpy as np
import pytest
import torch

from gan_core import inspect, live, recorder, step, training
from gan_core.checkpoints import load_generator
from gan_core.runs import RunDir
from gan_core.training import Trainer
from tests.conftest import needs_data, wait_for

pytestmark = needs_data


def _losses(run_dir):
    with open(f"{run_dir}/metrics.csv") as fh:
        return [(int(r["step"]), r["d_loss"], r["g_loss"], r["d_real"], r["d_fake"]) for r in csv.DictReader(fh)]


def test_short_run_trains_and_writes_a_run_folder(tiny_config, runs_root):
    snap = Trainer(tiny_config.replace(name="short"), runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    assert snap.step == snap.total_steps == 16
    rows = _losses(snap.run_dir)
    assert len(rows) == 16
    assert all(np.isfinite(float(v)) for r in rows for v in r[1:])
    run = RunDir(runs_root / "short")
    assert run.gif_path.stat().st_size > 0
    assert [s for s, _ in run.checkpoints()] == [8, 16]
    grids = run.grids()
    assert grids[0][0] == 0 and grids[-1][0] == 16
    first, last = run.load_grid(grids[0][1]), run.load_grid(grids[-1][1])
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 1.0, "samples did not change"
    assert run.read_status()["status"] == "finished"
    g = load_generator(run.path).generator
    assert g(torch.randn(2, 100)).shape == (2, 1, 28, 28)


def test_bf16_autocast_trains_when_asked_for_on_the_cpu(tiny_config, runs_root):
    snap = Trainer(tiny_config.replace(name="amp", precision="bf16", conditional=True, info_codes=4, max_steps=6),
                   runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    assert all(np.isfinite(float(v)) for r in _losses(snap.run_dir) for v in r[1:])
    assert load_generator(runs_root / "amp").generator.body[0].weight.dtype == torch.float32  # the weights stay fp32


def test_precision_auto_asks_the_machine_and_the_views_are_told(tiny_config, runs_root, monkeypatch):
    """"auto" is bf16 autocast exactly where runtime.native_bf16 says bf16 is native; fp32 forces it off; the snapshot
    (Live tab, CLI) names what the steps ran in."""
    images, labels = torch.zeros(64, 1, 28, 28), torch.zeros(64, dtype=torch.long)
    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr("gan_core.runtime.native_bf16", lambda device, native=native: native)
        auto = step.GanStep(tiny_config, images, labels, device=cpu)
        assert auto.bf16 is native
        assert auto.compute == ("cpu, bf16 autocast (precision auto: bf16 is native here)" if native
                                else "cpu, fp32 (precision auto: bf16 is not native here)")
        assert step.GanStep(tiny_config.replace(precision="fp32"), images, labels, device=cpu).bf16 is False
        assert step.GanStep(tiny_config.replace(precision="bf16"), images, labels, device=cpu).bf16 is True
    snap = Trainer(tiny_config.replace(name="told", max_steps=2), runs_root=runs_root).run()
    assert snap.compute == "cpu, fp32 (precision auto: bf16 is not native here)"


def test_lazy_r1_penalises_every_kth_step_with_k_times_gamma(tiny_config, monkeypatch):
    """r1_every k: the penalty (and its double backward) on steps 0, k, 2k, ... only, weighted by γ·k (StyleGAN2's
    lazy regularisation); k = 1 is the penalty on every step."""
    calls: list[tuple[int, float]] = []
    real_penalty = step.r1_penalty
    images, labels = torch.rand(64, 1, 28, 28) * 2 - 1, torch.zeros(64, dtype=torch.long)
    for k in (1, 4):
        gan = step.GanStep(tiny_config.replace(r1_gamma=0.5, r1_every=k), images, labels, device=torch.device("cpu"))
        calls.clear()

        def counting(out, real, gamma, gan=gan):
            calls.append((gan.step, gamma))
            return real_penalty(out, real, gamma)

        monkeypatch.setattr(step, "r1_penalty", counting)
        for _ in range(9):
            gan.train_step()
        assert calls == [(s, 0.5 * k) for s in range(0, 9, k)]


def test_exact_resume(tiny_config, runs_root):
    cfg = tiny_config.replace(ema=0.9)  # dropout, BN, EMA and Adam state all have to survive
    straight = Trainer(cfg.replace(name="straight"), runs_root=runs_root).run()
    half = Trainer(cfg.replace(name="halves", max_steps=8), runs_root=runs_root).run()
    assert half.step == 8
    resumed = Trainer(cfg.replace(max_steps=0), runs_root=runs_root, resume=runs_root / "halves").run()
    assert resumed.status == "finished" and resumed.step == 16
    assert _losses(straight.run_dir) == _losses(resumed.run_dir)
    a = load_generator(runs_root / "straight").generator.state_dict()
    b = load_generator(runs_root / "halves").generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_can_lower_the_learning_rates(tiny_config, runs_root):
    Trainer(tiny_config.replace(name="anneal", max_steps=8), runs_root=runs_root).run()
    trainer = Trainer(tiny_config.replace(lr_g=5e-5, lr_d=4e-5, arch="mlp"), runs_root=runs_root,
                      resume=runs_root / "anneal")
    snap = trainer.run()
    assert snap.status == "finished" and snap.step == 16
    assert [g["lr"] for g in trainer.gan.opt_g.param_groups] == [5e-5]
    assert [g["lr"] for g in trainer.gan.opt_d.param_groups] == [4e-5]
    saved = RunDir(runs_root / "anneal").read_config()
    assert (saved.lr_g, saved.lr_d, saved.arch) == (5e-5, 4e-5, tiny_config.arch), "the model is not resumable"


def test_the_anneal_lowers_both_rates_along_a_half_cosine_then_holds_them():
    from gan_core.config import TrainConfig

    cfg = TrainConfig(lr_anneal_steps=100, lr_final=0.1)
    assert step.lr_scale(TrainConfig(), 10**6) == 1.0  # off by default: constant rates
    assert step.lr_scale(cfg, 0) == 1.0
    assert step.lr_scale(cfg, 50) == pytest.approx(0.55)
    assert step.lr_scale(cfg, 100) == step.lr_scale(cfg, 10**6) == pytest.approx(0.1)
    scales = [step.lr_scale(cfg, s) for s in range(101)]
    assert all(a > b for a, b in itertools.pairwise(scales))


def test_an_annealed_run_steps_at_the_annealed_rates_and_resumes_on_the_same_curve(tiny_config, runs_root):
    """Each step sets both rates from its own step number, so a resume continues the anneal where the run left it,
    bit for bit as one uninterrupted run; a rate changed at a resume is annealed alike."""
    cfg = tiny_config.replace(lr_anneal_steps=12, lr_final=0.25, lr_g=4e-4, lr_d=2e-4)
    straight = Trainer(cfg.replace(name="annealed"), runs_root=runs_root)
    snap = straight.run()
    assert snap.status == "finished" and snap.step == 16
    # The last step (index 15) ran past the anneal's end: both rates at lr_final of theirs.
    assert [g["lr"] for g in straight.gan.opt_g.param_groups] == [pytest.approx(1e-4)]
    assert [g["lr"] for g in straight.gan.opt_d.param_groups] == [pytest.approx(5e-5)]
    # metrics.csv logs the rates each row's last step took: the anneal's curve, as trained (and TensorBoard's lr/).
    with open(f"{snap.run_dir}/metrics.csv") as fh:
        logged = [(int(r["step"]), float(r["lr_g"]), float(r["lr_d"])) for r in csv.DictReader(fh)]
    assert [n for n, _, _ in logged] == list(range(1, 17))
    for n, lr_g, lr_d in logged:
        assert (lr_g, lr_d) == (pytest.approx(4e-4 * step.lr_scale(cfg, n - 1), rel=1e-5),
                                pytest.approx(2e-4 * step.lr_scale(cfg, n - 1), rel=1e-5))
    assert logged[0][1] == pytest.approx(4e-4) and logged[-1][1] == pytest.approx(1e-4)
    Trainer(cfg.replace(name="annealed-halves", max_steps=8), runs_root=runs_root).run()
    resumed = Trainer(cfg.replace(max_steps=0), runs_root=runs_root, resume=runs_root / "annealed-halves").run()
    assert resumed.step == 16
    assert _losses(snap.run_dir) == _losses(resumed.run_dir)
    lowered = Trainer(cfg.replace(epochs=3, lr_g=2e-4), runs_root=runs_root, resume=runs_root / "annealed-halves")
    assert lowered.run().step == 24
    assert [g["lr"] for g in lowered.gan.opt_g.param_groups] == [pytest.approx(5e-5)]


def test_infogan_code_trains_and_its_generator_reloads(tiny_config, runs_root):
    cfg = tiny_config.replace(name="info", info_codes=4, info_weight=2.0)
    trainer = Trainer(cfg, runs_root=runs_root)
    snap = trainer.run()
    assert snap.status == "finished" and all(np.isfinite(float(v)) for r in _losses(snap.run_dir) for v in r[1:])
    loaded = load_generator(runs_root / "info")
    assert loaded.model.info_codes == 4
    z = torch.randn(8, 100)
    with torch.no_grad():
        assert torch.equal(loaded.generator.eval()(z), trainer.gan.G.eval()(z))
    assert trainer.gan.D.q_head is not None and trainer.gan.D.q_head.out_features == 4


def test_keep_checkpoints_deletes_only_the_older_ones(tiny_config, runs_root):
    snap = Trainer(tiny_config.replace(name="keep", epochs=3, keep_checkpoints=2), runs_root=runs_root).run()
    assert snap.status == "finished"
    run = RunDir(runs_root / "keep")
    assert [s for s, _ in run.checkpoints()] == [16, 24]
    assert len(run.grids()) > 2, "grids and metrics are not checkpoints: all kept"


def test_resume_from_older_checkpoint_forks_a_new_run(tiny_config, runs_root):
    Trainer(tiny_config.replace(name="orig"), runs_root=runs_root).run()
    orig = RunDir(runs_root / "orig")
    snap = Trainer(tiny_config, runs_root=runs_root, resume=orig.checkpoint_path(8)).run()
    assert snap.run_name == "orig-from-8" and snap.step == 16
    assert [s for s, _ in orig.checkpoints()] == [8, 16], "the original run must be left intact"
    assert _losses(snap.run_dir)[:8] == _losses(orig.path)[:8]


def test_stop_takes_effect_at_the_next_step_and_saves_it(tiny_config, runs_root):
    trainer = Trainer(tiny_config.replace(epochs=1000, name="stopme"), runs_root=runs_root)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    deadline = time.monotonic() + 30
    while trainer.snapshot().step < 3:
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    asked_at = trainer.step
    trainer.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    snap = trainer.snapshot()
    assert snap.status == "stopped"
    assert snap.step <= asked_at + 1, "steps went on after stop (one may be under way when it is asked)"
    assert RunDir(runs_root / "stopme").latest_checkpoint().name == f"step_{snap.step:07d}.safetensors"


def test_pause_and_resume(tiny_config, runs_root, monkeypatch):
    monkeypatch.setattr(training, "HEARTBEAT_S", 0.1)  # status.json rewritten every 0.1 s while active
    trainer = Trainer(tiny_config.replace(epochs=1000, name="pauser"), runs_root=runs_root)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    wait_for(lambda: trainer.snapshot().step >= 2, 30, "the run's first steps")
    trainer.pause()
    wait_for(lambda: trainer.snapshot().status == "paused", 30, "the pause")
    step = trainer.snapshot().step
    run = RunDir(runs_root / "pauser")
    # The page shows the pause first; the checkpoint and status.json follow.
    wait_for(lambda: run.read_status().get("status") == "paused", 30, "status.json saying paused")
    beat = run.read_status()["updated"]
    time.sleep(0.5)
    assert trainer.snapshot().step == step
    status = run.read_status()
    assert status["status"] == "paused" and status["updated"] > beat, "a paused trainer still shows it is alive"
    trainer.resume()
    wait_for(lambda: trainer.snapshot().step > step + 1, 30, "steps after resume")
    trainer.stop()
    thread.join(timeout=60)
    assert not thread.is_alive() and trainer.snapshot().status == "stopped"


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tiny_config, runs_root, monkeypatch):
    real_step = step.GanStep.train_step

    def exploding(self, measure=False):
        stats = real_step(self, measure)
        if self.step == 11:
            stats["d_loss"] = float("nan")
        return stats

    monkeypatch.setattr(step.GanStep, "train_step", exploding)
    snap = Trainer(tiny_config.replace(name="nan"), runs_root=runs_root).run()
    assert snap.status == "failed"
    assert "D loss became nan at step 11" in snap.message
    assert "step_0000008.safetensors" in snap.message
    run = RunDir(runs_root / "nan")
    assert [s for s, _ in run.checkpoints()] == [8]
    assert run.read_status()["status"] == "failed"


def test_conditional_class_subset_run(tiny_config, runs_root):
    cfg = tiny_config.replace(conditional=True, classes=("Sneaker", "Ankle boot"), max_images=128, epochs=1,
                              grid_size=20, name="cond")
    snap = Trainer(cfg, runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    assert snap.grids[-1][1].shape[1] == 10 * 30 + 2  # ten images per row


def test_missing_dataset_fails_with_the_loaders_message(tiny_config, runs_root, tmp_path, monkeypatch):
    import gan_core.data as gd

    monkeypatch.setattr(gd, "DEBIAN_DIR", tmp_path / "nope")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    gd._clear_memory_cache()
    snap = Trainer(tiny_config.replace(name="nodata"), runs_root=runs_root).run()
    assert snap.status == "failed"
    assert "apt-get install dataset-fashion-mnist" in snap.message


def test_in_training_evaluation_without_classifier_fails_at_setup(tiny_config, runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CLASSIFIER", str(tmp_path / "missing.safetensors"))
    import gan_core.classifier as gc

    if hasattr(gc, "_CACHE"):
        monkeypatch.setattr(gc, "_CACHE", {})
    snap = Trainer(tiny_config.replace(name="evalnoclf", eval_every=4), runs_root=runs_root).run()
    assert snap.status == "failed"
    assert "train-classifier" in snap.message


def test_in_training_evaluation_logs_fid_and_coverage(tiny_config, runs_root):
    from gan_core.paths import CLASSIFIER_PATH

    if not CLASSIFIER_PATH.exists():
        pytest.skip("shipped classifier missing")
    snap = Trainer(tiny_config.replace(name="evals", eval_every=8, eval_samples=200, epochs=1), runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    rows = [r for r in RunDir(runs_root / "evals").read_metrics() if "fid" in r]
    assert [r["step"] for r in rows] == [8.0]
    assert rows[0]["fid"] > 0 and 0 <= rows[0]["coverage_classes"] <= 10


def test_ema_warm_up_follows_g_from_the_first_steps(tiny_config, runs_root):
    assert step.ema_decay(0.999, 0) == pytest.approx(0.1)
    assert step.ema_decay(0.999, 90) == pytest.approx(0.91)
    assert step.ema_decay(0.999, 100_000) == 0.999
    trainer = Trainer(tiny_config.replace(name="warm", ema=0.999, max_steps=12), runs_root=runs_root)
    trainer = trainer.launch.setup()
    initial = [p.detach().clone() for p in trainer.G_ema.parameters()]
    first_grid = trainer.sample_grid()
    for _ in range(12):
        trainer.train_step()

    def dist(a, b):
        return sum(float((x - y).detach().pow(2).sum()) for x, y in zip(a, b, strict=True)) ** 0.5

    ema, g = list(trainer.G_ema.parameters()), list(trainer.G.parameters())
    # Without the warm-up, 12 steps at 0.999 would leave the EMA 98.8 % the initial weights.
    assert dist(ema, g) < 0.5 * dist(ema, initial)
    assert np.abs(trainer.sample_grid().astype(int) - first_grid.astype(int)).mean() > 1.0, \
        "the grid at step 12 is still the initial one"
    assert "EMA" in trainer.grid_source() and "warming up to 0.999" in trainer.grid_source()
    images, labels = torch.zeros(64, 1, 28, 28), torch.zeros(64, dtype=torch.long)
    assert step.GanStep(tiny_config.replace(ema=0.0), images, labels, device=torch.device("cpu")).grid_source() \
        .startswith("G itself")


def test_grids_on_the_time_cadence(tiny_config, runs_root):
    # sample_every far beyond the run: only the time cadence (here: every step) and the final grid remain.
    snap = Trainer(tiny_config.replace(name="timed", sample_every=1000, grid_every_s=1e-6, max_steps=6),
                   runs_root=runs_root).run()
    assert snap.status == "finished"
    assert [s for s, _ in RunDir(runs_root / "timed").grids()] == [0, 1, 2, 3, 4, 5, 6]
    assert snap.grid_source.startswith("G itself"), "tiny_config trains without an EMA"
    Trainer(tiny_config.replace(name="untimed", sample_every=1000, grid_every_s=0, max_steps=6),
                  runs_root=runs_root).run()
    assert [s for s, _ in RunDir(runs_root / "untimed").grids()] == [0, 6]


def test_eta_clock_uses_wall_clock_progress(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: now[0])
    clock = live.EtaClock(step=0)
    assert clock.update(5, 1000) is None, "no estimate before a second has passed"
    for t in range(1, 61):  # 10 steps per second for a minute
        now[0] = 100.0 + t
        eta = clock.update(10 * t, 1000)
    assert eta == pytest.approx(40.0, rel=0.05)
    now[0] += 0.5  # within the same second the rate is not re-measured
    assert clock.update(601, 1000) == pytest.approx((1000 - 601) / 10.0, rel=0.05)


@pytest.mark.parametrize(("owner", "method", "phase"), [
    (step.GanStep, "train_step", "training a step"),
    (recorder.RunRecorder, "grid", "drawing a sample grid"),
    (recorder.RunRecorder, "checkpoint", "saving a checkpoint"),
    (training, "evaluate", "evaluating FID and coverage"),
])
def test_a_fault_in_any_phase_ends_the_run_as_failed_with_what_is_kept(tiny_config, runs_root, monkeypatch, owner,
                                                                       method, phase):
    calls = {"n": 0}
    real = getattr(owner, method)

    def faulty(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second call: after the first checkpoint for a checkpoint, mid-run for the rest
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, method, faulty)
    cfg = tiny_config.replace(name=f"fault-{method}", eval_every=4 if method == "evaluate" else 0, eval_samples=100)
    snap = Trainer(cfg, runs_root=runs_root).run()
    assert snap.status == "failed" and not snap.active
    assert f"while {phase}" in snap.message and "No space left on device" in snap.message
    run = RunDir(runs_root / f"fault-{method}")
    kept = run.latest_checkpoint()  # the message says what the folder holds
    if kept is not None:
        assert f"Kept: every file written before, up to the checkpoint {kept.name}" in snap.message, snap.message
    else:
        assert "No checkpoint had been saved yet" in snap.message, snap.message
    assert run.read_status()["status"] == "failed"


def test_a_fault_in_setup_fails_with_the_error_alone(tiny_config, runs_root, monkeypatch):
    monkeypatch.setattr(step.GanStep, "__init__", lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    snap = Trainer(tiny_config.replace(name="setupfault"), runs_root=runs_root).run()
    assert snap.status == "failed" and snap.message == "RuntimeError: out of memory"


def test_a_paused_run_takes_single_steps_exactly_as_it_would_have(tiny_config, runs_root):
    """Pause, step twice (each the step the run would have taken, reported before and after), resume: the run
    equals one that was never interrupted, bit for bit."""
    cfg = tiny_config.replace(ema=0.9, conditional=True, dropout=0.3, max_steps=12)
    straight = Trainer(cfg.replace(name="straight"), runs_root=runs_root).run()
    trainer = Trainer(cfg.replace(name="stepped"), runs_root=runs_root)
    with pytest.raises(ValueError, match="pause it first"):
        trainer.step_once()
    thread = threading.Thread(target=trainer.run)
    thread.start()
    resumed = False
    try:
        wait_for(lambda: trainer.snapshot().step >= 3, 60, "the run's first steps")
        trainer.pause()
        wait_for(lambda: trainer.snapshot().status == "paused", 60, "the pause")
        paused_at = trainer.snapshot().step
        reports = [trainer.step_once(timeout=60) for _ in range(2)]
        assert [(r.step_before, r.step_after) for r in reports] == [(paused_at, paused_at + 1),
                                                                   (paused_at + 1, paused_at + 2)]
        snap = trainer.snapshot()
        assert snap.status == "paused" and snap.step == paused_at + 2, "the run stays paused after a step"
        first = reports[0]
        assert first.grid_before.shape == first.grid_after.shape == first.difference.shape == first.g_gradient.shape
        assert first.largest_change > 0 and first.difference.max() == 255, "the difference image shows the change"
        assert len(first.d_before) == len(first.d_after) == len(first.g_gradient_norms) == cfg.grid_size
        assert ((first.d_after >= 0) & (first.d_after <= 1)).all() and (first.g_gradient_norms > 0).all()
        assert set(first.stats) >= {"d_loss", "g_loss", "d_real", "d_fake"}
        assert np.array_equal(reports[1].grid_before, first.grid_after), "step 2 starts where step 1 ended"
        # A look at what D sees (the Live tab's) takes a copy: the run goes on as if nobody had looked.
        d, d_step = trainer.discriminator_copy()
        labels = torch.arange(cfg.grid_size) % 10
        view = inspect.d_view(d, torch.rand(cfg.grid_size, 1, 28, 28) * 2 - 1, labels)
        assert d_step == paused_at + 2 and view.scores.shape == (cfg.grid_size,)
        trainer.resume()
        resumed = True
    finally:
        if not resumed:
            trainer.stop()
        thread.join(timeout=120)
    assert not thread.is_alive()
    stepped = trainer.snapshot()
    assert stepped.status == "finished" and stepped.step == straight.step == 12, stepped.message
    assert _losses(straight.run_dir) == _losses(stepped.run_dir)
    a = load_generator(runs_root / "straight").generator.state_dict()
    b = load_generator(runs_root / "stepped").generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gradient_norms_are_logged_on_the_rows_steps(tiny_config, runs_root):
    snap = Trainer(tiny_config.replace(name="norms", log_every=4, max_steps=8, spectral_norm=True),
                   runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    rows = RunDir(runs_root / "norms").read_metrics()
    assert [r["step"] for r in rows] == [4.0, 8.0]
    for row in rows:
        g_layers = [v for k, v in row.items() if k.startswith("grad_norm_g/")]
        d_layers = [v for k, v in row.items() if k.startswith("grad_norm_d/")]
        assert g_layers and d_layers and "grad_norm_d/features.0" in row, sorted(row)
        # The whole network's norm is the layers' norms together.
        assert row["grad_norm_g"] == pytest.approx(float(np.linalg.norm(g_layers)), rel=1e-4)
        assert row["grad_norm_d"] == pytest.approx(float(np.linalg.norm(d_layers)), rel=1e-4)
        assert all(v > 0 for v in g_layers + d_layers)
    live = snap.history[-1]
    assert live["grad_norm_g"] == pytest.approx(rows[-1]["grad_norm_g"], rel=1e-5), "the live curves have them too"


def test_a_run_with_a_code_draws_its_fixed_grid_one_code_per_row(tiny_config):
    """As a conditional run's grid has a row per class, an unconditional run with an InfoGAN code has a row per code
    when the grid holds whole rows of each (100 images, 10 codes); each fixed z stays a plain z, its first entries
    permuted so that it reads off its row's code. A grid that does not divide keeps each z's own code."""
    from gan_core.latent import carrying, info_code
    from gan_core.step import fixed_grid_names, grid_codes, grid_row

    z = torch.randn(50, 100, generator=torch.Generator().manual_seed(0))
    wanted = torch.arange(50) % 10
    moved = carrying(z, wanted, 10)
    assert torch.equal(info_code(moved, 10), wanted)
    assert torch.equal(moved[:, 10:], z[:, 10:])
    assert torch.equal(moved[:, :10].sort(dim=1).values, z[:, :10].sort(dim=1).values)

    cfg = tiny_config.replace(conditional=False, info_codes=10, grid_size=100)
    gan = step.GanStep(cfg, torch.rand(64, 1, 28, 28) * 2 - 1, torch.zeros(64, dtype=torch.long),
                       device=torch.device("cpu"))
    assert grid_row(cfg) == 10 and grid_codes(cfg) == [i // 10 for i in range(100)]
    assert torch.equal(info_code(gan.fixed_z, 10), torch.arange(100) // 10)
    grid = gan.sample_grid()
    assert fixed_grid_names(cfg, grid) == ([f"code {c}" for c in range(10)], None)

    for other in (cfg.replace(grid_size=64), cfg.replace(info_codes=0), cfg.replace(conditional=True, info_codes=0)):
        assert grid_codes(other) is None
    assert grid_row(cfg.replace(grid_size=64)) is None
    assert grid_row(cfg.replace(conditional=True, info_codes=0)) == 10
