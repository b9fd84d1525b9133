"""The metrics the few-label choices are made by: macro-F1 from the confusion counts (equal to scikit-learn's)
and the paired bootstrap standard error of a gain."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from shoestring.evaluation.metrics import accuracy_and_macro_f1, macro_f1, paired_gain_se


def test_macro_f1_from_counts_is_scikit_learns():
    rng = np.random.default_rng(0)
    for n_classes in (2, 5, 9):  # class 8 of 9 never occurs in either: F1 0, as scikit-learn's zero_division=0
        t, p = rng.integers(0, min(n_classes, 8), 60), rng.integers(0, min(n_classes, 8), 60)
        assert macro_f1(t, p, n_classes) == pytest.approx(
            f1_score(t, p, labels=np.arange(n_classes), average="macro", zero_division=0))


def test_the_gains_noise_is_large_where_a_rare_class_decides_macro_f1():
    """One prediction changed: on a rare class's only two rows it moves macro-F1 by points and its bootstrap
    standard error is of the same size; on a class of hundreds it moves macro-F1 little and so does the noise.
    Accuracy moves by one row in 602 either way, and so does its standard error."""
    y = np.array([0] * 300 + [1] * 300 + [2] * 2)
    rare, common = y.copy(), y.copy()
    rare[-1] = 0  # one of the rare class's two rows missed
    common[0] = 1  # one of the first class's 300 rows missed
    gain_rare, gain_common = macro_f1(y, y, 3) - macro_f1(y, rare, 3), macro_f1(y, y, 3) - macro_f1(y, common, 3)
    acc_rare, se_rare = paired_gain_se(y, y, rare, 3, seed=0)
    acc_common, se_common = paired_gain_se(y, y, common, 3, seed=0)
    assert gain_rare > 0.1 > 0.01 > gain_common
    assert se_rare > 0.05 and se_common < 0.005
    assert 0.0005 < acc_rare < 0.003 and 0.0005 < acc_common < 0.003  # one row: sqrt(p (1 - p) / n), p = 1/602
    assert paired_gain_se(y, y, rare, 3, seed=0) == (acc_rare, se_rare)  # seeded


def test_macro_f1_over_a_fixed_list_of_classes_ignores_what_the_models_predict_elsewhere():
    """Over ``classes``, a prediction of a class outside the list costs only the row's own class's recall: two
    models are compared on the same classes, whatever else either predicts (scikit-learn's default would add
    the predicted class to the average for one model and not the other)."""
    y = np.array([0, 0, 1, 1])
    stray = np.array([0, 2, 1, 1])  # one row predicted as class 2, which no scored row has
    assert macro_f1(y, stray, 3, [0, 1]) == pytest.approx(f1_score(y, stray, labels=[0, 1], average="macro"))
    assert macro_f1(y, stray, 3, [0, 1]) > f1_score(y, stray, average="macro")  # (2/3 + 1 + 0) / 3 there
    assert accuracy_and_macro_f1(y, stray, 3, [0, 1]) == (0.75, macro_f1(y, stray, 3, [0, 1]))


def test_the_noise_of_a_gains_growth_cancels_what_the_settings_share():
    """contrast_se with weights [1, -1, -1, 1]: the standard error of (a2 - b2) - (a1 - b1), by one bootstrap
    over the rows. Two settings that make the same predictions have no growth and no noise; a growth made by a
    few rows has the noise of those rows only - the rows all four models get right or wrong together add none,
    where a naive sum of two independent gains' errors would count them - and the gain's own standard error is
    the two-model case of the same bootstrap."""
    from shoestring.evaluation.metrics import contrast_se

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    a = np.where(rng.random(400) < 0.8, y, 1 - y)  # right on about 80%
    b = np.where(rng.random(400) < 0.7, y, 1 - y)
    assert contrast_se(y, [a, b, a, b], [1, -1, -1, 1], 2, seed=0) == (0.0, 0.0)
    a[:6] = 1 - y[:6]
    a2 = a.copy()
    a2[:6] = y[:6]  # the second setting's first model gets six more rows right
    se, _ = contrast_se(y, [a2, b, a, b], [1, -1, -1, 1], 2, seed=0)
    assert 0 < se < 0.01 < paired_gain_se(y, a, b, 2, seed=0)[0]
    assert paired_gain_se(y, a, b, 2, seed=0) == contrast_se(y, [a, b], [1, -1], 2, seed=0)
