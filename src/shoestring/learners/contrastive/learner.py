"""What the contrastive learners share: sentence vectors of a batch of token-id rows, and a base learner for
the one training loop (dropout set, the masked-LM head frozen, AdamW with warm-up and linear decay, the InfoNCE
loss over the batch). A learner adds ``batch(idx) -> (rows, groups)`` - which texts are encoded and which of
them are each other's positives - and, if it has one, ``evaluate``; it may change how a batch becomes vectors
(``vectors``) or the loss on them (``contrast``)."""

from __future__ import annotations

import torch
from torch import nn

from shoestring.learners.mlm.model import mean_pool


def pool(model, ids, pad, pooling: str, mlp: bool = False):
    """Sentence vectors (B, H) of a padded batch: mean of token states, or [CLS] (through the pooler if ``mlp``)."""
    h = model.encode(ids, pad=pad)
    if pooling == "cls":
        c = h[:, 0]
        return model.bert.pooler(h) if mlp else c
    return mean_pool(h, pad)


class SentencePooler(nn.Module):
    """The module a contrastive learner trains: a padded batch of token ids -> its sentence vectors. Its
    ``forward`` is the pooling, so that under ``torchrun`` the call goes through DistributedDataParallel's
    forward (which prepares the gradient all-reduce) instead of around it."""

    def __init__(self, lm, pooling: str = "mean", mlp: bool = False):
        super().__init__()
        self.lm, self.pooling, self.mlp = lm, pooling, mlp

    def forward(self, ids, pad):
        return pool(self.lm, ids, pad, self.pooling, self.mlp)


def pool_rows(model, rows, pad_id: int, pooling: str = "mean", mlp: bool = False, chunk: int | None = None):
    """Sentence vectors (len(rows), H) of token-id lists, and the number of real (non-padding) tokens.

    ``model``: a :class:`SentencePooler` (or its DistributedDataParallel wrapper), which pools as it was built
    to, or a bare BERT-family module, pooled by ``pooling`` and ``mlp``.

    ``chunk``: encode in pieces of that many rows of similar length instead of one batch padded to its longest
    row (a sentence's vector does not depend on the other rows, so the gradients are the same). Fewer padding
    tokens, but smaller matrix products: measured on 2 busy cores with all-MiniLM-L6-v2 and 32 texts, chunks
    of 8 were 0.7x the speed of one batch and chunks of 16 0.9-1.3x, so the default is one batch."""
    import numpy as np

    from shoestring.learners.mlm.model import pad_batch

    wrapped = isinstance(model, (SentencePooler, nn.parallel.DistributedDataParallel))
    device = next(model.parameters()).device  # the loop puts the model on --device (a GPU when present)

    order = np.argsort([len(r) for r in rows], kind="stable")
    chunk = chunk or len(rows)
    parts, tokens = [], 0
    for s in range(0, len(order), chunk):
        ids, pad = (t.to(device) for t in pad_batch([rows[i] for i in order[s:s + chunk]], pad_id))
        parts.append(model(ids, pad) if wrapped else pool(model, ids, pad, pooling, mlp))
        tokens += int((~pad).sum())
    z = torch.cat(parts)
    inverse = torch.empty(len(order), dtype=torch.long, device=z.device)
    inverse[torch.as_tensor(order, device=z.device)] = torch.arange(len(order), device=z.device)
    return z[inverse], tokens


class ContrastiveLearner:
    """Base of :class:`~shoestring.learners.contrastive.labels.LabelContrastLearner` and
    :class:`~shoestring.learners.contrastive.simcse.SimCSELearner`. ``config`` needs ``dropout``, ``lr``,
    ``warmup``, ``weight_decay`` and ``temperature``; ``mlp``: pool [CLS] through the pooler MLP (which then
    trains)."""

    monitor, mode = "", "max"  # no held-out score unless a subclass has one: the final weights are kept

    def __init__(self, model, config, pad_id: int, *, pooling: str = "mean", mlp: bool = False):
        from shoestring.learners.mlm.model import set_dropout

        self.lm, self.config, self.pad_id, self.pooling, self.mlp = model, config, pad_id, pooling, mlp
        self.model = SentencePooler(model, pooling, mlp)  # what the loop trains (trains ``model`` in place)
        set_dropout(model.bert, config.dropout)  # SimCSE's augmentation, SetFit's regulariser: on
        model.bert.pooler.requires_grad_(mlp)  # the pooler MLP trains only when it is used
        model.cls.requires_grad_(False)  # the masked-LM head is not trained here

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def optimizer(self, params):
        from shoestring.training.optim import adamw, param_groups

        return adamw(param_groups(self.lm.bert, self.config.weight_decay), self.config.lr)

    def on_step_start(self, state, optimizer):
        from shoestring.training.optim import lr_factor

        for g in optimizer.param_groups:
            g["lr"] = self.config.lr * lr_factor(state.progress, self.config.warmup, "linear")

    def loss(self, model, batch, state):
        import torch.nn.functional as F

        rows, groups = batch
        z, tokens = self.vectors(model, rows)
        return self.contrast(F.normalize(z, dim=-1), groups.to(z.device)), {"tokens": tokens}

    def vectors(self, model, rows):
        """Sentence vectors of a batch's rows and its count of real tokens."""
        return pool_rows(model, rows, self.pad_id)  # model: the SentencePooler, or its DDP wrapper

    def contrast(self, z, groups):
        """The contrastive loss of L2-normalized vectors ``z`` whose ``groups`` say which are positives."""
        from shoestring.learners.contrastive.loss import info_nce

        return info_nce(z, groups, self.config.temperature)

    def evaluate(self, state):
        return {}
