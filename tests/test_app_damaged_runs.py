"""The Train page's Checkpoints tab with a run folder from elsewhere: a damaged status.json, a checkpoint pruned
between the listing and its stat, a linked .lock and progress.gif. The tab renders, says what is wrong, refuses the
resume up front and reads nothing through a link."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from gan_core.config import TrainConfig
from gan_core.runs import RunDir
from tests.apphelpers import page, texts


def _checkpoints_tab(run_name: str) -> AppTest:
    at = page("train")
    at.session_state["train_tab"] = "Checkpoints"  # only the open tab runs
    at.session_state["train_ckpt_run"] = run_name
    at.run()
    assert not at.exception, at.exception
    return at


def _run_with_checkpoints(root: Path, name: str) -> RunDir:
    run = RunDir.create(TrainConfig(name=name), root)
    run.checkpoints_dir.mkdir()
    for step in (4, 8):
        run.checkpoint_path(step).write_bytes(b"read only when a download is clicked")
    return run


def test_a_damaged_status_and_a_pruned_checkpoint_leave_the_tab_working(runs_root, monkeypatch):
    run = _run_with_checkpoints(runs_root, "damaged")
    run.status_path.write_bytes(b'{"step": "12", "total_steps": null}')
    listed = RunDir.checkpoints

    def pruned_meanwhile(self):  # the trainer prunes step 2 between the listing and the stat
        return [(2, self.checkpoint_path(2)), *listed(self)]

    monkeypatch.setattr(RunDir, "checkpoints", pruned_meanwhile)
    at = _checkpoints_tab("damaged")
    assert "'step' is '12'" in texts(at) and "A resume rewrites it" in texts(at)
    assert list(at.dataframe[-1].value["Step"]) == [8, 4], "the pruned checkpoint is left out, the others listed"
    assert not at.button(key="train_resume_ckpt").disabled


def test_a_linked_lock_refuses_the_resume_up_front_and_a_linked_gif_is_not_offered(runs_root, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("not the run's")
    run = _run_with_checkpoints(runs_root, "linked")
    run.lock_path.symlink_to(secret)
    run.gif_path.symlink_to(secret)
    at = _checkpoints_tab("linked")
    assert "cannot be resumed" in texts(at) and ".lock is a symbolic link" in texts(at)
    assert at.button(key="train_resume_ckpt").disabled
    gif = next(b for b in at.get("download_button") if b.proto.label == "Progress GIF")
    assert gif.proto.disabled, "a progress.gif that is a link is not offered for download"
    assert secret.read_text() == "not the run's" and os.path.islink(run.lock_path)
