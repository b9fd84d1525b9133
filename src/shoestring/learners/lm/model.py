"""An ELMo-style bidirectional LSTM language model whose output layer is any of :mod:`.outputs`.

For a window of tokens w_0 .. w_L (Peters et al. 2018, "Deep contextualized word representations")::

    x_t = E[w_t]  (+ (1/|G(w_t)|) Σ_{g ∈ G(w_t)} Z[hash(g)]   with subword_buckets > 0)     the input layer
    →h_t^1 = LSTMP_1(x_0 .. x_t)            →h_t^l = LSTMP_l(→h^(l-1))_t + →h_t^(l-1)   (l >= 2)   forward LM
    ←h_t^1 = LSTMP_1'(x_L .. x_t)           ←h_t^l likewise, reading right to left                 backward LM
    loss = ½ [ mean_t ℓ(→h_t^L, w_(t+1)) + mean_t ℓ(←h_t^L, w_(t-1)) ]

LSTMP is an LSTM of ``hidden_size`` cells whose output is projected to h = ``projection_size`` (ELMo: 4096 -> 512;
``torch.nn.LSTM(proj_size=...)``), and ℓ is the output layer's loss (:mod:`~shoestring.learners.lm.outputs`: a
softmax over V words, or ELMo-C's distance between ê = P h and the frozen embedding e_w). The two directions have
**separate LSTMs**, as ELMo-C trains its forward and backward LMs, and **share** the input layer and the output
layer, as ELMo ties them. Layer l >= 2 adds its input back (ELMo's residual connection). Dropout is applied to x,
between layers and to h^L before the output layer.

G(w) is FastText's bag of character n-grams of ``<w>`` (3 to 6 characters), hashed into ``subword_buckets`` rows
by CRC-32: a word's input is then its embedding plus the mean of its n-gram vectors, and a word outside the
vocabulary, read as ``<unk>``, still brings its own n-grams at :meth:`InputLayer.forward` time (the n-gram
vectors start at zero, so the sub-word input starts as a no-op). ``<unk>`` and ``</s>`` have no n-grams.

:meth:`BiLM.hidden_states` gives ELMo's representation layers for a batch of padded sequences: R_0 = x_t and
R_l = [→h_t^l; ←h_t^l]; the estimator pools them (concatenated, top only, or their mean: ELMo's scalar mix
γ Σ_j s_j R_j at its initial weights s_j = 1/(L+1), γ = 1).
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shoestring.errors import ConfigError
from shoestring.learners.lm.data import SPECIALS
from shoestring.learners.lm.outputs import AdaptiveSoftmax, ContinuousOutput, FullSoftmax, OutputLayer, SampledSoftmax
from shoestring.learners.lm.targets import char_ngrams

# torch says once per process that oneDNN has no LSTM with projections and runs its own kernels: expected here, and
# measured no slower than oneDNN's LSTM without projections at these sizes (both ~110 ms for 64 x 35 tokens, 512
# cells, forward + backward, one thread)
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")


def ngram_bags(words, buckets: int, specials=SPECIALS) -> tuple[np.ndarray, np.ndarray]:
    """(indptr (n + 1,), bucket ids): the hashed character n-grams of each word, CSR-style (specials: none)."""
    indptr, ids = [0], []
    for w in words:
        if w not in specials:
            ids += [zlib.crc32(g.encode("utf-8")) % buckets for g in char_ngrams(w)]
        indptr.append(len(ids))
    return np.asarray(indptr, dtype=np.int64), np.asarray(ids, dtype=np.int64)


class InputLayer(nn.Module):
    """x_t: the word embedding, plus the mean of the hashed n-gram embeddings when ``subword_buckets > 0``.

    ``words``: the vocabulary's tokens (needed for the n-gram table of each id). ``forward(ids, bags)``: ``bags``
    = (bucket ids, offsets) for the flattened ``ids`` overrides the table -- how a word outside the vocabulary
    (id ``<unk>``) brings its own n-grams."""

    def __init__(self, vocab_size: int, dim: int, subword_buckets: int = 0, words=None):
        super().__init__()
        self.dim, self.subword_buckets = dim, subword_buckets
        self.words = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.words.weight, -0.1, 0.1)
        self.ngrams = None
        if subword_buckets:
            if words is None or len(words) != vocab_size:
                raise ValueError("a sub-word input layer needs the vocabulary's words, one per id")
            self.ngrams = nn.Embedding(subword_buckets, dim)
            nn.init.zeros_(self.ngrams.weight)
            indptr, ids = ngram_bags(words, subword_buckets)
            # derived from the vocabulary, so not saved: rebuilt from it when the model is loaded
            self.register_buffer("bag_start", torch.from_numpy(indptr[:-1]), persistent=False)
            self.register_buffer("bag_length", torch.from_numpy(np.diff(indptr)), persistent=False)
            self.register_buffer("bag_ids", torch.from_numpy(ids), persistent=False)

    def table_bags(self, flat_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(bucket ids, offsets) of the vocabulary words ``flat_ids`` (1-D), for ``F.embedding_bag``."""
        lengths = self.bag_length[flat_ids]
        offsets = torch.cumsum(lengths, 0) - lengths
        within = torch.arange(int(lengths.sum()), device=flat_ids.device) - torch.repeat_interleave(offsets, lengths)
        return self.bag_ids[torch.repeat_interleave(self.bag_start[flat_ids], lengths) + within], offsets

    def forward(self, ids: torch.Tensor, bags=None) -> torch.Tensor:
        x = self.words(ids)
        if self.ngrams is None:
            return x
        bag_ids, offsets = bags if bags is not None else self.table_bags(ids.reshape(-1))
        sub = F.embedding_bag(bag_ids, self.ngrams.weight, offsets, mode="mean")  # an empty bag gives zeros
        return x + sub.view_as(x)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of ``x`` (B, T, ...) within its length; padding stays where it is (its own inverse)."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).expand(B, T)
    n = lengths.to(x.device)[:, None]
    src = torch.where(t < n, n - 1 - t, t)
    return x.gather(1, src.view(B, T, *([1] * (x.dim() - 2))).expand_as(x))


