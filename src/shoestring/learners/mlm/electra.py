"""ELECTRA's replaced-token detection (Clark et al. 2020): every token gives a training signal.

A small generator (a BERT of width ``electra_generator x H`` on the discriminator's own token and position
embeddings, projected down and back up, as ELECTRA shares embeddings) is trained with masked-LM on the masked
positions; its samples replace the [MASK] tokens, and the discriminator - the model kept afterwards - predicts
for *every* token whether it was replaced:

    L = L_MLM(generator) + lambda * L_disc,   lambda = 50 in the paper

Sampling is not differentiated through (the generator is trained by its MLM loss only). The discriminator's
parameter names are Hugging Face's ``ElectraForPreTraining`` ones once ``bert.`` is read as ``electra.``
(:mod:`~shoestring.learners.mlm.export`), so the export loads in ``transformers.AutoModel``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shoestring.learners.mlm.model import CompactBert, Encoder, attention_mask


class DiscriminatorHead(nn.Module):
    """HF's ``ElectraDiscriminatorPredictions``: dense, GELU, one logit per token."""

    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dense_prediction = nn.Linear(hidden, 1)

    def forward(self, h):
        return self.dense_prediction(F.gelu(self.dense(h))).squeeze(-1)


class Generator(nn.Module):
    """A narrow BERT reading the discriminator's embeddings through a projection; its MLM head projects back
    to H and scores against the shared word embeddings."""

    def __init__(self, hidden: int, width: int, layers: int, heads: int, vocab: int):
        super().__init__()
        self.project_in = nn.Linear(hidden, width)
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.encoder = Encoder(layers, width, heads, 4 * width, 0.0)
        self.project_out = nn.Linear(width, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)


class ElectraPretrainer(nn.Module):
    """Discriminator (``self.disc``, a :class:`CompactBert` whose MLM head goes unused) plus generator."""

    def __init__(self, disc: CompactBert, generator_fraction: float = 0.25, weight: float = 50.0):
        super().__init__()
        s = disc.sizes
        width = max(16, int(round(s["hidden"] * generator_fraction / 16)) * 16)
        heads = max(1, width // 64)
        self.disc = disc
        self.generator = Generator(s["hidden"], width, s["layers"], heads, s["vocab"])
        self.discriminator_predictions = DiscriminatorHead(s["hidden"])
        self.generator.apply(CompactBert._init)
        self.discriminator_predictions.apply(CompactBert._init)
        self.weight = weight
        # the discriminator's MLM head is not trained by this objective
        self.disc.cls.requires_grad_(False)

    def forward(self, ids, positions=None, segments=None, targets_at=None, targets=None, normalizer=None,
                original=None):
        """``ids``: the masked input; ``original``: the uncorrupted ids; ``targets_at``/``targets``: the masked
        positions and their tokens. Returns the combined loss (the parts are in ``self.last``)."""
        emb = self.disc.bert.embeddings
        mask = attention_mask(segments)
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        g = self.generator
        hg = g.encoder(g.project_in(emb(ids, positions)), mask)
        hm = g.LayerNorm(F.gelu(g.project_out(hg[targets_at])))
        logits = F.linear(hm, emb.word_embeddings.weight, g.bias)
        gen_loss = F.cross_entropy(logits, targets)
        with torch.no_grad():
            sampled = torch.multinomial(torch.softmax(logits.float(), -1), 1).squeeze(-1)
        corrupted = original.clone()
        corrupted[targets_at] = sampled
        replaced = (corrupted != original).float()
        hd = self.disc.bert.encoder(emb(corrupted, positions), mask)  # the generator's mask serves here too
        disc_logits = self.discriminator_predictions(hd)
        disc_loss = F.binary_cross_entropy_with_logits(disc_logits, replaced)
        self.last = {"generator_loss": float(gen_loss.detach()), "discriminator_loss": float(disc_loss.detach()),
                     "replaced": float(replaced.mean())}
        return gen_loss + self.weight * disc_loss
