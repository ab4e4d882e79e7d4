"""The quality bar a card states: each check passes at its threshold and fails just past it."""

import pytest

from gan_core.cards import MAX_FID, MIN_CONDITIONAL_ACCURACY, MIN_PRECISION, MIN_RECALL, SHARE_RANGE, quality_checks
from gan_core.data import CLASS_NAMES


def _report(**over):
    shares = dict.fromkeys(CLASS_NAMES, 0.1)
    return {"fid": MAX_FID, "precision": MIN_PRECISION, "recall": MIN_RECALL, "class_shares": shares,
            "conditional_accuracy": None, **over}


def test_a_generator_exactly_at_the_bar_passes_every_check():
    checks = quality_checks(_report())
    assert [c["check"] for c in checks] == ["FID (Fashion classifier) ≤ 1.5", "every class between 8% and 12% of samples",
                                            "precision ≥ 0.75", "recall ≥ 0.6"]
    assert all(c["passed"] for c in checks)
    cond = quality_checks(_report(conditional_accuracy=MIN_CONDITIONAL_ACCURACY))
    assert cond[-1]["check"] == "conditional accuracy ≥ 92%" and cond[-1]["passed"]


@pytest.mark.parametrize(("field", "value", "failed"), [
    ("fid", MAX_FID + 0.01, 0),
    ("precision", MIN_PRECISION - 0.001, 2),
    ("recall", MIN_RECALL - 0.001, 3),
    ("conditional_accuracy", MIN_CONDITIONAL_ACCURACY - 0.001, 4),
])
def test_just_past_a_threshold_that_check_alone_fails(field, value, failed):
    checks = quality_checks(_report(**{field: value}))
    assert [i for i, c in enumerate(checks) if not c["passed"]] == [failed]


def test_one_class_outside_the_share_range_fails_the_share_check():
    shares = dict.fromkeys(CLASS_NAMES, 0.1)
    shares["Coat"] = SHARE_RANGE[1] + 0.0001  # the shipped dcgan's Coat: 12.01 %
    check = quality_checks(_report(class_shares=shares))[1]
    assert not check["passed"] and check["value"] == "10.0% to 12.0%"
