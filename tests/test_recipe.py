"""The few-label recipe: views combined, chosen by cross-validation on the labels, saved and loaded."""

import time

import numpy as np
import pytest

import shoestring
from conftest import GROUPS, planted_docs, write_jsonl
from shoestring.errors import InputError
from shoestring.tasks.classify.recipe import FewLabelClassifier
from shoestring.tasks.classify.stacking import StackedLR
from shoestring.tasks.classify.views import TfidfView


class _Planted:
    """A stand-in embedder that knows one hidden bit of each text (looked up by the text's id word, which
    occurs once and so never enters TF-IDF's vocabulary)."""

    dim, kind = 2, "planted"

    def __init__(self, bits: dict):
        self.bits = bits

    def transform(self, texts):
        return np.array([[1.0, 0.0] if self.bits[t.split()[-1]] else [0.0, 1.0] for t in texts])


def test_tfidf_view_matches_scikit_learn_on_its_own_terms():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["the cat sat", "the cat ran far", "a dog ran", "the dog sat down", "cats and dogs"]
    v = TfidfView(min_df=1).fit(texts)
    ref = TfidfVectorizer(analyzer=v._terms, sublinear_tf=True).fit(texts)
    assert sorted(v.vocabulary_) == sorted(ref.vocabulary_)
    order = [ref.vocabulary_[t] for t in sorted(v.vocabulary_, key=v.vocabulary_.get)]
    np.testing.assert_allclose(v.transform(texts).toarray(), ref.transform(texts).toarray()[:, order], rtol=1e-5)


def test_tfidf_vocabulary_from_the_labelled_texts_idf_from_all():
    labelled = ["red apple pie", "red apple tart", "green pear"]
    pool = ["green pear cake", "green tea", "blue sky", "blue sea", "apple"] * 3
    v = TfidfView(min_df=2, ngrams=1).fit(labelled + pool, vocabulary_texts=labelled * 4)
    assert sorted(v.vocabulary_) == ["apple", "green", "pear", "pie", "red", "tart"]
    ref = TfidfView(min_df=1, ngrams=1).fit(labelled + pool)  # the same IDF over all the texts
    for t, j in v.vocabulary_.items():
        assert v.idf_[j] == pytest.approx(ref.idf_[ref.vocabulary_[t]])
    X = v.transform(["blue apple", "blue sky"]).toarray()
    assert np.linalg.norm(X[0]) == pytest.approx(1.0) and not X[1].any()  # words outside it are not counted
    pooled = TfidfView(min_df=2, ngrams=1).fit(labelled + pool)
    assert "blue" in pooled.vocabulary_ and "blue" not in v.vocabulary_


