"""``shoestring tokenize``: raw text in, flat token-id memory maps out, for masked-LM pre-training.

The nanoGPT recipe (``data/*/prepare.py`` -> ``train.bin``) with document boundaries kept, so a loader can
pack whole documents or cut windows inside them. Folder layout::

    tokens/
      manifest.json          kind "token-corpus": inputs and their sha256, settings, counts, file hashes
      tokens.json            dtype, vocab_size, special ids, tokenizer kind and source, counts
      train.bin, valid.bin   every document's token ids end to end, no special tokens (uint16 when the
                             vocabulary has at most 65,536 entries, else uint32)
      train_docs.npy         int64 offsets, length n_docs + 1: document i is tokens[off[i]:off[i + 1]]
      valid_docs.npy
      tokenizer.json         the Rust `tokenizers` pipeline; with tokenizer_config.json and
                             special_tokens_map.json the folder loads in `transformers.AutoTokenizer`

The tokenizer is either given (``--tokenizer``: a ``tokenizer.json``, or a Hugging Face folder such as a
BERT checkpoint's) or trained on the corpus: WordPiece as in BERT, or byte-level BPE as in RoBERTa. Trained
tokenizers put the special tokens first, at fixed ids: ``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4``; for
any other tokenizer :func:`special_ids` finds them (BERT's vocabulary has ``[CLS]=101``).

The corpus is read twice (three times when a WordPiece tokenizer is trained) and never held in memory: the
first pass counts the documents (and trains the tokenizer, which therefore also sees the held-out documents'
text, as BERT's vocabulary saw its whole corpus), the last encodes them in batches with ``encode_batch``
(multi-threaded Rust) and appends each batch to ``train.bin``/``valid.bin``. Memory is one batch plus 9
bytes per document.

Example::

    shoestring tokenize debian_train.jsonl.gz -o prepared/debian-tokens --vocab-size 8000

    >>> corpus = TokenCorpus("prepared/debian-tokens")
    >>> tokens, offsets = corpus.split("train")
    >>> corpus.tokenizer.decode(tokens[offsets[0]:offsets[1]].tolist())
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from shoestring.artifacts import atomic_folder, check_writable, environment, read_json, read_manifest, write_json
from shoestring.data.config import TOKENIZER_KINDS, TokensConfig
from shoestring.data.readers import ReadStats, read_documents, sha256_files
from shoestring.errors import ArtifactError, ConfigError, InputError

log = logging.getLogger(__name__)

KIND = "token-corpus"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4 in every trained tokenizer
_ALIASES = {"pad": ("[PAD]", "<pad>"), "unk": ("[UNK]", "<unk>"), "cls": ("[CLS]", "<s>"),
            "sep": ("[SEP]", "</s>"), "mask": ("[MASK]", "<mask>")}  # BERT's names, then RoBERTa's


@dataclasses.dataclass(frozen=True)
class SpecialIds:
    """Ids of the five special tokens masked-LM training needs."""

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def special_ids(tokenizer: Tokenizer) -> SpecialIds:
    """Find [PAD] [UNK] [CLS] [SEP] [MASK] (or RoBERTa's <pad> <unk> <s> </s> <mask>) in the vocabulary."""
    found, missing = {}, []
    for role, names in _ALIASES.items():
        ids = [i for i in map(tokenizer.token_to_id, names) if i is not None]
        if ids:
            found[role] = ids[0]
        else:
            missing.append(" or ".join(names))
    if missing:
        raise InputError(f"the tokenizer has no {', no '.join(missing)} token, which masked-LM training needs",
                         hint="use a BERT- or RoBERTa-style tokenizer, or let `shoestring tokenize` train one "
                              "(omit --tokenizer)")
    return SpecialIds(**found)


# ---------------------------------------------------------------------------------------------- tokenizers
def train_tokenizer(texts: Iterable[str], kind: str = "wordpiece", vocab_size: int = 8000, lowercase: bool = True,
                    min_frequency: int = 2) -> Tokenizer:
    """Train a subword tokenizer on ``texts``: the same texts give the same tokenizer, run after run.

    ``texts`` is any iterable of strings, streamed. WordPiece reads it twice (below), so pass something that
    can be iterated again (a list, or an object whose ``__iter__`` re-reads a file); a one-shot iterator is
    first listed in memory.

    ``"wordpiece"`` is BERT's: words split at whitespace and punctuation, Chinese/Japanese ideographs one per
    word, pieces inside a word prefixed ``##``. A word with a character never seen in training becomes
    ``[UNK]``. ``"bpe"`` is RoBERTa's byte-level BPE: it works on UTF-8 bytes, so nothing is ever unknown,
    and ``Ġ`` marks a token that starts a word; prefer it for mixed scripts, code, or noisy text.

    Both normalize to NFC and keep accents (stripping them, as English BERT does, breaks the vowel signs of
    Devanagari and friends); ``lowercase`` lower-cases. The special tokens come first, at ids 0..4
    (:data:`SPECIAL_TOKENS`), and ``encode(text)`` wraps a text as ``[CLS] text [SEP]``. The vocabulary is
    at most ``vocab_size`` (fewer when the corpus has too few distinct pieces).

    Reproducibility: the Rust WordPiece trainer numbers the ``##`` pieces of single characters in hash-map
    order, different in every run, and breaks ties between equally frequent merges by those numbers, so the
    same corpus could give a different vocabulary each time (huggingface/tokenizers#1794; on chemprot at
    8,000 entries, 18 tokens differed and 1,587 ids moved). A first pass therefore collects those ``##``
    characters and the real training registers them up front, in sorted order, so every id and every tie
    is fixed. The first pass costs about as much as the training (on imdb's 25,000 reviews: 27 s for one
    plain training, 52 s for both, 2 busy cores). Byte-level BPE has no such pieces and needs no first pass.

        >>> tok = train_tokenizer(["the cat sat", "the cat ran"] * 10, vocab_size=100)
        >>> tok.encode("the cat").tokens
        ['[CLS]', 'the', 'cat', '[SEP]']
    """
    if kind not in TOKENIZER_KINDS:
        raise ConfigError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(TOKENIZER_KINDS)}")
    if kind == "wordpiece":
        if isinstance(texts, Iterator):  # a one-shot iterator cannot be read twice
            texts = list(texts)
        pieces = _continuation_characters(texts, lowercase)
        tok = _wordpiece_pipeline(lowercase)
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=list(SPECIAL_TOKENS) + pieces,
                                            continuing_subword_prefix="##", show_progress=False)
    else:
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Sequence([normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else []))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_batches(texts, 1000), trainer)
    if kind == "wordpiece":  # the "##x" pieces were registered as special tokens only to fix their ids
        spec = json.loads(tok.to_str())
        spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in SPECIAL_TOKENS]
        tok = Tokenizer.from_str(json.dumps(spec))
    else:
        # as RoBERTa's <mask>: "the [MASK]" gives one mask token, not a stray "Ġ" before it
        tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    return tok


