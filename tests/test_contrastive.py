"""Contrastive fine-tuning from labels (learners/contrastive) and its use in the few-label recipe: the loss
against a hand computation, planted classes pulled apart, the nested cross-validation that judges it, and the
tuned encoder saved and reloaded with the recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import shoestring
from conftest import planted_docs, resign, write_jsonl
from shoestring.bench.fewshot import recipe_record
from shoestring.errors import InputError
from shoestring.learners.contrastive.config import ContrastiveConfig
from shoestring.learners.contrastive.labels import fit_contrastive
from shoestring.learners.contrastive.loss import info_nce
from shoestring.tasks.classify.recipe import FewLabelClassifier


def test_info_nce_matches_a_hand_computation():
    z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]]), dim=1)
    groups = torch.tensor([0, 0, 1, 2])  # rows 0 and 1 are positives; rows 2 and 3 have none
    tau = 0.5
    s = (z @ z.T).numpy() / tau

    def term(i, p):  # -log( exp(s_ip) / sum_{a != i} exp(s_ia) )
        return -(s[i, p] - math.log(sum(math.exp(s[i, a]) for a in range(4) if a != i)))

    expected = (term(0, 1) + term(1, 0)) / 2  # only anchors 0 and 1 have a positive
    assert float(info_nce(z, groups, tau)) == pytest.approx(expected, rel=1e-6)


def test_info_nce_with_pairs_is_simcse_cross_entropy():
    """groups [0..B-1, 0..B-1]: each row's one positive is its pair, i.e. cross-entropy over the other 2B-1 rows."""
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(8, 5, generator=g), dim=1)
    groups = torch.arange(4).repeat(2)
    logits = (z @ z.T / 0.05).masked_fill(torch.eye(8, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(4, 8), torch.arange(4)])
    torch.testing.assert_close(info_nce(z, groups, 0.05), torch.nn.functional.cross_entropy(logits, target))


def test_info_nce_needs_a_positive():
    z = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    with pytest.raises(ValueError, match="no row of the batch has a positive"):
        info_nce(z, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="3 embeddings but 2"):
        info_nce(z, torch.tensor([0, 1]))


def _separation(lm, docs) -> float:
    """Mean cosine to same-label texts minus mean cosine to other-label texts."""
    E = lm.transform([d["text"] for d in docs])
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    y = np.asarray([d["label"] for d in docs])
    S, same = E @ E.T, y[:, None] == y[None, :]
    np.fill_diagonal(same, False)
    return float(S[same].mean() - S[y[:, None] != y[None, :]].mean())


def test_contrastive_fine_tuning_pulls_planted_classes_apart(tiny_lm):
    train, held_out = planted_docs(40, seed=5), planted_docs(40, seed=6)
    before = {k: v.clone() for k, v in tiny_lm.model_.state_dict().items()}
    cfg = ContrastiveConfig(max_epochs=8, lr=1e-3, batch_size=8, progress=False, threads=1)
    tuned = fit_contrastive(tiny_lm, [d["text"] for d in train], [d["label"] for d in train], cfg)
    assert _separation(tuned, held_out) > _separation(tiny_lm, held_out) + 0.3  # unseen texts of the classes
    losses = tuned.training_["loss_by_epoch"]
    assert len(losses) == 8 and losses[-1] < losses[0]
    for k, v in tiny_lm.model_.state_dict().items():  # the pre-trained model itself is untouched
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    again = fit_contrastive(tiny_lm, [d["text"] for d in train], [d["label"] for d in train], cfg)
    np.testing.assert_array_equal(again.transform(["guitar violin"]), tuned.transform(["guitar violin"]))


def test_cosine_pair_loss_matches_a_hand_computation():
    from shoestring.learners.contrastive.loss import cosine_pairs

    z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]]), dim=1)
    # same-class pairs (0, 1) and (2, 3) both at cosine 0.8: (1 - 0.8)^2 = 0.04; the four cross pairs' cosines
    # 0, -0.6, 0.6, 0: mean square 0.18; the two kinds weighted equally
    torch.testing.assert_close(cosine_pairs(z, torch.tensor([0, 0, 1, 1])), torch.tensor(0.5 * 0.04 + 0.5 * 0.18))
    apart = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # classes at their targets: no loss
    assert float(cosine_pairs(apart, torch.tensor([0, 0, 1, 1]))) == 0.0
    with pytest.raises(ValueError, match="positive"):
        cosine_pairs(torch.eye(3), torch.tensor([0, 1, 2]))


