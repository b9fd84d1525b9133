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

from shoestring.learners.contrastive.config import SimCSEConfig
from shoestring.learners.contrastive.learner import ContrastiveLearner


class SimCSELearner(ContrastiveLearner):
    """What the one training loop needs. ``rows``: token-id lists (unsupervised) or tuples of 2-3 of them."""

    nan_advice = "lower --lr (1e-5) or raise --temperature (0.1)"

    def __init__(self, model, rows, config: SimCSEConfig, pad_id: int, dev=None):
        supervised = bool(rows) and isinstance(rows[0], tuple)
        super().__init__(model, config, pad_id, pooling=config.pooling,
                         mlp=config.pooling == "cls" and not supervised)
        self.rows, self.dev, self.supervised = rows, dev, supervised
        self.n_examples = len(rows)
        if dev is not None:
            self.monitor = "dev_spearman"

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

    def evaluate(self, state):
        if self.dev is None:
            return {}
        from shoestring.evaluation.sts import sts_scores

        s1, s2, gold, embed = self.dev
        return {"dev_spearman": sts_scores(embed, s1, s2, gold)["spearman"]}