def _wordpiece_pipeline(lowercase: bool) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFC(),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                   lowercase=lowercase)])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def _continuation_characters(texts: Iterable[str], lowercase: bool) -> list[str]:
    """The ``##x`` pieces WordPiece training creates on ``texts`` (every character seen inside a word after
    its first), sorted: a training with no merges (``vocab_size=0``) creates them and nothing else."""
    tok = _wordpiece_pipeline(lowercase)
    tok.train_from_iterator(_batches(texts, 1000), trainers.WordPieceTrainer(
        vocab_size=0, special_tokens=list(SPECIAL_TOKENS), continuing_subword_prefix="##", show_progress=False))
    return sorted(t for t in tok.get_vocab() if t.startswith("##"))


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer from a ``tokenizer.json`` file, a folder holding one (a token corpus, a Hugging Face
    checkpoint), or a BERT folder with only ``vocab.txt`` (its ``tokenizer_config.json``, if any, says
    whether to lower-case). Truncation and padding saved in the file are switched off: documents are
    encoded whole."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such tokenizer file or folder", path=path,
                         hint="pass a tokenizer.json, or a folder with tokenizer.json or vocab.txt")
    file = path
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            file = path / "tokenizer.json"
        elif (path / "vocab.txt").is_file():
            file = path / "vocab.txt"
        else:
            raise InputError("the folder has neither tokenizer.json nor vocab.txt", path=path,
                             hint="pass a tokenizer.json, or a folder with tokenizer.json or vocab.txt")
    if file.suffix == ".txt":
        return _bert_from_vocab(file)
    try:
        tok = Tokenizer.from_file(str(file))
    except Exception as e:  # tokenizers raises a bare Exception with serde's message
        raise InputError(f"not a tokenizer.json of the `tokenizers` library: {e}", path=file) from None
    tok.no_truncation()
    tok.no_padding()
    return tok


