import math

import numpy as np
import pytest
import scipy.sparse as sp

from shoestring.evaluation.npmi import npmi_pairs, topic_diversity, topic_npmi


def test_hand_computed_example_with_never_cooccurring_pair():
    # 4 documents over words a, b, c:  a&b together in docs 0 and 1; c alone in doc 3; a alone in doc 2
    X = sp.csr_matrix(np.array([[1, 1, 0], [2, 1, 0], [1, 0, 0], [0, 0, 3]]))
    score = topic_npmi([[0, 1, 2]], X)[0]
    # P(a)=3/4, P(b)=2/4, P(a,b)=2/4: NPMI = log(0.5 / (0.75 * 0.5)) / -log(0.5)
    ab = math.log(0.5 / (0.75 * 0.5)) / -math.log(0.5)
    # a&c and b&c never co-occur: -1 each (the reference implementation would give 0)
    assert score == pytest.approx((ab - 1 - 1) / 3)


def test_always_together_is_one_and_independent_is_zero():
    co = np.array([[4, 4], [4, 4]])
    assert npmi_pairs(co, [4, 4], 4)[0, 1] == 1.0
    # independent: P(i,j) = P(i) P(j) -> PMI 0
    co = np.array([[2, 1], [1, 2]])
    assert npmi_pairs(co, [2, 2], 4)[0, 1] == pytest.approx(0.0)


def test_word_absent_from_reference_scores_minus_one():
    X = sp.csr_matrix(np.array([[1, 0], [1, 0]]))
    assert topic_npmi([[0, 1]], X)[0] == -1.0


def test_diversity():
    assert topic_diversity([[0, 1], [2, 3]]) == 1.0
    assert topic_diversity([[0, 1], [0, 1]]) == 0.5
