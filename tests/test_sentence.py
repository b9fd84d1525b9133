"""Sentence embeddings: SimCSE (learners/contrastive), STS evaluation (evaluation/sts), the sentence-transformers
export, and the text units SimCSE trains on (data/sentences)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import shoestring
from conftest import GROUPS, write_jsonl
from shoestring.data.sentences import split_sentences, split_texts, split_windows
from shoestring.errors import ConfigError, InputError
from shoestring.evaluation.sts import alignment, read_sts, sts_scores, uniformity
from shoestring.learners.contrastive.encoder import SentenceEncoder

WORDS = [w for g in GROUPS.values() for w in g]
SYN = {**{WORDS[2 * k]: WORDS[2 * k + 1] for k in range(len(WORDS) // 2)},
       **{WORDS[2 * k + 1]: WORDS[2 * k] for k in range(len(WORDS) // 2)}}


def paraphrases(n: int, seed: int) -> list[tuple[str, str]]:
    """(sentence, paraphrase): every word replaced by its planted synonym, order shuffled."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = list(rng.choice(WORDS, 6, replace=False))
        b = [SYN[w] for w in a]
        rng.shuffle(b)
        out.append((" ".join(a), " ".join(b)))
    return out


def top1(encoder, pairs) -> float:
    A = encoder.transform([a for a, _ in pairs])
    B = encoder.transform([b for _, b in pairs])
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    return float(np.mean((A @ B.T).argmax(1) == np.arange(len(pairs))))


def test_text_units():
    # a fragment under three words joins the next sentence
    assert split_sentences("The cat sat. It was warm! Was it? Yes.") == ["The cat sat.", "It was warm!",
                                                                         "Was it? Yes."]
    assert split_sentences("今天很好。明天下雨。") == ["今天很好。", "明天下雨。"]
    assert split_windows(" ".join(map(str, range(70))), 32) == [" ".join(map(str, range(32))),
                                                                " ".join(map(str, range(32, 64)))]
    assert split_texts(["a b c", "  ", "d e f g. h i j k."], "sentences") == ["a b c", "d e f g.", "h i j k."]
    with pytest.raises(ValueError):
        split_texts(["x"], "paragraphs")


