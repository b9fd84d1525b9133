"""Units of text for sentence-embedding training: whole texts, sentences, or windows of words.

Unsupervised SimCSE learns from short units (the paper: one million Wikipedia sentences cut at 32 tokens). A
user's corpus is documents, so ``split`` decides what one training example is:

- ``none``: each text as it is (cut at the model's ``seq_len`` tokens when encoded);
- ``sentences``: sentence splits after ``.``, ``!``, ``?`` (and the CJK full stops ``。！？``, which need no space
  after them), fragments under ``min_words`` words merged into the next;
- ``windows``: consecutive windows of ``window`` words (the last one kept if at least half full) - for text
  without sentence punctuation, such as lists, code or transcripts.
"""

from __future__ import annotations

import re

SPLITS = ("none", "sentences", "windows")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def split_sentences(text: str, min_words: int = 3) -> list[str]:
    out, carry = [], ""
    for part in _BOUNDARY.split(text):
        part = (carry + " " + part).strip() if carry else part.strip()
        if not part:
            continue
        if len(part.split()) < min_words and not re.search(r"[\u3000-\u9fff]", part):
            carry = part
            continue
        out.append(part)
        carry = ""
    if carry:
        if out:
            out[-1] = out[-1] + " " + carry
        else:
            out.append(carry)
    return out


def split_windows(text: str, window: int = 32) -> list[str]:
    words = text.split()
    out = [" ".join(words[i:i + window]) for i in range(0, len(words), window)]
    if len(out) > 1 and len(words) % window and len(words) % window < window // 2:
        out.pop()
    return out


def split_texts(texts, split: str = "none", *, window: int = 32) -> list[str]:
    """The training units of ``texts`` (empty ones dropped)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    out = []
    for t in texts:
        if not t or not t.strip():
            continue
        if split == "none":
            out.append(t.strip())
        elif split == "sentences":
            out.extend(split_sentences(t))
        else:
            out.extend(split_windows(t, window))
    return out
