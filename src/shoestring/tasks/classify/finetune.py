"""``BertClassifier``: full fine-tuning of a compact BERT (from ``shoestring pretrain mlm``, or any BERT-family
checkpoint) for classification, exported as a Hugging Face ``BertForSequenceClassification`` folder.

The network is exactly Hugging Face's: the [CLS] state through the pooler (dense + tanh), dropout, one linear
layer. Every weight is trained (AdamW with warm-up and linear decay, Turc et al.'s recipe for miniature
BERTs: learning rate around 1e-4, small batches, a few epochs), with early stopping on a dev split.

Example::

    from shoestring.tasks.classify.finetune import BertClassifier
    clf = BertClassifier(mlm="models/news-mini", random_state=0).fit(texts, labels)
    clf.predict(["Stocks fell as oil rose"])
    clf.save_pretrained("models/news-mini-classifier")
    # transformers.AutoModelForSequenceClassification.from_pretrained("models/news-mini-classifier")
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json
from shoestring.errors import ArtifactError, InputError
from shoestring.training.seed import seed_everything
from shoestring.tasks.classify.config import FineTuneConfig
from shoestring.tasks.classify.estimator import LabelPredictor

KIND = "bert-classifier"


class _Net:
    """Builds the torch module lazily (torch is imported only when fitting or loading)."""

    @staticmethod
    def build(encoder, n_classes: int, dropout: float):
        import torch
        from torch import nn

        from shoestring.learners.mlm.model import set_dropout

        class BertForSequenceClassification(nn.Module):
            def __init__(self):
                super().__init__()
                self.bert = encoder.bert  # embeddings, encoder, pooler: Hugging Face's names
                self.bert.requires_grad_(True)  # the pooler was frozen during masked-LM pre-training
                # BERT's fine-tuning dropout everywhere (hidden and attention), as the exported config.json
                # says; masked-LM pre-training here usually ran without any
                set_dropout(self.bert, dropout)
                self.dropout = nn.Dropout(dropout)
                self.classifier = nn.Linear(encoder.sizes["hidden"], n_classes)
                nn.init.normal_(self.classifier.weight, std=0.02)
                nn.init.zeros_(self.classifier.bias)
                self.sizes = encoder.sizes
                self._encoder = [encoder]  # not a submodule: its MLM head is not part of this network

            def forward(self, ids, pad, labels=None):
                h = self._encoder[0].encode(ids, pad=pad)
                logits = self.classifier(self.dropout(self.bert.pooler(h)))
                if labels is None:
                    return logits
                return torch.nn.functional.cross_entropy(logits, labels)

        return BertForSequenceClassification()


class _Learner:
    monitor, mode = "dev_accuracy", "max"
    nan_advice = "lower --lr (3e-5)"

    def __init__(self, net, rows, y, dev, config, pad_id):
        self.model, self.rows, self.y, self.dev, self.config, self.pad_id = net, rows, y, dev, config, pad_id
        self.n_examples = len(rows)
        if dev is None:
            self.monitor, self.mode = "train_eval_loss", "min"

    def optimizer(self, params):
        import torch

        from shoestring.training.optim import param_groups

        return torch.optim.AdamW(param_groups(self.model, self.config.weight_decay), lr=self.config.lr)

    def on_step_start(self, state, optimizer):
        from shoestring.training.optim import lr_factor

        for g in optimizer.param_groups:
            g["lr"] = self.config.lr * lr_factor(state.progress, self.config.warmup, "linear")

    def batch(self, idx):
        import torch

        from shoestring.learners.mlm.model import pad_batch

        ids, pad = pad_batch([self.rows[i] for i in idx], self.pad_id)
        return ids, pad, torch.as_tensor(self.y[idx])

    def loss(self, model, batch, state):
        ids, pad, y = batch
        return model(ids, pad, y), {}

    def evaluate(self, state):
        import torch

        rows, y = (self.dev[0], self.dev[1]) if self.dev is not None else (self.rows, self.y)
        logits = _logits(self.model, rows, self.pad_id)
        if self.dev is None:
            return {"train_eval_loss": float(torch.nn.functional.cross_entropy(torch.from_numpy(logits),
                                                                              torch.as_tensor(y)))}
        return {"dev_accuracy": float((logits.argmax(1) == y).mean())}


def _logits(net, rows, pad_id, batch_size: int = 64) -> np.ndarray:
    import torch

    from shoestring.learners.mlm.model import padded_batches

    out = np.zeros((len(rows), net.classifier.out_features), np.float32)
    with torch.inference_mode():
        for chunk, ids, pad in padded_batches(rows, pad_id, batch_size):
            out[chunk] = net(ids, pad).numpy()
    return out


class BertClassifier(LabelPredictor):
    """Fine-tune a compact BERT for classification. ``mlm``: a :class:`MaskedLM` or a model folder."""

    kind = KIND
    config_class = FineTuneConfig
    extra_params = ("mlm",)

    def _lm(self):
        from shoestring.learners.mlm.estimator import MaskedLM

        if self.mlm is None:
            raise InputError("BertClassifier needs mlm=: a model folder from `shoestring pretrain mlm` or a BERT "
                             "checkpoint")
        return MaskedLM.from_pretrained(self.mlm) if isinstance(self.mlm, (str, Path)) else self.mlm

    def _rows(self, texts):
        return self.lm_._encode_texts(list(texts), self.config.max_length)

    def fit(self, texts, labels, *, dev_texts=None, dev_labels=None, callbacks=None) -> "BertClassifier":
        from shoestring.tasks.classify.estimator import split_dev

        c = self.config
        rng = np.random.default_rng(c.seed)
        texts, labels, dev_texts, dev_labels = split_dev(texts, labels, dev_texts, dev_labels, c.dev_fraction, rng)
        self.classes_ = sorted(set(labels))
        index = {y: i for i, y in enumerate(self.classes_)}
        self.lm_ = self._lm()
        seed_everything(c.seed)
        encoder = copy.deepcopy(self.lm_.model_).train()  # the pre-trained model itself stays as it was
        self.model_ = _Net.build(encoder, len(self.classes_), c.dropout)
        dev = None
        if dev_texts:
            dev = (self._rows(dev_texts), np.asarray([index[v] for v in dev_labels]))
        learner = _Learner(self.model_, self._rows(texts), np.asarray([index[v] for v in labels]), dev, c,
                           self.lm_.special_.pad)
        return self._train(learner, callbacks, 0 if dev is None else len(dev[1]))

    def predict_proba(self, texts) -> np.ndarray:
        import torch

        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return torch.softmax(torch.from_numpy(_logits(self.model_, self._rows(texts), self.lm_.special_.pad)),
                             -1).numpy()

    # ------------------------------------------------------------------ saving
    def _save_files(self, tmp: Path, metrics=None) -> None:
        """A ``BertForSequenceClassification`` folder (loads in ``transformers``) plus shoestring's files."""
        from safetensors.torch import save_file

        from shoestring.data.tokens import save_hf_tokenizer
        from shoestring.learners.mlm.export import hf_config

        state = {k: v.detach().contiguous() for k, v in self.model_.state_dict().items()}
        cfg = hf_config(self.lm_.model_, pad_token_id=self.lm_.special_.pad)
        d = self.config.dropout  # the dropout this model was fine-tuned with, for whoever trains it further
        cfg.update(architectures=["BertForSequenceClassification"], classifier_dropout=d, hidden_dropout_prob=d,
                   attention_probs_dropout_prob=d, id2label={str(i): y for i, y in enumerate(self.classes_)},
                   label2id={y: i for i, y in enumerate(self.classes_)}, problem_type="single_label_classification")
        write_json(tmp / "config.json", cfg)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_hf_tokenizer(self.lm_.tokenizer_, tmp, model_max_length=self.lm_.model_.sizes["positions"])
        self._write_metrics(tmp, metrics)

    def _config_extras(self) -> dict:
        return {"classes": self.classes_}

    def _card(self, metrics=None) -> dict:
        s = self.lm_.model_.sizes
        return dict(
            title="Fine-tuned compact BERT classifier",
            summary=f"A BERT (L = {s['layers']}, H = {s['hidden']}) fine-tuned with shoestring on "
                    f"{self.training_.get('train_examples')} labelled examples. Classes: "
                    f"{', '.join(self.classes_[:30])}{' ...' if len(self.classes_) > 30 else ''}.",
            usage="```python\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
                  "model = AutoModelForSequenceClassification.from_pretrained('.')\n```\n\nor "
                  "`shoestring predict . texts.jsonl -o predictions.jsonl`",
            metrics=self._card_metrics(metrics))

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from safetensors.torch import load_file

        from shoestring.learners.mlm.estimator import MaskedLM

        self.classes_ = meta["classes"]
        self.lm_ = MaskedLM.from_pretrained(path)  # the encoder's weights and the tokenizer
        self.model_ = _Net.build(self.lm_.model_, len(self.classes_), self.config.dropout)
        try:
            self.model_.load_state_dict(load_file(str(path / "model.safetensors")))
        except RuntimeError as e:
            raise ArtifactError(f"model.safetensors does not fit config.json: {str(e)[:300]}", path=path) from None
        self.model_.eval()
