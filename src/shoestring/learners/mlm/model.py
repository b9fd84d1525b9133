"""A compact BERT encoder with a masked-LM head, laid out exactly as Hugging Face's ``BertForMaskedLM``.

The module and parameter names are Hugging Face's (``bert.encoder.layer.0.attention.self.query.weight``, ...),
so export is a ``state_dict`` written to safetensors and loading a BERT-family checkpoint is a key lookup. What
differs is how the work is done (the speed of the fastest BERT recipes, on a CPU):

- **no work on padding**: training sequences are packed to full length; ``segments`` (one id per document)
  make attention block-diagonal, so documents packed together never see each other, and ``positions``
  restart at every document, so a packed document looks exactly like one read alone;
- **scaled-dot-product attention** (PyTorch's fused kernel) with one fused Q/K/V projection;
- **the vocabulary projection only at predicted positions**: with m_pred = 15% that is 1 row in 7, and at
  Tiny size the V x H projection is most of the model's work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mean_pool(h, pad):
    """The mean of the token states ``h`` (B, T, H) over the positions that are not padding (``pad`` (B, T))."""
    keep = (~pad).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)


class Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int, dropout: float, eps: float = 1e-12):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids, positions):
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.p = dropout

    def forward(self, x, mask):
        B, T, H = x.shape
        # one (3H x H) matmul instead of three
        w = torch.cat([self.query.weight, self.key.weight, self.value.weight])
        b = torch.cat([self.query.bias, self.key.bias, self.value.bias])
        q, k, v = F.linear(x, w, b).view(B, T, 3, self.heads, H // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        return out.transpose(1, 2).reshape(B, T, H)


class DenseNorm(nn.Module):
    """``dense`` then dropout, residual, ``LayerNorm``: BERT's post-LN sub-layer output."""

    def __init__(self, d_in: int, hidden: int, dropout: float, eps: float = 1e-12):
        super().__init__()
        self.dense = nn.Linear(d_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.self = SelfAttention(hidden, heads, dropout)
        self.output = DenseNorm(hidden, hidden, dropout)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, hidden, ffn):
        super().__init__()
        self.dense = nn.Linear(hidden, ffn)

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn, dropout):
        super().__init__()
        self.attention = Attention(hidden, heads, dropout)
        self.intermediate = Intermediate(hidden, ffn)
        self.output = DenseNorm(ffn, hidden, dropout)

    def forward(self, x, mask):
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, layers, hidden, heads, ffn, dropout):
        super().__init__()
        self.layer = nn.ModuleList(Layer(hidden, heads, ffn, dropout) for _ in range(layers))

    def forward(self, x, mask, start: int = 0, stop: int | None = None):
        """Run layers ``start`` to ``stop`` (all by default) on hidden states ``x``."""
        for layer in self.layer[start:stop]:
            x = layer(x, mask)
        return x


class Pooler(nn.Module):
    """BERT's [CLS] pooler (dense + tanh). Not trained by MLM; kept so exports load in ``AutoModel`` cleanly."""

    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertBody(nn.Module):
    def __init__(self, vocab, layers, hidden, heads, ffn, positions, dropout):
        super().__init__()
        self.embeddings = Embeddings(vocab, hidden, positions, dropout)
        self.encoder = Encoder(layers, hidden, heads, ffn, dropout)
        self.pooler = Pooler(hidden)