def test_fine_tuning_the_top_layer_alone_trains_it_on_cached_states_of_the_frozen_rest(tiny_lm2):
    from shoestring.learners.contrastive.labels import _top_layers_module, lower_states
    from shoestring.learners.contrastive.learner import pool
    from shoestring.learners.mlm.model import pad_batch

    train, held_out = planted_docs(40, seed=5), planted_docs(40, seed=6)
    texts, labels = [d["text"] for d in train], [d["label"] for d in train]
    # the cached states of the first layer, run through the second, are exactly the whole encoder's output
    bert = tiny_lm2.model_.eval()
    rows = tiny_lm2._encode_texts(texts[:6], 32)
    ids, pad = pad_batch(rows, tiny_lm2.special_.pad)
    states = torch.nn.utils.rnn.pad_sequence(lower_states(bert, rows, tiny_lm2.special_.pad, 1), batch_first=True)
    with torch.no_grad():
        torch.testing.assert_close(_top_layers_module(bert, 1)(states, pad), pool(bert, ids, pad, "mean"))
    before = {k: v.clone() for k, v in tiny_lm2.model_.state_dict().items()}
    # one trained layer on frozen, barely pre-trained embeddings learns more slowly than the whole model: lr 1e-2
    cfg = ContrastiveConfig(max_epochs=12, lr=1e-2, batch_size=8, progress=False, threads=1, train_layers=1)
    tuned = fit_contrastive(tiny_lm2, texts, labels, cfg)
    assert _separation(tuned, held_out) > _separation(tiny_lm2, held_out) + 0.25
    assert "top 1 layers" in tuned.training_["origin"]
    after = tuned.model_.state_dict()
    for k, v in before.items():  # the embeddings and the first layer are the pre-trained ones; the second moved
        frozen = k.startswith("bert.embeddings") or k.startswith("bert.encoder.layer.0.") or not k.startswith("bert.")
        if frozen or "pooler" in k:
            torch.testing.assert_close(after[k], v, rtol=0, atol=0)
        elif k.endswith("weight") and "encoder.layer.1." in k:
            assert not torch.equal(after[k], v), k
    assert all(p.requires_grad for p in tuned.model_.bert.encoder.parameters())  # unfrozen again afterwards


def test_a_recipe_fine_tuned_on_its_top_layer_saves_and_reloads(tiny_lm2, tmp_path):
    docs = planted_docs(32, seed=9, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    clf = FewLabelClassifier(encoder=tiny_lm2, tfidf=False, semi_supervised="off", c_grid=[10.0], contrastive="on",
                             contrastive_epochs=2, contrastive_lr=1e-3, contrastive_layers=1,
                             random_state=0).fit(texts, labels)
    assert "top 1 layers" in clf.views_[0].model.training_["origin"]
    clf.save_pretrained(tmp_path / "r")
    loaded = shoestring.load(tmp_path / "r")
    probe = [d["text"] for d in planted_docs(12, seed=10)]
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), rtol=1e-5, atol=1e-6)
    assert loaded.config.contrastive_layers == 1
    # the tuned encoder's layers, frozen and trained alike, came back as saved
    for k, v in clf.views_[0].model.model_.state_dict().items():
        torch.testing.assert_close(loaded.views_[0].model.model_.state_dict()[k], v, rtol=0, atol=0)


def test_contrastive_fine_tuning_bad_input(tiny_lm):
    with pytest.raises(InputError, match="two classes"):
        fit_contrastive(tiny_lm, ["a b", "c d"], ["x", "x"])
    with pytest.raises(InputError, match="2 texts but 1 labels"):
        fit_contrastive(tiny_lm, ["a b", "c d"], ["x"])