def test_views_combined_beat_each_view_alone():
    """Class = two bits: TF-IDF sees the first (a cue word), the planted embedder only the second (hidden
    behind a word that occurs once). Each view alone is right half the time; together they carry the label."""
    rng = np.random.default_rng(0)
    bits, texts, labels = {}, [], []
    for i in range(160):
        a, b = i % 2, (i // 2) % 2
        words = list(rng.choice(GROUPS["music"], 4)) + [["alpha", "beta"][a]] * 2 + [f"doc{i}"]
        bits[f"doc{i}"] = b
        texts.append(" ".join(words))
        labels.append(f"{a}{b}")
    train, test = slice(0, 96), slice(96, 160)
    clf = FewLabelClassifier(encoder=_Planted(bits), semi_supervised="off")
    clf.fit(texts[train], labels[train])
    best = {name: max(v["accuracy"] for k, v in clf.cv_.items() if k.startswith(name + " C=")) for name in
            ("tfidf", "encoder", "tfidf+encoder", "tfidf+encoder stacked")}
    assert best["tfidf"] < 0.6 and best["encoder"] < 0.6, best
    # concatenated or stacked (a product of the two views' experts: each knows half of the label), both see it
    assert best["tfidf+encoder"] > 0.95 and best["tfidf+encoder stacked"] > 0.95, best
    assert clf.training_["chosen"] in ("tfidf+encoder", "tfidf+encoder stacked")
    assert clf.evaluate(texts[test], labels[test])["accuracy"] > 0.95


def test_the_fit_keeps_to_its_threads():
    """``threads`` holds for the whole fit, every view's torch and BLAS work included (two jobs side by side on
    two cores each with torch's default are four busy threads), and the counts come back after it."""
    import torch
    from threadpoolctl import threadpool_info

    seen = []

    class Spy(_Planted):
        def transform(self, texts):
            blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
            seen.append((torch.get_num_threads(), max(blas, default=1)))
            return super().transform(texts)

    bits = {f"doc{i}": i % 2 for i in range(40)}
    texts = [f"{['cat dog', 'rain sun'][i % 2]} doc{i}" for i in range(40)]
    labels = [["pets", "weather"][i % 2] for i in range(40)]
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # a 2-core machine's default, on any machine
    try:
        FewLabelClassifier(encoder=Spy(bits), semi_supervised="off", threads=1).fit(texts, labels)
        assert seen and set(seen) == {(1, 1)}, seen
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_recipe_saves_loads_and_predicts_identically(planted_vampire, tmp_path):
    docs = planted_docs(60, seed=2)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    pool = [d["text"] for d in planted_docs(200, seed=5)]
    clf = FewLabelClassifier(vampire=planted_vampire, semi_supervised="off", c_grid=[1.0, 10.0]).fit(
        texts, labels, unlabeled=pool)
    assert set(clf.training_["views"]) == {"tfidf", "vampire"} and clf.training_["chosen"]
    clf.save_pretrained(tmp_path / "r")
    loaded = shoestring.load(tmp_path / "r")
    assert type(loaded) is FewLabelClassifier
    probe = [d["text"] for d in planted_docs(20, seed=9)] + ["", "nothing known here"]
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    assert loaded.predict(probe) == clf.predict(probe) and loaded.cv_ == clf.cv_
    # scikit-learn's own predict_proba (a stack's: the stack refitted) agrees with the saved arrays
    from sklearn.linear_model import LogisticRegression

    from shoestring.tasks.classify.stacking import StackedLR

    X = clf._features(texts)
    y = np.array([clf.classes_.index(v) for v in labels])
    ref = (LogisticRegression(C=clf.C_, max_iter=2000, random_state=0) if np.isscalar(clf.C_) else
           StackedLR([v.dim for v in clf.views_], clf.C_, seed=0)).fit(X, y)
    np.testing.assert_allclose(clf.head_.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_very_few_labels(tmp_path):
    texts = ["orbit rocket planet", "garlic onion butter", "rocket comet orbit", "butter flour garlic"]
    one_each = FewLabelClassifier(semi_supervised="off").fit(texts[:2], ["space", "cooking"])
    assert "every class has a single labelled example" in one_each.training_["why"] and not one_each.cv_
    assert one_each.predict(["comet planet orbit"]) == ["space"]
    two_each = FewLabelClassifier(semi_supervised="off").fit(texts, ["space", "cooking"] * 2)
    assert all(v["folds"] == 2 for v in two_each.cv_.values())
    lopsided = FewLabelClassifier(semi_supervised="off").fit(texts + ["orbit planet"], ["space", "cooking"] * 2
                                                             + ["music"])
    assert lopsided.classes_ == ["cooking", "music", "space"]
    assert lopsided.cv_ and all(v["folds"] == 2 for v in lopsided.cv_.values())  # "music" stays in training
    # two views: the stack is scored too, each fold's stack fitted on one example per class (no inner folds:
    # its views weigh 1 each)
    from shoestring.learners.vectors.ppmi import WordVectors

    wv = WordVectors(dim=4, min_count=1).fit(texts * 3)
    two_views = FewLabelClassifier(word_vectors=wv, semi_supervised="off").fit(
        texts + ["orbit planet"], ["space", "cooking"] * 2 + ["music"])
    assert sum("stacked C=" in k for k in two_views.cv_) == 1 and len(two_views.predict(["comet orbit"])) == 1
    with pytest.raises(InputError, match="at least two classes"):
        FewLabelClassifier().fit(texts, ["space"] * 4)


def test_recipe_with_every_embedding_kind_round_trips(planted_vampire, tmp_path):
    """All four views saved with the recipe (VAMPIRE, word vectors, a compact BERT as the encoder) and reloaded."""
    import json

    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import prepare_tokens
    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.learners.vectors.ppmi import WordVectors

    docs = planted_docs(60, seed=2)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    with open(tmp_path / "c.jsonl", "w") as f:
        for d in planted_docs(120):
            f.write(json.dumps(d) + "\n")
    corpus = prepare_tokens(tmp_path / "c.jsonl", tmp_path / "tok", TokensConfig(vocab_size=120, min_frequency=1),
                            progress=False)
    lm = MaskedLM(preset=None, layers=1, hidden=32, heads=2, ffn=48, seq_len=32, batch_size=8, max_epochs=1,
                  progress=False, threads=1).fit(corpus)
    wv = WordVectors(dim=8, min_count=1).fit(texts)
    clf = FewLabelClassifier(vampire=planted_vampire, word_vectors=wv, encoder=lm, semi_supervised="off",
                             c_grid=[1.0]).fit(texts, labels)
    clf.views_ = [v for v in clf._views(texts)]  # keep every view, whatever CV chose, so each kind is saved
    clf.head_ = type(clf.head_)(np.zeros((5, clf.dim)), np.zeros(5), 5)
    clf.save_pretrained(tmp_path / "r")
    loaded = shoestring.load(tmp_path / "r")
    assert [v.name for v in loaded.views_] == ["tfidf", "vampire", "word_vectors", "encoder"]
    probe = [d["text"] for d in planted_docs(10, seed=9)]
    np.testing.assert_array_equal(loaded.transform(probe), clf.transform(probe))


def test_cli_recipe_end_to_end(tmp_path, capsys):
    from shoestring.cli import main

    write_jsonl(tmp_path / "train.jsonl", planted_docs(60, seed=1))
    write_jsonl(tmp_path / "pool.jsonl", [{"text": d["text"]} for d in planted_docs(200, seed=3)])
    write_jsonl(tmp_path / "test.jsonl", planted_docs(40, seed=4))
    assert main(["train", "classifier", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "r"), "--recipe", "auto",
                 "--unlabeled", str(tmp_path / "pool.jsonl"), "--semi-supervised", "off"]) == 0
    assert "chose tfidf with C" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "r"), str(tmp_path / "test.jsonl")]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "r"), str(tmp_path / "test.jsonl"), "-o", str(tmp_path / "p.jsonl")]) == 0
    assert main(["train", "classifier", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "x"),
                 "--checkpoint", "somewhere"]) == 2


