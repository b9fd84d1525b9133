"""Shared fixtures: a planted-topic corpus (k disjoint word groups) and small models trained on it once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

GROUPS = {
    "space": "orbit rocket planet comet galaxy nebula asteroid telescope astronaut satellite lunar cosmic".split(),
    "cooking": "recipe butter garlic onion simmer oven pastry flour sauce skillet basil pepper".split(),
    "football": "goalkeeper striker penalty referee midfield stadium league tackle dribble offside corner header".split(),
    "finance": "dividend equity bond portfolio investor hedge stock broker yield inflation auditor ledger".split(),
    "music": "guitar violin melody chord rhythm tempo orchestra piano drummer lyrics concert chorus".split(),
}


def planted_docs(n: int, seed: int = 0, words_per_doc=(15, 30), noise: float = 0.0):
    """Documents that each draw words from one planted group; label = the group's name."""
    rng = np.random.default_rng(seed)
    names = list(GROUPS)
    filler = "the and with from that this into over".split()
    docs = []
    for i in range(n):
        g = names[i % len(names)]
        k = rng.integers(*words_per_doc)
        words = list(rng.choice(GROUPS[g], size=k))
        if noise:
            other = GROUPS[names[rng.integers(len(names))]]
            words += list(rng.choice(other, size=int(noise * k)))
        words += list(rng.choice(filler, size=3))
        rng.shuffle(words)
        docs.append({"text": " ".join(words), "label": g})
    return docs


def write_jsonl(path: Path, rows) -> Path:
    """One JSON object per line; gzip-compressed when the name ends in .gz (a dataset split, say)."""
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def resign(folder: Path, name: str) -> None:
    """Record a file of a saved folder, edited by a test, in the folder's manifest (its new size and sha256), as
    if it had been saved that way: for tests of what loading makes of the edit itself, past the manifest check."""
    from shoestring.artifacts import MANIFEST, _sha256

    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"][name] = {"bytes": (folder / name).stat().st_size, "sha256": _sha256(folder / name)}
    (folder / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture(scope="session")
def planted_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("planted") / "planted.jsonl", planted_docs(600))


@pytest.fixture(scope="session")
def planted_corpus(planted_file, tmp_path_factory):
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare

    out = tmp_path_factory.mktemp("prepared") / "corpus"
    return prepare(planted_file, out, PrepareConfig(min_df=2, max_df=0.9, stopwords="en"), progress=False)


def small_vampire(**kw):
    from shoestring.learners.vampire.estimator import VAMPIRE

    params = dict(latent_dim=10, hidden_dims=[10, 10], batch_size=50, max_epochs=40, patience=0, lr=5e-3,
                  kl_warmup=10, seed=0, progress=False, threads=1)
    params.update(kw)
    return VAMPIRE(**params)


@pytest.fixture(scope="session")
def planted_vampire(planted_corpus):
    return small_vampire().fit(planted_corpus)


@pytest.fixture(scope="session")
def saved_vampire(planted_vampire, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "vampire"
    planted_vampire.save_pretrained(out)
    return out


def _tiny_lm(tmp_path_factory, layers: int):
    from conftest import write_jsonl
    from shoestring.data.config import TokensConfig
    from shoestring.data.tokens import prepare_tokens
    from shoestring.learners.mlm.estimator import MaskedLM

    tmp = tmp_path_factory.mktemp("tiny_lm")
    write_jsonl(tmp / "c.jsonl", planted_docs(120))
    corpus = prepare_tokens(tmp / "c.jsonl", tmp / "tok", TokensConfig(vocab_size=120, min_frequency=1),
                            progress=False)
    return MaskedLM(preset=None, layers=layers, hidden=32, heads=2, ffn=48, seq_len=32, batch_size=8, max_epochs=1,
                    progress=False, threads=1, seed=0).fit(corpus)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """A one-layer compact BERT barely pre-trained on planted text: its embeddings do not yet separate topics."""
    return _tiny_lm(tmp_path_factory, 1)


@pytest.fixture(scope="session")
def tiny_lm2(tmp_path_factory):
    """The same with two layers (for fine-tuning the top layer alone)."""
    return _tiny_lm(tmp_path_factory, 2)
