"""``shoestring train classifier|finetune``: classifiers that put a representation to work."""

from __future__ import annotations

from shoestring.cli.common import add_config, add_output, add_read, load_config, read_labelled, read_texts


def register(sub) -> None:
    from shoestring.tasks.classify.config import ClassifierConfig, FineTuneConfig

    tr = sub.add_parser("train", help="train a model that uses a representation").add_subparsers(
        dest="task", metavar="TASK")
    s = tr.add_parser("classifier", help="a Seq2Vec classifier, with or without VAMPIRE")
    s.add_argument("train", nargs="+", help="labelled training files")
    add_output(s)
    s.add_argument("--dev", nargs="+", help="labelled dev files for early stopping (default: --dev-fraction of train)")
    s.add_argument("--vampire", help="a VAMPIRE model folder to concatenate (omit for the no-pre-training baseline)")
    s.add_argument("--unlabeled", nargs="+", help="unlabelled files whose words join the embedding vocabulary")
    s.add_argument("--word-vectors", help="a folder from `shoestring pretrain vectors` to initialize the embeddings")
    s.add_argument("--recipe", default="network", choices=("network", "auto"),
                   help="network: the Seq2Vec network (default); auto: the few-label recipe - TF-IDF and every "
                        "representation given (--vampire, --word-vectors, --checkpoint) as views of one linear "
                        "model chosen by cross-validation on the labels, with self-training on --unlabeled where "
                        "that helps (tasks/classify/recipe.py)")
    s.add_argument("--checkpoint", help="--recipe auto: a sentence encoder to add as a view (a BERT-family Hugging "
                                        "Face folder such as all-MiniLM-L6-v2, or a `pretrain mlm` folder)")
    add_config(s)
    add_read(s)
    ClassifierConfig.add_arguments(s)
    from shoestring.tasks.classify.config import RecipeConfig

    RecipeConfig.add_arguments(s, exclude=("seed", "minutes", "threads"))  # --seed, --minutes, --threads: shared
    s.set_defaults(func=cmd_train_classifier)

    s = tr.add_parser("finetune", help="fine-tune a compact BERT (from `pretrain mlm`, or a BERT checkpoint) for "
                                       "classification; the folder loads in transformers")
    s.add_argument("train", nargs="+", help="labelled training files")
    add_output(s)
    s.add_argument("--mlm", required=True, help="the pre-trained model folder")
    s.add_argument("--dev", nargs="+", help="labelled dev files for early stopping (default: --dev-fraction of train)")
    add_config(s)
    add_read(s)
    FineTuneConfig.add_arguments(s)
    s.set_defaults(func=cmd_train_finetune)


def cmd_train_classifier(a):
    from shoestring.artifacts import check_writable
    from shoestring.tasks.classify.config import ClassifierConfig
    from shoestring.tasks.classify.estimator import TextClassifier

    check_writable(a.output, a.overwrite)
    if a.recipe == "auto":
        return _train_recipe(a)
    if a.checkpoint:
        from shoestring.errors import ConfigError

        raise ConfigError("--checkpoint is a view of the few-label recipe", hint="add --recipe auto, or drop it")
    config = load_config(ClassifierConfig, a)
    texts, labels = read_labelled(a.train, a, "training")
    dev = read_labelled(a.dev, a, "dev") if a.dev else (None, None)
    unlabeled = read_texts(a.unlabeled, a, "unlabeled") if a.unlabeled else None
    clf = TextClassifier(config, vampire=a.vampire, word_vectors=a.word_vectors)
    clf.fit(texts, labels, dev_texts=dev[0], dev_labels=dev[1], unlabeled=unlabeled)
    _save_classifier(clf, a, *dev)


