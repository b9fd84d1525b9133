"""Gather what the HTML report shows about a VAMPIRE model (topics, a document map, curves, settings)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np


def vampire_report(model, output=None, *, data=None, color_by: str = "auto", seed: int = 0,
                   max_points: int = 2000) -> Path:
    """Write the report to ``output`` (default: ``MODEL.report.html`` beside the model folder, which stays as
    its manifest lists it). ``model``: a VAMPIRE folder (opened with :func:`shoestring.load`)."""
    from shoestring.evaluation.npmi import topic_diversity
    from shoestring.evaluation.report import map_2d, write_report
    from shoestring.registry import load

    model = Path(model)
    vae = load(model, kinds=("vampire",))
    ref, labels = getattr(vae, "reference_", None), getattr(vae, "reference_labels_", None)
    if data is not None:
        from shoestring.data.bow import BowCorpus

        corpus = BowCorpus.load(data)
        if corpus.vocab != vae.vocab_:
            from shoestring.errors import ArtifactError

            raise ArtifactError("the prepared corpus has another vocabulary than the model", path=data)
        ref, labels = corpus.reference, corpus.labels["reference"]
    table = vae.topic_table(ref)
    out = {"title": f"VAMPIRE topics: {model.name}",
           "subtitle": f"{model.resolve()} · report written {dt.date.today().isoformat()}",
           "topics": table}
    npmi = float(np.nanmean([t["npmi"] for t in table]))
    t = vae.training_
    out["summary"] = {"training documents": vae.data_.get("train_documents", "?"),
                      "reference documents": 0 if ref is None else ref.shape[0],
                      "vocabulary (V)": len(vae.vocab_), "topics (K)": vae.config.latent_dim,
                      "mean NPMI (reference)": round(npmi, 4),
                      "topic diversity (top 25)": round(topic_diversity(vae.model_.topics(25)), 4),
                      "epochs": t.get("epochs"), "best epoch": t.get("best_epoch"),
                      "training time": f"{t.get('seconds', 0):.0f} s", "stopped because": t.get("stop_reason")}
    if ref is not None and ref.shape[0]:
        X = vae.transform(ref)
        idx, xy = map_2d(X, random_state=seed, max_points=max_points)
        use_labels = labels is not None and any(x is not None for x in labels) and color_by != "topic"
        if use_labels:
            color = [str(labels[i]) if labels[i] is not None else "(no label)" for i in idx]
        else:
            dom = vae.theta(ref[idx]).argmax(1)
            color = [f"topic {k}" for k in dom]
        words = vae.vocab_.tokens
        snippets = []
        for i in idx:
            row = ref[i]
            top = row.indices[np.argsort(-row.data)[:8]]
            snippets.append(" ".join(words[j] for j in top))
        out["map"] = {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(), "color": color,
                      "color_by": "label" if use_labels else "dominant topic", "text": snippets}
    hist = vae.history_
    names = {"train_loss": "training loss", "train_kl": "KL (training)", "npmi": "NPMI (reference split)",
             "ref_perplexity": "perplexity (reference split)", "kl_weight": "KL weight"}
    out["curves"] = {label: {"x": [h["epoch"] for h in hist if key in h], "y": [h[key] for h in hist if key in h]}
                     for key, label in names.items() if any(key in h for h in hist)}
    out["best_metric"] = {"name": "NPMI (reference split)", "mode": "max"}
    out["settings"] = {"model": vae.config.to_dict(), "data": vae.data_}
    path = Path(output) if output else model.parent / f"{model.name}.report.html"
    write_report(out, path)
    return path