def _bert_from_vocab(vocab: Path) -> Tokenizer:
    """BERT's WordPiece pipeline around a ``vocab.txt``, as ``transformers`` builds it (BertTokenizerFast)."""
    settings = {}
    config = vocab.parent / "tokenizer_config.json"
    if config.is_file():
        try:
            settings = read_json(config)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"not valid JSON: {e}", path=config) from None

    def name(key: str, default: str) -> str:
        v = settings.get(key) or default
        return v["content"] if isinstance(v, dict) else v  # an AddedToken saved as a dict

    names = {r: name(f"{r}_token", default) for r, default in zip(_ALIASES, SPECIAL_TOKENS)}
    words = models.WordPiece.read_file(str(vocab))
    if names["unk"] not in words:
        raise InputError(f"the vocabulary has no {names['unk']} token", path=vocab)
    tok = Tokenizer(models.WordPiece(words, unk_token=names["unk"], continuing_subword_prefix="##"))
    lowercase = bool(settings.get("do_lower_case", True))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=bool(settings.get("tokenize_chinese_chars", True)),
        strip_accents=settings.get("strip_accents"), lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in names.values() if t in words])
    if names["cls"] in words and names["sep"] in words:
        cls, sep = names["cls"], names["sep"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
            special_tokens=[(cls, words[cls]), (sep, words[sep])])
    return tok