def test_sts_scores_against_direct_formulas(tmp_path):
    rng = np.random.default_rng(0)
    s1 = [f"s{i}" for i in range(30)]
    s2 = [f"t{i}" for i in range(30)]
    gold = rng.uniform(0, 5, 30)
    vec = {}
    for i in range(30):  # cosine of pair i falls as gold rises... then flipped: a perfect rank order
        angle = (5 - gold[i]) / 5 * np.pi / 2
        vec[s1[i]], vec[s2[i]] = np.array([1.0, 0.0, 0.0]), np.array([np.cos(angle), np.sin(angle), 0.0])
    out = sts_scores(lambda texts: np.stack([vec[t] for t in texts]), s1, s2, gold)
    assert out["spearman"] == pytest.approx(100.0)
    A, B = np.stack([vec[t] for t in s1]), np.stack([vec[t] for t in s2])
    pos = gold >= 4.0 * (gold.max() - gold.min()) / 5 + gold.min()
    assert out["alignment"] == pytest.approx(np.mean(np.sum((A[pos] - B[pos]) ** 2, 1)))
    X = np.vstack([A, B])
    d2 = [np.sum((X[i] - X[j]) ** 2) for i in range(len(X)) for j in range(i + 1, len(X))]
    assert uniformity(X) == pytest.approx(np.log(np.mean(np.exp(-2 * np.asarray(d2)))))
    assert alignment(A, A) == 0.0
    write_jsonl(tmp_path / "sts.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1},
                                         {"sentence1": "c", "sentence2": "d"}])
    with pytest.raises(InputError, match=r"sts.jsonl:2.*missing 'score'"):
        read_sts(tmp_path / "sts.jsonl")
    for n, bad in enumerate(({"sentence1": "c", "sentence2": "d", "score": "high"},
                             {"sentence1": "c", "sentence2": "d", "score": "nan"},
                             {"sentence1": " ", "sentence2": "d", "score": 2})):
        write_jsonl(tmp_path / f"bad{n}.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1}, bad])
        with pytest.raises(InputError, match=rf"bad{n}.jsonl:2.*(numeric score|finite|empty)"):
            read_sts(tmp_path / f"bad{n}.jsonl")


def test_unsupervised_views_are_equal_without_dropout_and_differ_with_it(tiny_lm):
    import copy

    from shoestring.learners.contrastive.config import SimCSEConfig
    from shoestring.learners.contrastive.learner import pool_rows
    from shoestring.learners.contrastive.simcse import SimCSELearner

    texts = ["guitar violin melody", "stock bond yield dividend equity", "rocket"]
    rows = tiny_lm._encode_texts(texts, 16)
    for p in (0.0, 0.3):
        model = copy.deepcopy(tiny_lm.model_).train()
        learner = SimCSELearner(model, rows, SimCSEConfig(dropout=p), tiny_lm.special_.pad)
        batch, groups = learner.batch(np.arange(3))
        assert groups.tolist() == [0, 1, 2, 0, 1, 2]  # each text and its second view
        z, tokens = pool_rows(model, batch, tiny_lm.special_.pad, "mean", chunk=2)
        assert tokens == 2 * sum(map(len, rows))
        gap = float((z[:3] - z[3:]).abs().max().detach())
        assert (gap < 1e-6) if p == 0.0 else (gap > 1e-3), (p, gap)
    # chunked encoding (rows sorted by length, padded per chunk) gives each row the vector it has alone
    model = copy.deepcopy(tiny_lm.model_).eval()
    with torch.no_grad():
        together, _ = pool_rows(model, rows, tiny_lm.special_.pad, "mean", chunk=2)
        for i, r in enumerate(rows):
            alone, _ = pool_rows(model, [r], tiny_lm.special_.pad, "mean")
            torch.testing.assert_close(together[i], alone[0], rtol=1e-5, atol=1e-6)


def test_supervised_simcse_learns_planted_paraphrases(tiny_lm, tmp_path):
    enc = SentenceEncoder(init_from=tiny_lm, batch_size=32, lr=2e-3, max_epochs=6, seq_len=64, progress=False,
                          threads=1, seed=0, eval_every=None)
    held_out = paraphrases(40, seed=1)
    before = top1(tiny_lm, held_out)
    enc.fit(pairs=paraphrases(400, seed=0))
    after = top1(enc, held_out)
    assert after > 0.8 and after > before + 0.4, (before, after)
    enc.save_pretrained(tmp_path / "enc")
    loaded = shoestring.load(tmp_path / "enc")
    assert isinstance(loaded, SentenceEncoder) and loaded.training_["mode"] == "supervised"
    probe = [a for a, _ in held_out[:5]]
    np.testing.assert_array_equal(loaded.transform(probe), enc.transform(probe))


def test_sentence_transformers_loads_the_export_with_equal_embeddings(tiny_lm, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    for pooling in ("mean", "cls"):
        enc = SentenceEncoder(init_from=tiny_lm, pooling=pooling, batch_size=16, max_epochs=1, seq_len=64,
                              progress=False, threads=1, eval_every=None)
        enc.fit([" ".join(a) for a in paraphrases(32, seed=3)])
        enc.save_pretrained(tmp_path / pooling)
        texts = ["guitar violin melody chord", "stock bond", "rocket orbit moon telescope astronaut"]
        ours = enc.transform(texts)
        ours /= np.linalg.norm(ours, axis=1, keepdims=True)
        theirs = st.SentenceTransformer(str(tmp_path / pooling), device="cpu").encode(texts)
        np.testing.assert_allclose(theirs, ours, atol=1e-5, err_msg=pooling)
        # and back in shoestring, pooled as saved
        np.testing.assert_array_equal(shoestring.load(tmp_path / pooling).transform(texts), enc.transform(texts))


def test_simcse_bad_input(tiny_lm):
    with pytest.raises(ConfigError, match="init_from"):
        SentenceEncoder().fit(["a b", "c d"])
    with pytest.raises(InputError, match="not both or neither"):
        SentenceEncoder(init_from=tiny_lm).fit()
    with pytest.raises(InputError, match="widths"):
        SentenceEncoder(init_from=tiny_lm).fit(pairs=[("a", "b"), ("a", "b", "c")])
    with pytest.raises(InputError, match="at least two"):
        SentenceEncoder(init_from=tiny_lm).fit(["only one"])


def test_whitening_gives_zero_mean_and_identity_covariance_on_its_sample():
    from shoestring.learners.contrastive.whitening import fit_whitening, whiten

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6)) @ rng.normal(size=(6, 6)) + 5.0  # correlated, far from the origin
    mu, W = fit_whitening(X)
    Z = whiten(X, mu, W)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(6), atol=1e-4)
    # k dimensions: the k directions of largest variance, each of unit variance
    _, W2 = fit_whitening(X, dims=2)
    assert W2.shape == (6, 2)
    top = np.linalg.eigh(np.cov(X, rowvar=False))[1][:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(top.T @ (W2 / np.linalg.norm(W2, axis=0))), np.eye(2), atol=1e-4)
    with pytest.raises(ValueError, match="two vectors"):
        fit_whitening(X[:1])


