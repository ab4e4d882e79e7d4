import numpy as np

from gan_core.health import diagnose, samples_still
from gan_core.losses import LN2


def _rows(n, d, g, **extra):
    return [{"step": float(s), "d_loss": d, "g_loss": g, **extra} for s in range(1, n + 1)]


def test_healthy_run_has_no_warnings():
    rows = [{"step": float(s), "d_loss": 0.5 + 0.1 * np.sin(s), "g_loss": 1.2} for s in range(1, 500)]
    assert diagnose(rows) == []


def test_discriminator_wins():
    codes = [w.code for w in diagnose(_rows(300, 0.01, 6.0))]
    assert codes == ["d_wins"]
    assert diagnose(_rows(100, 0.01, 6.0)) == []  # too early to tell


def test_stuck_at_ln2_needs_still_samples():
    rows = _rows(400, LN2 + 0.001, LN2 - 0.002)
    still = [np.full((30, 30), 100, np.uint8)] * 3
    moving = [np.full((30, 30), v, np.uint8) for v in (10, 80, 160)]
    assert [w.code for w in diagnose(rows, still)] == ["stuck_ln2"]
    assert diagnose(rows, moving) == []  # equilibrium losses are fine while samples keep changing
    assert "0.693" in diagnose(rows, still)[0].message


def test_collapse_from_coverage():
    rows = [*_rows(10, 0.5, 1.0), {"step": 11.0, "d_loss": 0.5, "g_loss": 1.0, "coverage_classes": 2.0, "coverage_kl": 1.4}]
    assert [w.code for w in diagnose(rows)] == ["collapse"]
    assert diagnose(rows, classes_trained=1) == []  # a one-class subset cannot collapse further


def test_samples_still():
    assert not samples_still([np.zeros((4, 4), np.uint8)])
    assert samples_still([np.zeros((4, 4), np.uint8)] * 2)
