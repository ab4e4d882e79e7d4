"""The New-run tab's timing of a step: one at a time in the process, never beyond the memory available now."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import budget, speed
from gan_core.presets import DEFAULT_PRESET, get_preset
from gan_core.schedule import Schedule, train_images

SMALL = get_preset("studio").config(width=0.125, threads=1)
WAIT_S = 30.0  # bound on every wait below: a failure, not a hang


class _Probe:
    """A stand-in for the timing itself: counts how many run at once, and holds the first until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0
        self.first_in, self.release = threading.Event(), threading.Event()

    def __call__(self, _cfg, _seconds, _warmup) -> float:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
            first = self.calls == 1
        if first:
            self.first_in.set()
            assert self.release.wait(2 * WAIT_S)
        with self.lock:
            self.running -= 1
        return 100.0


class _WatchedLock:
    """The probe lock, telling when a second caller has come to wait on it."""

    def __init__(self) -> None:
        self.inner, self.waiting = threading.Lock(), threading.Event()

    def acquire(self, timeout: float = -1) -> bool:
        if self.inner.locked():
            self.waiting.set()
        return self.inner.acquire(timeout=timeout)

    def release(self) -> None:
        self.inner.release()


def test_two_tabs_timing_at_once_take_turns(monkeypatch):
    probe, lock = _Probe(), _WatchedLock()
    monkeypatch.setattr(speed, "_time_steps", probe)
    monkeypatch.setattr(speed, "_PROBE_LOCK", lock)
    rates: list[float] = []
    tabs = [threading.Thread(target=lambda: rates.append(speed.images_per_sec(SMALL))) for _ in range(2)]
    tabs[0].start()
    assert probe.first_in.wait(WAIT_S)
    tabs[1].start()
    # The second tab reaches the lock and waits there, outside the probe, while the first is timing.
    assert lock.waiting.wait(WAIT_S), "the second tab never came to wait on the probe lock"
    assert probe.calls == 1, "the second tab went into the probe while the first was timing"
    probe.release.set()
    for t in tabs:
        t.join(WAIT_S)
    assert rates == [100.0, 100.0] and probe.calls == 2
    assert probe.most == 1, "two timings ran at once"


def test_a_tab_that_waits_too_long_gets_no_rate_and_why(monkeypatch):
    probe = _Probe()
    monkeypatch.setattr(speed, "_time_steps", probe)
    first = threading.Thread(target=speed.images_per_sec, args=(SMALL,))
    first.start()
    try:
        assert probe.first_in.wait(WAIT_S)
        with pytest.raises(speed.ProbeUnavailable, match="another tab has been timing a configuration"):
            speed.images_per_sec(SMALL, wait_s=0)
        assert probe.calls == 1
    finally:
        probe.release.set()
        first.join(WAIT_S)
    assert speed.images_per_sec(SMALL, wait_s=0) == 100.0, "the lock is free again once the timing ended"


def test_a_timing_that_would_not_fit_the_memory_available_now_never_runs(monkeypatch):
    probe = _Probe()
    probe.first_in.set()
    probe.release.set()
    monkeypatch.setattr(speed, "_time_steps", probe)
    big = get_preset("tf-tutorial").config(width=8.0, batch_size=1024)
    need = speed.probe_memory(big)
    monkeypatch.setattr(budget, "memory_available", lambda: int(need / budget.MEMORY_SHARE) - 1)
    with pytest.raises(speed.ProbeUnavailable, match=r"timing one step would take about [\d.,]+ GB of memory"):
        speed.images_per_sec(big)
    assert probe.calls == 0
    monkeypatch.setattr(budget, "memory_available", lambda: int(need / budget.MEMORY_SHARE) + 1)
    assert speed.images_per_sec(big) == 100.0 and probe.calls == 1


def test_the_timings_footprint_is_one_step_not_the_whole_run():
    cfg = get_preset(DEFAULT_PRESET).config()
    whole = budget.estimate(cfg)
    batch = Schedule.of(cfg, train_images(cfg)).batch
    assert speed.probe_memory(cfg) == whole.step_memory + batch * speed.PROBE_BATCHES * 28 * 28 * 4
    assert speed.probe_memory(cfg) < whole.memory - budget.RUNTIME_BYTES - 60_000 * 28 * 28 * 4 + 2**20


def test_a_real_timing_returns_a_rate_and_frees_the_lock():
    assert speed.images_per_sec(SMALL, seconds=0.05) > 0
    assert not speed._PROBE_LOCK.locked()


@pytest.mark.parametrize("conditional", [False, True])
def test_a_timing_gives_a_clustered_code_one_image_per_cluster_even_with_small_batches(conditional):
    """The step clusters the images it is given: a few batches of 8 are fewer images than 16 clusters in each of 10
    classes (or 80 clusters unconditionally), so the timing draws more."""
    cfg = SMALL.replace(batch_size=8, conditional=conditional, info_codes=16 if conditional else 80,
                        info_clusters=True, code_projection=True)
    assert speed._probe_images(cfg, 8) == (160 if conditional else 80)
    assert speed.images_per_sec(cfg, seconds=0.05) > 0


def test_the_estimate_counts_the_steps_of_the_classes_trained():
    one = get_preset("studio").config(classes=("Bag",), epochs=2)
    assert speed.estimate(one, 640.0).total_steps == 2 * (6_000 // 64)
    assert speed.timing_key(one) == speed.timing_key(one.replace(classes=(), max_images=6_000)), \
        "classes change a step only through its batch"


def test_the_train_page_shows_the_steps_without_a_rate_when_no_timing_can_run(runs_root, monkeypatch):
    def busy(*_a, **_k):
        raise speed.ProbeUnavailable("another tab has been timing a configuration for over 30 s")

    monkeypatch.setattr(speed, "images_per_sec", busy)
    page = str(Path(__file__).resolve().parent.parent / "pages" / "train.py")
    at = AppTest.from_file(page, default_timeout=90).run()
    at.session_state["train_tab"] = "New run"
    at.run()
    at.number_input(key=f"train_form.{DEFAULT_PRESET}.width").set_value(0.625).run()  # a config no test timed
    assert not at.exception, at.exception
    captions = "\n".join(str(c.value) for c in at.caption)
    assert "Estimated duration: " in captions and "not timed: another tab has been timing" in captions
