"""Every saved kind, with every option that changes its shapes: saved, loaded again, predicting identically."""

import json

import numpy as np
import pytest

import shoestring

from conftest import planted_docs, small_vampire

PROBE = [d["text"] for d in planted_docs(15, seed=9)] + ["", "words nobody has seen"]


@pytest.fixture(scope="module")
def labelled():
    docs = planted_docs(60, seed=4)
    return [d["text"] for d in docs], [d["label"] for d in docs]


@pytest.fixture(scope="module")
def vectors():
    from shoestring.learners.vectors.ppmi import WordVectors

    # 20-d vectors: another width than the classifier's default 50-d embeddings (the shape that broke loading)
    return WordVectors(dim=20, min_count=1).fit([d["text"] for d in planted_docs(300)])


def _same(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


CLASSIFIER_OPTIONS = [
    dict(encoder="boe"),
    dict(encoder="cnn", hidden_dim=8),
    dict(encoder="lstm", hidden_dim=8, pooling="max"),
    dict(encoder="gru", hidden_dim=8, pooling="final"),
    dict(encoder="boe", embedding_dim=13, feature_norm=True),
    dict(encoder="boe", word_vectors=True),
    dict(encoder="cnn", hidden_dim=8, word_vectors=True, freeze_embeddings=False),
    dict(encoder="boe", vampire=True),
    dict(encoder="boe", vampire=True, word_vectors=True, freeze_vampire=False),
    dict(encoder="lstm", hidden_dim=8, vampire=True, feature_norm=True),
]


@pytest.mark.parametrize("options", CLASSIFIER_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_classifier_round_trip(options, labelled, vectors, planted_vampire, tmp_path):
    from shoestring.tasks.classify.estimator import TextClassifier

    o = dict(options)
    vae = planted_vampire if o.pop("vampire", False) else None
    wv = vectors if o.pop("word_vectors", False) else None
    clf = TextClassifier(vampire=vae, word_vectors=wv, max_epochs=2, progress=False, threads=1, seed=0, **o)
    clf.fit(*labelled)
    clf.save_pretrained(tmp_path / "clf")
    loaded = TextClassifier.from_pretrained(tmp_path / "clf")
    _same(clf.predict_proba(PROBE), loaded.predict_proba(PROBE))
    assert loaded.predict(PROBE) == clf.predict(PROBE)
    assert loaded.model_.embedding.weight.requires_grad == clf.model_.embedding.weight.requires_grad
    assert np.isfinite(loaded.predict_proba([""])).all()  # an empty text gets a real distribution, not NaN


@pytest.mark.parametrize("latent_dim", [10, 6])
def test_vampire_round_trip(latent_dim, planted_corpus, tmp_path):
    from shoestring.learners.vampire.estimator import VAMPIRE

    vae = small_vampire(latent_dim=latent_dim, hidden_dims=None, max_epochs=2).fit(planted_corpus)
    vae.save_pretrained(tmp_path / "v")
    loaded = VAMPIRE.from_pretrained(tmp_path / "v")
    _same(vae.transform(PROBE), loaded.transform(PROBE))
    _same(vae.theta(PROBE), loaded.theta(PROBE))
    assert loaded.theta(PROBE).shape == (len(PROBE), latent_dim)


def test_word_vectors_round_trip(vectors, tmp_path):
    from shoestring.learners.vectors.ppmi import WordVectors

    vectors.save_pretrained(tmp_path / "wv")
    loaded = WordVectors.from_pretrained(tmp_path / "wv")
    _same(vectors.transform(PROBE), loaded.transform(PROBE))
    assert loaded.most_similar("orbit", 3) == vectors.most_similar("orbit", 3)


@pytest.fixture(scope="module")
def token_corpus(tmp_path_factory):
    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import prepare_tokens

    d = tmp_path_factory.mktemp("tok")
    with open(d / "c.jsonl", "w") as f:
        for r in planted_docs(120):
            f.write(json.dumps(r) + "\n")
    return prepare_tokens(d / "c.jsonl", d / "tok", TokensConfig(vocab_size=120, min_frequency=1), progress=False)


@pytest.mark.parametrize("objective", [{"objective": "mlm"}, {"objective": "electra"},
                                       {"objective": "continuous", "targets_dim": 4, "continuous_loss": "vmf"},
                                       {"objective": "mlm_simcse", "simcse_weight": 0.5, "dropout": 0.1}])
def test_masked_lm_round_trip(objective, token_corpus, tmp_path):
    pytest.importorskip("transformers")
    from shoestring.learners.mlm.estimator import MaskedLM

    lm = MaskedLM(preset=None, layers=1, hidden=32, heads=2, ffn=48, seq_len=32, batch_size=8, max_epochs=1,
                  **objective, progress=False, threads=1).fit(token_corpus)
    lm.save_pretrained(tmp_path / "lm")
    loaded = shoestring.load(tmp_path / "lm")
    assert type(loaded) is MaskedLM
    _same(lm.transform(PROBE), loaded.transform(PROBE))
    assert loaded.config == lm.config


def test_bert_classifier_round_trip(token_corpus, labelled, tmp_path):
    pytest.importorskip("transformers")
    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.tasks.classify.finetune import BertClassifier

    lm = MaskedLM(preset=None, layers=1, hidden=32, heads=2, ffn=48, seq_len=32, batch_size=8, max_epochs=1,
                  progress=False, threads=1).fit(token_corpus)
    clf = BertClassifier(mlm=lm, max_epochs=1, max_length=24, progress=False, threads=1).fit(*labelled)
    clf.save_pretrained(tmp_path / "bc")
    loaded = shoestring.load(tmp_path / "bc")
    assert type(loaded) is BertClassifier
    _same(clf.predict_proba(PROBE), loaded.predict_proba(PROBE))
    # its encoder reads as a masked LM too (features of the fine-tuned encoder)
    assert MaskedLM.from_pretrained(tmp_path / "bc").transform(PROBE).shape == (len(PROBE), 32)
