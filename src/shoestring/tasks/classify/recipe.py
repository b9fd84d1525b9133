"""``FewLabelClassifier``: the few-label recipe. Every view of the text at hand, one linear model, chosen by
cross-validation on the labelled rows alone, optionally taught further by the unlabeled pool.

The practitioner's strongest simple baselines with a few hundred labels are a regularised linear model on
TF-IDF or on frozen sentence embeddings. The recipe starts there and adds what the user's own corpus gives:

1. **views** (:mod:`~shoestring.tasks.classify.views`): TF-IDF with its IDF fitted on the unlabeled text,
   and the vectors of every representation passed in - VAMPIRE, domain word vectors, a compact BERT, or a
   public checkpoint such as all-MiniLM-L6-v2;
2. **candidates** (named as in :mod:`~shoestring.tasks.classify.candidates`): each view alone, and all views side by
   side (each block L2-normalized per row, so the penalty treats them alike), each with a multinomial logistic
   regression whose inverse regularisation ``C`` comes from ``c_grid``; and the **stack** of the views
   (:mod:`~shoestring.tasks.classify.stacking`): one logistic regression per view with the C that view is best with
   alone, pooled with weights fitted on out-of-fold predictions - where one C cannot suit a sparse TF-IDF view and a
   dense embedding at once;
3. **selection**: stratified ``folds``-fold cross-validation on the N labelled rows (never a test set) scores
   every (candidate, C) (rows whose texts are copies once markup is ignored are held out together:
   :func:`~shoestring.tasks.classify.folds.duplicate_groups`, here, in the stack's own folds and in the pool
   methods' folds; a stack fitted inside a pool method keeps row-wise inner folds); the best mean accuracy wins,
   macro-F1 breaking ties - except over the stack, which stands unless beaten by more than the paired bootstrap
   standard error (the best of many noisy scores is biased upward; the stack makes its choices inside its own
   fit). With very few labels the folds shrink to the smallest class's count; a class with a single example stays
   in training in every fold; with one example per class no CV is possible and all views with C = 10 are used,
   which the training record says;
4. **contrastive fine-tuning** (``contrastive``, :mod:`~shoestring.tasks.classify.contrastive`): the
   ``encoder`` view's BERT is fine-tuned on the labels SetFit-style, judged by nested cross-validation against
   the frozen candidates on the same folds: used alone where it wins beyond the noise, dropped where it loses
   beyond it, and in between **blended** with the frozen views' best model (their log-probabilities averaged);
   the final fine-tuning, on all labels, continues the last fold's encoder;
5. **the unlabeled pool** (``semi_supervised``, :mod:`~shoestring.tasks.classify.semisup`; the labelled texts
   are taken out of it, so that no held-out row is ever in it): self-training
   (confident pseudo-labels, balanced across classes) or label spreading over a kNN graph of the chosen
   features, kept only where the same cross-validation on the labels says it helps: an accuracy gain above its
   standard error over the folds, and no loss of macro-F1 beyond its standard error (the contrastive rule).

``minutes`` bounds the whole fit. The unlabeled texts are first cut to a seeded sample of ``max_pool`` (fitting the
TF-IDF view over millions of texts is not what a 10-minute budget is for); cross-validating the frozen candidates
gets at most ``VIEW_CV_SHARE`` of the budget (all views together are scored first; pairs left when it is spent are
skipped); the fine-tunings and their scoring share :data:`~shoestring.tasks.classify.contrastive.CONTRASTIVE_SHARE`
of what is left after that, less the time the tuned encoder will take to embed the labelled rows again, each
fine-tuning's share set when it starts from the time then left (so one that overruns on a busy machine shrinks the
rest); the pool is cut to what can be embedded in a quarter of what is left after that; judging self-training and
label spreading gets most of the rest, each method timed on a small part of the pool first and skipped (the method
then unused) when its folds would not fit. ``training_["phases"]`` has the seconds of each phase, and whatever was
left out is said in ``training_``. Every logistic regression is fitted on the columns its rows use
(:class:`~shoestring.tasks.classify.linear.UsedColumnsLR`: the same model, 10x cheaper on a TF-IDF view whose
vocabulary comes from the pool).

Example::

    import shoestring
    from shoestring.tasks.classify.recipe import FewLabelClassifier
    clf = FewLabelClassifier(vampire="models/vampire", encoder="path/to/all-MiniLM-L6-v2", random_state=0)
    clf.fit(texts, labels, unlabeled=corpus_texts)
    clf.training_["chosen"], clf.cv_        # what it chose, and every candidate's cross-validated scores
    clf.save_pretrained("models/recipe"); shoestring.load("models/recipe").predict(["..."])
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shoestring.artifacts import write_json
from shoestring.errors import ArtifactError, ConfigError
from shoestring.evaluation.metrics import accuracy_and_macro_f1, paired_gain_se
from shoestring.tasks.classify.candidates import (STACKED, best_key, format_C, key_of, mean_scores, parse_key,
                                                  side_by_side)
from shoestring.tasks.classify.config import RecipeConfig
from shoestring.tasks.classify.contrastive import ContrastiveStep
from shoestring.tasks.classify.estimator import LabelPredictor, _normalized
from shoestring.tasks.classify.folds import duplicate_groups
from shoestring.tasks.classify.folds import stratified_folds as _folds
from shoestring.tasks.classify.linear import LinearHead
from shoestring.tasks.classify.linear import UsedColumnsLR as _head
from shoestring.tasks.classify.linear import one_blas_thread as _one_thread
from shoestring.tasks.classify.stacking import BlendLR, StackedLR
from shoestring.tasks.classify.views import EmbeddingView, TfidfView

TUNED = "encoder_tuned"  # the tuned encoder's view when it is blended with the frozen one (which stays "encoder")
VIEW_CV_SHARE = 0.25  # at most this part of the time left goes to cross-validating the frozen views' (view, C) pairs


class _Clock:
    """The fit's wall-clock budget (``minutes``; None: unlimited)."""

    def __init__(self, minutes: float | None):
        self.t0 = time.perf_counter()
        self.budget = None if minutes is None else float(minutes) * 60.0

        self.phases: dict[str, float] = {}  # seconds spent per phase of the fit, for training_

    def spent(self) -> float:
        return time.perf_counter() - self.t0

    @contextlib.contextmanager
    def phase(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.perf_counter() - t, 2)

    def left(self) -> float:
        return float("inf") if self.budget is None else self.budget - self.spent()


