"""ELMo-C's continuous output as a masked-LM objective: predict each masked token's *embedding*, not a softmax.

Masked-LM scores every predicted position against all V rows of the vocabulary (the H x V output projection is
the largest single cost of a compact BERT with a 30k vocabulary). Li, Chen, Hsieh & Chang (TACL 2019) replace a
language model's softmax by a regression onto frozen pre-trained word embeddings; here the same output layer
(:class:`~shoestring.learners.lm.outputs.ContinuousOutput`) sits on the transformer's masked positions:

    ê_i = P · LN(GELU(W h_i))            (the BERT head's transform, then a projection to d)
    L   = Σ_i d(ê_i, e_{w_i}) / normalizer      d: cosine (default), max_margin or vmf

where h_i is the encoder's state at masked position i, w_i the original token there and E (V x d, unit rows) a
frozen table: PPMI-SVD vectors of the corpus's own sub-word pieces (:meth:`WordVectors.fit_tokens
<shoestring.learners.vectors.ppmi.WordVectors.fit_tokens>`, seconds), fitted before training begins (the
``--minutes`` budget counts the training that follows; ``training_["targets_seconds"]`` records the fit). A
step's output cost is O(d H) per predicted token whatever V is, and the output layer's trained parameters are
d (H + 1) plus the transform's.

Validation masks held-out sequences at 15% (as ``mlm`` does) and reports the loss and the rank of the true
piece among the nearest neighbours of ê in E (``valid_mean_rank``, ``valid_top1``, ``valid_top10``; Kumar &
Tsvetkov decode continuous outputs by nearest neighbour).

What is kept: the encoder, exported as a Hugging Face ``BertModel`` (``AutoModel`` loads it; there is no
softmax head to export). The continuous head is, like ELECTRA's generator, used only in pre-training.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn

from shoestring.learners.lm.outputs import ContinuousOutput, rank_metrics
from shoestring.learners.mlm.model import CompactBert, Transform
from shoestring.learners.mlm.objectives import Export, Objective

log = logging.getLogger(__name__)

DEFAULT_DIM = 100  # as the LSTM LM's domain targets
TARGET_TOKENS = 5_000_000  # the target vectors are fitted on at most this many training tokens (documents in order)
EVAL_RATE = 0.15
BERT_MODEL_KIND = {"architectures": ["BertModel"], "model_type": "bert"}


class ContinuousPretrainer(nn.Module):
    """The module the loop trains: the encoder (``self.encoder``, whose softmax head goes unused), the head's
    transform and the continuous output layer (the frozen table E and the projection P)."""

    def __init__(self, encoder, table, loss: str, seed: int):
        super().__init__()
        hidden = encoder.sizes["hidden"]
        self.encoder = encoder
        self.transform = Transform(hidden)
        self.transform.apply(CompactBert._init)
        self.output = ContinuousOutput(hidden, table, loss=loss, random_state=seed)
        encoder.cls.requires_grad_(False)  # the softmax head is not trained by this objective

    def predicted(self, ids, positions=None, segments=None, targets_at=None):
        """The transformed states (n, H) at the masked positions: the continuous output's input."""
        return self.transform(self.encoder.encode(ids, positions, segments)[targets_at])

    def forward(self, ids, positions=None, segments=None, targets_at=None, targets=None, normalizer=None):
        """Σ_i d(ê_i, e_{w_i}) / ``normalizer`` over the masked positions (their mean without one)."""
        mean = self.output(self.predicted(ids, positions, segments, targets_at), targets)
        return mean if normalizer is None else mean * len(targets) / normalizer


