"""Masked-LM and SimCSE in one objective: every step learns the tokens and the documents' sentence vectors.

The usual recipe is sequential: masked-LM pre-training, then unsupervised SimCSE (Gao et al. 2021) on top
(``shoestring pretrain mlm``, then ``shoestring pretrain simcse``). Here both losses train one model from the
first step:

    L = L_MLM + λ · InfoNCE(z, z⁺; τ)

L_MLM is BERT's masked-LM loss on the masked batch (:mod:`.mlm`, its rates and rules). For the contrastive term
every document fragment of the packed batch (the tokens of one document inside one sequence; the whole sequence
with ``--cross-document``) gets two views: z, the mean of its states in the *masked* forward pass the MLM loss
already ran, and z⁺, the mean of its states in a second forward pass over the *uncorrupted* tokens. The two views
of a fragment are positives, every other fragment of the batch a negative; τ = ``simcse_temperature`` (0.05,
SimCSE's), λ = ``simcse_weight``. Dropout (``--dropout``, 0 by default in pre-training; SimCSE's is 0.1) makes
the views differ further, as in SimCSE; the masking does so even without it (masking as an augmentation, as
in ConSERT's token cutoff). Fragments of fewer than ``MIN_TOKENS`` tokens (a document's last [SEP] spilling into
the next sequence) are left out of the contrastive term.

Cost: one more forward and backward pass of the encoder per step (about 2x the masked-LM step); the budget
(``--minutes``) is shared, so at equal time the model sees about half the tokens. The export is masked-LM's (a
``BertForMaskedLM`` folder with its trained head; the contrastive term has no head of its own), and
``transform``'s mean pooling is the pooling the contrastive term trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shoestring.learners.mlm.objectives.mlm import EVAL_RATE, MaskedLMObjective

MIN_TOKENS = 4


def fragment_means(h: torch.Tensor, segments: torch.Tensor | None, min_tokens: int = MIN_TOKENS):
    """Mean states (F, H) of each document fragment of a packed batch (a (sequence, document) pair; each whole
    sequence when ``segments`` is None), in a fixed order, keeping fragments of at least ``min_tokens`` tokens."""
    B, T, H = h.shape
    if segments is None:
        return h.mean(1)
    # fragment id of each token: sequences apart, documents apart inside a sequence
    key = torch.arange(B, device=h.device)[:, None] * (int(segments.max()) + 1) + (segments - segments.min())
    keys, inverse, counts = torch.unique(key.reshape(-1), return_inverse=True, return_counts=True)
    sums = torch.zeros(len(keys), H, dtype=h.dtype, device=h.device).index_add_(0, inverse, h.reshape(-1, H))
    means = sums / counts[:, None].to(h.dtype)
    return means[counts >= min_tokens]


class JointPretrainer(nn.Module):
    """The encoder (``self.encoder``, a :class:`CompactBert` with its MLM head) under both losses."""

    def __init__(self, encoder, weight: float, temperature: float):
        super().__init__()
        self.encoder, self.weight, self.temperature = encoder, weight, temperature

    def contrastive(self, h, original, positions, segments):
        """InfoNCE between the fragments' mean states ``h`` (the masked view) and those of a forward pass over
        the ``original`` tokens (the clean view), and the number of fragments (None for the loss when fewer
        than two: nothing to contrast against)."""
        from shoestring.learners.contrastive.loss import info_nce

        z = fragment_means(h, segments)
        if len(z) < 2:
            return None, len(z)
        z_pos = fragment_means(self.encoder.encode(original, positions, segments), segments)
        groups = torch.arange(len(z), device=z.device).repeat(2)
        return info_nce(F.normalize(torch.cat([z, z_pos]), dim=-1), groups, self.temperature), len(z)

    def forward(self, ids, positions=None, segments=None, targets_at=None, targets=None, normalizer=None,
                original=None):
        """``(loss, parts)``: L_MLM + λ InfoNCE, and the floats ``mlm_loss``, ``contrastive_loss``, ``fragments``."""
        h = self.encoder.encode(ids, positions, segments)
        mlm = self.encoder.mlm_loss(h, targets_at, targets, normalizer)
        con, n = self.contrastive(h, original, positions, segments)
        parts = {"mlm_loss": float(mlm.detach()), "contrastive_loss": 0.0 if con is None else float(con.detach()),
                 "fragments": float(n)}
        return (mlm if con is None else mlm + self.weight * con), parts


class MaskedLMSimCSEObjective(MaskedLMObjective):
    name = "mlm_simcse"
    options = ("simcse_weight", "simcse_temperature")

    @property
    def weight(self) -> float:
        w = getattr(self.config, "simcse_weight", None)
        return 1.0 if w is None else w

    @property
    def temperature(self) -> float:
        return getattr(self.config, "simcse_temperature", None) or 0.05

    def describe(self, config) -> str:
        return (f"{super().describe(config)}, jointly with SimCSE's contrastive loss on the documents' mean-pooled "
                f"vectors (masked view against clean view, lambda = {self.weight}, tau = {self.temperature}, "
                f"dropout {config.dropout})")

    def build(self, encoder):
        return JointPretrainer(encoder, self.weight, self.temperature)

    def loss(self, module, tensors, ids):
        _, m_pred, _ = self.mask_rates(self.config)
        original = torch.from_numpy(ids).to(tensors["ids"].device)
        return module(**tensors, normalizer=len(ids) * max(1.0, m_pred * ids.shape[1]), original=original)

    def encoder(self, module):
        return module.encoder

    def evaluate(self, learner, n_sequences):
        """Masked-LM loss and accuracy at 15% masking (as ``mlm``; ``valid_loss`` selects the best model), and
        the contrastive loss on the same held-out batches (dropout off: the views differ by the masking)."""
        out = super().evaluate(learner, n_sequences)
        module, con, batches = learner.model, 0.0, 0
        for ids, t in learner.valid_batches(n_sequences, EVAL_RATE, EVAL_RATE, True):
            h = module.encoder.encode(t["ids"], t["positions"], t["segments"])
            c, _ = module.contrastive(h, torch.from_numpy(ids).to(h.device), t["positions"], t["segments"])
            if c is not None:  # held-out batches of one fragment have nothing to contrast
                con, batches = con + float(c), batches + 1
        if batches:
            out["valid_contrastive_loss"] = con / batches
        return out

    def export(self, module):
        ex = super().export(module)
        ex.title = "masked-LM and SimCSE jointly"
        return ex
