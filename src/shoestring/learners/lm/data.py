"""Texts -> word ids -> training windows for a bidirectional language model.

1. **Tokens.** Each text is cut into sentences (after ``.``, ``!``, ``?``, ``…`` followed by white space, after
   ``。！？।؟`` and at blank lines; an abbreviation such as "Dr." ends a sentence too, which costs little), each
   sentence into words by shoestring's any-language word tokenizer (``WORD_TOKENIZER``: lowercased, numbers
   kept, punctuation dropped), and the boundary marker ``</s>`` follows every sentence, as in ELMo's data. The
   forward LM learns to predict ``</s>`` after a sentence; in the backward direction it is the left edge.
2. **Vocabulary.** The ``max_vocab`` entries are the words seen at least ``min_count`` times plus ``<unk>`` (every
   other word) and ``</s>``, **sorted by corpus count** (id 0 the most frequent; ties alphabetical): the adaptive
   softmax's clusters and the sampled softmax's log-uniform proposal both assume this order.
3. **Stream and windows.** All documents are one contiguous stream of ids (``uint32``, 4 bytes a token), cut into
   windows of ``seq_len + 1`` tokens that overlap by one, window k = ``stream[kL : kL + L + 1]``, so every token is
   a target once per direction::

       forward LM:   reads w_0 .. w_(L-1)   predicts w_1 .. w_L
       backward LM:  reads w_L .. w_1       predicts w_(L-1) .. w_0

   Windows are independent: no LSTM state is carried from one batch to the next (ELMo's reference carries it),
   so the training loop's seeded permutation can shuffle them; the first targets of a window see little context.
   For the same reason the estimator reads texts one sentence at a time, the unit ELMo is applied to, so the LSTMs
   run over about as many tokens as in training (``seq_len`` 35 holds most sentences).
4. **Validation.** A seeded random ``valid_fraction`` of the windows (at least one) is held out.

Preparation keeps token numbers, never lists of strings (:func:`prepare`), and the splits keep only window indices,
so the data costs the stream's 4 bytes a token however the windows are drawn.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from shoestring.data.tokenizer import WORD_TOKENIZER, Tokenizer
from shoestring.data.vocab import Vocabulary
from shoestring.errors import InputError

UNK = "<unk>"
BOUNDARY = "</s>"
SPECIALS = (UNK, BOUNDARY)

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？।؟])\s*|\n\s*\n")


def sentences(text: str) -> list[str]:
    """``text`` cut at sentence-final punctuation and blank lines (see the module docstring).

    >>> sentences("It rained. We stayed in!  Then? 雨。晴")
    ['It rained.', 'We stayed in!', 'Then?', '雨。', '晴']
    """
    return [s for s in _SENTENCE_END.split(text) if s and not s.isspace()]


def tokenize_sentences(text: str, tokenizer: Tokenizer) -> list[list[str]]:
    """The sentences of ``text`` that have words, each as its words followed by ``</s>``."""
    out = []
    for s in sentences(text):
        words = tokenizer(s)
        if words:
            out.append(words + [BOUNDARY])
    return out


def tokenize(text: str, tokenizer: Tokenizer) -> list[str]:
    """The words of ``text`` with ``</s>`` after each sentence: the tokens it adds to the stream."""
    return [w for s in tokenize_sentences(text, tokenizer) for w in s]


def build_vocabulary(words: list[str], counts, max_vocab: int, min_count: int) -> Vocabulary:
    """The frequency-sorted vocabulary from distinct ``words`` (``</s>`` among them) and their ``counts``;
    ``<unk>`` and ``</s>`` are ranked by their own counts (``<unk>``'s: every word left out)."""
    counts = {w: int(n) for w, n in zip(words, counts)}
    n_boundaries = counts.pop(BOUNDARY, 0)
    n_words = sum(counts.values())
    kept = [(w, n) for w, n in counts.items() if n >= min_count]
    kept.sort(key=lambda wn: (-wn[1], wn[0]))
    kept = kept[: max_vocab - len(SPECIALS)]
    if not kept:
        raise InputError(f"no word occurs {min_count} times in the texts ({n_words} words, {len(counts)} distinct)",
                         hint="lower --min-count or give more text")
    unk = n_words - sum(n for _, n in kept)
    entries = sorted(kept + [(UNK, unk), (BOUNDARY, n_boundaries)], key=lambda wn: (-wn[1], wn[0]))
    return Vocabulary([w for w, _ in entries], counts=[n for _, n in entries])


@dataclasses.dataclass
class LMData:
    """A tokenized corpus ready for :class:`~shoestring.learners.lm.learner.LMLearner`: the vocabulary, the id
    stream, where each document starts in it, the start indices of the training and validation windows, and
    counts (``stats``)."""

    vocab: Vocabulary
    stream: np.ndarray
    seq_len: int
    train: np.ndarray
    valid: np.ndarray
    stats: dict
    doc_starts: np.ndarray | None = None

    def windows(self, which: np.ndarray) -> np.ndarray:
        """(len(which), seq_len + 1) int64 ids of the windows numbered ``which``."""
        L = self.seq_len
        return self.stream[np.asarray(which, dtype=np.int64)[:, None] * L + np.arange(L + 1)].astype(np.int64)

    def documents(self, *, boundaries: bool = False) -> list[list[str]]:
        """Each document's tokens as the LM sees them (rare words as ``<unk>``; ``</s>`` only with
        ``boundaries``): what FastText targets are trained on."""
        words = self.vocab.tokens
        drop = -1 if boundaries else self.vocab.index[BOUNDARY]
        ends = [*self.doc_starts[1:], len(self.stream)]
        return [[words[i] for i in self.stream[a:b].tolist() if i != drop] for a, b in zip(self.doc_starts, ends)]

    def fingerprint(self) -> str:
        """A short hash of the id stream: ``--resume`` checks the data did not change."""
        import hashlib

        return hashlib.sha256(self.stream.tobytes()).hexdigest()[:16]


def prepare(texts, *, max_vocab: int, min_count: int, seq_len: int, valid_fraction: float, seed: int,
            tokenizer: Tokenizer | None = None) -> LMData:
    """The windows of ``texts`` (a list of strings); see the module docstring.

    One pass over the texts numbers each distinct token as it is first met and keeps only those numbers
    (``uint32``), so memory is 4 bytes a token plus the distinct words, not a list of strings per document; the
    counts then give the vocabulary, and one lookup renumbers the stream."""
    if isinstance(texts, str):
        raise InputError("texts must be a list of strings, not one string", hint="wrap it: [text]")
    tok = tokenizer or Tokenizer(WORD_TOKENIZER)
    first_seen: dict[str, int] = {}
    chunks, starts, n_texts, pos = [], [], 0, 0
    for t in texts:
        n_texts += 1
        ids = [first_seen.setdefault(w, len(first_seen)) for w in tokenize(t, tok)]
        if ids:
            chunks.append(np.asarray(ids, dtype=np.uint32))
            starts.append(pos)
            pos += len(ids)
    seen = list(first_seen)
    if not chunks:
        raise InputError(f"the {n_texts} texts have no words to train a language model on",
                         hint="check the text field (--text-field) and that the files hold text")
    raw = np.concatenate(chunks)
    vocab = build_vocabulary(seen, np.bincount(raw, minlength=len(seen)), max_vocab, min_count)
    renumber = np.asarray([vocab.index.get(w, vocab.index[UNK]) for w in seen], dtype=np.uint32)
    stream = renumber[raw]
    n = (len(stream) - 1) // seq_len
    if n < 2:
        raise InputError(f"the texts give {len(stream)} tokens: too few for one training and one validation window "
                         f"of --seq-len {seq_len} (+1) tokens", hint="give more text or lower --seq-len")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = min(n - 1, max(1, round(valid_fraction * n)))
    unk = int(vocab.counts[vocab.index[UNK]])
    sentences_ = int(vocab.counts[vocab.index[BOUNDARY]])
    words = int(len(stream) - sentences_)
    stats = {"documents": len(starts), "sentences": sentences_, "tokens": words,
             "distinct_words": len(seen) - (BOUNDARY in first_seen), "vocabulary": len(vocab),
             "unk_rate": round(unk / max(words, 1), 4), "train_windows": n - n_valid, "valid_windows": n_valid,
             "seq_len": seq_len}
    return LMData(vocab, stream, seq_len, np.sort(order[n_valid:]), np.sort(order[:n_valid]), stats,
                  np.asarray(starts, dtype=np.int64))