class BiLM(nn.Module):
    """The bidirectional LM (see the module docstring). ``forward(windows (B, L+1))`` -> (mean of the two
    directions' losses, forward loss, backward loss); the last two are detached, for reporting."""

    def __init__(self, inputs: InputLayer, output: OutputLayer, *, hidden_size: int, projection_size: int,
                 layers: int, dropout: float):
        super().__init__()
        self.inputs, self.output = inputs, output
        self.hidden_size, self.projection_size, self.n_layers = hidden_size, projection_size, layers
        h = projection_size or hidden_size
        self.output_size = h

        def stack():
            return nn.ModuleList(nn.LSTM(inputs.dim if i == 0 else h, hidden_size, batch_first=True,
                                         proj_size=projection_size) for i in range(layers))

        self.forward_lstm, self.backward_lstm = stack(), stack()
        self.dropout = nn.Dropout(dropout)

    def _run(self, lstms: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (B, T, h) of one direction, reading ``x`` left to right."""
        outs, h = [], x
        for i, lstm in enumerate(lstms):
            y, _ = lstm(self.dropout(h) if i else h)  # x is dropped out once, before both directions
            if i:
                y = y + h  # ELMo's residual connection
            outs.append(y)
            h = y
        return outs

    def top_states(self, windows: torch.Tensor):
        """(→h^L (B, L, h), the next words (B, L), ←h^L (B, L, h), the previous words (B, L)) of ``windows``; the
        backward states and targets are in reading order (right to left)."""
        x = self.dropout(self.inputs(windows))
        fwd = self._run(self.forward_lstm, x[:, :-1])[-1]
        bwd = self._run(self.backward_lstm, x[:, 1:].flip(1))[-1]
        return fwd, windows[:, 1:], bwd, windows[:, :-1].flip(1)

    def forward(self, windows: torch.Tensor):
        fwd, next_ids, bwd, prev_ids = self.top_states(windows)
        h = self.output_size
        lf = self.output(self.dropout(fwd).reshape(-1, h), next_ids.reshape(-1))
        lb = self.output(self.dropout(bwd).reshape(-1, h), prev_ids.reshape(-1))
        return (lf + lb) / 2, lf.detach(), lb.detach()

    def hidden_states(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, bags=None) -> list[torch.Tensor]:
        """ELMo's layers for padded ``ids`` (B, T) with ``lengths`` (B,): [R_0 = x (B, T, E),
        R_l = [→h^l; ←h^l] (B, T, 2h) for l = 1..L]. Positions past a row's length hold padding; the backward LSTM
        reads each row from its own last token."""
        if lengths is None:
            lengths = torch.full((ids.shape[0],), ids.shape[1], dtype=torch.long)
        x = self.dropout(self.inputs(ids, bags))
        fwd = self._run(self.forward_lstm, x)
        bwd = [reverse_padded(y, lengths) for y in self._run(self.backward_lstm, reverse_padded(x, lengths))]
        return [x] + [torch.cat([f, b], dim=-1) for f, b in zip(fwd, bwd)]

    def parameter_counts(self) -> dict[str, int]:
        """Trained parameters by part: input layer, the two LSTM stacks, output layer (frozen tables excluded)."""
        def count(m):
            return sum(p.numel() for p in m.parameters() if p.requires_grad)

        parts = {"input": count(self.inputs), "encoder": count(self.forward_lstm) + count(self.backward_lstm),
                 "output": self.output.trainable_parameters()}
        parts["total"] = sum(parts.values())
        return parts


def build_output(config, vocab_size: int, counts=None, table=None, *, cutoffs=None) -> OutputLayer:
    """The output layer ``config.output_layer`` names, for h = ``config.output_size`` inputs over ``vocab_size``
    frequency-sorted words (``counts``: their corpus counts, for the adaptive softmax's clusters; ``table``: the
    continuous output's (V, d) target embeddings)."""
    h, kind = config.output_size, config.output_layer
    if kind == "full":
        return FullSoftmax(h, vocab_size)
    if kind == "adaptive":
        if cutoffs is None:
            from shoestring.learners.lm.outputs import default_cutoffs

            cutoffs = default_cutoffs(vocab_size, counts)
            # a small h cannot give every tail a projection (tail j is h / 4^(j+1) wide): merge the last tails
            while cutoffs and h // 4 ** len(cutoffs) < 1:
                cutoffs.pop()
            if not cutoffs:
                raise ConfigError(f"a vocabulary of {vocab_size} words is too small to split into adaptive-softmax "
                                  "clusters", hint="use --output-layer full for a vocabulary this small")
        return AdaptiveSoftmax(h, vocab_size, cutoffs)
    if kind == "sampled":
        return SampledSoftmax(h, vocab_size, num_samples=min(config.samples, vocab_size), random_state=config.seed)
    if kind == "continuous":
        if table is None:
            raise ValueError("the continuous output needs its target embeddings")
        return ContinuousOutput(h, table, config.continuous_loss, random_state=config.seed)
    raise ConfigError(f"unknown output layer {kind!r}")


def build_model(config, vocab, table=None, *, cutoffs=None) -> BiLM:
    """The :class:`BiLM` ``config`` describes for ``vocab`` (a :class:`~shoestring.data.vocab.Vocabulary`)."""
    V = len(vocab)
    inputs = InputLayer(V, config.embedding_dim, config.subword_buckets, vocab.tokens)
    output = build_output(config, V, vocab.counts, table, cutoffs=cutoffs)
    return BiLM(inputs, output, hidden_size=config.hidden_size, projection_size=config.projection_size,
                layers=config.layers, dropout=config.dropout)
