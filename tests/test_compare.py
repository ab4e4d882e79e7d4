"""Comparing runs (table, ratios, CLI) and renaming / deleting run folders."""

import json
import os
import subprocess
import sys
import time

import pytest

from gan_core.cli import main
from gan_core.compare import compare_runs
from gan_core.config import ConfigError, TrainConfig
from gan_core.presets import preset_config
from gan_core.runs import RunDir, RunLock, delete_run, list_records, rename_run, run_record, training_elsewhere
from gan_core.training import Trainer
from tests.conftest import in_process, needs_data


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A small DCGAN and an MLP GAN, each trained 4 real steps."""
    root = tmp_path_factory.mktemp("runs")
    base = TrainConfig(max_images=128, batch_size=32, max_steps=4, log_every=1, sample_every=2, grid_size=16,
                       threads=1, seed=1)
    for cfg in (base.replace(name="conv", arch="dcgan", width=0.25), base.replace(name="mlp", arch="mlp")):
        snap = Trainer(cfg, runs_root=root).run()
        assert snap.status == "finished", snap.message
    return root


def cli(*args, runs_root=None):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    if runs_root:
        env["GAN_STUDIO_RUNS"] = str(runs_root)
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@needs_data
def test_run_record_reads_a_real_run(two_runs):
    rec = run_record(RunDir(two_runs / "conv"))
    assert (rec.name, rec.arch, rec.status, rec.steps) == ("conv", "dcgan", "finished", 4)
    assert rec.images_per_sec and rec.images_per_sec > 0
    assert rec.wall_time_s > 0 and rec.d_loss is not None and rec.g_loss is not None
    assert rec.fid is None and rec.coverage_classes is None  # eval_every was 0
    assert rec.g_params and rec.d_params and rec.total_params == rec.g_params + rec.d_params
    assert rec.created_date.startswith(time.strftime("%Y-"))


@needs_data
def test_compare_names_differing_fields_and_ratios(two_runs):
    conv, mlp = RunDir(two_runs / "conv"), RunDir(two_runs / "mlp")
    comparison = compare_runs([conv, mlp])
    assert set(comparison.differing) == {"arch", "width"}
    assert comparison.differing["arch"] == ["dcgan", "mlp"]
    ratios = comparison.ratios()
    assert ratios[0] == {"G": 1.0, "D": 1.0, "GAN": 1.0}
    c, m = comparison.records
    assert ratios[1]["D"] == pytest.approx(m.d_params / c.d_params)
    table = comparison.table()
    assert "config fields that differ" in table and "arch" in table and "width" in table
    assert "D size ratio vs conv" in table and f"{m.d_params / c.d_params:.1%}".replace("%", " %") in table
    assert f"{c.g_params:,}" in table and "images/s" in table
    assert "share their fixed noise" in table  # same seed, latent size and grid size


def test_report_002_size_ratios_from_config_only_runs(tmp_path):
    """A run folder with only a config is enough for sizes; GAN2 vs GAN1 as report 002 printed them."""
    gan1 = RunDir.create(preset_config("ankle-boot-gan1").replace(name="gan1"), tmp_path)
    gan2 = RunDir.create(preset_config("ankle-boot").replace(name="gan2"), tmp_path)
    table = compare_runs([gan1, gan2]).table()
    assert "D size ratio vs gan1" in table and "25.4 %" in table  # report: 25.6 %
    assert "GAN size ratio vs gan1" in table and "41.3 %" in table  # report: 41.0 %
    assert "106,657" in table and "29,921" in table


def test_compare_refuses_one_run_and_a_non_run(tmp_path):
    run = RunDir.create(TrainConfig(name="only"), tmp_path)
    with pytest.raises(ValueError, match="at least two runs"):
        compare_runs([run])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        compare_runs([run, RunDir(tmp_path / "broken")])
    assert [r.name for r in list_records(tmp_path) if r.error] == ["broken"]  # listed anyway, so it can be deleted


@needs_data
def test_cli_compare_and_runs(two_runs, capsys, monkeypatch):
    r = cli("compare", str(two_runs / "conv"), "mlp", runs_root=two_runs)  # a path and a name
    assert r.returncode == 0, r.stderr
    assert "arch" in r.stdout and "dcgan" in r.stdout and "mlp" in r.stdout and "D size ratio" in r.stdout
    r = cli("runs", runs_root=two_runs)  # the one subprocess of `runs` (test_hostile_runs.py's run in-process)
    assert r.returncode == 0, r.stderr
    assert {line.split()[0] for line in r.stdout.splitlines()[1:]} == {"conv", "mlp"}
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(two_runs))
    r = in_process(capsys, "compare", "conv")
    assert r.returncode == 2 and "at least two runs" in r.stderr and "Traceback" not in r.stderr



@needs_data
def test_cli_runs_lists_every_run_and_compare_names_a_missing_one(two_runs, capsys, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(two_runs))
    assert main(["compare", "conv", "nosuchrun"]) == 2
    err = capsys.readouterr().err
    assert "nosuchrun" in err and "not a run folder" in err
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["name", "preset", "created", "status"]
    assert {line.split()[0] for line in lines[1:]} == {"conv", "mlp"}
    assert all("finished" in line for line in lines[1:])


def test_rename_updates_folder_and_config(tmp_path):
    run = RunDir.create(TrainConfig(name="old"), tmp_path)
    RunDir.create(TrainConfig(name="taken"), tmp_path)
    mtime = run.config_path.stat().st_mtime
    with pytest.raises(ValueError, match="already exists"):
        rename_run(run, "taken", runs_root=tmp_path)
    with pytest.raises(ConfigError, match="plain folder name"):
        rename_run(run, "../escape", runs_root=tmp_path)
    with pytest.raises(ValueError, match="empty"):
        rename_run(run, "  ", runs_root=tmp_path)
    with pytest.raises(ValueError, match="is training"):
        rename_run(run, "new", active_run_name="old", runs_root=tmp_path)
    assert run.path.is_dir()
    outside = RunDir.create(TrainConfig(name="elsewhere"), tmp_path / "other")
    with pytest.raises(ValueError, match="not a run folder inside"):
        rename_run(outside, "moved", runs_root=tmp_path)  # delete_run's check, now rename_run's too
    (tmp_path / "link").symlink_to(run.path)
    with pytest.raises(ValueError, match="not a run folder inside"):
        rename_run(RunDir(tmp_path / "link"), "moved", runs_root=tmp_path)
    renamed = rename_run(run, " new ", active_run_name="taken", runs_root=tmp_path)
    assert renamed.path == tmp_path / "new" and not run.path.exists()
    assert json.loads(renamed.config_path.read_text())["name"] == "new"
    assert renamed.config_path.stat().st_mtime == mtime  # the listing order does not change


def test_delete_refuses_active_outside_and_live_runs(tmp_path):
    root = tmp_path / "runs"
    run = RunDir.create(TrainConfig(name="doomed"), root)
    run.write_status(status="finished", step=4)
    with pytest.raises(ValueError, match="is training"):
        delete_run(run, active_run_name="doomed", runs_root=root)
    outside = RunDir.create(TrainConfig(name="elsewhere"), tmp_path / "other")
    with pytest.raises(ValueError, match="not a run folder inside"):
        delete_run(outside, runs_root=root)
    (root / "plain").mkdir()
    with pytest.raises(ValueError, match=r"no config\.json"):
        delete_run(RunDir(root / "plain"), runs_root=root)
    live = RunDir.create(TrainConfig(name="live"), root)
    live.write_status(status="running", step=10)
    lock = RunLock.acquire(live)  # a trainer holds the run's lock while it trains
    assert training_elsewhere(live) and run_record(live).status == "running"
    with pytest.raises(ValueError, match=r"another process \(pid \d+ on "):
        delete_run(live, runs_root=root)
    with pytest.raises(ValueError, match="another process"):
        rename_run(live, "moved", runs_root=root)
    lock.release()  # as when its process dies: a "running" status without a lock holder does not block
    assert not training_elsewhere(live)
    assert run_record(live).status == "interrupted"  # listed for what it is, not as "running"
    delete_run(run, active_run_name="other", runs_root=root)
    assert not run.path.exists() and outside.path.exists() and (root / "plain").exists()


def test_a_metrics_file_cut_short_still_lists_the_run(tmp_path):
    run = RunDir.create(TrainConfig(name="crashed"), tmp_path)
    run.metrics_path.write_text("step,epoch,time_s,images_per_sec,d_loss,g_loss\n5,1,1.0,300,0.5,0.9\n10,1,2.0,3e")
    rec = run_record(run)
    assert rec.name == "crashed" and rec.error == ""
    assert rec.d_loss == 0.5  # the half-written last line is skipped; the last complete row counts
