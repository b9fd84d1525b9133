import json

import numpy as np
import pytest

from conftest import GROUPS, small_vampire
from shoestring.errors import ArtifactError, ConfigError, TrainingError
from shoestring.learners.vampire.estimator import VAMPIRE


def test_planted_topics_are_recovered(planted_vampire):
    """Five disjoint word groups come out as topics whose top words are those groups."""
    topics = planted_vampire.topics(top_n=5)
    for name, words in GROUPS.items():
        best = max(len(set(t) & set(words)) for t in topics)
        assert best == 5, f"no topic made of the {name!r} group: {topics}"
    # and every one of the 5 groups has its own topic
    owners = {max(GROUPS, key=lambda g: len(set(t) & set(GROUPS[g]))) for t in topics
              if max(len(set(t) & set(w)) for w in GROUPS.values()) == 5}
    assert owners == set(GROUPS)


def test_npmi_improves_during_training_and_is_selected(planted_vampire):
    h = planted_vampire.history_
    assert h[-1]["npmi"] > h[0]["npmi"]
    assert planted_vampire.npmi_ == max(r["npmi"] for r in h)


def test_theta_separates_the_groups(planted_vampire, planted_corpus):
    theta = planted_vampire.theta(planted_corpus.train)
    labels = np.array(planted_corpus.labels["train"])
    dom = theta.argmax(1)
    # K = 10 > 5 groups, so a group may spread over two topics, but each topic's documents are one group's
    pure = sum(max(np.sum(labels[dom == k] == g) for g in GROUPS) for k in set(dom.tolist()))
    assert pure / len(dom) > 0.95


def test_same_seed_same_result_other_seed_differs(planted_corpus):
    a = small_vampire(max_epochs=3).fit(planted_corpus)
    b = small_vampire(max_epochs=3).fit(planted_corpus)
    c = small_vampire(max_epochs=3, seed=1).fit(planted_corpus)
    X = planted_corpus.train[:20]
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.transform(X), c.transform(X))


def test_save_load_round_trip_identical_embeddings(planted_vampire, saved_vampire):
    texts = ["rocket orbit planet and the comet", "garlic butter sauce in the oven", "unknown words only"]
    loaded = VAMPIRE.from_pretrained(saved_vampire)
    assert np.array_equal(planted_vampire.transform(texts), loaded.transform(texts))
    assert loaded.topics() == planted_vampire.topics()
    assert loaded.config == planted_vampire.config
    card = (saved_vampire / "README.md").read_text()
    assert "NPMI" in card and "torch" in card
    for f in ("shoestring_config.json", "model.safetensors", "vocab.json", "tokenizer.json", "manifest.json"):
        assert (saved_vampire / f).exists()


def test_transform_shape_and_representation(planted_vampire):
    X = planted_vampire.transform(["orbit rocket"] * 3)
    assert X.shape == (3, 10) and X.dtype == np.float32
    theta = planted_vampire.theta(["orbit rocket"])
    assert theta.sum() == pytest.approx(1.0, abs=1e-5)


def test_tampered_weights_are_refused(saved_vampire, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved_vampire, bad)
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="model.safetensors does not match its sha256"):
        VAMPIRE.from_pretrained(bad)


def test_refuses_to_overwrite(planted_vampire, saved_vampire):
    with pytest.raises(ArtifactError, match="--overwrite"):
        planted_vampire.save_pretrained(saved_vampire)


def test_time_budget_stops_cleanly_with_best_model(planted_corpus):
    v = small_vampire(max_epochs=1000, minutes=0.02).fit(planted_corpus)
    assert "time budget" in v.training_["stop_reason"]
    assert v.training_["seconds"] < 15
    assert v.npmi_ == max(r["npmi"] for r in v.history_)


def test_resume_continues_from_checkpoint(planted_corpus, tmp_path):
    ckpt = tmp_path / "ckpt"
    full = small_vampire(max_epochs=6).fit(planted_corpus, checkpoint_dir=tmp_path / "other")
    small_vampire(max_epochs=3).fit(planted_corpus, checkpoint_dir=ckpt)
    assert json.loads((ckpt / "loop_state.json").read_text())["epoch"] == 3
    resumed = small_vampire(max_epochs=6).fit(planted_corpus, checkpoint_dir=ckpt, resume=True)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4, 5, 6]
    # resuming reproduces the uninterrupted run (same seed, restored RNG and optimizer state)
    assert [round(r["train_loss"], 4) for r in resumed.history_] == [round(r["train_loss"], 4) for r in full.history_]
    with pytest.raises(TrainingError, match="no checkpoint"):
        small_vampire().fit(planted_corpus, checkpoint_dir=tmp_path / "none", resume=True)


def test_nan_loss_is_reported_with_advice(planted_corpus):
    with pytest.raises(TrainingError, match="became nan") as e:
        small_vampire(lr=1e12, max_epochs=5).fit(planted_corpus)
    assert "--lr" in str(e.value)


def test_config_errors():
    with pytest.raises(ConfigError, match="--hidden-dims"):
        VAMPIRE(latent_dim=20, hidden_dims=[64, 64])
    with pytest.raises(ConfigError, match="--kl-annealing"):
        VAMPIRE(kl_annealing="cosine")
    with pytest.raises(ConfigError, match=r"z_dropout \(--z-dropout\) must be <= 0.99"):
        VAMPIRE(z_dropout=1.5)


def test_fit_on_texts_directly():
    from conftest import planted_docs

    docs = planted_docs(200)
    v = small_vampire(max_epochs=2).fit([d["text"] for d in docs])
    assert v.transform(["orbit"]).shape == (1, 10)


def test_corpus_smaller_than_batch(tmp_path):
    from conftest import planted_docs

    v = small_vampire(max_epochs=2, batch_size=512).fit([d["text"] for d in planted_docs(30)])
    assert v.history_


def test_single_document_is_a_clear_error(tmp_path):
    from conftest import write_jsonl
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare
    from shoestring.errors import InputError

    src = write_jsonl(tmp_path / "one.jsonl", [{"text": "orbit rocket planet orbit"}])
    corpus = prepare(src, tmp_path / "c", PrepareConfig(min_df=1, max_df=1.0), progress=False)
    with pytest.raises(InputError, match="at least 2 training documents"):
        small_vampire(max_epochs=1).fit(corpus)


def test_domain_word_vectors_group_planted_words(planted_file, tmp_path):
    from conftest import GROUPS, planted_docs
    from shoestring.learners.vectors.ppmi import WordVectors

    texts = [d["text"] for d in planted_docs(600)]
    wv = WordVectors(dim=8, window=3, min_count=2).fit(texts)
    for g, words in GROUPS.items():
        near = [w for w, _ in wv.most_similar(words[0], 5)]
        assert set(near) <= set(words), (g, near)
    wv.save_pretrained(tmp_path / "wv")
    loaded = WordVectors.from_pretrained(tmp_path / "wv")
    assert np.array_equal(loaded.transform(texts[:5]), wv.transform(texts[:5]))