def test_cli_recipe_with_two_views_prints_the_stack_it_chose(tmp_path, capsys, saved_vampire):
    """Two views give a stack (per-view Cs: a list), which the summary printed and the model card format; the
    summary comes after the folder is saved, so nothing it says can lose the fit; a bad --dev file is refused
    before the fit, not after it."""
    from shoestring.cli import main
    from shoestring.cli.train import recipe_summary

    write_jsonl(tmp_path / "train.jsonl", planted_docs(60, seed=1))
    write_jsonl(tmp_path / "dev.jsonl", planted_docs(20, seed=5))
    args = ["train", "classifier", str(tmp_path / "train.jsonl"), "--recipe", "auto", "--vampire",
            str(saved_vampire), "--c-grid", "10", "--semi-supervised", "off"]
    assert main(args + ["-o", str(tmp_path / "r"), "--dev", str(tmp_path / "dev.jsonl")]) == 0
    out = capsys.readouterr().out
    clf = shoestring.load(tmp_path / "r")
    assert isinstance(clf.training_["C"], list) and "tfidf+vampire stacked with C = 10, 10" in out, out
    (tmp_path / "bad.jsonl").write_text('{"text": "no label"}\n')
    assert main(args + ["-o", str(tmp_path / "b"), "--dev", str(tmp_path / "bad.jsonl")]) != 0
    assert "bad.jsonl" in capsys.readouterr().err and not (tmp_path / "b").exists()
    t = {"chosen": "blend of tfidf+encoder stacked | encoder_tuned", "C": {"frozen": [100.0, 1.0], "tuned": 10.0},
         "why": "w", "semi_supervised": {"used": False},
         "contrastive": {"used": True, "use": "blend", "why": "within the noise"}}
    assert recipe_summary(t).startswith("chose blend of tfidf+encoder stacked | encoder_tuned with C = frozen 100, "
                                        "1 | tuned 10: w; contrastive fine-tuning: used, blended with the frozen")


