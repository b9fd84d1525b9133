"""``shoestring predict`` and ``shoestring evaluate``: use a trained classifier of any kind."""

from __future__ import annotations

from pathlib import Path

CLASSIFIERS = ("classifier", "bert-classifier", "few-label")


def register(sub) -> None:
    from shoestring.cli.common import add_output, add_read

    s = sub.add_parser("predict", help="label texts with a trained classifier (JSONL with predicted, probability)")
    s.add_argument("model", help="a classifier folder")
    s.add_argument("input", nargs="+", help="texts to label")
    add_output(s, "predictions .jsonl(.gz)")
    add_read(s)
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("evaluate", help="a classifier: accuracy, macro-F1, per-class report, confusion matrix; "
                                        "`evaluate sts FILE MODEL...`: embedders' STS Spearman, alignment, "
                                        "uniformity side by side")
    s.add_argument("model", help="a classifier folder, or sts")
    s.add_argument("test", nargs="+", help="labelled test files (for sts: the STS file, then model folders or "
                                           "the baselines tfidf, glove)")
    s.add_argument("--json", help="also write the metrics as JSON here (a .json file)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    s.add_argument("--unseen-labels", default="error", choices=("error", "count"),
                   help="test labels never seen in training: an error (default) or counted as mistakes")
    add_read(s)
    s.set_defaults(func=cmd_evaluate)


def cmd_predict(a):
    from shoestring.artifacts import check_output_file, write_jsonl
    from shoestring.cli.common import read_kw
    from shoestring.data.readers import read_documents
    from shoestring.registry import load

    out = check_output_file(a.output, a.overwrite, (".jsonl", ".jsonl.gz"))
    clf = load(a.model, kinds=CLASSIFIERS)
    # empty rows are kept, flagged, so that output row i is input row i
    docs = list(read_documents(a.input, progress="reading", keep_empty=True, **read_kw(a)))
    P = clf.predict_proba([d.text for d in docs])
    rows, empty = [], 0
    for d, p in zip(docs, P):
        k = int(p.argmax())
        row = {"text": d.text, **({"label": d.label} if d.label is not None else {}), **d.extra,
               "predicted": clf.classes_[k], "probability": round(float(p[k]), 6)}
        if not d.text.strip():
            row["empty"] = True
            empty += 1
        rows.append(row)
    write_jsonl(out, rows)
    print(f"{out}: {len(rows)} predictions" + (f'; {empty} empty texts, flagged "empty": true (their prediction '
                                               "is the model's guess with no words to go on)" if empty else ""))


def cmd_evaluate(a):
    from shoestring.artifacts import check_output_file, write_json
    from shoestring.cli.common import read_labelled
    from shoestring.evaluation.metrics import format_report
    from shoestring.registry import load

    if a.model == "sts" and not (Path(a.model) / "manifest.json").exists():
        from shoestring.cli.similarity import cmd_evaluate_sts

        return cmd_evaluate_sts(a)
    if a.json:
        check_output_file(a.json, a.overwrite, (".json",), "--json")
    clf = load(a.model, kinds=CLASSIFIERS)
    texts, labels = read_labelled(a.test, a, "test")
    m = clf.evaluate(texts, labels, unseen=a.unseen_labels)
    print(format_report(m))
    if a.json:
        write_json(a.json, {"model": str(a.model), "test": [str(t) for t in a.test], **m})
