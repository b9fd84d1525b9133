"""The bidirectional LSTM language model (ELMo, ELMo-C's continuous output): it learns a planted sequence in both
directions with the continuous output and with the full softmax, counts its trainable parameters by part, saves
and reloads as an embedder that ``embed`` uses, stops on its time budget, is reproducible, and says what is wrong
with bad input."""

import json

import numpy as np
import pytest
import torch

import shoestring
from conftest import write_jsonl
from shoestring.errors import ConfigError, InputError
from shoestring.learners.lm.config import CONTINUOUS_LOSSES, LMConfig
from shoestring.learners.lm.data import BOUNDARY, UNK, prepare
from shoestring.learners.lm.estimator import LanguageModel
from shoestring.learners.lm.targets import TargetEmbeddings

CYCLE = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
CORPUS = [" ".join(CYCLE * 40)]  # one document: 480 words, then </s>
# a model small enough to learn the cycle in well under a second on one busy core
TINY = dict(embedding_dim=16, hidden_size=32, projection_size=16, layers=1, dropout=0.0, seq_len=16, batch_size=8,
            lr=1e-2, max_epochs=20, patience=0, eval_every=None, threads=1, progress=False, seed=0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # transform runs outside the loop's --threads
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def continuous_lm():
    return LanguageModel(**TINY, output_layer="continuous", loss="cosine", targets="domain", targets_dim=8).fit(CORPUS)


@pytest.fixture(scope="module")
def softmax_lm():
    return LanguageModel(**TINY, output_layer="full").fit(CORPUS)


def assert_learns_the_cycle(lm):
    """Within one window's length (the LSTMs are trained on windows of 16 tokens), the top word of each forward
    prediction is the next word of the cycle and that of each backward prediction the previous one."""
    forward = lm.predict_words(" ".join(CYCLE), k=3)  # 12 words, then </s>
    backward = lm.predict_words(" ".join(CYCLE), direction="backward", k=3)
    assert [t for t, _ in forward] == CYCLE + [BOUNDARY]
    assert [best[0] for _, best in forward[:12]] == CYCLE[1:] + CYCLE[:1]
    assert [best[0] for _, best in backward[:12]] == CYCLE[-1:] + CYCLE[:-1]


# ---------------------------------------------------------------------------------------------- learning
def test_continuous_output_lm_predicts_the_next_and_the_previous_word_of_a_cycle(continuous_lm):
    assert_learns_the_cycle(continuous_lm)
    v = continuous_lm.training_["validation"]
    assert v["valid_top1"] == 1.0 and v["valid_mean_rank"] == 1.0  # the true word is the nearest neighbour
    assert "valid_perplexity" not in v  # a continuous output has none
    assert continuous_lm.targets_["sources"] == {"table": 12, "special": 2}  # PPMI vectors; <unk>, </s> random
    assert continuous_lm.training_["tokens_per_second"] > 0


def test_full_softmax_lm_learns_the_same_cycle(softmax_lm):
    assert_learns_the_cycle(softmax_lm)
    v = softmax_lm.training_["validation"]
    assert v["valid_perplexity"] < 1.2 and v["valid_top1"] == 1.0  # a deterministic sequence: perplexity -> 1
    assert softmax_lm.targets_ is None


@pytest.mark.parametrize("layer", ["full", "adaptive", "sampled", "continuous"])
def test_every_output_layer_trains_a_step_evaluates_and_counts_its_parameters(layer):
    from shoestring.learners.lm.learner import LMLearner
    from shoestring.learners.lm.model import build_model

    words = [f"w{i:02d}" for i in range(40)]
    texts = [" ".join(words[: 5 + i % 35]) + "." for i in range(60)]  # Zipf-like counts: adaptive needs an order
    extra = dict(loss="vmf", targets_dim=6) if layer == "continuous" else {}
    c = LMConfig(**{**TINY, "seq_len": 8}, output_layer=layer, samples=10, **extra).validate()
    data = prepare(texts, max_vocab=100, min_count=1, seq_len=8, valid_fraction=0.1, seed=0)
    V, h, d = len(data.vocab), c.output_size, 6
    table = torch.nn.functional.normalize(torch.randn(V, d), dim=1) if layer == "continuous" else None
    model = build_model(c, data.vocab, table)
    learner = LMLearner(model, data, c)
    loss, metrics = learner.loss(model, learner.batch(np.arange(4)), None)
    loss.backward()
    assert torch.isfinite(loss) and metrics["tokens"] == 4 * 8
    model.eval()
    with torch.no_grad():
        scores = learner.evaluate(None)
    assert {"valid_loss", "valid_mean_rank", "valid_top10"} <= set(scores)
    assert ("valid_perplexity" in scores) == (layer != "continuous")

    counts = model.parameter_counts()
    lstm = 4 * 32 * (16 + 16) + 2 * 4 * 32 + 32 * 16  # W_x, W_h (reads the 16-d projection), two biases, W_p
    assert counts["encoder"] == 2 * lstm  # separate forward and backward LSTMs, the same for every layer
    assert counts["input"] == V * 16
    expected = {"full": V * (h + 1), "sampled": V * (h + 1), "continuous": d * (h + 1),  # ELMo-C: the projection
                "adaptive": model.output.trainable_parameters()}[layer]
    assert counts["output"] == expected
    assert counts["total"] == counts["input"] + counts["encoder"] + counts["output"]
    if layer == "adaptive":
        assert model.output.cutoffs and expected < V * (h + 1)


def test_data_sorts_the_vocabulary_by_count_and_aligns_both_directions():
    data = prepare(["b a a. c a b! d", "", "a"], max_vocab=4, min_count=1, seq_len=3, valid_fraction=0.2, seed=0)
    assert data.documents(boundaries=True) == [["b", "a", "a", BOUNDARY, UNK, "a", "b", BOUNDARY, UNK, BOUNDARY],
                                               ["a", BOUNDARY]]  # c, d: left out by max_vocab
    assert data.vocab.tokens == [BOUNDARY, "a", UNK, "b"]  # counts 4, 4, 2 (c + d), 2; ties in code-point order
    assert list(data.vocab.counts) == [4, 4, 2, 2]
    assert data.stats["unk_rate"] == pytest.approx(2 / 8) and data.stats["distinct_words"] == 4
    w = data.windows(np.arange(3))  # 12 tokens -> 3 windows of 3 + 1 overlapping by one
    np.testing.assert_array_equal(w[1:, 0], w[:-1, -1])
    # each token is a target once per direction: forward w[k, 1:], backward w[k, :-1]
    np.testing.assert_array_equal(w[:, 1:].ravel(), data.stream[1:10])
    np.testing.assert_array_equal(w[:, :-1].ravel(), data.stream[0:9])
    assert sorted([*data.train, *data.valid]) == [0, 1, 2] and len(data.valid) == 1
    assert CONTINUOUS_LOSSES == __import__("shoestring.learners.lm.outputs", fromlist=["LOSSES"]).LOSSES


# ---------------------------------------------------------------------------------------------- saving, embedding
def test_saved_folder_loads_as_an_embedder_with_the_same_vectors_and_embed_uses_it(continuous_lm, tmp_path, capsys):
    from shoestring.cli import main
    from shoestring.estimator import Embedder

    probe = ["alpha bravo charlie. delta echo", "kilo lima alpha", "an unseen word", ""]
    X = continuous_lm.transform(probe)
    assert X.shape == (4, continuous_lm.dim) == (4, 16 + 2 * 16)  # [x; forward top; backward top]
    assert np.all(X[3] == 0) and np.abs(X[:3]).sum(1).min() > 0
    continuous_lm.save_pretrained(tmp_path / "lm")
    lm = shoestring.load(tmp_path / "lm")
    assert type(lm) is LanguageModel and isinstance(lm, Embedder)
    np.testing.assert_array_equal(lm.transform(probe), X)
    np.testing.assert_allclose(np.linalg.norm(lm.transform(probe[:3], normalize=True), axis=1), 1, rtol=1e-6)
    torch.testing.assert_close(lm.model_.output.embeddings, continuous_lm.model_.output.embeddings, rtol=0, atol=0)
    card = (tmp_path / "lm" / "README.md").read_text()
    assert "continuous output (ELMo-C" in card and "trainable parameters: output | 136" in card  # 8 x (16 + 1)
    assert json.loads((tmp_path / "lm" / "targets.json").read_text())["dim"] == 8

    from shoestring.tasks.classify.views import EmbeddingView  # the few-label recipe's view of any embedder

    view = EmbeddingView.open(tmp_path / "lm", "lm")
    np.testing.assert_allclose(view.transform(probe[:3]), lm.transform(probe[:3], normalize=True), rtol=1e-6)

    write_jsonl(tmp_path / "texts.jsonl", [{"text": t} for t in probe])
    assert main(["embed", str(tmp_path / "lm"), str(tmp_path / "texts.jsonl"), "-o", str(tmp_path / "X.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "X.npy"), X, rtol=1e-6, atol=1e-7)
    assert "4 x 48" in capsys.readouterr().out


@pytest.mark.parametrize("kw", [dict(output_layer="full"), dict(output_layer="adaptive"),
                                dict(output_layer="sampled", samples=6),
                                dict(output_layer="continuous", targets_dim=8, subword_buckets=32),
                                dict(output_layer="continuous", targets_dim=8, representation="top"),
                                dict(output_layer="continuous", targets_dim=8, representation="mix")])
def test_every_shape_changing_option_saves_reloads_and_gives_the_same_vectors_and_words(kw, tmp_path):
    lm = LanguageModel(**{**TINY, "max_epochs": 2}, **kw).fit(CORPUS)
    lm.save_pretrained(tmp_path / "lm")
    back = shoestring.load(tmp_path / "lm")
    probe = ["alpha bravo charlie. delta echo", "kilo lima zulu"]
    assert back.dim == lm.dim
    np.testing.assert_array_equal(back.transform(probe), lm.transform(probe))
    assert back.predict_words(probe[0]) == lm.predict_words(probe[0])
    assert back.predict_words(probe[1], direction="backward") == lm.predict_words(probe[1], direction="backward")


def test_pretrain_lm_command_trains_saves_and_refuses_a_bad_combination(tmp_path, capsys):
    from shoestring.cli import main

    write_jsonl(tmp_path / "corpus.jsonl", [{"text": " ".join(CYCLE * 10)} for _ in range(4)])
    opts = ["--embedding-dim", "16", "--hidden-size", "32", "--projection-size", "16", "--layers", "1",
            "--seq-len", "16", "--batch-size", "8", "--max-epochs", "2", "--threads", "1", "--no-progress"]
    assert main(["pretrain", "lm", str(tmp_path / "corpus.jsonl"), "-o", str(tmp_path / "lm"),
                 "--output-layer", "continuous", "--loss", "vmf", "--targets", "domain", "--targets-dim", "8",
                 "--minutes", "1", *opts]) == 0
    out = capsys.readouterr().out
    assert "continuous output layer, V = 14" in out and "tokens/s" in out and "domain word vectors" in out
    assert shoestring.load(tmp_path / "lm").config.continuous_loss == "vmf"
    assert not (tmp_path / "lm.checkpoint").exists()
    assert main(["pretrain", "lm", str(tmp_path / "corpus.jsonl"), "-o", str(tmp_path / "bad"),
                 "--output-layer", "full", "--loss", "vmf", *opts]) == 2
    assert "--loss set the continuous output's loss" in capsys.readouterr().err


def test_scikit_learn_clone_keeps_the_settings_and_the_given_target_embeddings():
    from sklearn.base import clone

    targets = TargetEmbeddings(CYCLE, np.eye(12))
    lm = LanguageModel(output_layer="continuous", loss="vmf", random_state=7, target_embeddings=targets)
    twin = clone(lm)
    assert twin.config == lm.config and twin.get_params()["random_state"] == 7
    assert twin.target_embeddings is not targets and twin.target_embeddings.tokens == CYCLE
    assert not hasattr(twin, "model_") and "loss='vmf'" in repr(twin)


# ---------------------------------------------------------------------------------------------- running
def test_time_budget_stops_training_with_a_usable_model():
    lm = LanguageModel(**{**TINY, "max_epochs": 100_000}, output_layer="full", minutes=0.002).fit(CORPUS)
    assert lm.training_["stop_reason"] == "time budget of 0.002 min reached"
    assert lm.training_["epochs"] < 100_000 and lm.transform(["alpha"]).shape == (1, lm.dim)


def test_the_same_seed_gives_the_same_model_and_another_seed_another():
    kw = {**TINY, "max_epochs": 2, "output_layer": "full"}
    a, b, c = (LanguageModel(**kw, random_state=s).fit(CORPUS) for s in (3, 3, 4))
    probe = ["alpha bravo charlie delta"]
    np.testing.assert_array_equal(a.transform(probe), b.transform(probe))
    assert a.history_[-1]["valid_loss"] == b.history_[-1]["valid_loss"]
    assert not np.allclose(a.transform(probe), c.transform(probe))


def test_sub_word_input_reads_a_word_outside_the_vocabulary_from_its_ngrams():
    kw = {**TINY, "max_epochs": 2, "output_layer": "full"}
    with_ngrams = LanguageModel(**kw, subword_buckets=64).fit(CORPUS)
    words_only = LanguageModel(**kw).fit(CORPUS)
    unseen = ["alphas", "zzzz"]  # both <unk>; only the first shares n-grams with a vocabulary word
    X = with_ngrams.transform(unseen)
    assert not np.allclose(X[0], X[1])
    Y = words_only.transform(unseen)
    np.testing.assert_array_equal(Y[0], Y[1])
    assert with_ngrams.model_.parameter_counts()["input"] == 14 * 16 + 64 * 16


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_settings_fail_at_start_up_with_the_fix():
    with pytest.raises(ConfigError, match="--loss set the continuous output's loss.*--output-layer is full"):
        LanguageModel(output_layer="full", loss="vmf")
    with pytest.raises(ConfigError, match="--targets glove gives 50-d vectors"):
        LanguageModel(targets="glove", targets_dim=300)
    with pytest.raises(ConfigError, match="must be smaller than --hidden-size"):
        LanguageModel(hidden_size=64, projection_size=64)
    with pytest.raises(ConfigError, match="--embedding-dim \\(16\\) must equal h \\(128\\)"):
        LanguageModel(representation="mix", embedding_dim=16)


def test_bad_input_says_what_is_wrong():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="are 5-dimensional, but the output layer expects 8-d targets"):
        LanguageModel(**TINY, targets_dim=8, target_embeddings=TargetEmbeddings(CYCLE, rng.normal(size=(12, 5)))
                      ).fit(CORPUS)
    with pytest.raises(InputError, match="none of the 14 words of the vocabulary"):
        LanguageModel(**TINY, target_embeddings=TargetEmbeddings(["zulu", "yankee"], rng.normal(size=(2, 5)))
                      ).fit(CORPUS)
    with pytest.raises(InputError, match="the 0 texts have no words"):
        LanguageModel(**TINY).fit([])
    with pytest.raises(InputError, match="have no words"):
        LanguageModel(**TINY).fit(["", "  !!! ??? "])
    with pytest.raises(InputError, match="too few for one training and one validation window"):
        LanguageModel(**TINY).fit(["alpha bravo alpha bravo"])
    with pytest.raises(InputError, match="cannot be fitted: only 12 words"):
        LanguageModel(**TINY, targets_dim=32).fit(CORPUS)  # PPMI-SVD of width 32 needs 33 words
    with pytest.raises(InputError, match="no such file"):
        LanguageModel(**TINY).fit("no/such/corpus.jsonl")


# ---------------------------------------------------------------------------------------------- slow
@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(output_layer="continuous", loss="vmf", targets_dim=8),
                                dict(output_layer="continuous", loss="max_margin", targets_dim=8),
                                dict(output_layer="adaptive"), dict(output_layer="sampled", samples=6)])
def test_the_other_losses_and_layers_learn_the_cycle_too(kw):
    lm = LanguageModel(**{**TINY, "max_epochs": 30}, **kw).fit(CORPUS)
    assert_learns_the_cycle(lm)
    if kw["output_layer"] == "adaptive":
        assert lm.model_.output.cutoffs == [10, 12]  # 12 words of 40 each, </s> 1, <unk> 0: coverage 80%, 95%


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_model(tmp_path):
    kw = {**TINY, "output_layer": "continuous", "targets_dim": 8, "dropout": 0.2}
    del kw["max_epochs"]
    whole = LanguageModel(**kw, max_epochs=4).fit(CORPUS)
    LanguageModel(**kw, max_epochs=2).fit(CORPUS, checkpoint_dir=tmp_path / "ckpt")
    resumed = LanguageModel(**kw, max_epochs=4).fit(CORPUS, checkpoint_dir=tmp_path / "ckpt", resume=True)
    probe = ["alpha bravo charlie"]
    np.testing.assert_allclose(resumed.transform(probe), whole.transform(probe), rtol=1e-5, atol=1e-6)
    assert resumed.training_["steps"] == whole.training_["steps"]


@pytest.mark.slow
def test_fasttext_targets_trained_on_the_corpus():
    pytest.importorskip("gensim")
    # FastText on 480 tokens gives the 12 words cosines of 0.97 on average: centered, -0.09
    lm = LanguageModel(**{**TINY, "max_epochs": 30}, targets="fasttext", targets_dim=16, center_targets=True)
    lm.fit(CORPUS)
    assert lm.targets_["name"].startswith("FastText 16-d") and lm.targets_["sources"]["table"] == 12
    assert_learns_the_cycle(lm)


def test_bench_fewshot_scores_any_embedder_folder_such_as_a_language_model(tmp_path):
    from shoestring.bench.config import FewshotConfig
    from shoestring.bench.fewshot import run_fewshot

    data = tmp_path / "toy"
    data.mkdir()
    halves = {"first": CYCLE[:6], "second": CYCLE[6:]}  # each class's texts use one half of the cycle's words
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 30)):
        labels = [["first", "second"][i % 2] for i in range(n)]
        write_jsonl(data / f"{split}.jsonl.gz", [{"text": " ".join(rng.choice(halves[label], 5)), "label": label}
                                                 for label in labels])
    LanguageModel(**{**TINY, "max_epochs": 2}, output_layer="full").fit(CORPUS).save_pretrained(tmp_path / "lm")
    recs = run_fewshot(FewshotConfig(data=str(data), labels=[10], seeds=[0, 1], methods=["embedder_lr"],
                                     embedder=str(tmp_path / "lm"), workdir=str(tmp_path / "w")))
    assert [r["method"] for r in recs] == ["embedder_lr"] and recs[0]["embedder"] == str(tmp_path / "lm")
    assert len(recs[0]["runs"]) == 2 and recs[0]["accuracy_mean"] > 0.9  # the words alone separate the classes
    with pytest.raises(ConfigError, match="--embedder"):
        FewshotConfig(data=str(data), methods=["embedder_lr"]).validate()