def test_recipe_judges_fine_tuning_by_nested_cross_validation_and_saves_it(tiny_lm, tmp_path):
    docs = planted_docs(48, seed=7, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    kw = dict(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0, 10.0], contrastive_epochs=4,
              contrastive_lr=1e-3, contrastive_curve=True, random_state=0)
    clf = FewLabelClassifier(contrastive="on", **kw).fit(texts, labels)
    t = clf.training_["contrastive"]
    assert t["used"] and set(t["cv"]) == {f"{tag}: encoder C={c}" for tag in ("tuned", "frozen") for c in (1, 10)}
    assert all(v["folds"] == 2 for v in t["cv"].values())
    # nested CV: the tuned encoder's held-out rows were never seen by its fine-tuning, so the comparison is fair
    assert t["cv"]["tuned: encoder C=10"]["accuracy"] > t["cv"]["frozen: encoder C=10"]["accuracy"]
    assert clf.views_[0].model is not tiny_lm and t["training"]["steps"] > 0
    clf.save_pretrained(tmp_path / "r")
    loaded = shoestring.load(tmp_path / "r")
    probe = [d["text"] for d in planted_docs(12, seed=8)]
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), rtol=1e-5, atol=1e-6)
    assert loaded.training_["contrastive"]["used"]
    assert "curve" not in t  # "on" uses it whatever the folds say: no learning curve to draw
    auto = FewLabelClassifier(**kw).fit(texts, labels)
    a = auto.training_["contrastive"]
    # the learning curve: one more fine-tuning on half the last fold's 24 training rows (half the steps), the
    # two best models scored on its held-out rows from about 12 and from 24 labels (each of the five classes'
    # half rounded up); growth beyond its noise counted
    k = a["curve"]
    assert k["labelled"][1] == 24 and 12 <= k["labelled"][0] <= 12 + 5 and 0 < k["steps"][0] < k["steps"][1], k
    growth = (k["tuned_accuracy"][1] - k["frozen_accuracy"][1]) - (k["tuned_accuracy"][0] - k["frozen_accuracy"][0])
    assert k["trend_accuracy"] == pytest.approx(growth) and k["trend_accuracy_se"] > 0
    for m in ("accuracy", "macro_f1"):
        assert k[f"counted_{m}"] == (k[f"trend_{m}"] if abs(k[f"trend_{m}"]) > k[f"trend_{m}_se"] else 0.0)
        assert a[f"gain_{m}_judged"] == pytest.approx(a[f"gain_{m}"] + k[f"counted_{m}"])
    # alone where it gains beyond the noise, dropped where it loses beyond it, blended where the folds cannot tell
    helps = a["gain_accuracy_judged"] > a["gain_accuracy_se"] and a["gain_macro_f1_judged"] >= -a["gain_macro_f1_se"]
    hurts = a["gain_accuracy_judged"] < -a["gain_accuracy_se"] or a["gain_macro_f1_judged"] < -a["gain_macro_f1_se"]
    assert a["why"].startswith("2-fold nested cross-validation") and a["used"] == (not hurts or helps)
    assert a["use"] == ("tuned" if helps else "frozen" if hurts else "blend") and t["use"] == "tuned"
    assert 0 <= a["gain_macro_f1_se"] < 1 and "standard error" in a["why"]
    # bench fewshot's record of a run: the decision, its gains, and how long the final fine-tuning ran
    on, off = recipe_record(clf.training_), recipe_record(auto.training_, auto.cv_)
    assert on["views_cv"] is None and set(off["views_cv"]) == {k.rsplit(" C=", 1)[0] for k in auto.cv_}
    assert max(v["accuracy"] for v in off["views_cv"].values()) == max(v["accuracy"] for v in auto.cv_.values())
    # each candidate's best C, ties in accuracy broken by macro-F1 as the recipe breaks them
    cv = {"tfidf C=10": {"accuracy": 0.8, "macro_f1": 0.7}, "tfidf C=100": {"accuracy": 0.8, "macro_f1": 0.75},
          "encoder C=1": {"accuracy": 0.6, "macro_f1": 0.6}}
    stub = {"chosen": "tfidf", "C": 100.0, "contrastive": {"used": False}, "semi_supervised": {"used": False},
            "seconds": 1.0}
    assert recipe_record(stub, cv)["views_cv"] == {"tfidf": {"accuracy": 0.8, "macro_f1": 0.75, "C": 100.0},
                                                   "encoder": {"accuracy": 0.6, "macro_f1": 0.6, "C": 1.0}}
    assert json.loads(json.dumps(off)) == off  # written into bench fewshot's --json
    assert on["contrastive"] and on["contrastive_training"]["steps"] == t["training"]["steps"] > 0
    assert on["contrastive_gain_cv"] == t["gain_accuracy"] and on["chosen"] == clf.training_["chosen"]
    assert on["contrastive_gain_cv_macro_f1_se"] == t["gain_macro_f1_se"] and on["contrastive_gain_cv_se"] >= 0
    assert on["budget_seconds"] == clf.training_["budget_seconds"] == 600.0  # the default 10 minutes
    assert (off["contrastive_training"] is None) == (not a["used"]) and off["contrastive_curve"] == k