def test_a_whitened_encoder_saves_reloads_and_exports_the_same_vectors(tiny_lm, tmp_path):
    texts = [" ".join(a) for a in paraphrases(200, seed=4)]
    enc = SentenceEncoder(init_from=tiny_lm, batch_size=16, max_epochs=1, seq_len=64, progress=False, threads=1,
                          eval_every=None, whiten=True, whiten_dims=16, whiten_texts=150).fit(texts)
    assert enc.dim == 16 and enc.training_["whitening_texts"] == 150
    Z = enc.transform(texts)
    assert Z.shape == (200, 16)
    assert np.abs(Z.mean(0)).max() < 0.3 and np.abs(np.cov(Z, rowvar=False) - np.eye(16)).max() < 0.3
    enc.save_pretrained(tmp_path / "w")
    probe = ["guitar violin melody chord", "stock bond", "rocket orbit moon telescope astronaut"]
    loaded = shoestring.load(tmp_path / "w")
    np.testing.assert_array_equal(loaded.transform(probe), enc.transform(probe))
    assert loaded.dim == 16 and "whitened to 16 dimensions" in (tmp_path / "w" / "README.md").read_text()
    with pytest.raises(ConfigError, match="estimated on mean-pooled"):
        loaded.transform(probe, pooling="cls")
    st = pytest.importorskip("sentence_transformers")
    ours = enc.transform(probe)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    theirs = st.SentenceTransformer(str(tmp_path / "w"), device="cpu").encode(probe)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    # fine-tuning on labels moves the encoder: the whitening estimated before it no longer applies
    from shoestring.learners.contrastive.config import ContrastiveConfig
    from shoestring.learners.contrastive.labels import fit_contrastive

    tuned = fit_contrastive(loaded, texts[:20], [i % 2 for i in range(20)],
                            ContrastiveConfig(max_epochs=1, batch_size=4, progress=False, threads=1))
    assert tuned.whitening_ is None and tuned.dim == tiny_lm.dim and loaded.whitening_ is not None
    with pytest.raises(ConfigError, match="more than the encoder's"):
        SentenceEncoder(init_from=tiny_lm, whiten=True, whiten_dims=10_000).fit(texts)


