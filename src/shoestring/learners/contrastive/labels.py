"""Contrastive fine-tuning of a sentence encoder from a few labels (SetFit's first stage, Tunstall et al.
2022), with the supervised contrastive loss.

SetFit fine-tunes a sentence-transformers checkpoint on pairs of labelled texts - same class, cosine pulled to
1; different classes, pushed to 0 - and then fits a logistic regression on the new embeddings. Here every
step takes ``B`` anchors (the one training loop's seeded batch order) and draws for each a positive: another
labelled text of its class (itself, under a different dropout mask, when its class has one example). The
``2B`` mean-pooled, L2-normalized embeddings go through :func:`~shoestring.learners.contrastive.loss.info_nce`
with the class labels as groups: every same-class pair in the batch is a positive, every other text a
negative, so a forward pass of ``2B`` texts scores ``2B (2B - 1)`` pairs where SetFit's pair loss scores ``B``.

Works on any :class:`~shoestring.learners.mlm.estimator.MaskedLM`: a compact BERT pre-trained by shoestring
on the user's text, or a BERT-family checkpoint folder such as all-MiniLM-L6-v2 (BERT-style, mean pooling as
sentence-transformers uses it).

Example::

    from shoestring.learners.mlm.estimator import MaskedLM
    from shoestring.learners.contrastive.labels import fit_contrastive
    tuned = fit_contrastive(MaskedLM.from_pretrained("all-MiniLM-L6-v2/"), texts, labels)
    tuned.transform(["..."])          # embeddings where the labelled classes fall apart
"""

from __future__ import annotations

import copy

import numpy as np

from shoestring.learners.contrastive.config import ContrastiveConfig
from shoestring.learners.contrastive.learner import ContrastiveLearner


class LabelContrastLearner(ContrastiveLearner):
    """What the one training loop needs: anchors by index, one same-class positive each, the InfoNCE loss."""

    nan_advice = "lower --lr (1e-5) or raise the temperature (0.1)"

    def __init__(self, encoder, rows, y, config: ContrastiveConfig, pad_id: int):
        # a CompactBert: its encode() is the network trained, mean-pooled (the pooler and MLM head unused)
        super().__init__(encoder, config, pad_id)
        self.rows, self.y = rows, np.asarray(y)
        self.n_examples = len(rows)
        self.members = {c: np.flatnonzero(self.y == c) for c in np.unique(self.y)}
        self.rng = np.random.default_rng([config.seed, 1])

    def _positive(self, i: int) -> int:
        same = self.members[self.y[i]]
        if len(same) == 1:
            return int(i)  # a class of one: the same text under another dropout mask (SimCSE's positive)
        j = int(same[self.rng.integers(len(same) - 1)])
        return j if j != i else int(same[-1])

    def batch(self, idx):
        import torch

        rows = list(idx) + [self._positive(int(i)) for i in idx]
        return [self.rows[r] for r in rows], torch.as_tensor(self.y[rows])


def fit_contrastive(lm, texts, labels, config: ContrastiveConfig | None = None, *, callbacks=None):
    """A copy of the :class:`~shoestring.learners.mlm.estimator.MaskedLM` ``lm`` whose encoder is fine-tuned so
    that texts of one label embed close together (``lm`` itself is not changed). ``training_`` records the
    run (steps, seconds, loss per epoch)."""
    from shoestring.errors import InputError
    from shoestring.training.loop import Trainer
    from shoestring.training.seed import seed_everything

    config = config or ContrastiveConfig()
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels")
    classes = sorted(set(labels))
    if len(texts) < 2 or len(classes) < 2:
        raise InputError("contrastive fine-tuning needs at least two labelled texts of two classes")
    y = np.asarray([classes.index(v) for v in labels])
    seed_everything(config.seed)
    encoder = copy.deepcopy(lm.model_).train()
    learner = LabelContrastLearner(encoder, lm._encode_texts(texts, config.max_length), y, config, lm.special_.pad)
    state = Trainer(config, callbacks).fit(learner)
    tuned = copy.copy(lm)
    tuned.model_ = encoder.eval()
    tuned.training_ = {"origin": f"contrastive fine-tuning on {len(texts)} labelled texts of {len(classes)} classes "
                                 f"(supervised InfoNCE, tau = {config.temperature:g})",
                       "epochs": state.epoch, "steps": state.step, "seconds": round(state.elapsed, 2),
                       "stop_reason": state.stop_reason,
                       "loss_by_epoch": [round(r.get("train_loss", float("nan")), 4) for r in state.history]}
    return tuned
