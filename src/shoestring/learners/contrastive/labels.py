"""Contrastive fine-tuning of a sentence encoder from a few labels (SetFit's first stage, Tunstall et al.
2022), with the supervised contrastive loss.

SetFit fine-tunes a sentence-transformers checkpoint on pairs of labelled texts - same class, cosine pulled to
1; different classes, pushed to 0 - and then fits a logistic regression on the new embeddings. Here every
step takes ``B`` anchors (the one training loop's seeded batch order) and draws for each a positive: another
labelled text of its class (itself, under a different dropout mask, when its class has one example). The
``2B`` mean-pooled, L2-normalized embeddings go through :func:`~shoestring.learners.contrastive.loss.info_nce`
with the class labels as groups: every same-class pair in the batch is a positive, every other text a
negative, so a forward pass of ``2B`` texts scores ``2B (2B - 1)`` pairs where SetFit's pair loss scores ``B``.

``train_layers = k`` fine-tunes only the top ``k`` of the ``L`` transformer layers. The embeddings and the
layers below stay frozen, so their output for each labelled text never changes: it is computed once, without
dropout, and every step runs the top ``k`` layers alone, forward and backward - about ``k / L`` of a full
step's cost, so a time budget buys ``L / k`` times the steps.

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


def _top_layers_module(lm, start: int):
    """The network trained when layers below ``start`` are frozen: cached states of layer ``start`` (B, T, H)
    and their padding mask -> mean-pooled sentence vectors (B, H)."""
    from torch import nn

    from shoestring.learners.mlm.model import attention_mask, mean_pool

    class TopLayers(nn.Module):
        def __init__(self):
            super().__init__()
            self.lm = lm  # the whole CompactBert, so that its trained top layers are the ones kept

        def forward(self, h, pad):
            return mean_pool(self.lm.bert.encoder(h, attention_mask(None, pad), start=start), pad)

    return TopLayers()


def lower_states(lm, rows, pad_id: int, start: int, batch_size: int = 32) -> list:
    """The output of the embeddings and the first ``start`` layers of ``lm`` (a CompactBert) for each token-id
    row, without dropout: a list of (len(row), H) tensors. A row's states do not depend on the rows padded
    beside it (padding keys are masked), so they can be computed once and reused by every step."""
    import torch

    from shoestring.learners.mlm.model import padded_batches

    out = [None] * len(rows)
    was_training = lm.training
    lm.eval()
    with torch.no_grad():
        device = next(lm.parameters()).device
        for chunk, ids, pad in padded_batches(rows, pad_id, batch_size):
            h = lm.encode(ids.to(device), pad=pad.to(device), layers=start)
            for j, i in enumerate(chunk):
                out[i] = h[j, :len(rows[i])].cpu().clone()
    lm.train(was_training)
    return out


class LabelContrastLearner(ContrastiveLearner):
    """What the one training loop needs: anchors by index, one same-class positive each, the InfoNCE loss (or,
    with ``loss="cosine"``, SetFit's pair loss over every pair of the batch)."""

    nan_advice = "lower --lr (1e-5) or raise the temperature (0.1)"

    def __init__(self, encoder, rows, y, config: ContrastiveConfig, pad_id: int):
        # a CompactBert: its encode() is the network trained, mean-pooled (the pooler and MLM head unused)
        super().__init__(encoder, config, pad_id)
        self.rows, self.y = rows, np.asarray(y)
        self.n_examples = len(rows)
        self.members = {c: np.flatnonzero(self.y == c) for c in np.unique(self.y)}
        self.rng = np.random.default_rng([config.seed, 1])
        n_layers = len(encoder.bert.encoder.layer)
        self.cached = config.train_layers is not None and config.train_layers < n_layers
        self.frozen = []
        if self.cached:  # the frozen part runs once: its output per text replaces the text's token ids
            start = n_layers - config.train_layers
            self.frozen = [encoder.bert.embeddings, *encoder.bert.encoder.layer[:start]]
            for m in self.frozen:
                m.requires_grad_(False)
            self.rows = lower_states(encoder, rows, pad_id, start)
            self.model = _top_layers_module(encoder, start)

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

    def vectors(self, model, rows):
        if not self.cached:
            return super().vectors(model, rows)
        import torch

        # rows: cached states of the frozen layers (kept on the CPU; the batch goes to --device)
        device = next(model.parameters()).device
        lengths = torch.as_tensor([len(h) for h in rows], device=device)
        h = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True).to(device)
        pad = torch.arange(h.shape[1], device=device)[None, :] >= lengths[:, None]
        return model(h, pad), int(lengths.sum())

    def contrast(self, z, groups):
        from shoestring.learners.contrastive.loss import cosine_pairs

        return cosine_pairs(z, groups) if self.config.loss == "cosine" else super().contrast(z, groups)


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
    for m in learner.frozen:  # frozen only while the top layers trained
        m.requires_grad_(True)
    tuned = copy.copy(lm)
    tuned.model_ = encoder.cpu().eval()  # trained on --device; handed back on the CPU, like a loaded model
    if getattr(tuned, "whitening_", None) is not None:  # a whitened SentenceEncoder's map fits the old encoder
        tuned.whitening_ = None
    layers = "" if not learner.cached else f", top {config.train_layers} layers"
    loss = (f"supervised InfoNCE, tau = {config.temperature:g}" if config.loss == "infonce"
            else "pair cosines regressed to 1 / 0")
    tuned.training_ = {"origin": f"contrastive fine-tuning on {len(texts)} labelled texts of {len(classes)} classes "
                                 f"({loss}{layers})",
                       "epochs": state.epoch, "steps": state.step, "seconds": round(state.elapsed, 2),
                       "stop_reason": state.stop_reason,
                       "loss_by_epoch": [round(r.get("train_loss", float("nan")), 4) for r in state.history]}
    return tuned
