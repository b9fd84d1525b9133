"""BERT's masked-LM objective: predict the tokens at the ``m_pred`` positions from an input corrupted at
``m_corr`` of them (Wettig et al. 2023's rates; the 80-10-10 rule for corrupted tokens unless it is off).

Validation is the MLM loss and accuracy on held-out sequences at a fixed 15% masking whatever the training
rates, so runs with different rates compare on one scale.
"""

from __future__ import annotations

from shoestring.learners.mlm.objectives import Export, Objective

EVAL_RATE = 0.15  # BERT's rate: validation masks at it (with the 80-10-10 rule) whatever the training rates


class MaskedLMObjective(Objective):
    name = "mlm"

    def describe(self, config) -> str:
        m_corr, m_pred, _ = self.mask_rates(config)
        return f"masked-LM with m_corr = {m_corr}, m_pred = {m_pred}"

    def build(self, encoder):
        return encoder

    def loss(self, module, tensors, ids):
        _, m_pred, _ = self.mask_rates(self.config)
        # sum over predicted tokens / (sequences x expected predictions per sequence): about the mean
        # cross-entropy, and exactly additive over micro-batches and processes
        return module(**tensors, normalizer=len(ids) * max(1.0, m_pred * ids.shape[1])), {}

    def encoder(self, module):
        """The BERT whose masked-LM head is scored in :meth:`evaluate` (``module``: what :meth:`build` made)."""
        return module

    def evaluate(self, learner, n_sequences):
        """Masked-LM loss and accuracy at 15% masking."""
        import torch.nn.functional as F

        model = self.encoder(learner.model)
        total, correct, count = 0.0, 0, 0
        for _, t in learner.valid_batches(n_sequences, EVAL_RATE, EVAL_RATE, True):
            h = model.encode(t["ids"], t["positions"], t["segments"])
            logits = model.mlm_logits(h[t["targets_at"]])
            total += float(F.cross_entropy(logits, t["targets"], reduction="sum"))
            correct += int((logits.argmax(-1) == t["targets"]).sum())
            count += len(t["targets"])
        return {"valid_loss": total / max(count, 1), "valid_accuracy": correct / max(count, 1)}

    def export(self, module):
        from shoestring.learners.mlm.export import BERT_KIND, export_state_dict

        return Export(hf_config=dict(BERT_KIND), state_dict=export_state_dict, title="masked-LM",
                      description=self.describe(self.config),
                      usage="`AutoModelForMaskedLM` gives the masked-LM head.")
