"""Active learning: strategies recover planted structure, the learner's head and its thread safety, simulation
curves and the stopping criterion, the saved classifier, the CLI, and the error paths."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from shoestring.errors import ConfigError, InputError
from shoestring.tasks.active.config import SimulateConfig
from shoestring.tasks.active.learner import ActiveLearner
from shoestring.tasks.active.simulate import auc, compare, labels_to_reach, simulate
from shoestring.tasks.active.strategies import STRATEGIES, Pool, make_strategy


def two_clusters(n=200, d=8, seed=0):
    """Two tight, well separated clusters: rows < n/2 around +e_0, the others around -e_0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.05, size=(n, d)).astype(np.float32)
    X[: n // 2, 0] += 1.0
    X[n // 2:, 0] -= 1.0
    return X


def test_diversity_first_query_comes_from_the_unlabelled_cluster():
    X = two_clusters()
    for name in ("kcenter", "kmeanspp"):
        for seed in range(5):
            al = ActiveLearner(X, name, seed=seed)
            al.teach([0, 1, 2], ["a", "a", "a"])  # only the first cluster is labelled
            q = al.query(1)
            assert q[0] >= 100, (name, seed, q)


def test_uncertainty_picks_the_documents_nearest_the_planted_boundary():
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, 400)
    X = np.c_[x0, np.full(400, 1.0), rng.normal(scale=0.01, size=(400, 2))].astype(np.float32)
    y = np.where(x0 > 0, "pos", "neg")
    lab = list(np.argsort(x0)[:10]) + list(np.argsort(x0)[-10:])  # the extremes of both sides
    for name in ("margin", "least_confidence", "entropy", "cluster_margin"):
        al = ActiveLearner(X, name, C=100.0, seed=0)
        al.teach(lab, list(y[lab]))
        q = al.query(5)
        # the pool's |x0| is uniform on [0, 1]; cluster-margin spreads its batch over the 10 k least sure
        assert np.abs(x0[q]).max() < (0.3 if name == "cluster_margin" else 0.1), (name, x0[q])


def test_every_strategy_returns_k_distinct_unlabelled_candidates_and_honours_exclude():
    X = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "a", np.where(X[:, 1] > 0, "b", "c"))
    for name in STRATEGIES:
        al = ActiveLearner(X, name, seed=3)
        assert len(al.query(7)) == 7  # cold start: no model, every strategy still answers
        al.teach(range(30), list(y[:30]))
        q = al.query(25, exclude=range(30, 60))
        assert len(q) == len(set(q)) == 25, name
        assert not set(q) & set(range(60)), name
        assert len(al.query(1000)) == 300 - 30  # never more than the candidates


def test_seed_fixes_the_queries():
    X = np.random.default_rng(2).normal(size=(200, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "a", "b")
    for name in ("random", "kmeanspp", "badge"):
        runs = []
        for _ in range(2):
            al = ActiveLearner(X, name, seed=7)
            al.teach(range(10), list(y[:10]))
            runs.append(al.query(10).tolist())
        assert runs[0] == runs[1], name


def test_badge_inner_product_trick_equals_explicit_gradient_embeddings():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    p = rng.dirichlet(np.ones(3), size=50)
    r = p.copy()
    r[np.arange(50), p.argmax(1)] -= 1
    G = np.einsum("ic,id->icd", r, X).reshape(50, -1)  # g = (p - e_yhat) (x) x
    d_explicit = ((G - G[7]) ** 2).sum(1)
    gg = (r * r).sum(1) * (X * X).sum(1)
    d_trick = gg + gg[7] - 2 * (r @ r[7]) * (X @ X[7])
    np.testing.assert_allclose(d_trick, d_explicit, atol=1e-9)


def test_learner_teach_forget_and_model_versions():
    X = two_clusters()
    al = ActiveLearner(X, "margin")
    assert al.predict_proba() is None and al.classes_ == []
    al.teach([0, 150], ["a", "b"])
    assert al.classes_ == ["a", "b"] and al.version == 1
    assert al.predict([1, 199]) == ["a", "b"]
    al.teach(150, "c")  # relabel: b disappears
    assert al.classes_ == ["a", "c"] and al.labels_[150] == "c"
    al.forget(150)
    assert al.predict_proba() is None  # one class left: no model
    al.teach([150, 151, 152], ["b", "c", "c"])
    assert al.classes_ == ["a", "b", "c"] and al.predict_proba([0]).shape == (1, 3)
    assert al.estimate_accuracy() is None  # only c has two labels: nothing to hold out against
    al.teach(1, "a")
    cv = al.estimate_accuracy()
    assert cv["folds"] == 2 and cv["n"] == 4  # the two a's and c's are scored, the single b stays in training


def test_learner_is_safe_while_a_background_retrain_runs():
    X = np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "a", "b")
    al = ActiveLearner(X, "margin")
    al.teach(range(20), list(y[:20]))
    stop, errors = threading.Event(), []

    def retrainer():
        while not stop.is_set():
            try:
                al.retrain()
            except Exception as e:  # pragma: no cover - the failure this test looks for
                errors.append(e)

    t = threading.Thread(target=retrainer)
    t.start()
    try:
        for i in range(20, 220):
            q = al.query(1)
            assert q[0] not in al.labels_
            al.teach(q, [y[q[0]]], retrain=False)
            p = al.predict_proba(q)
            assert p is None or p.shape == (1, len(al.classes_)) or p.shape[1] in (2,)
    finally:
        stop.set()
        t.join()
    assert not errors and al.n_labelled == 220


