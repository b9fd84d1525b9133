"""Stacked per-view logistic regressions: the pooled model is the product of its experts, the weights follow the
out-of-fold evidence, and the recipe saves and reloads a stack like any other head; a blend of heads with fixed
weights is the product of its parts too."""

import numpy as np
import pytest
import scipy.sparse as sp

import shoestring
from conftest import GROUPS
from shoestring.tasks.classify.linear import UsedColumnsLR
from shoestring.tasks.classify.stacking import BlendLR, StackedLR, pool_weights


def _views(n=240, k=3, seed=0):
    """Class y; view A (sparse, 300 columns) carries y through a few cue columns, view B (dense, 8 columns)
    is noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    A = (rng.random((n, 300)) < 0.02).astype(float)
    A[np.arange(n), y * 5 + rng.integers(0, 5, n)] = 1.0
    B = rng.normal(size=(n, 8))
    return sp.csr_matrix(A), B, y


@pytest.mark.parametrize("k", [2, 3])
def test_the_stack_is_the_product_of_its_experts(k):
    """softmax(sum_v w_v (W_v x_v + b_v)) is prod_v p_v^w_v renormalized, p_v each view's own logistic
    regression with its own C, fitted on all rows (binary and multiclass)."""
    A, B, y = _views(k=k)
    X = sp.hstack([A, sp.csr_matrix(B)], format="csr")
    stack = StackedLR([A.shape[1], B.shape[1]], [10.0, 0.1], seed=0).fit(X, y)
    experts = [UsedColumnsLR(10.0, 0).fit(A, y), UsedColumnsLR(0.1, 0).fit(B, y)]
    log_pool = sum(w * np.log(m.predict_proba(V)) for w, m, V in zip(stack.weights_, experts, (A, B)))
    expected = np.exp(log_pool - log_pool.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(stack.predict_proba(X), expected, atol=1e-8)
    assert stack.coef_.shape == (1 if k == 2 else k, X.shape[1]) and list(stack.classes_) == list(range(k))


@pytest.mark.parametrize("k", [2, 3])
def test_a_blend_is_the_product_of_its_parts(k):
    """BlendLR: each part's head fitted on its own columns (a column two parts read sums their coefficients),
    pooled as softmax(sum_p w_p (W_p x_p + b_p)): the weighted geometric mean of the parts' probabilities,
    renormalized; one linear model over X (binary and multiclass; a part may itself be a stack)."""
    A, B, y = _views(k=k)
    X = sp.hstack([A, sp.csr_matrix(B)], format="csr")
    a, ab = np.arange(300), np.arange(308)  # part 1 reads A, part 2 reads A and B (stacked)
    blend = BlendLR([(a, lambda: UsedColumnsLR(10.0, 0)), (ab, lambda: StackedLR([300, 8], [10.0, 1.0], 0))],
                    [0.5, 0.5]).fit(X, y)
    p1 = UsedColumnsLR(10.0, 0).fit(A, y).predict_proba(A)
    p2 = StackedLR([300, 8], [10.0, 1.0], 0).fit(X, y).predict_proba(X)
    expected = np.sqrt(p1 * p2)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(blend.predict_proba(X), expected, rtol=1e-6, atol=1e-9)
    assert blend.coef_.shape == ((1 if k == 2 else k), 308) and list(blend.predict(X[:5])) == list(
        expected[:5].argmax(1))
    assert [type(m) for m in blend.models_] == [UsedColumnsLR, StackedLR]
    with pytest.raises(ValueError, match="one weight per part"):
        BlendLR([(a, None)], [0.5, 0.5])


def test_the_weights_follow_the_out_of_fold_evidence():
    """The informative view gets the most weight, and the stack predicts as well as it does alone; a view that
    only memorizes its training rows (one column per row) earns no weight at all, since out of fold it knows
    nothing (in-sample it would be perfect)."""
    A, B, y = _views()
    X = sp.hstack([A, sp.csr_matrix(B)], format="csr")
    stack = StackedLR([A.shape[1], B.shape[1]], [10.0, 10.0], seed=0).fit(X[:180], y[:180])
    w_a, w_b = stack.weights_
    assert w_a > 1.0 and w_b < 0.5 * w_a, stack.weights_
    alone = UsedColumnsLR(10.0, 0).fit(A[:180], y[:180]).predict(A[180:])
    assert np.mean(stack.predict(X[180:]) == y[180:]) >= np.mean(alone == y[180:]) > 0.75
    memo = sp.identity(len(y), format="csr")
    w = StackedLR([A.shape[1], len(y)], [10.0, 100.0], seed=0).fit(sp.hstack([A, memo], format="csr"), y).weights_
    assert w[0] > 0.5 and w[1] < 1e-6, w


def test_copies_held_out_together_leave_a_memorizing_view_no_weight():
    """Each text twice (a sentence labelled once per entity pair): the cue view knows the class from a few
    columns (other ones in each copy), a second view has one column per text. In row-wise folds that view scores
    every held-out copy by its twin and earns more weight than the cues; with the copies as ``groups`` both are
    held out together, where it knows nothing, and it weighs 0. Groups of one row each are the row-wise folds."""
    rng, n = np.random.default_rng(0), 240
    texts = np.arange(n) // 2  # rows 2i and 2i+1 are one text
    y = texts % 3
    A = (rng.random((n, 300)) < 0.02).astype(float)
    A[np.arange(n), y * 5 + rng.integers(0, 5, n)] = 1.0
    memo = sp.csr_matrix((np.ones(n), (np.arange(n), texts)), shape=(n, n // 2))
    X = sp.hstack([sp.csr_matrix(A), memo], format="csr")

    def weights(groups=None):
        return StackedLR([300, n // 2], [10.0, 100.0], seed=0).fit(X, y, groups=groups).weights_

    rowwise, grouped = weights(), weights(texts)
    assert rowwise[1] > rowwise[0] > 0.5 and grouped[0] > 0.5 and grouped[1] < 1e-6, (rowwise, grouped)
    np.testing.assert_allclose(weights(np.arange(n)), rowwise)


def test_pool_weights_solve_the_log_loss():
    """Against a brute-force search over a grid of weights, the fitted ones have no higher log-loss."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    good = np.log(np.where(np.eye(3)[y] == 1, 0.6, 0.2))
    noisy = np.log(rng.dirichlet(np.ones(3), 200))

    def nll(w):
        s = w[0] * good + w[1] * noisy
        s -= s.max(1, keepdims=True)
        return -np.mean(s[np.arange(200), y] - np.log(np.exp(s).sum(1)))

    w = pool_weights([good, noisy], y)
    grid = min(nll((a, b)) for a in np.linspace(0, 5, 51) for b in np.linspace(0, 5, 51))
    assert nll(w) <= grid + 1e-6 and (w >= 0).all()


