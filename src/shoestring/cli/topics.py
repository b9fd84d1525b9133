"""``shoestring topics`` and ``shoestring report``: look at what a VAMPIRE learned."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    s = sub.add_parser("topics", help="print each topic's top words with its NPMI, and topic diversity")
    s.add_argument("model", help="a VAMPIRE model folder")
    s.add_argument("--data", help="a prepared corpus whose reference split scores NPMI (default: the model's own)")
    s.add_argument("-n", "--top-n", type=int, default=10, help="words per topic (default 10)")
    s.add_argument("--json", help="also write the table as JSON here (a .json file)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    s.set_defaults(func=cmd_topics)

    s = sub.add_parser("report", help="write an offline HTML report: topics, a document map, training curves")
    s.add_argument("model", help="a VAMPIRE model folder")
    s.add_argument("-o", "--output", default=None, help="HTML file (default: MODEL.report.html beside the model folder)")
    s.add_argument("--data", help="prepared corpus for the document map (default: the model's reference split)")
    s.add_argument("--color-by", default="auto", choices=("auto", "label", "topic"),
                   help="color documents by label or dominant topic (auto: label when known)")
    s.add_argument("--seed", type=int, default=0, help="seed of the map's sample and layout")
    s.add_argument("--overwrite", action="store_true", help="replace an existing report file")
    s.set_defaults(func=cmd_report)


def cmd_topics(a):
    from shoestring.artifacts import check_output_file, write_json
    from shoestring.evaluation.topics import print_topics
    from shoestring.registry import load

    if a.json:
        check_output_file(a.json, a.overwrite, (".json",), "--json")
    vae = load(a.model, kinds=("vampire",))
    ref = None
    if a.data:
        corpus = load(a.data, kinds=("bow-corpus",))
        if corpus.vocab != vae.vocab_:
            from shoestring.errors import ArtifactError

            raise ArtifactError("the prepared corpus has another vocabulary than the model", path=a.data,
                                hint="pass the folder the model was trained on, or omit --data")
        ref = corpus.reference
    table, npmi, div = print_topics(vae, ref, a.top_n)
    if a.json:
        write_json(a.json, {"model": str(a.model), "npmi": npmi, "diversity": div, "topics": table})


def cmd_report(a):
    from shoestring.artifacts import check_output_file
    from shoestring.evaluation.report_data import vampire_report

    model = Path(a.model)
    check_output_file(a.output or model.parent / f"{model.name}.report.html", a.overwrite, (".html", ".htm"),
                      "report")
    path = vampire_report(a.model, a.output, data=a.data, color_by=a.color_by, seed=a.seed)
    print(f"wrote {path}")
