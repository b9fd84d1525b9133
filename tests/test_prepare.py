import json
import time

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import planted_docs, write_jsonl
from shoestring.artifacts import read_manifest
from shoestring.data.bow import BowCorpus
from shoestring.data.config import PrepareConfig
from shoestring.data.prepare import prepare
from shoestring.errors import ArtifactError, InputError


def test_counts_vocabulary_and_manifest(tmp_path):
    rows = [{"text": "apple banana apple", "label": "f"}, {"text": "banana cherry", "label": "f"},
            {"text": "cherry apple durian", "label": "g"}, {"text": "   "}, {"text": "apple banana"}]
    src = write_jsonl(tmp_path / "c.jsonl", rows)
    c = prepare(src, tmp_path / "out", PrepareConfig(min_df=2, max_df=1.0, stopwords="none", reference_fraction=0),
                progress=False)
    # durian occurs in 1 document: below min_df; order by corpus frequency
    assert c.vocab.tokens == ["apple", "banana", "cherry"]
    X = c.train.toarray()
    assert X.tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert c.labels["train"] == ["f", "f", "g", None]
    m = c.manifest
    assert m["counts"]["skipped_empty"] == 1 and m["counts"]["first_skipped"].endswith(":4")
    assert m["counts"]["train_documents"] == 4 and m["inputs"][0]["sha256"]
    # background log-frequencies sum to one in probability
    assert np.exp(c.background).sum() == pytest.approx(1.0, abs=1e-5)
    read_manifest(tmp_path / "out", "bow-corpus")  # every file's hash checks


def test_max_df_max_vocab_and_stopwords(tmp_path):
    rows = [{"text": f"the common word{'xyz'[i % 3]} rare{chr(97 + i % 26)}{chr(97 + i // 26)}"} for i in range(30)]
    src = write_jsonl(tmp_path / "c.jsonl", rows)
    c = prepare(src, tmp_path / "a", PrepareConfig(min_df=1, max_df=0.9, stopwords="none", reference_fraction=0,
                                                   max_vocab=3), progress=False)
    assert "common" not in c.vocab and "the" not in c.vocab  # in every document: above max_df
    assert len(c.vocab) == 3
    c2 = prepare(src, tmp_path / "b", PrepareConfig(min_df=1, max_df=1.0, stopwords="en", reference_fraction=0),
                 progress=False)
    assert "the" not in c2.vocab and "common" in c2.vocab
    c3 = prepare(src, tmp_path / "c", PrepareConfig(min_df=1, max_df=1.0, reference_fraction=0), progress=False)
    assert c3.manifest["stopwords_used"] in ("en", "none")


def test_reference_split_held_out_and_given(tmp_path, planted_file):
    c = prepare(planted_file, tmp_path / "a", PrepareConfig(reference_fraction=0.2, seed=3), progress=False)
    assert c.train.shape[0] == 480 and c.reference.shape[0] == 120
    ref = write_jsonl(tmp_path / "ref.jsonl", planted_docs(50, seed=9))
    c2 = prepare(planted_file, tmp_path / "b", reference=ref, progress=False)
    assert c2.train.shape[0] == 600 and c2.reference.shape[0] == 50
    assert c2.reference.shape[1] == len(c2.vocab)


def test_parallel_shards_give_identical_artifacts(tmp_path, planted_file, monkeypatch):
    a = prepare(planted_file, tmp_path / "a", PrepareConfig(workers=1, shard_docs=1000), progress=False)
    monkeypatch.setattr(time, "time", lambda: 2e9)  # a later run (gzip.open would stamp this time)
    b = prepare(planted_file, tmp_path / "b", PrepareConfig(workers=2, shard_docs=37), progress=False)
    assert a.vocab.tokens == b.vocab.tokens
    assert (a.train != b.train).nnz == 0 and (a.reference != b.reference).nnz == 0
    # byte for byte, the gzip header included (no timestamp), so the manifests' hashes repeat too
    files = lambda name: read_manifest(tmp_path / name)["files"]  # noqa: E731
    assert {k: v["sha256"] for k, v in files("a").items()} == {k: v["sha256"] for k, v in files("b").items()}


def test_empty_corpus_and_empty_vocabulary(tmp_path):
    src = write_jsonl(tmp_path / "e.jsonl", [{"text": " "}, {"text": ""}])
    with pytest.raises(InputError, match=r"no documents \(2 empty"):
        prepare(src, tmp_path / "o", progress=False)
    src = write_jsonl(tmp_path / "v.jsonl", [{"text": "alpha"}, {"text": "beta"}])
    with pytest.raises(InputError, match="vocabulary is empty") as e:
        prepare(src, tmp_path / "o", PrepareConfig(min_df=2), progress=False)
    assert "--min-df" in str(e.value)
    assert not (tmp_path / "o").exists()


def test_refuses_to_overwrite_and_leaves_no_temporary_folder(tmp_path, planted_file):
    prepare(planted_file, tmp_path / "o", progress=False)
    with pytest.raises(ArtifactError, match="--overwrite"):
        prepare(planted_file, tmp_path / "o", progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError):
        prepare(bad, tmp_path / "o", overwrite=True, progress=False)
    assert BowCorpus.load(tmp_path / "o").train.shape[0] > 0  # the earlier output is intact
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_tampered_and_truncated_folders_are_detected(tmp_path, planted_file):
    out = tmp_path / "o"
    prepare(planted_file, out, progress=False)
    vocab = json.loads((out / "vocab.json").read_text())
    vocab["tokens"][0] = "tampered"
    (out / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ArtifactError, match="vocab.json"):
        BowCorpus.load(out)
    prepare(planted_file, out, overwrite=True, progress=False)
    data = (out / "train.npz").read_bytes()
    (out / "train.npz").write_bytes(data[:100])
    with pytest.raises(ArtifactError, match="truncated"):
        BowCorpus.load(out)
    (out / "train.npz").unlink()
    with pytest.raises(ArtifactError, match="missing train.npz"):
        BowCorpus.load(out)


def test_sparse_all_the_way(planted_corpus):
    assert sp.issparse(planted_corpus.train) and planted_corpus.train.dtype == np.int32
