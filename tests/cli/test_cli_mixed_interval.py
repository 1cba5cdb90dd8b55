"""The interval of a recommendation whose groups were partly trained.

Hand-built: four tasks, the groups (0, 1), (1, 2), (2, 3) and (0, 3)
measured; the recommendation serves tasks 0 and 1 by the measured (0, 1)
and task 3 by the never-trained (1, 3). The predictor is a mean
(``DummyRegressor``), so every refit's prediction is a mean of gains that
can be worked out by hand.
"""

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.utils import Bunch

from sklearn_etap import MeasuredGains
from sklearn_etap._cli.references import reference_answers, subset_gains
from sklearn_etap._cli.report_references import references_html

MEASURED = [(0, 1), (1, 2), (2, 3), (0, 3)]
ALL = (0, 1, 2, 3)
# (0, 1) serves tasks 0 and 1 (measured); (1, 3) serves task 3 (predicted).
GROUPS = [(0, 1), (1, 3), (2,)]
TASK_GROUP = [0, 0, 2, 1]


def hand_gains(pair_gains):
    """Gains per seed: ``pair_gains`` for both members of (0, 1), 0 in (1, 2)
    and (2, 3), 0.4 in (0, 3), 0 for all tasks together."""
    n_seeds = len(pair_gains)
    fixed = {(1, 2): 0.0, (2, 3): 0.0, (0, 3): 0.4, ALL: 0.0}
    rows = []
    for group in [*MEASURED, ALL]:
        for _ in group:
            rows.append(pair_gains if group == (0, 1) else [fixed[group]] * n_seeds)
    return MeasuredGains(
        groups=[*MEASURED, ALL],
        n_tasks=4,
        seeds=np.arange(n_seeds),
        stl_loss_per_seed=np.ones((4, n_seeds)),
        mtl_loss_per_seed=1 - np.array(rows, dtype=float),
        trivial_loss=np.full(4, 2.0),
    )


def mixed_references(pair_gains):
    all_gains = hand_gains(pair_gains)
    gains = subset_gains(all_gains, MEASURED)
    model = DummyRegressor().fit(gains.X, gains.y)
    measured = 2 * float(np.mean(pair_gains))
    # what the selection counts: the measured gains of (0, 1) and the
    # prediction (the mean of every measured gain, 0.15) for task 3
    selection = Bunch(groups=GROUPS, task_group=TASK_GROUP, total=measured + 0.15)
    return reference_answers(
        model,
        (gains.X, gains.y, gains.y_per_seed, gains.row_group),
        all_gains,
        subset_gains(all_gains, [ALL]),
        selection,
        budget=3,
        mode="overlap",
        max_group_size=None,
        names=["a", "b", "c", "d"],
    )


# Leaving one measured group out, the mean of the other six gains is 0.8 / 6,
# 1.2 / 6, 1.2 / 6 and 0.4 / 6 (mean 0.15): deviations -1/60, 3/60, 3/60,
# -5/60, whose squares sum to 44 / 3600; times (n - 1) / n = 3 / 4 that is
# 11 / 1200, the jackknife variance of task 3's prediction.
JACKKNIFE_SE = np.sqrt(11 / 1200)


def test_one_seed_the_interval_is_the_predicted_parts_refit_spread_alone():
    refs = mixed_references([0.2])
    chosen = refs["chosen"]
    low, high = chosen["interval"]
    assert (low + high) / 2 == pytest.approx(0.55)
    assert (high - low) / 2 == pytest.approx(1.96 * JACKKNIFE_SE)
    assert chosen["interval_basis"] == "mixed"
    assert chosen["measured_part"] == {
        "tasks": ["a", "b"],
        "total_gain": pytest.approx(0.4),
        "seed_se": None,
    }
    predicted = chosen["predicted_part"]
    assert predicted["tasks"] == ["d"]
    assert predicted["total_gain"] == pytest.approx(0.15)
    # the refits predict task 3 only: the measured tasks 0 and 1 are not
    # counted (refits predicting all three would give three times the spread)
    assert predicted["predictor_se"] == pytest.approx(JACKKNIFE_SE)
    assert predicted["seed_se"] is None
    assert chosen["measured_total_gain"] is None  # task 3 was never trained
    assert refs["verdict"].startswith(
        "recommended grouping: total gain +0.550 [+0.362, +0.738] = +0.400 "
        "measured (2 task(s) served by trained groups) +0.150 predicted "
        "(1 task(s) served by untrained groups), the interval from the "
        "predicted part alone: one seed gives the measured part no spread "
        "(--n-seeds 2 or more adds it); all tasks in one model +0.000 measured"
    )


def test_several_seeds_add_the_measured_parts_seed_spread():
    # (0, 1)'s gains over 3 seeds: totals 0.2, 0.4, 0.6 (sd 0.2)
    refs = mixed_references([0.1, 0.2, 0.3])
    chosen = refs["chosen"]
    measured_se = 0.2 / np.sqrt(3)
    predicted_se = np.hypot(JACKKNIFE_SE, 0.025 / np.sqrt(3))
    # the parts' half-widths add up (a bound for any correlation)
    low, high = chosen["interval"]
    assert (high - low) / 2 == pytest.approx(1.96 * (predicted_se + measured_se))
    assert (low + high) / 2 == pytest.approx(0.55)
    assert chosen["measured_part"]["total_gain"] == pytest.approx(0.4)
    assert chosen["measured_part"]["seed_se"] == pytest.approx(measured_se)
    # refits on each seed's gains predict (2 g + 0.8) / 8 for g = 0.1, 0.2,
    # 0.3: 0.125, 0.15, 0.175 (sd 0.025); the seed means are seed 2's gains,
    # so the jackknife is the one-seed case's
    predicted = chosen["predicted_part"]
    assert predicted["predictor_se"] == pytest.approx(JACKKNIFE_SE)
    assert predicted["seed_se"] == pytest.approx(0.025 / np.sqrt(3))
    assert predicted["se"] == pytest.approx(predicted_se)
    assert (
        "+0.400 measured (2 task(s) served by trained groups) +0.150 predicted "
        "(1 task(s) served by untrained groups), the interval adding the "
        "predicted part's spread and the measured part's seed spread;"
    ) in refs["verdict"]


def test_the_report_shows_each_part_and_how_the_interval_is_made():
    refs = mixed_references([0.1, 0.2, 0.3])
    summary = {"references": refs, "settings": {"n_seeds": 3}}
    page = references_html(summary)
    half = 1.96 * 0.2 / np.sqrt(3)
    assert (
        f"<td>- measured part: a, b</td><td>-</td><td>+0.400</td>"
        f"<td>{0.4 - half:+.3f} to {0.4 + half:+.3f}</td>"
    ) in page
    assert "<td>- predicted part: d</td><td>+0.150</td><td>-</td>" in page
    assert "for the predicted part, the predictor&#x27;s spread over refits" in page
    assert "for the measured part, the spread of its totals over 3 seeds" in page
    assert "the interval&#x27;s half-width is the sum of the parts&#x27;" in page
    one = references_html(
        {"references": mixed_references([0.2]), "settings": {"n_seeds": 1}}
    )
    assert "none known for the measured part, trained on one seed" in one