def test_the_unlabeled_pool_teaches_words_the_labels_never_show():
    """Labelled rows use 4 words of each planted group, test rows only the other 8; the pool mixes all 12.
    Only a model that learns from the pool can read the test rows."""
    rng = np.random.default_rng(3)
    names = list(GROUPS)
    labels = [g for g in names for _ in range(4)]
    texts = [" ".join(rng.choice(GROUPS[g][:4], 5)) for g in labels]
    pool = [" ".join(rng.choice(GROUPS[g], 8)) for g in names for _ in range(60)]
    test_y = [g for g in names for _ in range(20)]
    test = [" ".join(rng.choice(GROUPS[g][4:], 5)) for g in test_y]
    kw = dict(c_grid=[10.0], random_state=0, tfidf_vocabulary="pool")  # the test rows' words are in the pool only
    supervised = FewLabelClassifier(semi_supervised="off", **kw).fit(texts, labels, unlabeled=pool)
    assert supervised.evaluate(test, test_y)["accuracy"] < 0.5
    for method in ("self_train", "label_spread"):
        semi = FewLabelClassifier(semi_supervised=method, threshold=0.5, **kw).fit(texts, labels, unlabeled=pool)
        assert semi.training_["semi_supervised"]["used"] == method
        assert semi.evaluate(test, test_y)["accuracy"] > 0.9, method
    auto = FewLabelClassifier(**kw).fit(texts, labels, unlabeled=pool)
    decision = auto.training_["semi_supervised"]
    assert set(decision["cv"]) == {"self_train", "label_spread"} and decision["why"].startswith("cross-validation")


def test_cached_views_give_the_same_features():
    from shoestring.tasks.classify.views import EmbeddingView, caching

    bits = {f"doc{i}": i % 2 for i in range(4)}
    texts = [f"a b doc{i}" for i in range(4)]
    view = EmbeddingView(_Planted(bits), "planted")
    plain = view.transform(texts)
    with caching():
        first = view.transform(texts)
        again = view.transform(texts[::-1])  # every text cached: nothing left to embed
        assert view.transform([]).shape == (0, 2)
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(again, plain[::-1])