@pytest.mark.parametrize("counted, use", [(0.0, "blend"), (0.02, "tuned"), (-0.02, "frozen")])
def test_the_learning_curve_moves_the_verdict_beyond_its_noise(tiny_lm, monkeypatch, counted, use):
    """With every nested gain within its standard error (blended), the gain's growth from a quarter to half of
    the labels, where counted (beyond its own noise), is added to the judged gains: growing, the tuned encoder
    (whose final fine-tuning doubles the labels again) is used alone; shrinking, it is dropped; flat, the blend
    stands. The verdict says so; without the curve (the default) the blend stands and no curve is drawn."""
    import shoestring.tasks.classify.contrastive as contrastive_mod
    import shoestring.tasks.classify.recipe as recipe_mod

    for mod in (recipe_mod, contrastive_mod):  # the views' choice and the nested judgement alike
        monkeypatch.setattr(mod, "paired_gain_se", lambda *a, **k: (0.01, 0.01))
        monkeypatch.setattr(mod, "mean_scores", lambda folds: {"accuracy": 0.5, "macro_f1": 0.5, "folds": len(folds)})
    monkeypatch.setattr(contrastive_mod.ContrastiveStep, "_curve", lambda self, *a: {
        "steps": [1, 2], "trend_accuracy": counted, "trend_accuracy_se": 0.01, "trend_macro_f1": counted,
        "trend_macro_f1_se": 0.01, "counted_accuracy": counted, "counted_macro_f1": counted})
    docs = planted_docs(24, seed=7, noise=0.3)
    clf = FewLabelClassifier(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0], contrastive_epochs=1,
                             contrastive_curve=True, random_state=0).fit([d["text"] for d in docs],
                                                                         [d["label"] for d in docs])
    c = clf.training_["contrastive"]
    assert c["use"] == use and c["gain_accuracy"] == 0.0 and c["gain_accuracy_judged"] == counted
    assert ("counted once more" in c["why"]) == (counted != 0.0) and "from a quarter to half of the labels" in c["why"]
    off = FewLabelClassifier(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0], contrastive_epochs=1,
                             random_state=0).fit([d["text"] for d in docs], [d["label"] for d in docs])  # the default
    assert off.training_["contrastive"]["use"] == "blend" and "curve" not in off.training_["contrastive"]


def test_the_learning_curve_learns_from_a_quarter_of_the_labels_and_scores_the_fold_held_out_rows(tiny_lm):
    """``_curve``: the two best models refitted on the curve's rows alone (half the last fold's training rows;
    every other row's features are NaN here, so reading one would fail the fit) and scored on that fold's
    held-out rows beside the fold's own predictions; the growth of the gain is those four accuracies'
    difference of differences, counted only beyond its standard error."""
    from shoestring.tasks.classify.contrastive import half_per_class

    docs = planted_docs(40, seed=7, noise=0.3)
    texts = [d["text"] for d in docs]
    clf = FewLabelClassifier(random_state=0)
    clf.classes_ = sorted({d["label"] for d in docs})
    y = np.asarray([clf.classes_.index(d["label"]) for d in docs])
    tr, va = np.arange(20), np.arange(20, 40)
    sub = half_per_class(tr, y, 0)
    assert 10 <= len(sub) <= 10 + len(set(y[tr])) and set(y[sub]) == set(y[tr]) and set(sub) <= set(tr)
    from shoestring.tasks.classify.views import EmbeddingView

    frozen = EmbeddingView(tiny_lm, "encoder", cache=False).transform(texts)
    frozen[np.setdiff1d(np.arange(40), np.concatenate([sub, va]))] = np.nan
    held_out = {"tuned: encoder C=1": np.full(40, -1), "frozen: encoder C=1": np.full(40, -1)}
    held_out["tuned: encoder C=1"][va] = y[va]  # the fold's tuned model: every held-out row right
    held_out["frozen: encoder C=1"][va] = (y[va] + 1) % len(clf.classes_)  # the frozen one: every row wrong
    k = clf._curve(tiny_lm, texts, y, sub, (tr, va), ("tuned: encoder C=1", "frozen: encoder C=1"), held_out,
                   np.arange(len(clf.classes_)), 7, ({"encoder": [0]}, 0, [frozen]))
    assert k["labelled"] == [len(sub), 20] and k["steps"][1] == 7
    assert k["tuned_accuracy"][1] == 1.0 and k["frozen_accuracy"][1] == 0.0
    # the quarter's two models: the untuned encoder's features on the curve's rows, the same model both sides
    assert k["tuned_accuracy"][0] == k["frozen_accuracy"][0]
    assert k["trend_accuracy"] == pytest.approx(1.0) and k["counted_accuracy"] == k["trend_accuracy"]


