"""``shoestring evaluate sts FILE MODEL...``: semantic-similarity scores of embedders side by side."""

from __future__ import annotations

BASELINE_EMBEDDERS = ("tfidf", "glove")


def _embedder(name: str, sentences: list[str]):
    """``texts -> vectors`` of a model folder, or of a baseline: ``tfidf`` (TF-IDF fit on the file's
    sentences, as the baselines' tfidf_lr) or ``glove`` (mean GloVe 6B 50-d, optional package)."""
    from pathlib import Path

    from shoestring.errors import ArtifactError

    if name == "tfidf" and not Path(name).exists():
        from shoestring.bench.baselines import _tfidf_features

        def embed(texts):
            return _tfidf_features(sentences, list(texts), None)[1]

        return embed
    if name == "glove" and not Path(name).exists():
        from shoestring.bench.baselines import _glove_features, _glove_reason

        why = _glove_reason()
        if why:
            raise ArtifactError(f"the glove baseline is unavailable: {why}")
        return _glove_features
    from shoestring.registry import load_embedder

    return load_embedder(name).transform


def cmd_evaluate_sts(a):
    from pathlib import Path

    from shoestring.artifacts import check_output_file, write_json
    from shoestring.errors import ConfigError
    from shoestring.evaluation.sts import read_sts, sts_scores

    if not a.test:
        raise ConfigError("usage: shoestring evaluate sts FILE MODEL [MODEL ...]",
                          hint=f"MODEL: a model folder, or a baseline ({', '.join(BASELINE_EMBEDDERS)})")
    if len(a.test) < 2:
        raise ConfigError("evaluate sts needs an STS file and at least one model",
                          hint="shoestring evaluate sts stsb/test.jsonl.gz models/simcse tfidf")
    if a.json:
        check_output_file(a.json, a.overwrite, (".json",), "--json")
    path, models = a.test[0], a.test[1:]
    s1, s2, gold = read_sts(path)
    rows = []
    for m in models:
        scores = sts_scores(_embedder(m, list(dict.fromkeys(s1 + s2))), s1, s2, gold)
        rows.append({"model": m, **scores})
    width = max(len(r["model"]) for r in rows)
    print(f"{Path(path).name}: {len(gold)} pairs ({rows[0]['positive_pairs']} positives for alignment)")
    print(f"{'model':{width}}  spearman  pearson  alignment  uniformity")
    for r in rows:
        print(f"{r['model']:{width}}  {r['spearman']:8.2f}  {r['pearson']:7.2f}  {r['alignment']:9.3f}  "
              f"{r['uniformity']:10.3f}")
    if a.json:
        write_json(Path(a.json), {"file": str(path), "results": rows})
