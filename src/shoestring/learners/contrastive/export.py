"""The sentence-transformers side of a saved sentence encoder: ``modules.json`` (a Transformer module at the
folder's root, then Pooling, a Dense layer if the encoder is whitened, then Normalize),
``sentence_bert_config.json`` and ``1_Pooling/config.json``. With them
``sentence_transformers.SentenceTransformer(folder)`` rebuilds the same embedding, L2-normalized as shoestring's
cosine comparisons use it, without shoestring installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shoestring.artifacts import write_json


def write_sentence_transformers(folder: Path, *, dim: int, pooling: str, max_seq_length: int,
                                whitening=None) -> None:
    """``whitening``: ``(mu, W)`` of a whitened encoder, written as a ``Dense`` module between Pooling and
    Normalize: ``x W - mu W``, no activation."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if whitening is not None:
        from safetensors.numpy import save_file

        mu, W = whitening
        (folder / "2_Dense").mkdir(exist_ok=True)
        write_json(folder / "2_Dense" / "config.json", {
            "in_features": int(W.shape[0]), "out_features": int(W.shape[1]), "bias": True,
            "activation_function": "torch.nn.modules.linear.Identity"})
        save_file({"linear.weight": np.ascontiguousarray(W.T), "linear.bias": -(mu @ W)},
                  str(folder / "2_Dense" / "model.safetensors"))
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    n = len(modules)
    modules.append({"idx": n, "name": str(n), "path": f"{n}_Normalize",
                    "type": "sentence_transformers.models.Normalize"})
    write_json(folder / "modules.json", modules)
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (folder / "1_Pooling").mkdir(exist_ok=True)
    write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    (folder / f"{n}_Normalize").mkdir(exist_ok=True)
