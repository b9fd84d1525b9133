"""What cross-validation on the labels sees against what the test split says, for each of the few-label
recipe's frozen candidates (view set, C; the stack of the views with each view's C): the recipe's ``cv_`` scores,
and the test accuracy of each candidate refitted on the same N labelled rows. A diagnostic for a dataset whose
test split is not like its train split (the recipe can only choose by the first column), and for how often the
first column picks a candidate the second agrees with. No pool method, no contrastive fine-tuning; VAMPIRE from
``bench fewshot``'s workdir (``bench-work/<dataset>/vampire``), domain word vectors fitted on the train texts,
with ``--minilm`` the offline all-MiniLM-L6-v2 as the encoder view (``bench fewshot``'s ``auto``).

    python benchmarks/recipe_candidates.py --data ../shared/data/tweeteval_hate \
        --json docs/results/candidates_tweeteval_hate.json
    python benchmarks/recipe_candidates.py --data ../shared/data/imdb --clean html --minilm --max-test 5000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--workdir", default="bench-work")
    ap.add_argument("--json")
    ap.add_argument("--minilm", action="store_true", help="add the offline all-MiniLM-L6-v2 as the encoder view")
    ap.add_argument("--clean", nargs="*", default=[], help="bench fewshot's --clean (html, email)")
    ap.add_argument("--max-test", type=int, help="score on a seeded sample of this many test texts")
    a = ap.parse_args(argv)

    import shoestring
    from shoestring.bench.fewshot import draw_labelled, drop_unseen_labels, load_split
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.candidates import STACKED, parse_key, side_by_side
    from shoestring.tasks.classify.recipe import FewLabelClassifier
    from shoestring.tasks.classify.views import caching

    folder = Path(a.data)
    texts, labels = load_split(folder, "train", a.clean)
    test, test_labels = load_split(folder, "test", a.clean)
    test, test_labels, _ = drop_unseen_labels(labels, test, test_labels)
    if a.max_test and len(test) > a.max_test:
        keep = sorted(np.random.default_rng(0).choice(len(test), a.max_test, replace=False))
        test, test_labels = [test[i] for i in keep], [test_labels[i] for i in keep]
    test_labels = np.asarray(test_labels)
    vae = shoestring.load(Path(a.workdir) / folder.name / "vampire")
    wv = WordVectors().fit(texts)
    encoder = None
    if a.minilm:
        from shoestring.bench.baselines import _minilm_path

        encoder = _minilm_path()
    scores: dict[str, list] = {}
    with caching():  # each text embedded once per run, not once per seed
        for seed in a.seeds:
            idx = draw_labelled(len(texts), a.labels, seed)
            x, y = [texts[i] for i in idx], [labels[i] for i in idx]
            clf = FewLabelClassifier(vampire=vae, word_vectors=wv, encoder=encoder, semi_supervised="off",
                                     contrastive="off", random_state=seed, minutes=None)
            clf.fit(x, y, unlabeled=texts)
            views = clf._views(x, clf._pool(x, texts)[0])  # every view, on the pool the fit used
            names = [v.name for v in views]
            train = [v.transform(x) for v in views]
            held = [v.transform(test) for v in views]
            yy = np.asarray([clf.classes_.index(v) for v in y])
            for key, cv in clf.cv_.items():
                cand, C = parse_key(key)
                cols = [names.index(n) for n in cand.removesuffix(STACKED).split("+")]
                model = clf._head(C, [train[i].shape[1] for i in cols])()
                model.fit(side_by_side([train[i] for i in cols]), yy)
                pred = np.asarray(clf.classes_)[model.predict(side_by_side([held[i] for i in cols]))]
                row = {"seed": seed, "cv_accuracy": cv["accuracy"],
                       "test_accuracy": float(np.mean(pred == test_labels))}
                scores.setdefault(key if np.isscalar(C) else f"{cand} C=each view's", []).append(row)
                if (cand, C) == (clf.training_["chosen"], clf.C_):
                    scores.setdefault("the recipe's choice", []).append(row)
            print(seed, "chosen:", clf.training_["chosen"], clf.C_, clf.training_["stack_weights"], flush=True)
    majority = max(np.mean(test_labels == c) for c in set(test_labels))
    print(f"\n{folder.name}, N = {a.labels}, seeds {a.seeds}; the majority class scores {100 * majority:.1f}% "
          "on test")
    print("\n| candidate | cross-validated accuracy | test accuracy |\n|---|---:|---:|")
    for key, runs in sorted(scores.items()):
        print(f"| {key} | {100 * np.mean([r['cv_accuracy'] for r in runs]):.1f} | "
              f"{100 * np.mean([r['test_accuracy'] for r in runs]):.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"dataset": folder.name, "labels": a.labels, "test_majority": majority,
                                            "candidates": scores}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
