"""Similarity and search: ``shoestring evaluate sts FILE MODEL...`` (embedders' STS scores side by side),
``shoestring index CORPUS MODEL -o INDEX`` and ``shoestring search INDEX "query"``."""

from __future__ import annotations


def register(sub) -> None:
    from shoestring.cli.common import add_read

    s = sub.add_parser("index", help="embed a corpus into a persistent semantic-search index (any embedder "
                                     "folder or checkpoint)")
    s.add_argument("paths", nargs="+", metavar="CORPUS... MODEL",
                   help="text files (any format `prepare` reads), then the embedding model's folder (omit it "
                        "with --add-to: the index's own model embeds the new texts)")
    s.add_argument("-o", "--output", help="the index folder to write")
    s.add_argument("--add-to", help="an existing index folder: add the texts to it (a new folder replaces it "
                                    "when complete)")
    s.add_argument("--id-field", help="a field holding each text's id (default: the row number)")
    s.add_argument("--backend", default="auto", choices=("auto", "exact", "faiss"),
                   help="exact (numpy), faiss (HNSW, approximate; needs faiss-cpu), or auto: faiss from "
                        "200,000 texts when installed (default)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    add_read(s)
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="the texts of an index closest to a query (cosine similarity)")
    s.add_argument("index", help="an index folder from `shoestring index`")
    s.add_argument("query", nargs="+", help="one or more queries")
    s.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    s.add_argument("--model", help="the query model (default: the one recorded in the index; it must be the same)")
    s.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    s.set_defaults(func=cmd_search)


def cmd_index(a):
    import time

    from shoestring.cli.common import read_kw
    from shoestring.data.readers import read_documents
    from shoestring.errors import ConfigError, InputError
    from shoestring.tasks.search.index import Index

    if a.add_to:
        if a.output:
            raise ConfigError("--add-to writes the index it adds to; drop -o")
        corpus, model = a.paths, None
    else:
        if len(a.paths) < 2 or not a.output:
            raise ConfigError("usage: shoestring index CORPUS... MODEL -o INDEX (or CORPUS... --add-to INDEX)")
        corpus, model = a.paths[:-1], a.paths[-1]
        from shoestring.artifacts import check_writable

        check_writable(a.output, a.overwrite)
    docs = list(read_documents(corpus, progress="reading", **read_kw(a)))
    if not docs:
        raise InputError("no texts to index", path=", ".join(corpus))
    ids = None
    if a.id_field:
        ids = []
        for d in docs:
            if a.id_field not in d.extra:
                raise InputError(f"no {a.id_field!r} field", path=d.source, line=d.line, hint="check --id-field")
            ids.append(d.extra.pop(a.id_field))
    fields = [{**({"label": d.label} if d.label is not None else {}), **d.extra} for d in docs]
    t0 = time.perf_counter()
    if a.add_to:
        index = Index.from_pretrained(a.add_to)
        before = len(index.rows)
        index.add([d.text for d in docs], ids=ids, fields=fields, progress=True)
        index.save_pretrained(a.add_to, overwrite=True)
        out = a.add_to
    else:
        before = 0
        index = Index.build(model, [d.text for d in docs], ids=ids, fields=fields, backend=a.backend, progress=True)
        index.save_pretrained(a.output, overwrite=a.overwrite)
        out = a.output
    dt = time.perf_counter() - t0
    print(f"{out}: {len(index.rows) - before:,} texts added ({len(index.rows):,} in all, "
          f"{index.vectors.shape[1]}-d, {index.resolved_backend} search) in {dt:.1f} s "
          f"({(len(index.rows) - before) / max(dt, 1e-9):,.0f} texts/s)")


def cmd_search(a):
    import json

    from shoestring.tasks.search.index import Index

    index = Index.from_pretrained(a.index, model=a.model)
    for q, hits in zip(a.query, index.search(a.query, k=a.k)):
        if a.json:
            for rank, h in enumerate(hits, 1):
                print(json.dumps({"query": q, "rank": rank, "id": h.id, "score": round(h.score, 6), "text": h.text,
                                  **h.fields}, ensure_ascii=False))
            continue
        print(f"# {q}")
        for rank, h in enumerate(hits, 1):
            text = h.text if len(h.text) <= 100 else h.text[:97] + "..."
            print(f"{rank:3d}  {h.score:.4f}  {h.id}  {text}")

BASELINE_EMBEDDERS = ("tfidf", "glove")


def _embedder(name: str, sentences: list[str]):
    """``texts -> vectors`` of a model folder, or of a baseline: ``tfidf`` (TF-IDF fit on the file's
    sentences, as the baselines' tfidf_lr) or ``glove`` (mean GloVe 6B 50-d, optional package)."""
    from pathlib import Path

    from shoestring.errors import ArtifactError

    if name == "tfidf" and not Path(name).exists():
        from shoestring.bench.baselines import _tfidf_pool_featurizer

        featurize = _tfidf_pool_featurizer(sentences, None)
        return lambda texts: featurize(list(texts))
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