def test_the_learning_curve_is_left_out_where_its_share_would_be_too_short(tiny_lm, monkeypatch):
    """In a 1-minute budget the phase's ~50 s split by rows gives each fold ~11 s and the curve's run ~6 s: with
    8 s the shortest fine-tuning worth starting, the folds run, the curve is left out, and the record and the
    verdict say so (the nested gains are judged as measured)."""
    import shoestring.tasks.classify.contrastive as contrastive_mod

    monkeypatch.setattr(contrastive_mod, "MIN_FINETUNE_SECONDS", 8.0)
    docs = planted_docs(30, seed=7)
    clf = FewLabelClassifier(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0], contrastive_epochs=1,
                             contrastive_curve=True, minutes=1, random_state=0).fit([d["text"] for d in docs],
                                                                                    [d["label"] for d in docs])
    c = clf.training_["contrastive"]
    assert "too short" in c["curve"]["skipped"] and "the learning curve was not drawn" in c["why"]
    assert "gain_accuracy_judged" not in c and "gain_accuracy" in c


def test_within_the_noise_the_tuned_and_frozen_models_are_blended(tiny_lm, tmp_path, monkeypatch):
    """Where the nested folds cannot tell the tuned encoder's best model from the frozen views' best (every gain
    within its standard error), both are used: the frozen encoder stays the view ``encoder``, the tuned one is
    the view ``encoder_tuned``, and the head is the two models' log-probabilities averaged - which the saved
    folder reloads and predicts identically. The nested blend's scores are in the record either way."""
    import shoestring.tasks.classify.contrastive as contrastive_mod
    import shoestring.tasks.classify.recipe as recipe_mod

    for mod in (recipe_mod, contrastive_mod):  # nothing beyond the noise, in the views' choice or the judgement
        monkeypatch.setattr(mod, "paired_gain_se", lambda *a, **k: (1.0, 1.0))
    docs = planted_docs(40, seed=7, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    clf = FewLabelClassifier(encoder=tiny_lm, semi_supervised="off", c_grid=[1.0, 10.0], contrastive_epochs=2,
                             contrastive_lr=1e-3, random_state=0).fit(texts, labels)
    t = clf.training_
    c = t["contrastive"]
    assert c["used"] and c["use"] == "blend" and "blended with the frozen best" in c["why"]
    assert 0 <= c["blend_cv"]["accuracy"] <= 1 and "the two blended" in c["why"]
    names = [v.name for v in clf.views_]
    assert "encoder_tuned" in names and t["chosen"].startswith("blend of ") and set(t["C"]) == {"frozen", "tuned"}
    tuned = clf.views_[names.index("encoder_tuned")]
    assert tuned.model is not tiny_lm and ("encoder" not in names or clf.views_[names.index("encoder")].model
                                           is tiny_lm)
    # the head is the average of the two models' logits, each fitted on its own views
    X = clf.transform(texts)
    widths = np.cumsum([0] + [v.dim for v in clf.views_])
    cols = {n: np.arange(widths[i], widths[i + 1]) for i, n in enumerate(names)}
    frozen = c["frozen_chosen"].replace(" stacked", "").split("+")
    tuned_views = [n if n != "encoder" else "encoder_tuned" for n in c["chosen"].split("+")]
    parts = []
    for views, C in ((frozen, c["frozen_C"]), (tuned_views, c["C"])):
        idx = np.concatenate([cols[n] for n in views])
        parts.append(clf._head(C, [len(cols[n]) for n in views])().fit(X[:, idx], np.asarray(
            [clf.classes_.index(v) for v in labels])).predict_proba(X[:, idx]))
    expected = np.sqrt(parts[0] * parts[1])
    np.testing.assert_allclose(clf.predict_proba(texts), expected / expected.sum(1, keepdims=True), atol=1e-6)
    # each of the two alone, for bench fewshot's diagnostic (what keeping or dropping would have scored)
    for side, P in zip(("frozen", "tuned"), parts):
        cols_, head = clf.blend_parts_[side]
        np.testing.assert_allclose(head.predict_proba(X[:, cols_]), P, atol=1e-3, err_msg=side)  # lbfgs tolerance
    from shoestring.bench.fewshot import blend_parts_scores

    alone = blend_parts_scores(clf, texts, labels, labels)
    for side, P in zip(("frozen", "tuned"), parts):
        hits = [clf.classes_[i] == v for i, v in zip(P.argmax(1), labels)]
        assert abs(alone[side]["accuracy"] - np.mean(hits)) < 0.03
    clf.save_pretrained(tmp_path / "b")
    loaded = shoestring.load(tmp_path / "b")
    probe = [d["text"] for d in planted_docs(12, seed=8)]
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), rtol=1e-5, atol=1e-6)
    assert [v.name for v in loaded.views_] == names and "Two models" in (tmp_path / "b" / "README.md").read_text()
    record = recipe_record(t, clf.cv_)
    assert record["contrastive_use"] == "blend" and record["contrastive_blend_cv"] == c["blend_cv"]
    assert json.loads(json.dumps(record)) == record