def test_cli_recipe_refuses_the_networks_settings(tmp_path, capsys):
    from shoestring.cli import main

    write_jsonl(tmp_path / "train.jsonl", planted_docs(30, seed=1))
    assert main(["train", "classifier", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "r"), "--recipe", "auto",
                 "--minutes", "5", "--encoder", "cnn", "--dropout", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "--encoder, --dropout set the Seq2Vec network" in err and not (tmp_path / "r").exists()
    # --minutes, --seed and --threads are the recipe's own: its budget, recorded in what it trained
    assert main(["train", "classifier", str(tmp_path / "train.jsonl"), "-o", str(tmp_path / "r"), "--recipe", "auto",
                 "--minutes", "0.5", "--seed", "3", "--threads", "1"]) == 0
    meta = shoestring.load(tmp_path / "r")
    assert meta.config.minutes == 0.5 and meta.config.seed == 3 and meta.training_["budget_seconds"] == 30.0
    assert meta.config.threads == 1


def test_the_budget_bounds_the_pool_methods_and_every_phase_is_timed(monkeypatch):
    """With a budget too small to judge self-training and label spreading, the fit skips them and says so,
    rather than overrunning; every phase's seconds are in training_."""
    import shoestring.tasks.classify.semisup as semisup

    rng = np.random.default_rng(3)
    names = list(GROUPS)
    labels = [g for g in names for _ in range(6)]
    texts = [" ".join(rng.choice(GROUPS[g], 5)) for g in labels]
    pool = [" ".join(rng.choice(GROUPS[g], 8)) for g in names for _ in range(60)]
    slow_spread = semisup.spread_and_fit

    def spread(*a, **k):  # a pool method that takes 1 s a fold: 3+ folds cannot fit in the 3 s budget
        time.sleep(1.0)
        return slow_spread(*a, **k)

    monkeypatch.setattr(semisup, "spread_and_fit", spread)
    monkeypatch.setattr(semisup, "self_train", lambda *a, **k: spread(*a, **k))
    clf = FewLabelClassifier(c_grid=[10.0], minutes=0.05, random_state=0).fit(texts, labels, unlabeled=pool)
    t = clf.training_
    semi = t["semi_supervised"]
    assert semi["used"] is False and "skipped" in semi["why"], semi["why"]
    assert all("skipped" in v for v in semi["cv"].values())
    assert t["seconds"] < 3.0 + 1.5  # at most one fold's overrun
    assert {"fit views", "embed labelled", "cross-validate views", "embed pool", "judge pool methods",
            "final fit"} <= set(t["phases"])
    assert sum(t["phases"].values()) <= t["seconds"] + 0.05
    assert clf.predict(texts[:3])


def test_used_columns_lr_is_the_same_model():
    """Dropping the columns no training row uses changes nothing but the cost: same coefficients (zeros in the
    dropped columns), same probabilities on rows that do use them; dense features pass through."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from shoestring.tasks.classify.linear import LinearHead, UsedColumnsLR

    rng = np.random.default_rng(0)
    X = sp.random(60, 400, density=0.02, random_state=1, format="csr")
    X = sp.hstack([X, sp.csr_matrix(rng.normal(size=(60, 3)))], format="csr")
    y = rng.integers(0, 3, 60)
    train, test = slice(0, 40), slice(40, 60)
    assert len(np.unique(X[train].indices)) < X.shape[1]  # some columns unused in training
    ref = LogisticRegression(C=10.0, max_iter=2000, random_state=0).fit(X[train], y[train])
    ours = UsedColumnsLR(10.0, 0).fit(X[train], y[train])
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X[test]), ref.predict_proba(X[test]), atol=1e-10)
    np.testing.assert_allclose(LinearHead.from_sklearn(ours, 3).predict_proba(X[test]), ref.predict_proba(X[test]),
                               atol=1e-10)
    w = rng.uniform(0.5, 1.0, 40)
    np.testing.assert_allclose(UsedColumnsLR(1.0, 0).fit(X[train], y[train], sample_weight=w).coef_,
                               LogisticRegression(C=1.0, max_iter=2000).fit(X[train], y[train], sample_weight=w).coef_,
                               atol=1e-10)
    D = X.toarray()
    assert (UsedColumnsLR(10.0, 0).fit(D[train], y[train]).predict(D[test]) == ref.predict(X[test])).all()


def test_the_budget_bounds_the_view_cross_validation(monkeypatch):
    """All views together are scored first; once the view cross-validation's share of the budget is spent, the
    remaining (view, C) pairs are skipped and the training record says how many."""
    import shoestring.tasks.classify.recipe as recipe_mod

    monkeypatch.setattr(recipe_mod, "VIEW_CV_SHARE", 0.0)
    rng = np.random.default_rng(0)
    bits = {f"doc{i}": i % 2 for i in range(40)}
    texts = [" ".join(rng.choice(GROUPS["music"], 4)) + f" doc{i}" for i in range(40)]
    labels = [str(i % 2) for i in range(40)]
    clf = FewLabelClassifier(encoder=_Planted(bits), semi_supervised="off", c_grid=[1.0, 10.0], minutes=5)
    clf.fit(texts, labels)
    assert sorted(clf.cv_) == ["tfidf+encoder C=1", "tfidf+encoder C=10"]
    # 2 views x 2 Cs alone, and the stack of the two views
    assert "5 pairs not scored" in clf.training_["why"] and clf.training_["chosen"] == "tfidf+encoder"
    unbounded = FewLabelClassifier(encoder=_Planted(bits), semi_supervised="off", c_grid=[1.0, 10.0], minutes=None)
    unbounded.fit(texts, labels)
    assert len(unbounded.cv_) == 7 and "not scored" not in unbounded.training_["why"]
    assert "tfidf+encoder stacked C=" + ",".join(f"{C:g}" for C in unbounded._view_Cs(["tfidf", "encoder"])) \
        in unbounded.cv_


STEADY = [0.04, 0.05, 0.04, 0.05, 0.04]


@pytest.mark.parametrize("gains, f1_gain, f1_se, used", [
    ([0.2, -0.1, -0.05, 0.1, -0.1], 0.0, 0.01, False),  # mean +0.01, folds disagree (standard error 0.06): noise
    (STEADY, 0.0, 0.01, True),  # +0.044 on every fold
    ([1 / 24, 0.0], 0.0, 0.01, False),  # two folds, one without gain: the mean equals its error
    (STEADY, -0.02, 0.03, True),  # macro-F1 lost within its noise: not a trade
    (STEADY, -0.04, 0.03, False)])  # lost beyond it: skewed classes traded away for accuracy
def test_a_pool_method_is_kept_only_for_a_gain_above_the_folds_noise(monkeypatch, gains, f1_gain, f1_se, used):
    """Kept for an accuracy gain above its standard error over the folds, without a macro-F1 loss beyond that
    gain's standard error (the contrastive fine-tuning's rule). Both standard errors are in the training record."""
    import shoestring.tasks.classify.semisup as semisup

    def fake_cv_gain(make_model, X, y, X_pool, method, **kw):
        folds = [{"supervised": {"accuracy": 0.5, "macro_f1": 0.5}, "semi": {"accuracy": 0.5 + g, "macro_f1": 0.5}}
                 for g in gains]
        mean = float(np.mean(gains))
        return {"possible": True, "gain": {"accuracy": mean, "macro_f1": f1_gain}, "semi": {"accuracy": 0.5 + mean,
                "macro_f1": 0.5 + f1_gain}, "gain_se": {"accuracy": 0.01, "macro_f1": f1_se}, "folds": folds,
                "seconds": 0.01}

    monkeypatch.setattr(semisup, "cv_gain", fake_cv_gain)
    rng = np.random.default_rng(3)
    labels = [g for g in GROUPS for _ in range(6)]
    texts = [" ".join(rng.choice(GROUPS[g], 5)) for g in labels]
    pool = [" ".join(rng.choice(GROUPS[g], 8)) for g in GROUPS for _ in range(20)]
    semi = FewLabelClassifier(c_grid=[10.0], random_state=0).fit(texts, labels, unlabeled=pool).training_[
        "semi_supervised"]
    assert bool(semi["used"]) == used, semi["why"]
    assert semi["cv"]["self_train"]["gain_accuracy_se"] == pytest.approx(np.std(gains, ddof=1) / np.sqrt(len(gains)))
    assert semi["cv"]["self_train"]["gain_macro_f1_se"] == f1_se
    if not used:
        assert "noise" in semi["why"]


def test_the_labelled_texts_are_taken_out_of_the_pool():
    """A corpus given as the pool often holds the labelled texts too: they are dropped from it (a held-out row's
    copy would otherwise be pseudo-labelled and learnt inside its own cross-validation fold)."""
    rng = np.random.default_rng(3)
    labels = [g for g in GROUPS for _ in range(6)]
    texts = [" ".join(rng.choice(GROUPS[g], 5)) + f" t{i}" for i, g in enumerate(labels)]
    others = [" ".join(rng.choice(GROUPS[g], 8)) for g in GROUPS for _ in range(30)]
    clf = FewLabelClassifier(c_grid=[10.0], random_state=0).fit(texts, labels, unlabeled=texts + others)
    t = clf.training_
    assert t["unlabeled"] == len(texts) + len(others) and t["unlabeled_labelled_copies_dropped"] == len(texts)
    only_copies = FewLabelClassifier(c_grid=[10.0], random_state=0).fit(texts, labels, unlabeled=texts[::-1])
    assert only_copies.training_["semi_supervised"]["why"] == "no unlabeled texts"


def test_the_cli_summary_says_how_far_the_fine_tuning_got():
    """The fine-tuning's steps decide much of its gain and the budget decides the steps: the CLI says both."""
    from shoestring.cli.train import recipe_summary

    t = {"chosen": "encoder", "C": 100.0, "why": "best of 20", "semi_supervised": {"used": False, "why": "no gain"},
         "contrastive": {"used": True, "why": "nested cross-validation: used",
                         "training": {"steps": 24, "seconds": 204.2, "stop_reason": "time budget of 3.3 min reached"}}}
    out = recipe_summary(t)
    assert "the final fine-tuning 24 steps in 204 s (stopped by --minutes" in out
    assert out.startswith("chose encoder with C = 100: best of 20")
    t["contrastive"]["training"]["stop_reason"] = "max_epochs reached"
    assert "stopped by --minutes" not in recipe_summary(t) and "24 steps" in recipe_summary(t)
    t["contrastive"]["training"]["warm_start"] = {"from": "nested fold 2", "labelled": 100, "steps": 12, "seconds": 99}
    assert "24 steps in 204 s (after nested fold 2's 12 steps on 100 labels)" in recipe_summary(t)
    t["precision"] = "bf16"  # where the CPU multiplies bf16 natively (--precision auto)
    assert "24 steps in 204 s (bf16) (after nested fold 2's" in recipe_summary(t)
    t["contrastive"] = {"used": False, "why": "off"}
    assert "contrastive fine-tuning: not used (off)" in recipe_summary(t)


