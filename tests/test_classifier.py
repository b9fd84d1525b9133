import numpy as np
import pytest

from conftest import GROUPS, planted_docs, resign
from shoestring.errors import ArtifactError, InputError
from shoestring.tasks.classify.estimator import TextClassifier


def few_labels(n_per_class=2, seed=5):
    """A handful of labelled documents that use only 4 words of each 12-word group."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for g, words in GROUPS.items():
        for _ in range(n_per_class):
            texts.append(" ".join(rng.choice(words[:4], size=6)))
            labels.append(g)
    return texts, labels


def test_vampire_beats_no_pretraining_on_planted_task(planted_vampire):
    """Labelled examples use 4 words per group; test documents only the other 8. Only VAMPIRE, pre-trained on
    unlabelled documents that mix all 12, knows those 8 words belong with the first 4."""
    texts, labels = few_labels()
    rng = np.random.default_rng(11)
    ty = [g for g in GROUPS for _ in range(40)]
    tt = [" ".join(rng.choice(GROUPS[g][4:], size=8)) for g in ty]
    kw = dict(seed=0, max_epochs=60, patience=0, dev_fraction=0.0, progress=False, lr=1e-2, threads=1)
    with_v = TextClassifier(vampire=planted_vampire, **kw).fit(texts, labels).evaluate(tt, ty)["accuracy"]
    without = TextClassifier(**kw).fit(texts, labels).evaluate(tt, ty)["accuracy"]
    print(with_v, without)
    assert without < 0.4  # chance is 0.2: the test words are all unknown to the plain classifier
    assert with_v > without + 0.3, (with_v, without)


@pytest.mark.parametrize("encoder", ["boe", "cnn", "lstm", "gru"])
def test_every_encoder_learns(encoder):
    docs = planted_docs(100)
    texts, labels = [d["text"] for d in docs], [d["label"] for d in docs]
    clf = TextClassifier(encoder=encoder, seed=0, max_epochs=15, progress=False, lr=5e-3, threads=1)
    clf.fit(texts, labels)
    test = planted_docs(50, seed=3)
    assert clf.evaluate([d["text"] for d in test], [d["label"] for d in test])["accuracy"] > 0.9
    p = clf.predict_proba(["orbit rocket planet"])
    assert p.shape == (1, 5) and p.sum() == pytest.approx(1.0, abs=1e-5)
    assert clf.predict(["orbit rocket planet comet"]) == ["space"]


def test_save_load_round_trip_with_fine_tuned_vampire(planted_vampire, tmp_path):
    texts, labels = few_labels(4)
    clf = TextClassifier(vampire=planted_vampire, freeze_vampire=False, seed=0, max_epochs=5, progress=False,
                         threads=1).fit(texts, labels)
    # fine-tuning really changed VAMPIRE's encoder (a registered submodule), on a copy: the pre-trained model
    # the caller passed in is untouched
    tuned, orig = clf.model_.vampire.vae.W1.detach(), planted_vampire.model_.W1.detach()
    assert clf.model_.vampire.vae is not planted_vampire.model_ and not np.allclose(tuned.numpy(), orig.numpy())
    clf.save_pretrained(tmp_path / "clf")
    loaded = TextClassifier.from_pretrained(tmp_path / "clf")
    probe = [d["text"] for d in planted_docs(20, seed=2)]
    assert np.array_equal(clf.predict_proba(probe), loaded.predict_proba(probe))
    assert loaded.classes_ == clf.classes_


def test_frozen_vampire_is_not_changed(planted_corpus, tmp_path):
    from conftest import small_vampire

    v = small_vampire(max_epochs=2).fit(planted_corpus)
    before = {k: t.clone() for k, t in v.model_.state_dict().items()}
    texts, labels = few_labels(4)
    TextClassifier(vampire=v, seed=0, max_epochs=3, progress=False, threads=1).fit(texts, labels)
    after = v.model_.state_dict()
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)


def test_label_errors():
    texts, labels = few_labels()
    with pytest.raises(InputError, match="have no label"):
        TextClassifier(progress=False).fit(texts, labels[:-1] + [None])
    with pytest.raises(InputError, match="labels"):
        TextClassifier(progress=False).fit(texts, labels[:-1])
    clf = TextClassifier(progress=False, max_epochs=1).fit(texts, labels)
    with pytest.raises(InputError, match="'weather' .*never seen in training"):
        clf.evaluate(["rain"], ["weather"])
    m = clf.evaluate(["rain", "orbit"], ["weather", "space"], unseen="count")
    assert m["n"] == 2 and "weather" in m["per_class"]


def test_mismatched_vocabulary_is_refused(planted_vampire, tmp_path):
    texts, labels = few_labels()
    clf = TextClassifier(vampire=planted_vampire, progress=False, max_epochs=1).fit(texts, labels)
    clf.save_pretrained(tmp_path / "clf")
    import json

    # a VAMPIRE vocabulary from another model (here: one word changed) must not be silently used
    vpath = tmp_path / "clf" / "vampire_vocab.json"
    vocab = json.loads(vpath.read_text())
    vocab["tokens"][0] = "zzz"
    vpath.write_text(json.dumps(vocab))
    # the manifest catches the edit first ...
    with pytest.raises(ArtifactError, match=r"vampire_vocab\.json (has \d+ bytes|does not match its sha256)"):
        TextClassifier.from_pretrained(tmp_path / "clf")
    # ... and with the manifest rewritten to match (a copied-in vocabulary), the fingerprint guard still does
    resign(tmp_path / "clf", "vampire_vocab.json")
    with pytest.raises(ArtifactError, match="is not the VAMPIRE vocabulary this classifier was trained with"):
        TextClassifier.from_pretrained(tmp_path / "clf")


def test_metrics_report():
    from shoestring.evaluation.metrics import classification_metrics, format_report

    m = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert m["accuracy"] == 0.75
    assert m["per_class"]["a"]["recall"] == 0.5 and m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["confusion"]["matrix"] == [[1, 1], [0, 2]]
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert "macro-F1" in format_report(m)
