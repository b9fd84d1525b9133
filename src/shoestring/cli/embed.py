"""``shoestring embed``: document vectors of texts from any model that embeds, row for row."""

from __future__ import annotations


def register(sub) -> None:
    from shoestring.cli.common import add_output, add_read

    s = sub.add_parser("embed", help="document vectors of texts (VAMPIRE, a compact BERT, a SimCSE sentence encoder, "
                                     "a bidirectional LSTM LM, word vectors, a BERT-family checkpoint folder, or a "
                                     "classifier's fine-tuned VAMPIRE), as .npy or appended to JSONL")
    s.add_argument("model", help="a model folder: VAMPIRE, masked LM, sentence encoder, LSTM LM, word vectors, a "
                                 "classifier with VAMPIRE, or a Hugging Face BERT-family checkpoint (mean-pooled)")
    s.add_argument("input", nargs="+", help="texts to embed")
    add_output(s, "out.npy, or out.jsonl(.gz) (input rows + a vector field)")
    s.add_argument("--field", default="vampire", help="JSONL field for the vector (default: vampire)")
    add_read(s)
    s.set_defaults(func=cmd_embed)


def cmd_embed(a):
    import time

    import numpy as np

    from shoestring.artifacts import check_output_file, write_jsonl, write_npy
    from shoestring.cli.common import read_kw
    from shoestring.data.readers import read_documents
    from shoestring.registry import load_embedder

    out = check_output_file(a.output, a.overwrite, (".npy", ".jsonl", ".jsonl.gz"))
    model = load_embedder(a.model)  # a classifier without VAMPIRE, or a corpus folder, says so here
    # empty rows are kept (as zero vectors, flagged in JSONL) so that output row i is input row i
    docs = list(read_documents(a.input, progress="reading", keep_empty=True, **read_kw(a)))
    empty = np.array([not d.text.strip() for d in docs], bool)
    t0 = time.perf_counter()
    X = model.transform([d.text for d, e in zip(docs, empty) if not e])
    dt = time.perf_counter() - t0
    if empty.any():
        full = np.zeros((len(docs), X.shape[1]), X.dtype)
        full[~empty] = X
        X = full
    if out.suffix == ".npy":
        write_npy(out, X)
    else:
        write_jsonl(out, ({"text": d.text, **({"label": d.label} if d.label is not None else {}), **d.extra,
                           a.field: [round(float(v), 6) for v in x], **({"empty": True} if e else {})}
                          for d, x, e in zip(docs, X, empty)))
    n = int((~empty).sum())
    note = ""
    if empty.any():
        note = (f"; {int(empty.sum())} empty rows (first: row {int(np.flatnonzero(empty)[0]) + 1}) are zero vectors"
                + (' flagged "empty": true' if out.suffix != ".npy" else ""))
    print(f"{out}: {X.shape[0]} x {X.shape[1]} in {dt:.2f} s ({n / max(dt, 1e-9):,.0f} documents/s){note}")
