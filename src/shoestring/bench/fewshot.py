"""``shoestring bench fewshot``: the few-label protocol of the VAMPIRE paper, as one command.

For each N in ``labels`` and each seed, N labelled rows are drawn with
``numpy.random.default_rng(seed).choice(len(train), N, replace=False)`` over the train split in file order.
VAMPIRE is pre-trained once per dataset on the text of the whole train split plus any ``unlabeled`` split
(labels are never read for pre-training), then every method is trained on the N rows and scored on the full
test split. The classifier holds out 10% of the N rows for early stopping: no other labels are used.

Methods (the classifier is the same network in each neural row; pre-trained parts are frozen):
``vampire_glove`` (VAMPIRE representation + GloVe 6B 50-d word embeddings), ``vampire_vectors`` (VAMPIRE +
PPMI-SVD word vectors learned on the same unlabelled text), ``vampire`` (VAMPIRE + trainable random
embeddings, the paper's setting), ``vectors`` (domain word vectors, no VAMPIRE), ``no_pretraining`` (random
initialization), and the baselines of :mod:`shoestring.bench.baselines` (TF-IDF, GloVe and
MiniLM features with logistic regression; ``setfit``, MiniLM fine-tuned contrastively for at most
``setfit_steps`` steps + logistic regression, only when named). With a compact BERT (``--mlm``): ``mlm_lr``
(its mean-pooled features + logistic regression), ``mlm_vampire_lr`` (the same next to VAMPIRE's representation) and
``mlm_finetune`` (every weight fine-tuned on the N rows, :class:`~shoestring.tasks.classify.finetune.BertClassifier`
with its defaults). With any embedder folder (``--embedder``: a language model, VAMPIRE, a sentence encoder, a
checkpoint): ``embedder_lr``, its features + logistic regression. Results: mean and standard deviation over seeds
of accuracy and macro-F1, written as JSON records (``--json``) and a Markdown table (``--markdown``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np

from shoestring.artifacts import cpu_name, write_json
from shoestring.bench.config import EMBEDDER_METHODS, FEATURE_METHODS, MLM_METHODS, NEURAL, RECIPES, FewshotConfig
from shoestring.data.cleanup import clean
from shoestring.data.readers import read_documents
from shoestring.errors import InputError
from shoestring.registry import load
from shoestring.tasks.classify.views import caching

log = logging.getLogger(__name__)


def draw_labelled(n_train: int, n: int, seed: int) -> np.ndarray:
    """The protocol's labelled rows for (N, seed): ``default_rng(seed).choice(len(train), N, replace=False)``."""
    return np.random.default_rng(seed).choice(n_train, n, replace=False)


def load_split(folder: Path, name: str, cleanup) -> tuple[list[str], list[str | None]] | None:
    path = folder / f"{name}.jsonl.gz"
    if not path.exists():
        return None
    texts, labels = [], []
    for d in read_documents(path):
        texts.append(clean(d.text, cleanup))
        labels.append(d.label)
    return texts, labels