def test_one_view_or_one_example_per_class_weighs_each_view_one():
    A, B, y = _views(n=30)
    one = StackedLR([A.shape[1]], [10.0], seed=0).fit(A, y)
    np.testing.assert_allclose(one.coef_, UsedColumnsLR(10.0, 0).fit(A, y).coef_)
    X = np.hstack([A.toarray(), B])[:3]
    assert list(StackedLR([300, 8], [1.0, 1.0], seed=0).fit(X, y[:3]).weights_) == [1.0, 1.0]
    with pytest.raises(ValueError, match="one C per view"):
        StackedLR([300, 8], [1.0], seed=0)


def test_the_recipe_saves_and_reloads_a_stack(tmp_path, monkeypatch):
    """Where cross-validation picks the stack (forced here), the saved folder loads through shoestring.load,
    predicts identically, and its record and card name the per-view Cs and weights."""
    import shoestring.tasks.classify.recipe as recipe_mod
    from shoestring.tasks.classify.recipe import FewLabelClassifier

    original = recipe_mod.best_key
    monkeypatch.setattr(recipe_mod, "best_key", lambda scores: next(
        (k for k in scores if " stacked C=" in k), None) or original(scores))
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for i in range(60):
        group = ["music", "football", "cooking"][i % 3]
        texts.append(" ".join(rng.choice(GROUPS[group], 6)))
        labels.append(group)

    from shoestring.learners.vectors.ppmi import WordVectors

    wv = WordVectors(dim=8, min_count=1).fit(texts)
    clf = FewLabelClassifier(word_vectors=wv, semi_supervised="off", c_grid=[1.0, 10.0], minutes=None)
    clf.fit(texts, labels)
    t = clf.training_
    assert t["chosen"] == "tfidf+word_vectors stacked" and isinstance(t["C"], list) and len(t["stack_weights"]) == 2
    clf.save_pretrained(tmp_path / "m")
    back = shoestring.load(tmp_path / "m")
    probe = [" ".join(rng.choice(GROUPS[g], 5)) for g in ("music", "football", "cooking")] * 3
    np.testing.assert_allclose(back.predict_proba(probe), clf.predict_proba(probe))
    assert list(back.predict(probe)) == list(clf.predict(probe)) == ["music", "football", "cooking"] * 3
    card = (tmp_path / "m" / "README.md").read_text()
    assert "One logistic regression per view (C = " in card and "pooled by out-of-fold weights" in card


@pytest.mark.parametrize("tag", ["", "tuned: "])
def test_the_stack_stands_unless_beaten_beyond_the_noise(tag):
    """Among cross-validated candidates the stack is kept unless another beats it in accuracy by more than the
    paired bootstrap standard error over the held-out rows; otherwise the best scored candidate wins."""
    from shoestring.tasks.classify.recipe import FewLabelClassifier

    clf = FewLabelClassifier()
    clf.classes_ = ["a", "b"]
    y = np.array([0, 1] * 50)

    def wrong_on(n, start=0):  # right on every held-out row but n from row start on
        pred = y.copy()
        pred[start:start + n] = 1 - y[start:start + n]
        return pred

    def cv(n):
        return {"accuracy": 1 - n / 100, "macro_f1": 1 - n / 100}

    stack = f"{tag}tfidf+encoder stacked C=10,1"
    # 2 points ahead of the stack but wrong on other rows (18 rows discordant: SE about 4 points)
    held = {stack: wrong_on(10), f"{tag}tfidf C=10": wrong_on(8, start=10), f"{tag}encoder C=1": wrong_on(0)}
    close = {k: cv(n) for k, n in ((stack, 10), (f"{tag}tfidf C=10", 8))}
    key, note = clf._choose(close, held, y, tag)
    assert key == stack and "within the standard error" in note and "tfidf C=10" in note
    far = {**close, f"{tag}encoder C=1": cv(0)}  # 10 points ahead, 10 rows discordant: SE about 3 points
    assert clf._choose(far, held, y, tag) == (f"{tag}encoder C=1", "")
    assert clf._choose({k: v for k, v in far.items() if k != stack}, held, y, tag) == (f"{tag}encoder C=1", "")