def save_hf_tokenizer(tokenizer: Tokenizer, folder: str | os.PathLike, model_max_length: int = 512) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` into ``folder`` so
    that ``transformers.AutoTokenizer.from_pretrained(folder)`` loads it, without shoestring, and encodes to
    the same ids as ``tokenizer.encode(text).ids``.

    The class is ``PreTrainedTokenizerFast``, which runs ``tokenizer.json`` as saved; ``BertTokenizerFast``
    would rebuild BERT's own normalizer in transformers 5 and lose, e.g., kept accents.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special = special_ids(tokenizer)
    tokens = {f"{role}_token": tokenizer.id_to_token(i) for role, i in special.to_dict().items()}
    tok = Tokenizer.from_str(tokenizer.to_str())
    tok.no_truncation()  # transformers truncates and pads on request, from its own arguments
    tok.no_padding()
    tok.save(str(folder / "tokenizer.json"))
    write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": False, **tokens})
    write_json(folder / "special_tokens_map.json", tokens)


def tokenizer_kind(tokenizer: Tokenizer) -> str:
    """``"wordpiece"``, ``"bpe"``, ``"unigram"`` or ``"wordlevel"``: the tokenizer's model."""
    return json.loads(tokenizer.to_str())["model"]["type"].lower()


def word_starts(tokenizer: Tokenizer) -> np.ndarray:
    """A bool per vocabulary id: True where the token begins a word, for whole-word masking.

    WordPiece: every token not starting with ``##``. Byte-level BPE: tokens starting with ``Ġ`` (the
    encoded space). SentencePiece-style (Metaspace): tokens starting with ``▁``. Special tokens are always
    word starts.
    """
    spec = json.loads(tokenizer.to_str())
    model = spec["model"]
    pre = json.dumps(spec.get("pre_tokenizer"))
    if model["type"] == "WordPiece" or (model["type"] == "BPE" and model.get("continuing_subword_prefix")):
        prefix = model.get("continuing_subword_prefix") or "##"

        def starts(t):
            return not t.startswith(prefix)
    elif '"ByteLevel"' in pre:
        def starts(t):
            return t.startswith("Ġ")
    elif '"Metaspace"' in pre:
        def starts(t):
            return t.startswith("▁")
    else:
        raise InputError(f"cannot tell where words start in a {model['type']} tokenizer without a word marker",
                         hint="use a WordPiece, byte-level BPE or SentencePiece tokenizer, or disable whole-word "
                              "masking")
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    out = np.zeros(max(vocab.values()) + 1, dtype=bool)
    for t, i in vocab.items():
        out[i] = starts(t)
    for i, added in tokenizer.get_added_tokens_decoder().items():
        if added.special:
            out[i] = True
    return out


# ---------------------------------------------------------------------------------------------- the corpus
class TokenCorpus:
    """A folder written by :func:`prepare_tokens`, memory-mapped: ``TokenCorpus(folder)``.

    ``split("train")`` gives ``(tokens, offsets)``: a read-only ``np.memmap`` of every document's ids end to
    end, and int64 offsets so document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``. ``n_tokens`` and
    ``n_docs`` count the training split; ``counts`` has both. The manifest's hashes are checked on load
    (``verify=False`` skips it, for a corpus of many GB read often).
    """

    SPLITS = ("train", "valid")

    def __init__(self, path: str | os.PathLike, *, verify: bool = True):
        self.path = Path(path)
        self.manifest = read_manifest(self.path, KIND, verify=verify)
        self.info = read_json(self.path / "tokens.json")
        self.dtype = np.dtype(self.info["dtype"])
        self.vocab_size: int = self.info["vocab_size"]
        self.special = SpecialIds(**self.info["special"])
        self.counts: dict = self.info["counts"]
        self.tokenizer = load_tokenizer(self.path / "tokenizer.json")
        self._splits = {}
        for name in self.SPLITS:
            tokens = _memmap(self.path / f"{name}.bin", self.dtype)
            offsets = np.load(self.path / f"{name}_docs.npy", allow_pickle=False)
            if offsets[-1] != len(tokens):
                raise ArtifactError(f"{name}_docs.npy ends at token {offsets[-1]} but {name}.bin has {len(tokens)}",
                                    path=self.path, hint="re-create the folder with `shoestring tokenize`")
            self._splits[name] = (tokens, offsets)

    @classmethod
    def load(cls, path: str | os.PathLike, *, verify: bool = True) -> "TokenCorpus":
        return cls(path, verify=verify)

    def split(self, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``(tokens, offsets)`` of ``"train"`` or ``"valid"``."""
        if name not in self._splits:
            raise ConfigError(f"unknown split {name!r}; choose one of {', '.join(self.SPLITS)}")
        return self._splits[name]

    @property
    def n_tokens(self) -> int:
        return len(self._splits["train"][0])

    @property
    def n_docs(self) -> int:
        return len(self._splits["train"][1]) - 1

    @cached_property
    def word_start(self) -> np.ndarray:
        """:func:`word_starts` of the tokenizer: ``word_start[id]`` is True where token ``id`` begins a word."""
        return word_starts(self.tokenizer)

    def __repr__(self) -> str:
        c = self.counts
        return (f"TokenCorpus({c['train_documents']} train + {c['valid_documents']} valid documents, "
                f"{c['train_tokens']:,} + {c['valid_tokens']:,} tokens, vocabulary {self.vocab_size}, {self.dtype})")


def _memmap(path: Path, dtype: np.dtype) -> np.ndarray:
    if path.stat().st_size == 0:  # mmap cannot map an empty file (an empty validation split)
        empty = np.zeros(0, dtype)
        empty.flags.writeable = False
        return empty
    return np.memmap(path, dtype=dtype, mode="r")


class _SplitWriter:
    """Appends documents' ids to one ``.bin`` file and remembers their lengths."""

    def __init__(self, path: Path, dtype: np.dtype):
        self.file = open(path, "wb")
        self.dtype = dtype
        self.lengths: list[np.ndarray] = []
        self.empty = 0

    def write(self, docs: list[list[int]]) -> None:
        lengths = np.fromiter(map(len, docs), np.int64, len(docs))
        self.empty += int((lengths == 0).sum())  # text the tokenizer normalizes away entirely
        ids = np.fromiter(itertools.chain.from_iterable(docs), self.dtype, int(lengths.sum()))
        ids.tofile(self.file)
        self.lengths.append(lengths[lengths > 0])

    def close(self, offsets_path: Path) -> tuple[int, int]:
        self.file.close()
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        np.save(offsets_path, offsets, allow_pickle=False)
        return len(lengths), int(offsets[-1])


def prepare_tokens(inputs, out_dir, config: TokensConfig | None = None, tokenizer: Tokenizer | str | os.PathLike |
                   None = None, *, overwrite: bool = False, progress: bool = True) -> TokenCorpus:
    """Read ``inputs`` (files/folders, any format ``shoestring prepare`` reads), encode every document, and
    write the token corpus to ``out_dir`` (see the module docstring for the layout).

    ``tokenizer``: a :class:`tokenizers.Tokenizer` or a path for :func:`load_tokenizer`; None trains one
    from ``config`` (``kind``, ``vocab_size``, ``lowercase``, ``min_frequency``) on the corpus. A seeded
    random ``valid_fraction`` of the documents is held out as the validation split.
    """
    config = (config or TokensConfig()).validate()
    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    where = ", ".join(map(str, inputs))
    check_writable(out_dir, overwrite)
    read_kw = dict(format=config.format, text_field=config.text_field, label_field=config.label_field)

    if tokenizer is None:
        tok, source = None, "trained"
    elif isinstance(tokenizer, Tokenizer):
        tok, source = Tokenizer.from_str(tokenizer.to_str()), "given"
        tok.no_truncation()
        tok.no_padding()
    else:
        tok, source = load_tokenizer(tokenizer), str(tokenizer)
    if tok is not None:
        special_ids(tok)  # fail before reading the corpus

    # pass 1: count the documents, and train the tokenizer on them
    first = ReadStats(strict_labels=False)  # labels are not used here: a malformed one must not stop tokenizing
    if tok is None:
        log.info("training a %s tokenizer (vocabulary %d) on %s", config.kind, config.vocab_size, where)
        passes = 2 if config.kind == "wordpiece" else 1
        texts = _Texts(inputs, first, "training tokenizer" if progress else False, read_kw, passes)
        tok = train_tokenizer(texts, config.kind, config.vocab_size, config.lowercase, config.min_frequency)
    else:
        for _ in read_documents(inputs, stats=first, progress="counting documents" if progress else False, **read_kw):
            pass
    n = first.documents
    if n == 0:
        raise InputError(f"the corpus has no documents ({first.skipped_empty} empty or whitespace-only skipped)",
                         path=where, hint="check the file and --text-field/--format")
    special = special_ids(tok)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    dtype = np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)

    n_valid = 0 if config.valid_fraction == 0 or n < 2 else min(n - 1, max(1, round(config.valid_fraction * n)))
    is_valid = np.zeros(n, dtype=bool)
    is_valid[np.random.default_rng(config.seed).choice(n, n_valid, replace=False)] = True

    # pass 2: encode in batches, appending each split's ids as they come
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # _fast skips the character offsets
    info = {"inputs": [{"path": str(p), "sha256": sha256_files(p)} for p in inputs],
            "tokenizer": {"kind": tokenizer_kind(tok), "source": source},
            "settings": config.to_dict(), "environment": environment()}
    # atomic_folder reads `info` when the block ends, so the counts added inside it reach the manifest
    with atomic_folder(out_dir, KIND, overwrite=overwrite, info=info) as tmp:
        writers = {name: _SplitWriter(tmp / f"{name}.bin", dtype) for name in TokenCorpus.SPLITS}
        docs = read_documents(inputs, stats=ReadStats(strict_labels=False), progress="encoding" if progress else False,
                              **read_kw)
        start = 0
        for texts in _batches((d.text for d in docs), config.shard_docs):
            held = is_valid[start:start + len(texts)]
            start += len(texts)
            if start > n:
                break
            ids = [e.ids for e in encode(texts, add_special_tokens=False)]
            writers["train"].write([x for x, h in zip(ids, held) if not h])
            writers["valid"].write([x for x, h in zip(ids, held) if h])
        if start != n:
            raise InputError(f"the input changed while it was read: {n} documents at first, then another number",
                             path=where, hint="run again once the files are complete")
        counts = {}
        for name, w in writers.items():
            counts[f"{name}_documents"], counts[f"{name}_tokens"] = w.close(tmp / f"{name}_docs.npy")
        counts["skipped_empty"] = first.skipped_empty + sum(w.empty for w in writers.values())
        counts["first_skipped"] = first.first_empty
        if counts["train_documents"] == 0:
            raise InputError("no training document has any token", path=where,
                             hint="check the text field, or pass a tokenizer that covers the corpus's script")
        info["counts"] = counts
        save_hf_tokenizer(tok, tmp)
        write_json(tmp / "tokens.json", {"dtype": dtype.name, "vocab_size": vocab_size, "special": special.to_dict(),
                                         "tokenizer": info["tokenizer"], "counts": counts})
    if counts["skipped_empty"]:
        log.warning("skipped %d empty documents (first at %s)", counts["skipped_empty"], counts["first_skipped"])
    return TokenCorpus(out_dir, verify=False)


class _Texts:
    """The corpus's texts, read from disk again on every iteration (``passes`` expected): the first read
    fills ``stats``; the progress bar says which pass it is."""

    def __init__(self, inputs, stats: ReadStats, progress, read_kw: dict, passes: int):
        self.inputs, self.stats, self.progress, self.read_kw = inputs, stats, progress, read_kw
        self.passes, self.reads = passes, 0

    def __iter__(self) -> Iterator[str]:
        self.reads += 1
        label = self.progress
        if label and self.passes > 1:
            label = f"{label} (pass {self.reads} of {self.passes})"
        stats = self.stats if self.reads == 1 else ReadStats(strict_labels=False)
        return (d.text for d in read_documents(self.inputs, stats=stats, progress=label, **self.read_kw))


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


__all__ = ["SPECIAL_TOKENS", "SpecialIds", "TokenCorpus", "load_tokenizer", "prepare_tokens", "save_hf_tokenizer",
           "special_ids", "tokenizer_kind", "train_tokenizer", "word_starts"]
