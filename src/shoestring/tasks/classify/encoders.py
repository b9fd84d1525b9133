"""Seq2Vec encoders: (B x T x d token vectors, B x T mask) -> B x D document vectors.

- ``boe``: the masked mean of the token vectors (bag of embeddings; VAMPIRE's reference classifier);
- ``cnn``: convolutions of widths 1-4 with ReLU and max-pooling over time (Kim 2014);
- ``lstm``/``gru``: a bidirectional RNN, pooled by max, mean, or the final states.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class BagOfEmbeddings(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.output_dim = dim

    def forward(self, x, mask):
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class CNNEncoder(nn.Module):
    def __init__(self, dim: int, filters: int, widths=(1, 2, 3, 4)):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, w, padding=w - 1) for w in widths)
        self.output_dim = filters * len(widths)

    def forward(self, x, mask):
        x = (x * mask.unsqueeze(-1)).transpose(1, 2)
        outs = []
        for conv in self.convs:
            h = torch.relu(conv(x))
            outs.append(h.max(dim=2).values)
        return torch.cat(outs, dim=1)


class RNNEncoder(nn.Module):
    def __init__(self, dim: int, hidden: int, cell: str = "lstm", pooling: str = "max"):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(dim, hidden, batch_first=True, bidirectional=True)
        self.pooling = pooling
        self.output_dim = 2 * hidden

    def forward(self, x, mask):
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        if self.pooling == "final":
            h = h[0] if isinstance(h, tuple) else h
            return torch.cat([h[-2], h[-1]], dim=1)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        m = mask.unsqueeze(-1)
        if self.pooling == "mean":
            return (out * m).sum(1) / m.sum(1).clamp(min=1)
        pooled = out.masked_fill(~m.bool(), float("-inf")).max(dim=1).values
        return pooled.masked_fill(~mask.any(1, keepdim=True), 0.0)  # a text with no words: zeros, not -inf


def build_encoder(kind: str, dim: int, hidden: int, pooling: str = "max") -> nn.Module:
    if kind == "boe":
        return BagOfEmbeddings(dim)
    if kind == "cnn":
        return CNNEncoder(dim, hidden)
    return RNNEncoder(dim, hidden, kind, pooling)
