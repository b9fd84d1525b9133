"""Pack a memory-mapped token corpus into full-length training sequences: no padding, no wasted work.

Each document becomes ``[CLS] tokens [SEP]`` and the documents are laid end to end in one *virtual* stream
(never materialized: the stream is computed from the document offsets, so a corpus of any size stays on
disk). Sequence ``i`` is the stream's positions ``[i T, (i + 1) T)``. Next to the ids, every sequence gets

- ``segments``: the document each token belongs to, so attention can stay inside documents
  (:func:`shoestring.learners.mlm.model.attention_mask`);
- ``positions``: 0 at each document's start (or at the sequence start, for a document continued from the
  previous sequence), so a packed document is encoded as it would be alone.
"""

from __future__ import annotations

import numpy as np


class PackedSequences:
    """``len(packed)`` full sequences of ``seq_len`` tokens from ``tokens`` (flat ids) and ``offsets`` (n_docs+1).

    ``packed.batch(indices) -> (ids, positions, segments)``, each (len(indices), seq_len) int64.
    The tail of the stream that does not fill a whole sequence is dropped.
    """

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, seq_len: int, cls_id: int, sep_id: int):
        self.tokens = tokens
        self.offsets = np.asarray(offsets, np.int64)
        self.seq_len = seq_len
        self.cls_id, self.sep_id = cls_id, sep_id
        n_docs = len(self.offsets) - 1
        # document d occupies stream positions [start[d], start[d + 1]): its tokens plus [CLS] and [SEP]
        self.start = self.offsets + 2 * np.arange(n_docs + 1)
        self.stream_length = int(self.start[-1])

    def __len__(self) -> int:
        return self.stream_length // self.seq_len

    @property
    def n_tokens(self) -> int:
        """Tokens in the packed sequences (every one of them real: there is no padding)."""
        return len(self) * self.seq_len

    def batch(self, indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        T = self.seq_len
        idx = np.asarray(indices, np.int64)
        pos = idx[:, None] * T + np.arange(T)                      # stream positions (B, T)
        doc = np.searchsorted(self.start, pos, side="right") - 1     # document of each position
        r = pos - self.start[doc]                                    # offset inside "[CLS] doc [SEP]"
        length = self.offsets[doc + 1] - self.offsets[doc]
        inner = (r >= 1) & (r <= length)
        ids = np.empty(pos.shape, np.int64)
        ids[r == 0] = self.cls_id
        ids[r == length + 1] = self.sep_id
        ids[inner] = self.tokens[(self.offsets[doc] + r - 1)[inner]]
        seq_start = idx[:, None] * T
        positions = pos - np.maximum(self.start[doc], seq_start)
        return ids, positions, doc