def test_bad_input_is_refused_and_changes_nothing():
    X = two_clusters()
    al = ActiveLearner(X)
    with pytest.raises(InputError, match="row 999 does not exist"):
        al.teach([0, 999], ["a", "b"])
    assert al.labels_ == {}
    with pytest.raises(InputError, match="2 rows but 1 labels"):
        al.teach([0, 1], ["a"])
    with pytest.raises(InputError, match="non-empty strings"):
        al.teach([0], [""])
    with pytest.raises(InputError, match="NaN"):
        ActiveLearner(np.array([[np.nan, 1.0]]))
    with pytest.raises(InputError, match="non-empty"):
        ActiveLearner(np.zeros((0, 3)))
    with pytest.raises(ConfigError, match="unknown query strategy"):
        make_strategy("clever")
    with pytest.raises(ConfigError, match="--initial 30 is above --budget 20"):
        SimulateConfig(initial=30, budget=20).validate()
    with pytest.raises(InputError, match="no model yet"):
        al.to_classifier(None)


def test_auc_and_labels_to_reach_by_hand():
    assert auc([0, 10, 20], [0.5, 0.7, 0.9]) == pytest.approx(((0.5 + 0.7) / 2 * 10 + (0.7 + 0.9) / 2 * 10) / 20)
    assert labels_to_reach([20, 40, 60], [0.5, 0.8, 0.9], 0.8) == 40
    assert labels_to_reach([20, 40], [0.5, 0.6], 0.8) is None