def _train_recipe(a):
    import dataclasses

    from shoestring.errors import ConfigError
    from shoestring.tasks.classify.config import ClassifierConfig, RecipeConfig
    from shoestring.tasks.classify.recipe import FewLabelClassifier

    # the network's settings mean nothing to the recipe: say so instead of ignoring them (--seed, --minutes and
    # --threads are the recipe's too)
    shared = {f.name for f in dataclasses.fields(RecipeConfig)}
    typed = [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(ClassifierConfig)
             if f.name not in shared and getattr(a, f.name, None) is not None]
    if typed:
        raise ConfigError(f"{', '.join(typed)} set the Seq2Vec network, which --recipe auto does not train",
                          hint="drop them, or drop --recipe auto")

    config = load_config(RecipeConfig, a)
    texts, labels = read_labelled(a.train, a, "training")
    dev_texts, dev_labels = read_labelled(a.dev, a, "dev") if a.dev else (None, None)  # before a 10-minute fit
    unlabeled = read_texts(a.unlabeled, a, "unlabeled") if a.unlabeled else None
    clf = FewLabelClassifier(config, vampire=a.vampire, word_vectors=a.word_vectors, encoder=a.checkpoint)
    clf.fit(texts, labels, unlabeled=unlabeled)
    t = clf.training_
    metrics = None
    if a.dev:
        m = clf.evaluate(dev_texts, dev_labels, unseen="count")
        metrics = {"dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"], "dev_examples": m["n"]}
    clf.save_pretrained(a.output, overwrite=a.overwrite, metrics=metrics)
    print(recipe_summary(t))
    print(f"{a.output}: {len(clf.classes_)} classes, {t['train_examples']} training examples, {t['unlabeled']} "
          f"unlabeled, {t['seconds']:.0f} s" + (f"; dev accuracy {metrics['dev_accuracy']:.4f}" if metrics else ""))


def recipe_summary(t: dict) -> str:
    """What the recipe chose and why, from its ``training_``, in one paragraph: the candidate and C, the
    contrastive fine-tuning (kept or not, and how many steps the final one got: a --minutes budget buys the
    steps the machine gives, and on some data the steps are what the gain comes from), the unlabeled pool."""
    from shoestring.tasks.classify.candidates import format_C

    c = t["contrastive"]
    tuned = ("used, blended with the frozen views' model" if c.get("use") == "blend" else "used") if c["used"] else \
        "not used"
    run = c.get("training") or {}
    if c["used"] and run:
        tuned += (f", the final fine-tuning {run['steps']} steps in {run['seconds']:.0f} s"
                  + (" (bf16)" if t.get("precision") == "bf16" else ""))
        if run.get("warm_start"):
            w = run["warm_start"]
            tuned += f" (after {w['from']}'s {w['steps']} steps on {w['labelled']} labels)"
        if "time budget" in run.get("stop_reason", ""):
            tuned += " (stopped by --minutes: more minutes, or cores no other job uses, give it more steps)"
    return (f"chose {t['chosen']} with C = {format_C(t['C'])}: {t['why']}; contrastive fine-tuning: {tuned} "
            f"({c.get('why', '')}); unlabeled pool: {t['semi_supervised']['used'] or 'not used'} "
            f"({t['semi_supervised'].get('why', '')})")


def cmd_train_finetune(a):
    from shoestring.artifacts import check_writable
    from shoestring.tasks.classify.config import FineTuneConfig
    from shoestring.tasks.classify.finetune import BertClassifier

    check_writable(a.output, a.overwrite)
    config = load_config(FineTuneConfig, a)
    texts, labels = read_labelled(a.train, a, "training")
    dev = read_labelled(a.dev, a, "dev") if a.dev else (None, None)
    clf = BertClassifier(config, mlm=a.mlm).fit(texts, labels, dev_texts=dev[0], dev_labels=dev[1])
    _save_classifier(clf, a, *dev)


def _save_classifier(clf, a, dev_texts, dev_labels) -> None:
    """Score on the dev files (if any), save with those metrics, print the one-line summary."""
    metrics = None
    if dev_texts is not None:
        m = clf.evaluate(dev_texts, dev_labels, unseen="count")
        metrics = {"dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"], "dev_examples": m["n"]}
    clf.save_pretrained(a.output, overwrite=a.overwrite, metrics=metrics)
    t = clf.training_
    extra = f"; dev accuracy {metrics['dev_accuracy']:.4f}, macro-F1 {metrics['dev_macro_f1']:.4f}" if metrics else ""
    print(f"{a.output}: {len(clf.classes_)} classes, {t['train_examples']} training examples, best epoch "
          f"{t['best_epoch']} of {t['epochs']} ({t['stop_reason']}){extra}")
