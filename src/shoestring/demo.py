"""``shoestring demo``: the whole pipeline on the Debian package descriptions shipped with the package.

prepare -> pre-train VAMPIRE (until its NPMI stops improving) and domain word vectors -> topics with NPMI -> a
200-label classifier with and without pre-training, scored on the held-out packages -> an HTML report. About a
minute on a quiet 2-core laptop CPU. Nothing in it depends on the clock unless ``minutes`` caps VAMPIRE, so
the same machine prints the same figures every run, however busy it is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def run_demo(output="shoestring-demo", *, minutes: float | None = None, labels: int = 200, overwrite: bool = False,
             seed: int = 0) -> dict:
    from shoestring.artifacts import check_writable
    from shoestring.data.corpora import demo_corpus
    from shoestring.data.prepare import prepare
    from shoestring.data.readers import read_texts_labels
    from shoestring.evaluation.report_data import vampire_report
    from shoestring.evaluation.topics import print_topics
    from shoestring.learners.vampire.estimator import VAMPIRE
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.estimator import TextClassifier

    out = Path(output)
    check_writable(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    files = demo_corpus()
    t0 = time.time()
    print(f"1/4 prepare: {files['train'].name} (Debian package descriptions, 15 sections)")
    corpus = prepare(files["train"], out / "prepared", overwrite=True)
    c = corpus.manifest["counts"]
    print(f"    {c['train_documents']} training + {c['reference_documents']} reference documents, V = {c['vocabulary']}")

    vae = VAMPIRE(minutes=minutes, seed=seed)
    cap = f"budget {minutes:g} min" if minutes else f"at most {vae.config.max_epochs} epochs"
    print(f"2/4 pretrain vampire: until NPMI stops improving ({cap})")
    vae.fit(corpus)
    vae.save_pretrained(out / "vampire", overwrite=True)
    reason = vae.training_["stop_reason"].split(" (best")[0]  # the best epoch is already on this line
    print(f"    best NPMI {vae.npmi_:.4f} at epoch {vae.training_['best_epoch']}; stopped: {reason}")
    print("    the 12 most coherent topics:")
    print_topics(vae, limit=12)

    texts, y, _ = read_texts_labels(files["train"])
    te_texts, te_y, _ = read_texts_labels(files["test"])
    wv = WordVectors(seed=seed).fit(texts)
    wv.save_pretrained(out / "vectors", overwrite=True)
    print(f"    domain word vectors: {len(wv.vocab_)} words in {wv.training_['seconds']:.0f} s")

    print(f"3/4 classify with {labels} labels (seed {seed}), test on held-out packages")
    idx = np.random.default_rng(seed).choice(len(texts), labels, replace=False)
    x_l, y_l = [texts[i] for i in idx], [y[i] for i in idx]
    results = {}
    for name, v, w in (("VAMPIRE + domain word vectors", vae, wv), ("VAMPIRE", vae, None),
                       ("no pre-training", None, None)):
        clf = TextClassifier(vampire=v, word_vectors=w, seed=seed, progress=False).fit(x_l, y_l, unlabeled=texts)
        m = clf.evaluate(te_texts, te_y, unseen="count")
        results[name] = m
        print(f"    {name:30s} accuracy {100 * m['accuracy']:.1f}%  macro-F1 {100 * m['macro_f1']:.1f}%")
        if w is not None:
            clf.save_pretrained(out / "classifier", overwrite=True)

    print("4/4 report")
    path = vampire_report(out / "vampire", out / "report.html")
    print(f"    {path} (open it in a browser; it works offline)")
    print(f"done in {time.time() - t0:.0f} s; models in {out}/")
    return {"npmi": vae.npmi_, **{k: v["accuracy"] for k, v in results.items()}}