def test_recipe_contrastive_with_one_example_per_class_and_without_an_encoder(tiny_lm):
    texts, labels = ["guitar violin melody", "stock bond yield", "rocket orbit moon"], ["music", "finance", "space"]
    auto = FewLabelClassifier(encoder=tiny_lm, semi_supervised="off").fit(texts, labels)
    assert not auto.training_["contrastive"]["used"]
    assert "single labelled example" in auto.training_["contrastive"]["why"]
    on = FewLabelClassifier(encoder=tiny_lm, semi_supervised="off", contrastive="on",
                            contrastive_epochs=1).fit(texts, labels)
    assert on.training_["contrastive"]["used"] and on.predict(texts) is not None
    plain = FewLabelClassifier(semi_supervised="off").fit(texts * 2, labels * 2)
    assert "no BERT-family encoder" in plain.training_["contrastive"]["why"]


def test_the_budget_leaves_out_what_does_not_fit(tiny_lm):
    docs = planted_docs(30, seed=7)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    tight = FewLabelClassifier(encoder=tiny_lm, minutes=0.2, semi_supervised="off").fit(texts, labels)
    assert not tight.training_["contrastive"]["used"] and "budget" in tight.training_["contrastive"]["why"]


def test_a_fold_that_overruns_shrinks_the_later_shares(tiny_lm, monkeypatch):
    """Each fine-tuning's share is set when it starts, from the time then left: when the first nested fold takes
    far more than its share (a busy machine), the later fine-tunings get less, and the whole phase stays within
    its share of the budget (CONTRASTIVE_SHARE) plus that one overrun."""
    import time as _time

    import shoestring.learners.contrastive.labels as labels_mod
    import shoestring.tasks.classify.contrastive as contrastive_mod

    real = labels_mod.fit_contrastive
    given = []

    def fake(lm, texts, y, config, callbacks=None):
        given.append(config.minutes * 60)
        if len(given) == 1:
            _time.sleep(config.minutes * 60 * 1.6)  # the first fold overruns its share by 60%
        return real(lm, texts, y, ContrastiveConfig(max_epochs=1, seed=0), callbacks=callbacks)

    monkeypatch.setattr(labels_mod, "fit_contrastive", fake)
    monkeypatch.setattr(contrastive_mod, "MIN_FINETUNE_SECONDS", 1.0)  # a small budget keeps the test short
    docs = planted_docs(30, seed=7)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    budget = 0.25  # minutes: 15 s, 85% = 13 s for 3 fine-tunings (2 folds of 15 rows, then all 30)
    clf = FewLabelClassifier(encoder=tiny_lm, minutes=budget, semi_supervised="off", c_grid=[1.0],
                             contrastive="on", contrastive_folds=2).fit(texts, labels)
    c = clf.training_["contrastive"]
    if len(given) < 3:  # the overrun left too little for the rest: said, not used
        assert not c["used"] and "budget" in c["why"] and c.get("use") in (None, "frozen"), c
    else:
        # the two folds train on 15 rows each: planned up front they would get equal shares
        assert given[1] < 0.8 * given[0], given
    share = contrastive_mod.CONTRASTIVE_SHARE
    assert clf.training_["seconds"] < share * budget * 60 + 0.6 * given[0] + 5, (clf.training_["seconds"], given)
    # the phase's plan held back what the tuned encoder will need to embed the labelled rows again
    assert 0 < c["reembed_seconds"] and c["planned_seconds"] <= share * (budget * 60 - c["reembed_seconds"])