def pretrain_vampire(config: FewshotConfig, texts: list[str], name: str):
    """Prepare and pre-train VAMPIRE on ``texts`` (cached in the workdir); returns (model, seconds)."""
    from shoestring.data.config import PrepareConfig
    from shoestring.data.prepare import prepare
    from shoestring.learners.vampire.estimator import VAMPIRE

    work = Path(config.workdir) / name
    model_dir = work / "vampire"
    if config.reuse and model_dir.exists():
        log.info("reusing %s", model_dir)
        vae = load(model_dir, kinds=("vampire",))
        return vae, vae.training_.get("wall_seconds", float("nan"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "unlabeled.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    t0 = time.time()
    corpus = prepare(src, work / "prepared", PrepareConfig(workers=2), overwrite=True)
    vae = VAMPIRE(minutes=config.vampire_minutes, max_epochs=config.vampire_epochs, seed=0,
                  threads=config.threads).fit(corpus)
    seconds = time.time() - t0
    vae.save_pretrained(model_dir, overwrite=True)
    src.unlink()
    return vae, seconds


def run_fewshot(config: FewshotConfig, *, json_path=None, markdown_path=None) -> list[dict]:
    """Every method on every (N, seed) of ``config``; ``config.threads`` bounds all of it (training, features,
    inference: torch and BLAS), so that jobs side by side keep to their cores."""
    from shoestring.training.threads import cpu_threads

    with cpu_threads(config.threads):
        return _run_fewshot(config, json_path, markdown_path)


def _run_fewshot(config: FewshotConfig, json_path, markdown_path) -> list[dict]:
    from shoestring.bench.baselines import available_baselines, run_baseline
    from shoestring.evaluation.metrics import classification_metrics
    from shoestring.tasks.classify.estimator import TextClassifier

    folder = Path(config.data)
    name = folder.name
    train = load_split(folder, "train", config.clean)
    test = load_split(folder, "test", config.clean)
    if train is None or test is None:
        raise InputError("needs train.jsonl.gz and test.jsonl.gz", path=folder)
    unlabeled = load_split(folder, "unlabeled", config.clean)
    tr_texts, tr_labels = train
    te_texts, te_labels = test
    te_texts, te_labels, dropped = drop_unseen_labels(tr_labels, te_texts, te_labels)
    majority = max(Counter(te_labels).values()) / len(te_labels)  # the floor a stable method stays above
    sizes = [n for n in config.labels if n <= len(tr_texts)]
    too_many = [n for n in config.labels if n > len(tr_texts)]
    if not sizes:
        from shoestring.errors import ConfigError

        raise ConfigError(f"--labels {' '.join(map(str, too_many))}: more than the {len(tr_texts)} rows of the train "
                          "split", path=folder / "train.jsonl.gz",
                          hint=f"use --labels of at most {len(tr_texts)}")
    if too_many:
        log.warning("--labels %s skipped: more than the %d rows of the train split", " ".join(map(str, too_many)),
                    len(tr_texts))
    pre_texts = tr_texts + (unlabeled[0] if unlabeled else [])
    if config.max_unlabeled:
        pre_texts = [pre_texts[i] for i in np.random.default_rng(0).permutation(len(pre_texts))[:config.max_unlabeled]]

    avail = available_baselines()
    avail["vampire_glove"] = avail["glove_lr"]
    skipped = {m: avail[m] for m in config.methods if avail.get(m) is not None}
    for m, why in skipped.items():
        log.warning("skipping %s: %s", m, why)
    methods = [m for m in config.methods if m not in skipped]
    if not methods:
        from shoestring.errors import ConfigError

        raise ConfigError(f"none of the methods can run here ({'; '.join(f'{m}: {w}' for m, w in skipped.items())})",
                          hint="install the missing packages (pip install -e '.[bench]') or choose other --methods")

    vae, pre_seconds, wv, wv_seconds = None, None, None, None
    if any(NEURAL.get(m, (False, False))[0] for m in methods) or "mlm_vampire_lr" in methods or any(
            "vampire" in RECIPES.get(m, ()) for m in methods):
        vae, pre_seconds = pretrain_vampire(config, pre_texts, name)
        log.info("VAMPIRE: NPMI %.4f, %.0f s", vae.npmi_ or float("nan"), pre_seconds)
    tables = {}
    if any(NEURAL.get(m, (False, None))[1] == "domain" or "vectors" in RECIPES.get(m, ()) for m in methods):
        from shoestring.learners.vectors.ppmi import WordVectors

        wv = WordVectors().fit(pre_texts)
        wv_seconds = wv.training_["seconds"]
        tables["domain"] = wv.as_table()
        log.info("word vectors: %d words, %.0f s", len(wv.vocab_), wv_seconds)
    if any(NEURAL.get(m, (False, None))[1] == "glove" for m in methods):
        from shoestring.bench.baselines import glove_table

        tables["glove"] = glove_table()

    records = []
    lm = None
    if any(m in MLM_METHODS for m in methods) or ("auto_own" in methods and config.mlm and not config.embedder):
        from shoestring.learners.mlm.estimator import MaskedLM

        lm = MaskedLM.from_pretrained(config.mlm)  # a shoestring folder or any BERT checkpoint
    embedders = {m: lm for m in methods if m in FEATURE_METHODS and m not in EMBEDDER_METHODS}
    embedder = None
    if any(m in EMBEDDER_METHODS for m in methods) or ("auto_own" in methods and config.embedder):
        from shoestring.registry import load_embedder

        embedder = load_embedder(config.embedder)
    if any(m in EMBEDDER_METHODS for m in methods):
        embedders["embedder_lr"] = embedder
    features = _features(embedders, config, vae, tr_texts, te_texts, sizes)
    cache = contextlib.ExitStack()
    cache.enter_context(caching())  # the recipe's views embed each text once per run, not once per seed
    for n in sizes:
        per_method: dict[str, list[dict]] = {m: [] for m in methods}
        for seed in config.seeds:
            idx = draw_labelled(len(tr_texts), n, seed)
            x = [tr_texts[i] for i in idx]
            y = [tr_labels[i] for i in idx]
            for m in methods:
                t0 = time.time()
                extra = {}
                if m in NEURAL:
                    use_v, use_w = NEURAL[m]
                    clf = TextClassifier(vampire=vae if use_v else None, word_vectors=tables.get(use_w),
                                         encoder=config.encoder, seed=seed, progress=False, threads=config.threads)
                    clf.fit(x, y, unlabeled=pre_texts if (use_v or use_w) else None)
                    pred = clf.predict(te_texts)
                elif m == "mlm_finetune":
                    from shoestring.tasks.classify.finetune import BertClassifier

                    clf = BertClassifier(mlm=lm, seed=seed, progress=False, threads=config.threads)
                    pred = clf.fit(x, y).predict(te_texts)
                elif m in RECIPES:
                    from shoestring.tasks.classify.recipe import FewLabelClassifier

                    parts = RECIPES[m]
                    if "minilm" in parts:
                        from shoestring.bench.baselines import _minilm_path

                    # auto_own's encoder: the embedder given with --embedder (e.g. a language model), else the
                    # compact BERT given with --mlm (both pre-trained by shoestring on the user's text), if any
                    # auto's: --checkpoint, else the offline MiniLM
                    encoder = (config.checkpoint or _minilm_path()) if "minilm" in parts else (embedder or lm)
                    clf = FewLabelClassifier(vampire=vae if "vampire" in parts else None,
                                             word_vectors=wv if "vectors" in parts else None,
                                             encoder=encoder, seed=seed, minutes=config.recipe_minutes,
                                             contrastive=config.contrastive,
                                             contrastive_layers=config.contrastive_layers,
                                             precision=config.precision)
                    clf.fit(x, y, unlabeled=pre_texts)  # views cached across seeds (caching() below)
                    pred = clf.predict(te_texts)
                    extra = recipe_record(clf.training_, clf.cv_)
                    if getattr(clf, "blend_parts_", None):  # a diagnostic, never a choice: each blended model alone
                        extra["blend_parts_test"] = blend_parts_scores(clf, te_texts, te_labels, tr_labels)
                elif m in FEATURE_METHODS:
                    from shoestring.bench.baselines import features_lr

                    train_f, test_f = features[m]
                    pred = features_lr(np.stack([train_f[i] for i in idx]), y, test_f, seed=seed)
                elif m == "setfit":  # extra: the step cap, steps run, batch size, training seconds
                    pred, _ = run_baseline(m, x, y, te_texts, seed=seed, max_steps=config.setfit_steps, info=extra)
                else:
                    pred, _ = run_baseline(m, x, y, te_texts, unlabeled_texts=pre_texts, seed=seed)
                secs = time.time() - t0
                met = classification_metrics(te_labels, pred, sorted(set(tr_labels)))
                per_method[m].append({"seed": seed, "accuracy": met["accuracy"], "macro_f1": met["macro_f1"],
                                      "seconds": round(secs, 2), **extra})
                log.info("%s N=%d seed=%d %s: accuracy %.4f macro-F1 %.4f (%.1f s)", name, n, seed, m,
                         met["accuracy"], met["macro_f1"], secs)
        for m, runs in per_method.items():
            rec = {"dataset": name, "method": m, "n_labels": n, **run_statistics(runs),
                   "n_train": len(tr_texts), "n_test": len(te_texts), "n_test_dropped_unseen_label": dropped,
                   "test_majority_rate": majority,
                   "n_unlabeled_pretraining": len(pre_texts) if m in NEURAL and any(NEURAL[m]) else None,
                   "pretrain_seconds": pre_seconds if NEURAL.get(m, (False,))[0] else None,
                   "word_vectors": NEURAL.get(m, (False, None))[1],
                   "word_vectors_seconds": wv_seconds if NEURAL.get(m, (False, None))[1] == "domain" else None,
                   "vampire_npmi": vae.npmi_ if NEURAL.get(m, (False,))[0] else None,
                   "encoder": config.encoder if m in NEURAL else None,
                   "mlm": config.mlm if m in MLM_METHODS else None,
                   "embedder": config.embedder if m in EMBEDDER_METHODS else None}
            if m == "mlm_vampire_lr":
                rec["pretrain_seconds"], rec["vampire_npmi"] = pre_seconds, vae.npmi_
            if m in RECIPES:
                rec["contrastive_layers"] = config.contrastive_layers
                rec["checkpoint"] = (config.checkpoint or "all-MiniLM-L6-v2") if "minilm" in RECIPES[m] else None
            if m == "setfit":  # the cap used (None: SetFit's own epoch) and fine-tuning + head seconds, test excluded
                rec["setfit_steps"] = config.setfit_steps or None
                rec["train_seconds"] = float(np.mean([r["train_seconds"] for r in runs]))
            records.append(rec)
        _emit(records, config, skipped, json_path, markdown_path)
    cache.close()
    print(markdown_table(records))
    return records


def _features(embedders: dict, config, vae, tr_texts, te_texts, sizes) -> dict:
    """Per feature method (``embedders``: method -> the model whose ``transform`` gives its features; mlm_lr and
    mlm_vampire_lr share the compact BERT): ({train index: feature row}, test features). Only the rows some seed
    samples are encoded (a compact BERT or an LSTM LM reads about as fast as it trains, so the whole train
    split would dominate), once per model."""
    if not embedders:
        return {}
    rows = sorted({int(i) for n in sizes for seed in config.seeds
                   for i in draw_labelled(len(tr_texts), n, seed)})
    encoded: dict[int, tuple] = {}
    out = {}
    for m, model in embedders.items():
        if id(model) not in encoded:
            t0 = time.time()
            encoded[id(model)] = (model.transform([tr_texts[i] for i in rows]), model.transform(te_texts))
            log.info("%s features: %d train + %d test texts in %.0f s", type(model).__name__, len(rows),
                     len(te_texts), time.time() - t0)
        tr, te = encoded[id(model)]
        if m == "mlm_vampire_lr":
            tr = np.hstack([tr, vae.transform([tr_texts[i] for i in rows])])
            te = np.hstack([te, vae.transform(te_texts)])
        out[m] = (dict(zip(rows, tr)), te)
    return out


def blend_parts_scores(clf, texts: list[str], labels: list[str], train_labels) -> dict:
    """Where the recipe blended the frozen views' model with the tuned encoder's, each of the two alone on these
    rows: what keeping or dropping the tuned encoder would have scored (the recipe never sees these rows)."""
    from shoestring.evaluation.metrics import classification_metrics

    X = clf._features(texts)  # sparse where TF-IDF is a view: the test split as dense TF-IDF would not fit
    out = {}
    for side, (cols, head) in clf.blend_parts_.items():
        pred = [clf.classes_[i] for i in head.predict_proba(X[:, cols]).argmax(1)]
        met = classification_metrics(labels, pred, sorted(set(train_labels)))
        out[side] = {"accuracy": met["accuracy"], "macro_f1": met["macro_f1"]}
    return out


def recipe_record(training: dict, cv: dict | None = None) -> dict:
    """What a benchmark run keeps of a fitted recipe's ``training_``: what it chose, whether contrastive
    fine-tuning and the pool were used and by what cross-validated gain, and the final fine-tuning's epochs,
    steps and seconds (how much of it the ``--minutes`` budget allowed) and the fold's fine-tuning it continued
    (``warm_start``); where the recipe drew it, the gain's learning curve (``contrastive_curve``: the tuned and
    frozen best at a quarter and at half of the labels, the gain's growth and what of it was counted); the pool
    methods' cross-validated gains
    (``pool_cv``), and with ``cv`` (the recipe's ``cv_``) each frozen candidate's best cross-validated accuracy
    over the C grid (``views_cv``): what a choice was made between, to study how noisy it is."""
    from shoestring.tasks.classify.candidates import best_key, parse_key

    tuned = training["contrastive"]
    final = tuned.get("training")
    best: dict = {}
    for cand in dict.fromkeys(parse_key(key)[0] for key in cv or {}):
        key = best_key({k: v for k, v in cv.items() if parse_key(k)[0] == cand})  # the recipe's tie-break
        best[cand] = {"accuracy": cv[key]["accuracy"], "macro_f1": cv[key]["macro_f1"], "C": parse_key(key)[1]}
    return {"chosen": training["chosen"], "C": training["C"], "stack_weights": training.get("stack_weights"),
            "views_cv": best or None, "pool_cv": training["semi_supervised"].get("cv"),
            "semi_supervised": training["semi_supervised"].get("used"),
            "contrastive": tuned["used"], "contrastive_mode": tuned.get("mode"),
            "contrastive_use": tuned.get("use"), "contrastive_blend_cv": tuned.get("blend_cv"),
            "contrastive_gain_cv": tuned.get("gain_accuracy"),
            "contrastive_gain_cv_macro_f1": tuned.get("gain_macro_f1"),
            "contrastive_gain_cv_se": tuned.get("gain_accuracy_se"),
            "contrastive_gain_cv_macro_f1_se": tuned.get("gain_macro_f1_se"),
            "contrastive_curve": tuned.get("curve"),
            "contrastive_training": {k: final[k] for k in ("epochs", "steps", "seconds", "stop_reason", "warm_start")
                                     if k in final} if final else None,
            "contrastive_planned_seconds": tuned.get("planned_seconds"),
            "labelled_rows_with_a_copy": training.get("labelled_rows_with_a_copy"),
            "precision": training.get("precision"),
            "fit_seconds": training["seconds"], "budget_seconds": training.get("budget_seconds"),
            "phases": training.get("phases")}


def drop_unseen_labels(train_labels, test_texts: list[str], test_labels: list[str]):
    """The test rows whose label occurs in train, and how many were dropped (logged): a label train never has
    cannot be predicted by any method."""
    seen = set(train_labels)
    keep = [i for i, y in enumerate(test_labels) if y in seen]
    dropped = len(test_labels) - len(keep)
    if dropped:
        log.warning("%d test rows have labels absent from train; they are dropped", dropped)
        test_texts, test_labels = [test_texts[i] for i in keep], [test_labels[i] for i in keep]
    return test_texts, test_labels, dropped


def run_statistics(runs: list[dict]) -> dict:
    """A record's summary of its ``runs`` (one per seed): the seeds, mean and standard deviation (ddof 1; 0 for
    one seed) of accuracy and macro-F1, and the mean seconds a run took."""
    acc = np.array([r["accuracy"] for r in runs])
    f1 = np.array([r["macro_f1"] for r in runs])
    return {"seeds": [r["seed"] for r in runs],
            "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            "macro_f1_mean": float(f1.mean()), "macro_f1_std": float(f1.std(ddof=1)) if len(f1) > 1 else 0.0,
            "runs": runs, "train_seconds_mean": float(np.mean([r["seconds"] for r in runs]))}


def _emit(records, config, skipped, json_path, markdown_path):
    meta = {"config": config.to_dict(), "skipped": skipped, "machine": platform.platform(), "cpu": cpu_name(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    if json_path:
        write_json(json_path, {"meta": meta, "records": records})
    if markdown_path:
        Path(markdown_path).write_text(markdown_table(records) + "\n", encoding="utf-8")


def markdown_table(records: list[dict]) -> str:
    """Accuracy and macro-F1 (mean ± std over seeds, in %) per dataset, N and method."""
    lines = ["| dataset | N | method | accuracy | macro-F1 | seeds | s/run |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['dataset']} | {r['n_labels']} | {r['method']} | {100 * r['accuracy_mean']:.1f} ± "
                     f"{100 * r['accuracy_std']:.1f} | {100 * r['macro_f1_mean']:.1f} ± {100 * r['macro_f1_std']:.1f} "
                     f"| {len(r['seeds'])} | {r['train_seconds_mean']:.1f} |")
    return "\n".join(lines)