class ContinuousObjective(Objective):
    name = "continuous"
    options = ("continuous_loss", "targets_dim")

    def __init__(self, config=None):
        super().__init__(config)
        self.table = None

    @property
    def loss_name(self) -> str:
        return getattr(self.config, "continuous_loss", None) or "cosine"

    @property
    def dim(self) -> int:
        return getattr(self.config, "targets_dim", None) or DEFAULT_DIM

    def describe(self, config) -> str:
        m_corr, m_pred, _ = self.mask_rates(config)
        loss, dim = config.continuous_loss or "cosine", config.targets_dim or DEFAULT_DIM
        return (f"continuous-output masked-LM (ELMo-C's output layer: each masked piece's {dim}-d embedding "
                f"predicted with the {loss} loss against frozen PPMI-SVD piece vectors of the corpus) "
                f"with m_corr = {m_corr}, m_pred = {m_pred}")

    # ------------------------------------------------------------------ training
    def prepare(self, corpus) -> None:
        """Fit the target table E: PPMI-SVD vectors of the corpus's pieces (every piece seen at least once gets
        one; special tokens and pieces never seen get fixed random unit vectors: they are never targets)."""
        import numpy as np

        from shoestring.errors import InputError
        from shoestring.learners.lm.targets import TargetEmbeddings
        from shoestring.learners.vectors.ppmi import WordVectors

        t0 = time.perf_counter()
        tokens, offsets = corpus.split("train")
        last = int(np.searchsorted(offsets, min(int(offsets[-1]), TARGET_TOKENS), side="right"))
        pieces = [corpus.tokenizer.id_to_token(i) or f"[unused{i}]" for i in range(corpus.vocab_size)]
        docs = [[pieces[i] for i in tokens[offsets[d]:offsets[d + 1]].tolist()] for d in range(max(last - 1, 1))]
        c = self.config
        try:
            wv = WordVectors(dim=self.dim, min_count=1, max_vocab=corpus.vocab_size, seed=c.seed).fit_tokens(docs)
        except InputError as e:
            raise InputError(f"the continuous objective's target vectors (PPMI-SVD of the corpus's pieces, d = "
                             f"{self.dim}) cannot be fitted: {str(e).splitlines()[0]}", path=corpus.path,
                             hint="lower --targets-dim, or give more text") from None
        specials = {t for t in (corpus.tokenizer.id_to_token(i) for i in corpus.special.to_dict().values()) if t}
        source = TargetEmbeddings(*wv.as_table(), subwords=False, lowercase=False,
                                  name=f"PPMI-SVD piece vectors ({self.dim}-d)", random_state=c.seed)
        self.table = source.build(pieces, dim=self.dim, specials=specials)
        self.record = {"targets": self.table.summary(), "targets_seconds": round(time.perf_counter() - t0, 2)}
        log.info("target embeddings: %s (%.1f s)", self.table.summary(), self.record["targets_seconds"])

    def build(self, encoder):
        if self.table is None:
            raise RuntimeError("ContinuousObjective.prepare(corpus) must fit the target table before build()")
        return ContinuousPretrainer(encoder, self.table, self.loss_name, self.config.seed)

    def loss(self, module, tensors, ids):
        _, m_pred, _ = self.mask_rates(self.config)
        return module(**tensors, normalizer=len(ids) * max(1.0, m_pred * ids.shape[1])), {}

    def evaluate(self, learner, n_sequences):
        """The continuous loss and the rank of the true piece among E's nearest neighbours of ê, at 15% masking."""
        module = learner.model
        out = module.output
        losses, ranks = [], []
        for _, t in learner.valid_batches(n_sequences, EVAL_RATE, EVAL_RATE, True):
            h = module.predicted(t["ids"], t["positions"], t["segments"], t["targets_at"])
            losses.append(out.losses(out.predict(h), t["targets"], negatives=None))  # max_margin: all V
            ranks.append(out.rank(h, t["targets"]))
        return {"valid_loss": float(torch.cat(losses).double().mean()), **rank_metrics(torch.cat(ranks))}

    # ------------------------------------------------------------------ saving
    def export(self, module):
        """The encoder as a ``BertModel`` (no MLM head: this objective trains none)."""
        return Export(hf_config=dict(BERT_MODEL_KIND), state_dict=bert_model_state_dict, title="a continuous output",
                      description=self.describe(self.config),
                      usage="`AutoModel` gives the encoder; the continuous head was used only in pre-training and is "
                            "not exported (there is no masked-LM head to load).")


def bert_model_state_dict(model) -> dict:
    """``BertModel``'s tensors: the encoder's, without the ``bert.`` prefix and without the (untrained) MLM head."""
    return {k[len("bert."):]: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
            if k.startswith("bert.")}