def test_the_final_fine_tuning_continues_the_last_folds_encoder(tiny_lm, monkeypatch):
    """Warm start: the fine-tuning on all labels starts from the encoder the last nested fold tuned (so it is
    never shorter than a judged one), which the training record says; ``contrastive_warm_start=False`` starts
    it over from the checkpoint."""
    import shoestring.learners.contrastive.labels as labels_mod

    real = labels_mod.fit_contrastive
    calls = []

    def spy(lm, texts, y, config, callbacks=None):
        tuned = real(lm, texts, y, config, callbacks=callbacks)
        calls.append((lm, tuned, len(texts)))
        return tuned

    monkeypatch.setattr(labels_mod, "fit_contrastive", spy)
    docs = planted_docs(32, seed=7, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    kw = dict(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0], contrastive="on",
              contrastive_epochs=2, contrastive_lr=1e-3, random_state=0)
    warm = FewLabelClassifier(**kw).fit(texts, labels)
    (lm1, _, n1), (lm2, fold2, n2), (lm3, final, n3) = calls
    assert lm1 is tiny_lm and lm2 is tiny_lm and lm3 is fold2 and (n1 + n2, n3) == (32, 32)
    assert warm.views_[0].model is final
    record = warm.training_["contrastive"]["training"]
    assert record["warm_start"] == {"from": "nested fold 2", "labelled": n2, "steps": fold2.training_["steps"],
                                    "seconds": fold2.training_["seconds"]} and record["steps"] > 0
    calls.clear()
    cold = FewLabelClassifier(contrastive_warm_start=False, **kw).fit(texts, labels)
    assert calls[2][0] is tiny_lm and "warm_start" not in cold.training_["contrastive"]["training"]
    # same folds, same fold fine-tunings: only the final encoder differs
    assert cold.training_["contrastive"]["cv"] == warm.training_["contrastive"]["cv"]
    assert not np.allclose(cold.transform(texts), warm.transform(texts))


def test_macro_f1_is_judged_on_the_classes_each_nested_fine_tuning_saw_a_pair_of(tiny_lm, monkeypatch):
    """A class with three examples has one in some fold's training part (no same-class pair for the contrastive
    loss there): the keep-or-drop rule's macro-F1 leaves it out, as it does a class with a single example (never
    held out). The final fine-tuning's share of the budget is finite and within the budget even when the last
    labelled row is that single example."""
    import shoestring.learners.contrastive.labels as labels_mod

    real, given = labels_mod.fit_contrastive, []

    def spy(lm, texts, y, config, callbacks=None):
        given.append(config.minutes)
        return real(lm, texts, y, ContrastiveConfig(max_epochs=1, seed=0), callbacks=callbacks)

    monkeypatch.setattr(labels_mod, "fit_contrastive", spy)
    docs = planted_docs(40, seed=7, noise=0.3)  # five classes of eight
    texts = [d["text"] for d in docs] + ["violin orbit butter", "orbit butter violin", "butter violin orbit",
                                         "ledger penalty chord"]
    labels = [d["label"] for d in docs] + ["rare"] * 3 + ["single"]
    clf = FewLabelClassifier(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[1.0], contrastive="on",
                             minutes=5, random_state=0).fit(texts, labels)
    t = clf.training_["contrastive"]
    assert t["macro_f1_classes"] == [5, 7] and "the 5 classes with a pair" in t["why"]
    assert t["used"] and len(given) == 3 and all(0 < m <= 5 for m in given), given
    assert 0 <= t["gain_accuracy_se"] < 1 and 0 <= t["gain_macro_f1_se"] < 1


