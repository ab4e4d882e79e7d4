"""A run folder damaged by hand, a crash or a full disk: each run reads as what it is, and nothing else breaks."""

from __future__ import annotations

import json

import pytest

from gan_core.config import ConfigError, TrainConfig
from gan_core.runs import RunDir, list_records, run_record

HEADER = "step,epoch,time_s,images_per_sec,d_loss,g_loss,d_real,d_fake,fid,coverage_classes,coverage_kl\n"


def _row(step: int) -> str:
    return f"{step},1,{step / 10},300,0.5,0.9,0.6,0.4,,,\n"


@pytest.mark.parametrize(("content", "reason"), [
    ("[]", "holds list"),
    ("null", "holds NoneType"),
    ('{"classes": 5}', "does not describe a valid run"),
    ('{"width": 100}', "width must be between"),
    ('{"unknown_field": 1}', "unknown config field"),
    ("{not json", "is not valid JSON"),
    ("\udcff", "is not valid JSON"),
])
def test_a_malformed_config_makes_only_that_run_unreadable_with_the_reason(tmp_path, content, reason):
    RunDir.create(TrainConfig(name="good"), tmp_path)
    bad = RunDir.create(TrainConfig(name="bad"), tmp_path)
    bad.config_path.write_bytes(content.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(ConfigError, match=reason):
        bad.read_config()
    records = {r.name: r for r in list_records(tmp_path)}
    assert records["good"].error == "" and records["good"].config is not None
    assert records["bad"].config is None and reason.split()[0] in records["bad"].error


def test_a_damaged_metrics_tail_is_skipped_and_resume_truncation_survives_it(tmp_path):
    run = RunDir.create(TrainConfig(name="crashed"), tmp_path)
    # Rows 5 and 10, a NUL-filled stretch (a file extended but never written), row 15, and a last line cut short
    # inside its step number: "2" of "20", which must not be read as step 2 (it ends without a newline).
    run.metrics_path.write_text(HEADER + _row(5) + _row(10) + "\x00" * 40 + "\n" + _row(15) + "2")
    assert [r["step"] for r in run.read_metrics()] == [5.0, 10.0, 15.0]
    run.truncate_metrics(10)
    assert run.metrics_path.read_text() == HEADER + _row(5) + _row(10)  # the damaged lines are gone too
    assert [r["step"] for r in run.read_metrics()] == [5.0, 10.0]


def test_rows_that_cannot_be_real_are_skipped(tmp_path):
    run = RunDir.create(TrainConfig(name="odd"), tmp_path)
    run.metrics_path.write_text(HEADER + _row(5) + "7,1,0.7\n" + "8,1,x,300,0.5,0.9,0.6,0.4,,,\n" + _row(4) + _row(9))
    assert [r["step"] for r in run.read_metrics()] == [5.0, 9.0]  # short row, non-number, step going back: skipped
    assert run_record(run).steps == 9


def test_status_json_missing_reads_as_unknown_and_damaged_as_damaged(tmp_path):
    run = RunDir.create(TrainConfig(name="nostatus"), tmp_path)
    assert run_record(run).status == "unknown"
    run.status_path.write_text("{half")
    record = run_record(run)
    assert record.status == "damaged" and "status.json is not valid JSON" in record.error
    run.status_path.write_text(json.dumps({"status": "finished", "step": 3}))
    assert run_record(run).status == "finished"


def test_a_listing_rereads_a_run_only_when_its_files_change(tmp_path, monkeypatch):
    run = RunDir.create(TrainConfig(name="big"), tmp_path)
    run.metrics_path.write_text(HEADER + "".join(_row(s) for s in range(5, 5000, 5)))
    from gan_core import runlog

    reads = []
    real = runlog.summary
    monkeypatch.setattr(runlog, "summary", lambda path: reads.append(real(path)) or reads[-1])
    for _ in range(3):
        assert list_records(tmp_path)[0].steps == 4995
    assert len(reads) == 1, "an unchanged run is summarised once, not on every rerun of the Runs page"
    with run.metrics_path.open("a") as fh:
        fh.write(_row(5000))
    assert list_records(tmp_path)[0].steps == 5000 and len(reads) == 2
    assert reads[1].bytes_read == len(_row(5000)), "only the appended row is read"


def test_the_floor_and_statistics_caches_are_bounded():
    from gan_core import metrics

    cache: dict = {}
    for i in range(metrics.MAX_CACHED + 10):
        metrics._remember(cache, i, i)
    assert len(cache) == metrics.MAX_CACHED and next(iter(cache)) == 10


def test_metrics_files_keep_their_own_columns(tmp_path):
    """A new file takes the first row's gradient-norm columns into its header; a file written before those columns
    existed (a run trained by an older version, now resumed) keeps its header, and both read back whole."""
    from gan_core import runlog

    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    row = {"step": 1, "d_loss": 0.5, "grad_norm_g": 2.0, "grad_norm_g/body.0": 1.5, "unknown": 9.0}
    runlog.append(new, [row])
    runlog.append(new, [{**row, "step": 2, "grad_norm_g": 3.0}])
    header = new.read_text().splitlines()[0].split(",")
    assert header[: len(runlog.METRIC_FIELDS)] == list(runlog.METRIC_FIELDS)
    assert header[len(runlog.METRIC_FIELDS):] == ["grad_norm_g", "grad_norm_g/body.0"], "other columns are not kept"
    assert [(r["step"], r["grad_norm_g"]) for r in runlog.rows(new)] == [(1.0, 2.0), (2.0, 3.0)]
    before = "step,epoch,time_s,images_per_sec,d_loss,g_loss,d_real,d_fake,fid,coverage_classes,coverage_kl"
    assert before.split(",") != list(runlog.METRIC_FIELDS), "a header from before the learning-rate columns"
    old.write_text(before + "\r\n1,1,0.1,100,0.6,0.7,0.5,0.5,,,\r\n", newline="")
    runlog.append(old, [{**row, "step": 2}])
    assert [r["step"] for r in runlog.rows(old)] == [1.0, 2.0]
    assert "grad_norm_g" not in runlog.rows(old)[-1] and "lr_g" not in runlog.rows(old)[-1]
    runlog.truncate(new, 1)  # a resume's rewind keeps the file's own header, so the kept rows still parse
    assert [(r["step"], r["grad_norm_g/body.0"]) for r in runlog.rows(new)] == [(1.0, 1.5)]
