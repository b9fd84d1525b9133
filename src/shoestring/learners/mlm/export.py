"""Hugging Face compatibility: export a :class:`CompactBert` as a ``BertForMaskedLM`` folder, and read BERT
checkpoints back, without ``transformers`` installed on either side.

The model's parameter names already are Hugging Face's, so the exported ``model.safetensors`` is the
``state_dict`` itself; the MLM output projection is tied to the word embeddings and so is not stored twice
(``transformers`` re-ties it on load). A ``BertModel`` checkpoint (no ``bert.`` prefix, no MLM head, such as
all-MiniLM-L6-v2) loads with a freshly initialized head: that is continued pre-training's starting point.
"""

from __future__ import annotations

import json
from pathlib import Path

from shoestring.errors import ArtifactError, InputError

SUPPORTED = ("bert", "electra")
# the Hugging Face class an export is read as; an objective's Export names one (objectives/__init__.py)
BERT_KIND = {"architectures": ["BertForMaskedLM"], "model_type": "bert"}
ELECTRA_KIND = {"architectures": ["ElectraForPreTraining"], "model_type": "electra"}  # plus embedding_size = H


def hf_config(model, *, pad_token_id: int = 0, kind: dict | None = None) -> dict:
    """``config.json`` describing ``model``: ``transformers.BertConfig``, or the class ``kind`` names (its
    ``architectures``, ``model_type`` and any key of its own, first; e.g. an ELECTRA discriminator's)."""
    s = model.sizes
    return {
        **(BERT_KIND if kind is None else kind), "vocab_size": s["vocab"],
        "hidden_size": s["hidden"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
        "intermediate_size": s["ffn"], "hidden_act": "gelu", "max_position_embeddings": s["positions"],
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "initializer_range": 0.02,
        # dropout for fine-tuning downstream (pre-training here may have used none)
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "pad_token_id": pad_token_id, "position_embedding_type": "absolute", "tie_word_embeddings": True,
    }


def read_hf_config(folder: Path) -> dict:
    """Sizes of a BERT-family checkpoint from its ``config.json``; unsupported architectures are an error."""
    path = folder / "config.json"
    if not path.exists():
        raise InputError("is not a Hugging Face model folder (no config.json)", path=folder,
                         hint="pass a folder written by `shoestring pretrain mlm` or a BERT checkpoint")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    kind = cfg.get("model_type")
    if kind not in SUPPORTED:
        raise InputError(f"model_type {kind!r} ({', '.join(cfg.get('architectures') or [])}) is not supported: "
                         f"shoestring continues pre-training of {', '.join(SUPPORTED)} checkpoints", path=path,
                         hint="use a BERT-family checkpoint (BertModel / BertForMaskedLM), or train from scratch "
                              "with --preset")
    if kind == "electra" and cfg.get("embedding_size", cfg["hidden_size"]) != cfg["hidden_size"]:
        raise InputError(f"an ELECTRA checkpoint with embedding_size {cfg['embedding_size']} != hidden_size "
                         f"{cfg['hidden_size']} (a projected embedding) is not supported", path=path)
    if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
        raise InputError(f"hidden_act {cfg.get('hidden_act')!r} / position_embedding_type "
                         f"{cfg.get('position_embedding_type')!r}: only gelu with absolute positions is supported",
                         path=path)
    return {"vocab": cfg["vocab_size"], "layers": cfg["num_hidden_layers"], "hidden": cfg["hidden_size"],
            "heads": cfg["num_attention_heads"], "ffn": cfg["intermediate_size"],
            "positions": cfg["max_position_embeddings"], "pad_token_id": cfg.get("pad_token_id", 0)}


def export_state_dict(model, discriminator_head=None) -> dict:
    """Tensors for ``model.safetensors`` under Hugging Face's names (contiguous, no shared storage). With an
    ELECTRA ``discriminator_head``: ``ElectraForPreTraining``'s names (``electra.`` for ``bert.``, no MLM head
    or pooler)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if discriminator_head is None:
        return state
    out = {"electra." + k[len("bert."):]: v for k, v in state.items()
           if k.startswith("bert.") and not k.startswith("bert.pooler.")}
    for k, v in discriminator_head.state_dict().items():
        out["discriminator_predictions." + k] = v.detach().cpu().contiguous()
    return out


def load_hf_weights(model, folder: Path) -> dict:
    """Load a checkpoint's weights into ``model``. Returns {"missing": [...], "unexpected": [...]}.

    Keys without the ``bert.`` prefix (a ``BertModel`` checkpoint) get it; HF buffers (``position_ids``) and
    the duplicated tied projection are ignored. Missing encoder weights are an error; a missing MLM head is not.
    """
    from safetensors.torch import load_file

    weights = folder / "model.safetensors"
    if not weights.exists():
        raise InputError("has no model.safetensors (pytorch_model.bin is pickle and is not read)", path=folder,
                         hint="convert it once with transformers: model.save_pretrained(folder, "
                              "safe_serialization=True)")
    state = load_file(str(weights))
    own = model.state_dict()
    renamed = {}
    for k, v in state.items():
        if k.startswith(("discriminator_predictions.", "generator")):
            continue  # an ELECTRA checkpoint's heads: the encoder is what continues
        if k.startswith("electra."):
            k = "bert." + k[len("electra."):]
        key = k if k.startswith(("bert.", "cls.")) else "bert." + k
        if key.endswith("position_ids") or key == "cls.predictions.decoder.weight":
            continue
        if key == "cls.predictions.decoder.bias":
            key = "cls.predictions.bias"
        renamed[key] = v
    unexpected = sorted(k for k in renamed if k not in own)
    for k, v in renamed.items():
        if k in own and tuple(v.shape) != tuple(own[k].shape):
            raise ArtifactError(f"{k} has shape {tuple(v.shape)} in the checkpoint, {tuple(own[k].shape)} in the "
                                "model its config.json describes", path=weights)
    missing = sorted(k for k in own if k not in renamed)
    body_missing = [k for k in missing if k.startswith("bert.") and not k.startswith("bert.pooler")]
    if body_missing:
        raise ArtifactError(f"the checkpoint lacks {len(body_missing)} encoder weights, e.g. {body_missing[0]}",
                            path=weights)
    model.load_state_dict({k: v for k, v in renamed.items() if k in own}, strict=False)
    return {"missing": missing, "unexpected": unexpected}