def test_the_nested_cross_validation_scores_the_frozen_stack_too(tiny_lm):
    """The frozen stack is scored on the nested folds beside the other candidates, with each view's C from the
    frozen views' cross-validation; no tuned stack (a view tuned on the labels has no out-of-fold probabilities)."""
    from shoestring.tasks.classify.candidates import key_of

    docs = planted_docs(48, seed=7, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    clf = FewLabelClassifier(encoder=tiny_lm, semi_supervised="off", c_grid=[1.0, 10.0], contrastive="on",
                             contrastive_epochs=2, contrastive_lr=1e-3, random_state=0).fit(texts, labels)
    cv = clf.training_["contrastive"]["cv"]
    frozen = clf._view_Cs(["tfidf", "encoder"])
    assert {k for k in cv if "stacked" in k} == {f"frozen: {key_of('tfidf+encoder stacked', frozen)}"}
    # tuned: encoder and tfidf+encoder, frozen: those and tfidf, each at 2 Cs; and the frozen stack
    assert all(v["folds"] == 2 for v in cv.values()) and len(cv) == 2 * 2 + 3 * 2 + 1


def test_bench_runs_auto_from_the_checkpoint_it_is_given(tiny_lm, tmp_path, monkeypatch):
    """bench fewshot --checkpoint: `auto` starts its encoder view from that folder (e.g. MiniLM adapted to the
    domain by continued masked-LM) instead of the offline MiniLM, and its record names it; --contrastive is the
    recipe's."""
    import shoestring.bench.baselines as baselines
    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import run_fewshot
    from shoestring.errors import ConfigError

    data = tmp_path / "toy"
    data.mkdir()
    rng = np.random.default_rng(0)
    common = [f"common{i}" for i in range(120)]  # the domain word vectors need 101 words seen 3 times or more
    for split, n, seed in (("train", 60, 1), ("test", 30, 2)):
        write_jsonl(data / f"{split}.jsonl.gz", ({**d, "text": d["text"] + " " + " ".join(rng.choice(common, 12))}
                                                 for d in planted_docs(n, seed=seed)))
    tiny_lm.save_pretrained(tmp_path / "ckpt")

    def no_minilm():
        raise AssertionError("auto was given --checkpoint: it must not load MiniLM")

    monkeypatch.setattr(baselines, "_minilm_path", no_minilm)
    recs = run_fewshot(FewshotConfig(data=str(data), labels=[12], seeds=[0], methods=["auto"],
                                     checkpoint=str(tmp_path / "ckpt"), contrastive="off", recipe_minutes=0.5,
                                     vampire_minutes=0.05, vampire_epochs=2, threads=1, workdir=str(tmp_path / "w")))
    assert [r["method"] for r in recs] == ["auto"] and recs[0]["checkpoint"] == str(tmp_path / "ckpt")
    run = recs[0]["runs"][0]
    assert run["accuracy"] > 0.5  # planted topics: five classes
    # --contrastive reaches the recipe (an ablation of its keep-or-drop judgement) and the record says so
    assert run["contrastive_mode"] == "off" and not run["contrastive"] and run["contrastive_gain_cv"] is None
    with pytest.raises(ConfigError, match="--checkpoint is used by the auto method only"):
        FewshotConfig(data=str(data), methods=["tfidf_lr"], checkpoint=str(tmp_path / "ckpt")).validate()
    with pytest.raises(ConfigError, match="--contrastive on is used by the auto and auto_own methods only"):
        FewshotConfig(data=str(data), methods=["tfidf_lr"], contrastive="on").validate()
    with pytest.raises(ConfigError, match="not a checkpoint folder"):
        FewshotConfig(data=str(data), methods=["auto"], checkpoint=str(tmp_path / "w")).validate()


def test_bf16_embeddings_match_float32_and_a_bf16_recipe_reloads_predicting_identically(tiny_lm, tmp_path):
    docs = planted_docs(32, seed=11, noise=0.3)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    a, b = tiny_lm.transform(texts), tiny_lm.transform(texts, precision="bf16")
    assert not np.array_equal(a, b)  # bfloat16 products really ran ...
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.999  # ... and give the same vectors to within bf16's 8-bit mantissa
    kw = dict(encoder=tiny_lm, tfidf=False, semi_supervised="off", c_grid=[10.0], contrastive="on",
              contrastive_epochs=2, contrastive_lr=1e-3, random_state=0)
    clf = FewLabelClassifier(precision="bf16", **kw).fit(texts, labels)
    assert clf.training_["precision"] == "bf16" and clf.views_[0].precision == "bf16"
    assert FewLabelClassifier(precision="fp32", **kw).fit(texts, labels).training_["precision"] == "fp32"
    clf.save_pretrained(tmp_path / "r")
    loaded = shoestring.load(tmp_path / "r")
    assert loaded.config.precision == "bf16" and loaded.views_[0].precision == "bf16"
    probe = [d["text"] for d in planted_docs(12, seed=12)]
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    # a folder saved before --precision existed (no such key) embedded in float32, and keeps doing so
    from shoestring.estimator import CONFIG_FILE

    folder = tmp_path / "r"
    meta = json.loads((folder / CONFIG_FILE).read_text())
    del meta["config"]["precision"]
    (folder / CONFIG_FILE).write_text(json.dumps(meta))
    resign(folder, CONFIG_FILE)
    old = shoestring.load(folder)
    assert old.config.precision == "fp32" and old.views_[0].precision == "fp32"