class FewLabelClassifier(ContrastiveStep, LabelPredictor):
    """The few-label recipe (see the module docstring). Parameters are :class:`RecipeConfig`'s fields and the
    representations to draw views from: ``vampire``, ``word_vectors``, ``encoder`` (fitted models or saved
    folders; ``encoder`` may be any BERT-family Hugging Face checkpoint folder, such as all-MiniLM-L6-v2)."""

    kind = "few-label"
    config_class = RecipeConfig
    fitted_attribute = "head_"
    extra_params = ("vampire", "word_vectors", "encoder")

    # ------------------------------------------------------------------ training
    def _views(self, texts: list[str], pool: list[str] = ()) -> list:
        views = []
        if self.config.tfidf:
            vocabulary = texts if self.config.tfidf_vocabulary == "labelled" else None
            views.append(TfidfView(min_df=self.config.min_df).fit(texts + list(pool), vocabulary_texts=vocabulary))
        for name in ("vampire", "word_vectors", "encoder"):
            source = getattr(self, name)
            if source is not None:
                views.append(EmbeddingView.open(source, name, self.config.precision))
        if not views:
            raise ConfigError("the recipe has no view: keep --tfidf or give --vampire, --word-vectors or --encoder")
        return views

    def _tuned_view(self, model) -> EmbeddingView:
        """The view of an encoder fine-tuned inside this fit: uncached (a later model can reuse its id) and in the
        fit's precision, as the frozen encoder's view."""
        return EmbeddingView(model, "encoder", cache=False, precision=self.config.precision)

    def _pool(self, texts: list[str], unlabeled) -> tuple[list[str], int, int]:
        """The unlabeled texts the fit uses, how many non-empty ones were given, and how many of those were
        copies of labelled texts (dropped). The labelled texts are not unlabeled, even when the corpus given as
        the pool contains them: a held-out row's copy in the pool would be pseudo-labelled and learnt, so
        cross-validation would credit the pool methods with a transductive gain that new texts never get. One
        seeded sample of ``max_pool`` then bounds the TF-IDF fit and the pool alike."""
        labelled = set(texts)
        given = [t for t in (unlabeled or []) if t and t.strip()]
        pool = [t for t in given if t not in labelled]
        copies = len(given) - len(pool)
        if len(pool) > self.config.max_pool:
            rng = np.random.default_rng(self.config.seed)
            pool = [pool[i] for i in sorted(rng.choice(len(pool), self.config.max_pool, replace=False))]
        return pool, len(given), copies

    def fit(self, texts, labels, *, unlabeled=None, callbacks=None) -> "FewLabelClassifier":
        from shoestring.training.threads import cpu_threads

        with cpu_threads(self.config.threads):
            return self._fit(texts, labels, unlabeled, callbacks)

    def _fit(self, texts, labels, unlabeled, callbacks) -> "FewLabelClassifier":
        """The recipe's steps in order (the module docstring): views, the frozen candidates' choice, the
        contrastive step, the unlabeled pool, the final fit."""
        from shoestring.data.labels import check_classes

        clock = _Clock(self.config.minutes)
        texts, labels = list(texts), _normalized(labels, "training")
        self._check_labels(texts, labels)
        check_classes(labels)
        pool, n_unlabeled, n_duplicates = self._pool(texts, unlabeled)
        self.classes_ = sorted(set(labels))
        y = np.asarray([self.classes_.index(v) for v in labels])
        with clock.phase("fit views"):
            self.views_ = self._views(texts, pool)  # no labels are read to fit a view
        blocks, cost = [], {}
        for v in self.views_:
            t = time.perf_counter()
            with clock.phase("embed labelled"):
                blocks.append(v.transform(texts))
            cost[v.name] = (time.perf_counter() - t) / len(texts)  # seconds per text: sizes the pool later
        names = [v.name for v in self.views_]
        candidates = {n: [i] for i, n in enumerate(names)}
        if len(names) > 1:
            candidates["+".join(names)] = list(range(len(names)))  # concatenated: one model, one C
            candidates["+".join(names) + STACKED] = list(range(len(names)))  # one model per view, pooled
        # copies of one text (markup aside) are held out together: a held-out row's twin in training would
        # credit memorizing it
        groups = duplicate_groups(texts)
        copies = 0 if groups is None else int((np.bincount(groups)[groups] > 1).sum())
        folds = _folds(y, self.config.folds, self.config.seed, groups)
        self.cv_ = {}  # every (candidate, C)'s cross-validated scores
        if folds is None:
            chosen, C = "+".join(names), 10.0
            reason = "every class has a single labelled example: no cross-validation, all views with C = 10"
        else:
            chosen, C, reason = self._choose_frozen(blocks, y, folds, candidates, clock, groups, copies)
        with clock.phase("contrastive"):
            # the tuned encoder re-embeds the labelled rows afterwards: its cost is held back from the phase
            reembed = cost.get("encoder", 0.0) * len(texts)
            tuned = self._contrastive(texts, y, blocks, candidates, clock, callbacks, reembed, groups)
        blend = None
        if tuned["used"]:
            blend = self._add_tuned(tuned, texts, blocks, names, candidates, cost, clock)
            chosen, C, reason = tuned["chosen"], tuned["C"], tuned["why"]
        keep = candidates[chosen] if blend is None else sorted(set(blend[0]) | set(candidates[chosen]))
        self.views_ = [self.views_[i] for i in keep]
        X = side_by_side([blocks[i] for i in keep])
        if blend is None:
            make = self._head(C, [blocks[i].shape[1] for i in keep])
        else:
            make = self._blend(keep, [blocks[i].shape[1] for i in range(len(blocks))],
                               [(blend[0], blend[1]), (candidates[chosen], C)])
            chosen = f"{self.BLEND_OF}{tuned['frozen_chosen']} | {chosen.replace('encoder', TUNED)}"
            C = {"frozen": blend[1], "tuned": C}
        semi = self._semi_supervised(X, y, pool, folds, make, clock, sum(cost[v.name] for v in self.views_), groups)
        with _one_thread(), clock.phase("final fit"):
            if semi["used"]:
                model, info = self._semi_method(semi["used"])(make, X, y, semi.pop("X_pool"))
                semi["added"] = info.get("added")
            else:
                semi.pop("X_pool", None)
                model = make().fit(X, y, groups=groups)
        self._keep_model(model, C)
        self.training_ = {"chosen": chosen, "C": C, "stack_weights": self._stack_weights(model), "why": reason,
                          "contrastive": tuned, "semi_supervised": semi, "views": names,
                          "train_examples": len(texts), "unlabeled": n_unlabeled,
                          "unlabeled_labelled_copies_dropped": n_duplicates,
                          "labelled_rows_with_a_copy": copies, "precision": self._precision(),
                          "seconds": round(clock.spent(), 2), "budget_seconds": clock.budget, "phases": clock.phases,
                          "stop_reason": "fitted", "epochs": 1, "best_epoch": 1}
        return self

    def _choose_frozen(self, blocks, y, folds, candidates, clock: "_Clock", groups, copies: int):
        """The frozen views' best (candidate, C) by cross-validation on the labels (every pair's scores into
        ``cv_``), and why it was chosen: ``(chosen, C, reason)``."""
        self._held_out = {}  # held-out predictions per (candidate, C)
        skipped = self._cross_validate_views(blocks, y, folds, candidates, clock, groups)
        best, note = self._choose(self.cv_, self._held_out, y)
        del self._held_out  # the held-out predictions were for this choice only
        chosen, C = parse_key(best)
        reason = (f"best of {len(self.cv_)} (view, C) pairs by {len(folds)}-fold cross-validation on the labels"
                  + (f" ({note})" if note else "") + f": accuracy {self.cv_[best]['accuracy']:.4f}, "
                  f"macro-F1 {self.cv_[best]['macro_f1']:.4f}")
        if skipped:
            reason += f" ({skipped} pairs not scored: their share of the --minutes budget was spent)"
        if copies:
            reason += f"; the {copies} labelled rows that repeat another's text (markup aside) held out together"
        return chosen, C, reason

    def _add_tuned(self, tuned: dict, texts, blocks: list, names: list[str], candidates: dict, cost: dict,
                   clock: "_Clock"):
        """Put the fine-tuned encoder into the fit (``views_``, ``blocks``, ``names``, ``candidates`` and ``cost``
        updated in place): in place of the frozen one where it is used alone, beside it as the view ``TUNED``
        where the two are blended. Returns the blend's frozen side ``(view indices, C)``, else None."""
        enc = names.index("encoder")
        view = self._tuned_view(tuned.pop("model"))
        t = time.perf_counter()
        with clock.phase("embed labelled"):
            block = view.transform(texts)
        cost_per_text = (time.perf_counter() - t) / len(texts)
        blend = None
        if tuned["use"] == "blend":  # the frozen encoder stays; the tuned one is one view more
            view.name, enc = TUNED, len(self.views_)
            self.views_.append(view)
            blocks.append(block)
            names.append(TUNED)
            blend = (candidates[tuned["frozen_chosen"]], tuned["frozen_C"])
            candidates[tuned["chosen"]] = [enc if names[i] == "encoder" else i for i in candidates[tuned["chosen"]]]
        else:
            self.views_[enc], blocks[enc] = view, block
        cost[view.name] = cost_per_text
        return blend

    def _keep_model(self, model, C) -> None:
        """The fitted model as the one linear head it equals (``head_``), and ``C_``; a blend's two models, each on
        its own columns of transform()'s features, kept in memory only (not saved) to study what each alone would
        have given (bench fewshot records it)."""
        self.head_ = LinearHead.from_sklearn(model, len(self.classes_))
        self.blend_parts_ = None if not isinstance(model, BlendLR) else {
            side: (cols, LinearHead.from_sklearn(m, len(self.classes_)))
            for side, (cols, _), m in zip(("frozen", "tuned"), model.parts, model.models_)}
        self.C_ = C
        self.history_ = []

    @staticmethod
    def _stack_weights(model) -> list[float] | None:
        """The stack's per-view weights, where the model is a stack or a blend with one."""
        stacks = [m for m in getattr(model, "models_", [model]) if isinstance(m, StackedLR)]
        return [float(w) for w in stacks[0].weights_] if stacks else None

    def _precision(self) -> str:
        """The arithmetic the encoder ran in: ``precision`` resolved on this machine (``auto``: bf16 where native)."""
        from shoestring.training.distributed import resolve_device
        from shoestring.training.precision import resolve as resolve_precision

        return resolve_precision(self.config.precision, resolve_device("auto"))

    def _cross_validate_views(self, blocks, y, folds, candidates, clock: "_Clock", groups=None) -> int:
        """Score every (candidate, C) into ``cv_``: all views concatenated first, then each alone, then the stack
        of the views, each with the C it is best with alone. Bounded by ``VIEW_CV_SHARE`` of the budget: once it
        is spent, the pairs not yet scored are skipped (their number is returned); at least the first candidate
        is always scored in full."""
        single = [k for k in candidates if len(candidates[k]) == 1]
        order = [k for k in candidates if len(candidates[k]) > 1 and not k.endswith(STACKED)] + single
        stop = clock.spent() + VIEW_CV_SHARE * clock.left()
        pairs = [(cand, Cv) for cand in order for Cv in self.config.c_grid]
        pairs += [(cand, None) for cand in candidates if cand.endswith(STACKED)]
        with clock.phase("cross-validate views"):
            for n, (cand, Cv) in enumerate(pairs):
                if n >= len(self.config.c_grid) and clock.spent() > stop:
                    return len(pairs) - n
                idx = candidates[cand]
                if Cv is None:
                    Cv = self._view_Cs([single[i] for i in idx])
                X = side_by_side([blocks[i] for i in idx])
                key = key_of(cand, Cv)
                self.cv_[key], self._held_out[key] = self._cross_validate(X, y, folds, Cv,
                                                                          [blocks[i].shape[1] for i in idx], groups)
        return 0

    def _view_Cs(self, views: list[str]) -> list[float]:
        """Each view's best C alone (the recipe's tie-break), from ``cv_``: a stack's per-view Cs."""
        return [parse_key(best_key({k: v for k, v in self.cv_.items() if parse_key(k)[0] == name}))[1]
                for name in views]

    BLEND_OF = "blend of "  # the chosen model's name when the frozen and the tuned best are blended

    def _blend(self, keep: list[int], widths: list[int], parts: list[tuple[list[int], object]]):
        """A factory of unfitted :class:`~shoestring.tasks.classify.stacking.BlendLR` heads over the views
        ``keep`` side by side (``widths``: every view's column count), each part a (views, C) pair reading its
        views' columns with its own head, weighted 1/2."""
        edges = np.cumsum([0] + [widths[i] for i in keep])
        span = {v: np.arange(edges[j], edges[j + 1]) for j, v in enumerate(keep)}
        specs = [(np.concatenate([span[v] for v in views]), self._head(Cp, [widths[v] for v in views]))
                 for views, Cp in parts]
        return lambda: BlendLR(specs, [0.5] * len(specs))

    def _head(self, C, widths: list[int]):
        """A factory of unfitted heads: a logistic regression with this ``C``, or with per-view Cs (a list) a
        :class:`~shoestring.tasks.classify.stacking.StackedLR` over views of these column ``widths``."""
        seed = self.config.seed
        if np.isscalar(C):
            return lambda: _head(C, seed)
        return lambda: StackedLR(widths, C, seed, folds=self.config.folds)

    def _log_proba_fold(self, X, y, tr, va, C, widths: list[int], groups=None) -> np.ndarray:
        """The head with this ``C`` (a stack's: per view) fitted on the rows ``tr``: its log-probabilities of every
        class (columns: the class codes) for the rows ``va``; a class the rows ``tr`` lack gets probability 0
        (log: -inf clipped). Their argmax is the head's prediction."""
        with _one_thread():
            m = self._head(C, widths)().fit(X[tr], y[tr], groups=None if groups is None else groups[tr])
            out = np.full((len(va), len(self.classes_)), np.log(1e-12))
            out[:, np.asarray(m.classes_)] = np.log(np.clip(m.predict_proba(X[va]), 1e-12, None))
        return out

    def _cross_validate(self, X, y, folds, C, widths: list[int], groups=None) -> tuple[dict, np.ndarray]:
        """Cross-validated scores, and each held-out row's prediction (-1 for rows never held out)."""
        pred, scores = np.full(len(y), -1), []
        for tr, va in folds:
            pred[va] = self._log_proba_fold(X, y, tr, va, C, widths, groups).argmax(1)
            scores.append(accuracy_and_macro_f1(y[va], pred[va], len(self.classes_)))
        return mean_scores(scores), pred

    def _choose(self, scores: dict, held_out: dict, y, tag: str = "") -> tuple[str, str]:
        """The key to use among the cross-validated ``scores`` (those starting with ``tag``), and a note when the
        stack was preferred. The best scored key (:func:`best_key`) wins, except over the stack, which stands
        unless beaten in accuracy by more than the paired bootstrap standard error of the difference over the
        held-out rows: the best of twenty noisy (candidate, C) scores is biased upward (on imdb at N = 200 the
        best-scored candidate scored 83.2 in cross-validation and 78.8 on test, the stack 82.0 and 81.7), while the
        stack makes its choices - each view's C, the views' weights - inside its own fit."""
        mine = {k: v for k, v in scores.items() if k.startswith(tag)}
        best = best_key(mine)
        stacks = [k for k in mine if parse_key(k[len(tag):])[0].endswith(STACKED)]
        if not stacks or best in stacks:
            return best, ""
        stack = stacks[0]
        rows = (held_out[best] >= 0) & (held_out[stack] >= 0)
        se = paired_gain_se(y[rows], held_out[best][rows], held_out[stack][rows], len(self.classes_),
                            self.config.seed)[0]
        gain = mine[best]["accuracy"] - mine[stack]["accuracy"]
        if gain > se:
            return best, ""
        return stack, (f"the stack, as {best[len(tag):]} is ahead of it by {100 * gain:.1f} accuracy points, within "
                       f"the standard error {100 * se:.1f}")

    def _semi_method(self, name: str):
        import functools

        from shoestring.tasks.classify import semisup

        fn = {"self_train": semisup.self_train, "label_spread": semisup.spread_and_fit}[name]
        return functools.partial(fn, threshold=self.config.threshold, random_state=self.config.seed)

    def _semi_supervised(self, X, y, pool, folds, make, clock: "_Clock", seconds_per_text: float,
                         groups=None) -> dict:
        """Which use of the pool to keep (``used``: a method's name, or False), and why. The pool (already a
        seeded sample of at most ``max_pool`` texts) is cut further when embedding it would take more than a
        quarter of the budget left (at the cost per text measured on the labelled rows). Judging the methods
        gets most of what is left after that, less a reserve for the final fit: each method's cross-validation
        stops after its first fold if the rest would not fit, and the method is then not used."""
        c = self.config
        out = {"used": False, "mode": c.semi_supervised}
        if c.semi_supervised == "off" or not pool:
            out["why"] = "off" if pool else "no unlabeled texts"
            return out
        size = len(pool)
        if clock.budget is not None and seconds_per_text > 0:
            size = min(size, int(clock.left() / 4 / seconds_per_text))
            if size < 100:
                out["why"] = f"the --minutes budget left ({clock.left():.0f} s) cannot embed 100 pool texts: not used"
                return out
        out["pool"] = size
        rng = np.random.default_rng(c.seed)
        if len(pool) > size:
            pool = [pool[i] for i in sorted(rng.choice(len(pool), size, replace=False))]
        with clock.phase("embed pool"):
            out["X_pool"] = side_by_side([v.transform(pool) for v in self.views_])
        if c.semi_supervised != "auto":
            out.update(used=c.semi_supervised, why="asked for")
            return out
        if folds is None:
            out["why"] = "no cross-validation possible (one example per class): not used"
            return out
        from shoestring.tasks.classify.semisup import cv_gain

        out["cv"], fold_seconds = {}, {}
        methods = ("self_train", "label_spread")
        with _one_thread(), clock.phase("judge pool methods"):
            for i, name in enumerate(methods):
                # this method's share of what is left, keeping back one fold's worth per method for the final fit
                budget = None if clock.budget is None else clock.left() * 0.85 / (len(methods) - i)
                g = cv_gain(make, X, y, out["X_pool"], self._semi_method(name),
                            n_splits=len(folds), random_state=c.seed, max_seconds=budget, groups=groups)
                if g.get("possible"):
                    gains = [f["semi"]["accuracy"] - f["supervised"]["accuracy"] for f in g["folds"]]
                    out["cv"][name] = {"gain_accuracy": g["gain"]["accuracy"], "gain_macro_f1": g["gain"]["macro_f1"],
                                       "gain_accuracy_se": float(np.std(gains, ddof=1) / np.sqrt(len(gains))),
                                       "gain_macro_f1_se": g["gain_se"]["macro_f1"],
                                       "accuracy": g["semi"]["accuracy"], "macro_f1": g["semi"]["macro_f1"]}
                    fold_seconds[name] = g["seconds"] / len(g["folds"])
                else:
                    out["cv"][name] = {"skipped": g["reason"]}
        # kept only where it helps accuracy by more than the folds' noise (the paired gain's standard error over
        # the folds: a pool method that mislabels at scale can look a little better on a few hundred held-out rows
        # by chance) without costing macro-F1 beyond its noise (skewed classes must not be traded away; the rule
        # the contrastive fine-tuning is kept by: a loss within the paired bootstrap's standard error is not one)
        good = {k: v for k, v in out["cv"].items()
                if v.get("gain_accuracy", 0) > v.get("gain_accuracy_se", 0) + 1e-9
                and v["gain_macro_f1"] >= -v["gain_macro_f1_se"]}
        if good and clock.budget is not None:  # the final fit costs about one fold (on a few more rows)
            good = {k: v for k, v in good.items() if 1.25 * fold_seconds[k] < max(clock.left(), 0.0)} or {}
            if not good:
                out["why"] = "a pool method helped in cross-validation, but the budget left cannot refit it: not used"
                return out
        if good:
            best = max(good, key=lambda k: (good[k]["gain_accuracy"], good[k]["gain_macro_f1"]))
            out.update(used=best, why=f"cross-validation on the labels: {best} gains "
                                      f"{100 * good[best]['gain_accuracy']:+.1f} accuracy points")
        else:
            skipped = [k for k, v in out["cv"].items() if "skipped" in v]
            out["why"] = ("cross-validation on the labels: neither self-training nor label spreading helps here "
                          "by more than the folds' noise"
                          if not skipped else
                          "cross-validation on the labels: no method that fitted the budget helps here "
                          f"({', '.join(skipped)} skipped: over the budget)")
        return out

    # ------------------------------------------------------------------ predicting
    def _features(self, texts):
        return side_by_side([v.transform(texts) for v in self.views_])

    def predict_proba(self, texts) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self.head_.predict_proba(self._features(texts))

    @property
    def dim(self) -> int:
        self._check_fitted()
        return int(sum(v.dim for v in self.views_))

    def transform(self, texts):
        """The chosen views side by side (what the linear model reads), dense."""
        X = self._features(list(texts))
        return X.toarray() if sp.issparse(X) else X

    # ------------------------------------------------------------------ saving
    def _save_files(self, tmp: Path, metrics=None) -> None:
        from safetensors.numpy import save_file

        for v in self.views_:
            v.save(tmp / "views" / v.name)
        save_file({"coef": self.head_.coef, "intercept": self.head_.intercept}, str(tmp / "head.safetensors"))
        write_json(tmp / "cv.json", self.cv_)
        self._write_metrics(tmp, metrics)

    def _config_extras(self) -> dict:
        return {"classes": self.classes_, "views": [{"name": v.name, "type": type(v).__name__} for v in self.views_],
                "C": self.C_}

    def _card(self, metrics=None) -> dict:
        t = self.training_
        rows = "\n".join(f"| {k} | {v['accuracy']:.4f} | {v['macro_f1']:.4f} |" for k, v in
                         sorted(self.cv_.items(), key=lambda kv: -kv[1]["accuracy"])[:15])
        return dict(
            title="Few-label text classifier (shoestring recipe)",
            summary=(f"Logistic regression (C = {t['C']:g}) over the views {t['chosen']}" if np.isscalar(t["C"]) else
                     f"Two models, their log-probabilities averaged ({t['chosen']}; C = {format_C(t['C'])})"
                     if isinstance(t["C"], dict) else
                     f"One logistic regression per view (C = {format_C(t['C'])}) pooled by "
                     f"out-of-fold weights {', '.join(f'{w:.2f}' for w in t['stack_weights'])}, over the views "
                     f"{t['chosen']}") + f", chosen by cross-validation "
                    f"on {t['train_examples']} labelled examples ({t['why']}). Contrastive fine-tuning of the "
                    f"encoder: {'used' if t.get('contrastive', {}).get('used') else 'not used'} "
                    f"({t.get('contrastive', {}).get('why', 'not tried')}). Self-training on the unlabeled "
                    f"pool: {t['semi_supervised']['used'] or 'not used'} "
                    f"({t['semi_supervised'].get('why', '')}). Classes: {', '.join(self.classes_[:30])}.",
            usage="```python\nimport shoestring\nclf = shoestring.load('.')\nclf.predict(['some text'])\n```\n\n"
                  "or `shoestring predict . texts.jsonl -o predictions.jsonl`",
            metrics=self._card_metrics(metrics),
            extra="## Cross-validated candidates (labelled rows only)\n\n| candidate | accuracy | macro-F1 |\n"
                  "|---|---|---|\n" + rows if rows else "")

    def _load_files(self, path: Path, meta: dict, manifest: dict) -> None:
        from safetensors.numpy import load_file

        from shoestring.artifacts import read_json

        self.classes_ = meta["classes"]
        self.C_ = meta["C"]
        if "precision" not in meta["config"]:  # saved before --precision existed: its encoder embedded in float32
            self.config = self.config.replace(precision="fp32")
        self.views_ = []
        for v in meta["views"]:
            folder = path / "views" / v["name"]
            if v["type"] == "TfidfView":
                self.views_.append(TfidfView.load(folder))
            elif v["type"] == "EmbeddingView":
                self.views_.append(EmbeddingView.load(folder, v["name"], self.config.precision))
            else:
                raise ArtifactError(f"unknown view type {v['type']!r}", path=path, hint="a newer shoestring wrote it")
        head = load_file(str(path / "head.safetensors"))
        self.head_ = LinearHead(head["coef"], head["intercept"], len(self.classes_))
        if self.head_.coef.shape[1] != sum(v.dim for v in self.views_):
            raise ArtifactError("head.safetensors does not fit the saved views", path=path)
        self.cv_ = read_json(path / "cv.json")