def planted_pool(n=2000, k=4, d=16, seed=0):
    """k Gaussian clusters in d dimensions, one per class, with a random 1/5 of points in-between (hard)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 1.2
    y = rng.integers(k, size=n)
    X = centers[y] + rng.normal(size=(n, d))
    return X.astype(np.float32), np.array([f"c{v}" for v in y])


def test_simulation_curves_rise_and_the_stopping_criterion_fires_on_an_easy_task():
    X, y = planted_pool(2500)
    c = SimulateConfig(strategies=["random", "margin"], seeds=[0], initial=10, batch=10, budget=200)
    r = simulate(X[:2000], y[:2000], X[2000:], y[2000:], "margin", c, seed=0)
    assert r["n_labels"][0] == 10 and r["n_labels"][-1] == 200
    assert r["accuracy"][-1] > r["accuracy"][0] and r["accuracy"][-1] > 0.8
    assert r["stop"] is not None and r["stop"]["labels"] < 200
    assert abs(r["stop"]["accuracy"] - r["accuracy"][-1]) < 0.05  # it stopped once the model had settled
    again = simulate(X[:2000], y[:2000], X[2000:], y[2000:], "margin", c, seed=0)
    assert again["accuracy"] == r["accuracy"]  # the seed fixes the run


def test_compare_margin_beats_random_where_the_boundary_matters():
    X, y = planted_pool(4000, k=3, d=10, seed=1)
    c = SimulateConfig(strategies=["random", "margin"], seeds=[0, 1, 2], initial=10, batch=10, budget=150)
    res = compare(X[:3000], y[:3000], X[3000:], y[3000:], c)
    s = res["summary"]
    assert s["margin"]["auc_mean"] > s["random"]["auc_mean"]
    assert res["target_accuracy"] == s["random"]["final_accuracy_mean"]
    assert s["margin"]["labels_to_reach_target"] is not None and s["margin"]["labels_to_reach_target"] <= 150
    assert len(res["runs"]) == 6 and s["random"]["auc_gain_over_random"] == 0


def test_cold_start_lets_the_strategy_choose_the_first_batch():
    X, y = planted_pool(1200, k=4)
    c = SimulateConfig(strategies=["kcenter"], seeds=[0], initial=0, batch=8, budget=40)
    r = simulate(X[:1000], y[:1000], X[1000:], y[1000:], "kcenter", c, seed=0)
    assert r["n_labels"] == [8, 16, 24, 32, 40]


def test_active_classifier_saves_reloads_and_predicts_identically(planted_vampire, tmp_path):
    import shoestring
    from conftest import planted_docs
    from shoestring.tasks.classify.views import EmbeddingView

    docs = planted_docs(150, seed=5)
    texts, y = [d["text"] for d in docs], [d["label"] for d in docs]
    X = EmbeddingView(planted_vampire, "embedder").transform(texts)
    al = ActiveLearner(X, "margin", seed=0)
    rows = al.query(10)
    al.teach(rows, [y[i] for i in rows])
    for _ in range(4):
        rows = al.query(5)
        al.teach(rows, [y[i] for i in rows])
    clf = al.to_classifier(planted_vampire)
    clf.save_pretrained(tmp_path / "clf")
    back = shoestring.load(tmp_path / "clf")
    new = [d["text"] for d in planted_docs(40, seed=9)]
    assert back.predict(new) == clf.predict(new)
    np.testing.assert_allclose(back.predict_proba(new), clf.predict_proba(new), atol=1e-6)
    assert clf.predict(texts) == al.predict()  # the folder predicts what the learner did on the pool
    assert json.loads((tmp_path / "clf" / "shoestring_config.json").read_text())["kind"] == "few-label"


def test_cli_simulate_end_to_end(saved_vampire, tmp_path, capsys):
    from conftest import planted_docs, write_jsonl
    from shoestring.cli import main

    data = tmp_path / "planted"
    data.mkdir()
    for split, n, seed in (("train", 300, 1), ("test", 100, 2)):
        write_jsonl(data / f"{split}.jsonl.gz", planted_docs(n, seed=seed))
    rc = main(["al", "simulate", str(data), "--model", str(saved_vampire), "--strategies", "random", "margin",
               "kcenter", "--seeds", "0", "1", "--initial", "10", "--batch", "10", "--budget", "60",
               "--plot", str(tmp_path / "curves.svg"), "--json", str(tmp_path / "al.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| strategy | AUC" in out and "| margin |" in out and "| kcenter |" in out
    res = json.loads((tmp_path / "al.json").read_text())
    assert set(res["summary"]) == {"random", "margin", "kcenter"} and len(res["runs"]) == 6
    assert res["summary"]["random"]["n_labels"] == [10, 20, 30, 40, 50, 60]
    svg = (tmp_path / "curves.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 3 and "margin" in svg

    bad = write_jsonl(tmp_path / "unlabelled.jsonl", [{"text": "a b c"}, {"text": "d e", "label": "x"}])
    assert main(["al", "simulate", str(bad), "--test", str(bad), "--model", str(saved_vampire)]) == 2
    assert "unlabelled.jsonl:1: this row has no label" in capsys.readouterr().err
    assert main(["al", "simulate", str(bad), "--model", str(saved_vampire)]) == 2
    assert "--test FILE" in capsys.readouterr().err
    assert main(["al", "simulate", str(tmp_path), "--model", str(saved_vampire)]) == 2
    assert "train.jsonl.gz" in capsys.readouterr().err
