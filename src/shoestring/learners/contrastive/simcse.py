"""The SimCSE learner (Gao, Yao & Chen 2021): contrastive sentence embeddings from unlabeled text or pairs.

**Unsupervised.** Each step encodes a batch of ``B`` texts twice; dropout (0.1) makes the two embeddings of a
text differ, and they are each other's positive while the other ``2B - 2`` embeddings are negatives:
:func:`~shoestring.learners.contrastive.loss.info_nce` with groups ``[0..B-1, 0..B-1]``. (The paper scores
each first view against the second views only; here every embedding of the batch is a candidate, SimCLR's
NT-Xent form, which doubles the negatives for the same forward pass.) It needs a masked-LM-pre-trained start:
from random weights it does not learn sentence meaning.

**Supervised.** Rows of (anchor, positive[, hard negative]) - NLI entailment pairs with their contradiction
in the paper: anchors and positives are each other's positives, every other text in the batch (hard negatives
included) a negative.

Pooling: ``mean`` of the last layer's token states (sentence-transformers' default, and what shoestring's
other embedders use), or ``cls``: the [CLS] state, through the BERT pooler MLP (dense + tanh) while training
unsupervised, without it when embedding, as the paper does.
"""

from __future__ import annotations

import numpy as np

from shoestring.learners.contrastive.config import SimCSEConfig


def pool(model, ids, pad, pooling: str, mlp: bool = False):
    """Sentence vectors (B, H) of a padded batch: mean of token states, or [CLS] (through the pooler if ``mlp``)."""
    h = model.encode(ids, pad=pad)
    if pooling == "cls":
        c = h[:, 0]
        return model.bert.pooler(h) if mlp else c
    keep = (~pad).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def pool_rows(model, rows, pad_id: int, pooling: str, mlp: bool = False, chunk: int | None = None):
    """Sentence vectors (len(rows), H) of token-id lists, and the number of real (non-padding) tokens.

    ``chunk``: encode in pieces of that many rows of similar length instead of one batch padded to its longest
    row (a sentence's vector does not depend on the other rows, so the gradients are the same). Fewer padding
    tokens, but smaller matrix products: measured on 2 busy cores with all-MiniLM-L6-v2 and 32 texts, chunks
    of 8 were 0.7x the speed of one batch and chunks of 16 0.9-1.3x, so the default is one batch."""
    import numpy as np
    import torch

    from shoestring.learners.mlm.model import pad_batch

    order = np.argsort([len(r) for r in rows], kind="stable")
    chunk = chunk or len(rows)
    parts, tokens = [], 0
    for s in range(0, len(order), chunk):
        ids, pad = pad_batch([rows[i] for i in order[s:s + chunk]], pad_id)
        parts.append(pool(model, ids, pad, pooling, mlp))
        tokens += int((~pad).sum())
    z = torch.cat(parts)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.as_tensor(order)] = torch.arange(len(order))
    return z[inverse], tokens


class SimCSELearner:
    """What the one training loop needs. ``rows``: token-id lists (unsupervised) or tuples of 2-3 of them."""

    nan_advice = "lower --lr (1e-5) or raise --temperature (0.1)"

    def __init__(self, model, rows, config: SimCSEConfig, pad_id: int, dev=None):
        import torch

        from shoestring.learners.mlm.model import SelfAttention

        self.model, self.rows, self.config, self.pad_id, self.dev = model, rows, config, pad_id, dev
        self.supervised = bool(rows) and isinstance(rows[0], tuple)
        self.n_examples = len(rows)
        for m in model.bert.modules():  # SimCSE's augmentation is dropout: on, whatever pre-training used
            if isinstance(m, (torch.nn.Dropout, SelfAttention)):
                m.p = config.dropout
        # the pooler MLP trains only when it is used ([CLS] pooling)
        model.bert.pooler.requires_grad_(config.pooling == "cls")
        model.cls.requires_grad_(False)  # the masked-LM head is not trained here
        self.monitor, self.mode = ("dev_spearman", "max") if dev is not None else ("", "max")

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def optimizer(self, params):
        from shoestring.training.optim import adamw, param_groups

        return adamw(param_groups(self.model.bert, self.config.weight_decay), self.config.lr)

    def on_step_start(self, state, optimizer):
        from shoestring.training.optim import lr_factor

        for g in optimizer.param_groups:
            g["lr"] = self.config.lr * lr_factor(state.progress, self.config.warmup, "linear")

    def batch(self, idx):
        import torch

        picked = [self.rows[i] for i in idx]
        B = len(picked)
        if self.supervised:
            cols = list(zip(*picked))
            texts = [r for col in cols for r in col]  # anchors, positives[, negatives]
            groups = list(range(B)) * 2 + [B + i for i in range(B)] * (len(cols) - 2)
        else:
            texts, groups = picked * 2, list(range(B)) * 2
        return texts, torch.as_tensor(groups)

    def loss(self, model, batch, state):
        import torch.nn.functional as F

        from shoestring.learners.contrastive.loss import info_nce

        texts, groups = batch
        z, tokens = pool_rows(model, texts, self.pad_id, self.config.pooling, mlp=not self.supervised)
        return info_nce(F.normalize(z, dim=-1), groups, self.config.temperature), {"tokens": tokens}

    def evaluate(self, state):
        if self.dev is None:
            return {}
        from shoestring.evaluation.sts import sts_scores

        s1, s2, gold, embed = self.dev
        return {"dev_spearman": sts_scores(embed, s1, s2, gold)["spearman"]}


def encode_rows(tokenizer, special, texts, seq_len: int) -> list[list[int]]:
    ids = []
    for enc in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        ids.append([special.cls, *enc.ids[: seq_len - 2], special.sep])
    return ids