def test_copies_of_a_text_are_held_out_together():
    """The same sentence labelled for two entity pairs (markup aside, the same text) must not sit on both sides
    of a fold: a held-out row whose twin is in training is scored by memory. Grouped folds keep every copy on
    one side; without copies the folds are exactly the ungrouped ones; a grouping that would leave a fold's
    training part without a class falls back to them."""
    from shoestring.tasks.classify.folds import duplicate_groups, stratified_folds

    assert duplicate_groups(["a b", "c"]) is None
    g = duplicate_groups(["<< EGF >> binds [[ gefitinib ]].", "EGF binds gefitinib", "EGF, binds gefitinib!", "x y"])
    assert list(g) == [0, 0, 0, 1]
    rng = np.random.default_rng(0)
    base = [f"sentence {i} " + " ".join(rng.choice(list("abcdefgh"), 6)) for i in range(60)]
    texts = [f"<< {t} >>" if k == 0 else f"[[ {t} ]]" for t in base for k in range(2)]  # each sentence twice
    y = np.asarray([i % 3 for i in range(60) for _ in range(2)])
    groups = duplicate_groups(texts)
    folds = stratified_folds(y, 5, 0, groups)
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
    assert sorted(np.concatenate([va for _, va in folds])) == list(range(120))
    plain = stratified_folds(y, 5, 0)
    assert any(set(groups[tr]) & set(groups[va]) for tr, va in plain)  # what the grouping prevents
    unique = np.arange(120)
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(stratified_folds(y, 5, 0, unique), plain))
    one_group_class = np.asarray([0] * 4 + [1] * 4)
    assert stratified_folds(one_group_class, 2, 0, np.asarray([0, 1, 2, 3, 4, 4, 4, 4])) is not None
    for tr, _ in stratified_folds(one_group_class, 2, 0, np.asarray([0, 1, 2, 3, 4, 4, 4, 4])):
        assert set(one_group_class[tr]) == {0, 1}