def test_cli_pretrain_simcse_and_evaluate_sts(tiny_lm, tmp_path, capsys):
    from shoestring.cli import main

    tiny_lm.save_pretrained(tmp_path / "lm")
    write_jsonl(tmp_path / "pairs.jsonl", [{"anchor": a, "positive": b} for a, b in paraphrases(64, seed=0)])
    write_jsonl(tmp_path / "sts.jsonl", [{"sentence1": a, "sentence2": b if i % 2 else paraphrases(1, i)[0][1],
                                          "score": 5.0 if i % 2 else 0.5}
                                         for i, (a, b) in enumerate(paraphrases(20, seed=5))])
    assert main(["pretrain", "simcse", str(tmp_path / "pairs.jsonl"), "--pairs", "--init-from", str(tmp_path / "lm"),
                 "-o", str(tmp_path / "enc"), "--batch-size", "16", "--max-epochs", "2", "--seq-len", "64",
                 "--dev-sts", str(tmp_path / "sts.jsonl"), "--eval-every", "4", "--no-progress", "--whiten",
                 "--whiten-texts", "100"]) == 0
    out = capsys.readouterr().out
    assert "supervised SimCSE" in out and "best dev Spearman" in out
    assert (tmp_path / "enc" / "whitening.safetensors").exists()
    assert shoestring.load(tmp_path / "enc").training_["whitening_texts"] == 100
    assert main(["evaluate", "sts", str(tmp_path / "sts.jsonl"), str(tmp_path / "enc"), "tfidf",
                 "--json", str(tmp_path / "sts.json")]) == 0
    out = capsys.readouterr().out
    assert "spearman" in out and "tfidf" in out and (tmp_path / "sts.json").exists()
    write_jsonl(tmp_path / "bad.jsonl", [{"anchor": "a b", "positive": "c d"}, {"anchor": "e f"}])
    assert main(["pretrain", "simcse", str(tmp_path / "bad.jsonl"), "--pairs", "--init-from", str(tmp_path / "lm"),
                 "-o", str(tmp_path / "x")]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err and not (tmp_path / "x").exists()
    write_jsonl(tmp_path / "empty.jsonl", [{"anchor": "a b", "positive": "c d"}, {"anchor": "e f", "positive": ""}])
    assert main(["pretrain", "simcse", str(tmp_path / "empty.jsonl"), "--pairs", "--init-from",
                 str(tmp_path / "lm"), "-o", str(tmp_path / "x")]) == 2
    assert "empty.jsonl:2" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_index_exact_search_equals_brute_force_and_refuses_another_model(tiny_lm, tmp_path):
    import copy

    from shoestring.tasks.search.index import Index

    texts = [a for a, _ in paraphrases(60, seed=11)]
    index = Index.build(tiny_lm, texts[:40], fields=[{"n": i} for i in range(40)])
    index.add(texts[40:], ids=[f"x{i}" for i in range(20)])
    queries = [b for _, b in paraphrases(5, seed=12)]
    E = tiny_lm.transform(texts)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    for q, hits in zip(queries, index.search(queries, k=7)):
        v = tiny_lm.transform([q])[0]
        brute = np.argsort(-(E @ (v / np.linalg.norm(v))), kind="stable")[:7]
        assert [h.id for h in hits] == [str(i) if i < 40 else f"x{i - 40}" for i in brute]
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert index.search("guitar", k=100)[0][-1].id and len(index.search("guitar", k=100)[0]) == 60
    with pytest.raises(InputError, match="already in the index"):
        index.add(["new"], ids=["x3"])
    tiny_lm.save_pretrained(tmp_path / "lm")
    saved = Index.build(tmp_path / "lm", texts).save_pretrained(tmp_path / "index")
    reopened = shoestring.load(saved)
    plain = Index.build(tiny_lm, texts)
    assert [h.id for h in reopened.search(queries[0], k=3)[0]] == [h.id for h in plain.search(queries[0], k=3)[0]]
    other = copy.deepcopy(tiny_lm)
    with torch.no_grad():
        other.model_.bert.embeddings.word_embeddings.weight.mul_(1.5)
    with pytest.raises(ConfigError, match="not the model that built this index"):
        Index.from_pretrained(tmp_path / "index", model=other)
    # a folder cut short in copying: named, never half-loaded
    import shutil

    from shoestring.errors import ArtifactError

    for name, cut in (("vectors.safetensors", 100), ("rows.jsonl.gz", None)):
        broken = tmp_path / f"broken-{name}"
        shutil.copytree(tmp_path / "index", broken)
        if cut is None:
            (broken / name).unlink()
        else:
            (broken / name).write_bytes((broken / name).read_bytes()[:cut])
        with pytest.raises(ArtifactError, match="truncated" if cut else "missing rows"):
            Index.from_pretrained(broken)


def test_faiss_backend_recalls_exact_search(tiny_lm):
    pytest.importorskip("faiss")
    from shoestring.tasks.search.index import Index

    texts = [a for a, _ in paraphrases(400, seed=13)]
    exact = Index.build(tiny_lm, texts, backend="exact")
    approx = Index(exact.model, None, exact.vectors, exact.rows, exact.probes, backend="faiss")
    queries = [b for _, b in paraphrases(30, seed=14)]
    recall = np.mean([len({h.id for h in a} & {h.id for h in b}) / 10
                      for a, b in zip(exact.search(queries, 10), approx.search(queries, 10))])
    assert recall > 0.9


def test_cli_index_add_and_search(tiny_lm, tmp_path, capsys):
    import json

    from shoestring.cli import main

    tiny_lm.save_pretrained(tmp_path / "lm")
    pairs = paraphrases(30, seed=15)
    write_jsonl(tmp_path / "a.jsonl", [{"text": a, "doc": f"d{i}"} for i, (a, _) in enumerate(pairs[:20])])
    write_jsonl(tmp_path / "b.jsonl", [{"text": a, "doc": f"d{i + 20}"} for i, (a, _) in enumerate(pairs[20:])])
    assert main(["index", str(tmp_path / "a.jsonl"), str(tmp_path / "lm"), "-o", str(tmp_path / "ix"),
                 "--id-field", "doc"]) == 0
    assert "20 texts added" in capsys.readouterr().out
    assert main(["index", str(tmp_path / "b.jsonl"), "--add-to", str(tmp_path / "ix"), "--id-field", "doc"]) == 0
    assert "(30 in all" in capsys.readouterr().out
    assert main(["search", str(tmp_path / "ix"), pairs[25][0], "-k", "3", "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits[0]["id"] == "d25" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5) and len(hits) == 3
    # adding ids that exist changes nothing
    before = (tmp_path / "ix" / "manifest.json").read_text()
    assert main(["index", str(tmp_path / "b.jsonl"), "--add-to", str(tmp_path / "ix"), "--id-field", "doc"]) == 2
    assert "already in the index" in capsys.readouterr().err
    assert (tmp_path / "ix" / "manifest.json").read_text() == before


def test_embed_takes_sentence_encoders_and_plain_checkpoint_folders(tiny_lm, tmp_path, capsys):
    import shutil

    from shoestring.cli import main
    from shoestring.tasks.classify.estimator import TextClassifier
    from conftest import planted_docs

    enc = SentenceEncoder(init_from=tiny_lm, batch_size=16, max_epochs=1, seq_len=64, progress=False,
                          threads=1, eval_every=None).fit([a for a, _ in paraphrases(32, seed=3)])
    enc.save_pretrained(tmp_path / "enc")
    tiny_lm.save_pretrained(tmp_path / "lm")
    shutil.copytree(tmp_path / "lm", tmp_path / "hf")
    (tmp_path / "hf" / "manifest.json").unlink()  # a bare Hugging Face folder, as transformers writes them
    texts = [a for a, _ in paraphrases(5, seed=4)]
    write_jsonl(tmp_path / "t.jsonl", [{"text": t} for t in texts])
    # a bare checkpoint folder has no training sequence length: texts are cut at 128 tokens
    for name, expected in (("enc", enc.transform(texts)), ("hf", tiny_lm.transform(texts, max_len=128))):
        assert main(["embed", str(tmp_path / name), str(tmp_path / "t.jsonl"), "-o", str(tmp_path / f"{name}.npy")]) == 0
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected, rtol=1e-5, atol=1e-6)
    docs = planted_docs(20)
    TextClassifier(max_epochs=1, progress=False, threads=1).fit(
        [d["text"] for d in docs], [d["label"] for d in docs]).save_pretrained(tmp_path / "clf")
    capsys.readouterr()
    assert main(["embed", str(tmp_path / "clf"), str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "clf") in err and "VAMPIRE" in err and not (tmp_path / "x.npy").exists()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="not tested on Windows")
def test_simcse_trains_data_parallel_with_processes(tiny_lm, tmp_path):
    """`pretrain simcse --processes 2`: the one loop's data parallelism (each process encodes half of the global
    batch; in-batch negatives are each process's own half), the same number of steps as one process, and a
    folder that loads and embeds."""
    import json
    import os
    import subprocess

    tiny_lm.save_pretrained(tmp_path / "lm")
    write_jsonl(tmp_path / "s.jsonl", [{"text": a} for a, _ in paraphrases(64, seed=3)])
    common = ["pretrain", "simcse", str(tmp_path / "s.jsonl"), "--init-from", str(tmp_path / "lm"),
              "--batch-size", "16", "--max-epochs", "2", "--seq-len", "32", "--threads", "1", "--no-progress"]
    r = subprocess.run([sys.executable, "-m", "shoestring", *common, "-o", str(tmp_path / "ddp"), "--processes", "2"],
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    from shoestring.cli import main

    assert main([*common, "-o", str(tmp_path / "single")]) == 0
    ddp = json.loads((tmp_path / "ddp" / "training_log.json").read_text())["training"]
    one = json.loads((tmp_path / "single" / "training_log.json").read_text())["training"]
    assert ddp["steps"] == one["steps"] > 0 and ddp["epochs"] == one["epochs"] == 2
    X = shoestring.load(tmp_path / "ddp").transform(["orbit rocket planet", "recipe butter garlic"])
    assert X.shape[0] == 2 and np.isfinite(X).all()
