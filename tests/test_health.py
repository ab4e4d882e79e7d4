import numpy as np

from gan_core.health import VANISH_ABS, diagnose, gradient_warnings, samples_still
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


# ------------------------------------------------------------------ gradient norms
def _norm_rows(g, d=None, every=5):
    """One metrics row every `every` steps with these G (and D) gradient norms; healthy losses."""
    d = d if d is not None else [1.0] * len(g)
    return [{"step": float(every * (i + 1)), "d_loss": 1.1, "g_loss": 0.9, "grad_norm_g": gv, "grad_norm_d": dv}
            for i, (gv, dv) in enumerate(zip(g, d, strict=True))]


def _wobble(n, level=1.0):
    """A healthy norm: wandering within a factor of 3 around `level`."""
    return [level * 3.0 ** np.sin(i / 3) for i in range(n)]


def _codes(rows, **kw):
    return [w.code for w in diagnose(rows, **kw)]


def test_healthy_gradient_norms_and_runs_without_them_have_no_gradient_warnings():
    assert _codes(_norm_rows(_wobble(200), _wobble(200, 5.0))) == []
    assert gradient_warnings(_rows(300, 1.0, 1.0)) == []  # trained before the norms were logged


def test_g_vanishing_relative_to_its_early_level():
    falling = _wobble(60) + [3e-5] * 50  # 250 steps at 1/30,000 of the early level
    [warning] = diagnose(_norm_rows(falling))
    assert warning.code == "g_vanishing" and "early level" in warning.message
    assert "lower D learning rate" in warning.message and "non-saturating" not in warning.message  # bce is already
    assert "non-saturating loss (loss=bce)" in diagnose(_norm_rows(falling), loss="hinge")[0].message
    assert _codes(_norm_rows(_wobble(60) + [3e-3] * 50)) == []  # 1/300 of the early level: low, not vanished
    assert _codes(_norm_rows(_wobble(60) + [3e-5] * 30)) == []  # 150 steps: not yet VANISH_STEPS
    assert _codes(_norm_rows(_wobble(60) + [3e-5] * 49 + [0.5])) == []  # it came back (to its early level: no explosion)


def test_g_vanishing_when_absolutely_tiny_from_the_start():
    [warning] = diagnose(_norm_rows([1e-7] * 60))
    assert warning.code == "g_vanishing" and f"under {VANISH_ABS:g}" in warning.message
    assert _codes(_norm_rows([1e-5] * 60)) == []  # small but steady and above the floor
    assert _codes(_norm_rows([1e-7] * 30)) == []  # step 150: too early to tell


def test_exploding_gradients_of_either_network():
    g = _wobble(100)
    g[95] = 500.0
    [warning] = diagnose(_norm_rows(g))
    assert warning.code == "g_exploding" and "step 480" in warning.message and "lower learning rates" in warning.message
    assert "gradient clipping is not offered" in warning.message
    g[95] = 50.0  # 50x: a bump, not an explosion
    assert _codes(_norm_rows(g)) == []
    g[95], g[40] = 1.0, 500.0  # an old spike (at step 205, the last row at 500): the warning has gone
    assert _codes(_norm_rows(g)) == []
    d = _wobble(100, 5.0)
    d[-1] = float("inf")
    [warning] = diagnose(_norm_rows(_wobble(100), d))
    assert warning.code == "d_exploding" and "inf at step 500" in warning.message
    d[-1] = float("nan")
    assert _codes(_norm_rows(_wobble(100), d)) == ["d_exploding"]