def _texts_with_copies():
    """40 planted texts, the first 10 again inside markup (copies once markup is ignored): 20 rows with a copy."""
    docs = planted_docs(40, seed=2)
    texts = [d["text"] for d in docs] + [f"<< {d['text']} >>" for d in docs[:10]]
    labels = [d["label"] for d in docs] + [d["label"] for d in docs[:10]]
    return texts, labels


def test_the_recipe_holds_copies_out_together_and_says_so():
    texts, labels = _texts_with_copies()
    clf = FewLabelClassifier(c_grid=[1.0], semi_supervised="off", random_state=0).fit(texts, labels)
    assert clf.training_["labelled_rows_with_a_copy"] == 20 and "20 labelled rows that repeat" in clf.training_["why"]
    plain = FewLabelClassifier(c_grid=[1.0], semi_supervised="off", random_state=0).fit(texts[:40], labels[:40])
    assert plain.training_["labelled_rows_with_a_copy"] == 0 and "repeat" not in plain.training_["why"]


def test_the_stack_and_the_pool_methods_hold_copies_out_together_too(monkeypatch):
    """The groups of copies reach the stack's own folds (the views' weights) and the pool methods'
    cross-validation, each fit getting the groups of the rows it is given."""
    import shoestring.tasks.classify.semisup as semisup
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.folds import duplicate_groups

    seen = {"stack": [], "pool": []}
    fit = StackedLR.fit

    def recording_fit(self, X, y, sample_weight=None, groups=None):
        seen["stack"].append((X.shape[0], groups))
        return fit(self, X, y, sample_weight, groups)

    def fake_cv_gain(make_model, X, y, X_pool, method, **kw):
        seen["pool"].append(kw.get("groups"))
        return {"possible": False, "reason": "recorded"}

    monkeypatch.setattr(StackedLR, "fit", recording_fit)
    monkeypatch.setattr(semisup, "cv_gain", fake_cv_gain)
    texts, labels = _texts_with_copies()
    pool = [d["text"] for d in planted_docs(150, seed=5)]
    wv = WordVectors(dim=8, min_count=1).fit(texts + pool)  # a second view: the stack is a candidate
    FewLabelClassifier(word_vectors=wv, c_grid=[1.0], random_state=0).fit(texts, labels, unlabeled=pool)
    groups = duplicate_groups(texts)
    assert seen["pool"] and all(np.array_equal(g, groups) for g in seen["pool"])
    assert seen["stack"] and all(g is not None and len(g) == n for n, g in seen["stack"])