class Transform(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class Predictions(nn.Module):
    """The MLM head: transform, then the (tied) V x H output embedding plus a bias."""

    def __init__(self, hidden, vocab):
        super().__init__()
        self.transform = Transform(hidden)
        self.bias = nn.Parameter(torch.zeros(vocab))


class Head(nn.Module):
    def __init__(self, hidden, vocab):
        super().__init__()
        self.predictions = Predictions(hidden, vocab)


def set_dropout(module: nn.Module, p: float) -> None:
    """Set every dropout rate of ``module`` to ``p``: hidden-state dropout and attention-probability dropout
    (``SelfAttention.p``), e.g. BERT's 0.1 for fine-tuning a model pre-trained without any."""
    for m in module.modules():
        if isinstance(m, (nn.Dropout, SelfAttention)):
            m.p = p


def attention_mask(segments: torch.Tensor | None, pad: torch.Tensor | None = None):
    """Boolean (B, 1, T, T) mask, True where query i may attend to key j: same document, key not padding."""
    if segments is None and pad is None:
        return None
    m = None
    if segments is not None:
        m = segments[:, None, :, None] == segments[:, None, None, :]
    if pad is not None:
        keep = ~pad[:, None, None, :]
        m = keep if m is None else m & keep
    return m


def pad_batch(rows, pad_id: int):
    """Token-id lists of different lengths as a (B, T) tensor padded with ``pad_id``, and its padding mask."""
    ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.as_tensor(r)
    return ids, ids == pad_id


def padded_batches(rows, pad_id: int, batch_size: int):
    """Inference batches of similar lengths (little padding work): yields ``(indices, ids, pad)`` with the
    rows' positions in ``rows``, in order of length, so results go back with ``out[indices] = ...``."""
    import numpy as np

    order = np.argsort([len(r) for r in rows], kind="stable")
    for s in range(0, len(order), batch_size):
        chunk = order[s:s + batch_size]
        yield (chunk, *pad_batch([rows[i] for i in chunk], pad_id))


class CompactBert(nn.Module):
    """BERT encoder + MLM head. ``encode`` gives hidden states; ``mlm_logits`` projects chosen rows only."""

    def __init__(self, vocab: int, layers: int, hidden: int, heads: int, ffn: int, positions: int = 512,
                 dropout: float = 0.0):
        super().__init__()
        self.sizes = dict(vocab=vocab, layers=layers, hidden=hidden, heads=heads, ffn=ffn, positions=positions)
        self.bert = BertBody(vocab, layers, hidden, heads, ffn, positions, dropout)
        self.cls = Head(hidden, vocab)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        # BERT's initialization: N(0, 0.02) weights, zero biases, unit LayerNorm
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def encode(self, ids, positions=None, segments=None, pad=None, layers: int | None = None):
        """Hidden states (B, T, H). ``positions`` default to 0..T-1; ``segments`` (B, T) document ids of a
        packed sequence; ``pad`` (B, T) True at padding; ``layers``: stop after the first this many layers (the
        states a frozen lower stack hands to trained top layers), all by default."""
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        mask = attention_mask(segments, pad)
        return self.bert.encoder(self.bert.embeddings(ids, positions), mask, stop=layers)

    def mlm_logits(self, h):
        """Vocabulary logits for hidden rows ``h`` (..., H): only the rows given are projected."""
        p = self.cls.predictions
        return F.linear(p.transform(h), self.bert.embeddings.word_embeddings.weight, p.bias)

    def forward(self, ids, positions=None, segments=None, targets_at=None, targets=None, normalizer=None):
        """Masked-LM cross-entropy at the predicted positions ``targets_at`` (a boolean (B, T)): their mean, or
        their sum divided by ``normalizer`` (a constant per sequence makes the loss of a batch the exact average of
        the losses of its parts, so micro-batches and processes add up to the same gradient)."""
        return self.mlm_loss(self.encode(ids, positions, segments), targets_at, targets, normalizer)

    def mlm_loss(self, h, targets_at, targets, normalizer=None):
        """The masked-LM cross-entropy of hidden states ``h`` (B, T, H) at ``targets_at`` (see :meth:`forward`)."""
        logits = self.mlm_logits(h[targets_at])
        if normalizer is None:
            return F.cross_entropy(logits, targets)
        return F.cross_entropy(logits, targets, reduction="sum") / normalizer

    def flops_per_token(self, seq_len: int, predicted_fraction: float) -> float:
        s = self.sizes
        return training_flops_per_token(s["layers"], s["hidden"], s["ffn"], s["vocab"], seq_len, predicted_fraction)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def training_flops_per_token(layers: int, hidden: int, ffn: int, vocab: int, seq_len: int,
                             predicted_fraction: float) -> float:
    """Training FLOPs per token of a BERT (forward + backward = 3 x forward, 2 per multiply-add): the dense
    layers, attention scores and values, and the MLM head at ``predicted_fraction`` of the tokens (1.0 for the
    usual head that projects every position onto the vocabulary)."""
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * seq_len * hidden
    head = predicted_fraction * 2 * (hidden * hidden + vocab * hidden)
    return 3 * (layers * per_layer + head)
