"""The sentence-transformers side of a saved sentence encoder: ``modules.json`` (a Transformer module at the
folder's root, then Pooling, then Normalize), ``sentence_bert_config.json`` and ``1_Pooling/config.json``.
With them ``sentence_transformers.SentenceTransformer(folder)`` rebuilds the same embedding, L2-normalized as
shoestring's cosine comparisons use it, without shoestring installed."""

from __future__ import annotations

from pathlib import Path

from shoestring.artifacts import write_json


def write_sentence_transformers(folder: Path, *, dim: int, pooling: str, max_seq_length: int) -> None:
    write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (folder / "1_Pooling").mkdir(exist_ok=True)
    write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    (folder / "2_Normalize").mkdir(exist_ok=True)
