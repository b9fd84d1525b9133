"""Step 4 of the few-label recipe (:mod:`~shoestring.tasks.classify.recipe`): contrastive fine-tuning of the
``encoder`` view on the labels, and the nested cross-validation that judges whether to use it.

The ``encoder`` view's BERT is fine-tuned on the labels SetFit-style (same class together, others apart:
:mod:`~shoestring.learners.contrastive.labels`), judged by nested cross-validation - each of
``contrastive_folds`` folds fine-tunes on its own training rows, so its held-out rows stay unseen - against the
frozen candidates on the same folds (the frozen stack too; no tuned stack: a view tuned on the labels has no
out-of-fold probabilities to weigh it by). The tuned encoder's best model is used alone where it wins in
accuracy by more than that difference's standard error (a paired bootstrap over the held-out rows) without
losing macro-F1 beyond its own (macro-F1 over the classes each nested fine-tuning saw a same-class pair of, as
the final one will); it is dropped where it loses either beyond its standard error; in between, where the
folds cannot tell the two apart, both are used, **blended**: the frozen views' best model and the tuned
encoder's, their log-probabilities averaged (:class:`~shoestring.tasks.classify.stacking.BlendLR`; the frozen
encoder stays the view ``encoder``, the tuned one is ``encoder_tuned``). A hard choice on a difference within
the noise is a coin toss between two models that may differ by many points on new texts (measured: 56.3
against 66.6 on chemprot's test split at N = 1000), and the nested folds judge an encoder fine-tuned on half
the labels for fewer steps than the final one gets; the blend's expected accuracy is at least the coin toss's,
and its nested cross-validated scores are in the record. The final fine-tuning, on all labels, continues the
last fold's encoder (``contrastive_warm_start``), so it is never shorter than the ones judged.

Optionally (``contrastive_curve``, off by default), how much the judged encoders, tuned on half the labels,
fall short of it is read off a learning curve: one more fine-tuning on half the last fold's training rows, and
the two best models fitted on them, scored on that fold's held-out rows; the growth of the gain from a quarter
to half of the labels, where beyond its standard error, is added once more to the judged gains - the final
fine-tuning doubles the labels again (:meth:`ContrastiveStep._curve`). Measured on seven runs that blended at
200 labels: the two-point curve is noisier than the gains (standard errors 3.5-5.5 points against 1.8-3.4), it
moved six of them, two up by 1.8-2.4 points on chemprot (the tuned encoder alone) and four down by 3.9-12.8 on
tweeteval_hate and chemprot (dropped); off by default.

Time: the fine-tunings and their scoring share ``CONTRASTIVE_SHARE`` of the fit's time left when the step
starts, less the time the tuned encoder will take to embed the labelled rows again; each fine-tuning's share
is set when it starts, from the time then left (:class:`_Shares`), so one that overruns on a busy machine
shrinks the rest. A nested fold's or the final fine-tuning that would get under ``MIN_FINETUNE_SECONDS`` is not
started, and the tuned encoder is then not used; the learning curve's is left out instead (said in the record).
"""

from __future__ import annotations

import math
import time

import numpy as np

from shoestring.evaluation.metrics import accuracy_and_macro_f1, contrast_se, macro_f1, paired_gain_se
from shoestring.tasks.classify.candidates import STACKED, key_of, mean_scores, parse_key, side_by_side
from shoestring.tasks.classify.folds import stratified_folds

MIN_FINETUNE_SECONDS = 15.0  # a contrastive fine-tuning given less than this is not started
CONTRASTIVE_SHARE = 0.85  # of the time left then (less re-embedding the labelled rows): the fine-tunings' phase


def half_per_class(rows: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A seeded half of ``rows`` taken class by class (half of each class's rows, rounded up: every class keeps
    at least one), in their original order."""
    rng = np.random.default_rng([seed, 2])
    keep = [rng.permutation(rows[y[rows] == k])[:(int(np.sum(y[rows] == k)) + 1) // 2] for k in np.unique(y[rows])]
    return np.sort(np.concatenate(keep))


def _untagged(key: str) -> str:
    """A nested score's key without its side: ``"tuned: encoder C=10"`` -> ``"encoder C=10"``."""
    return key.split(": ", 1)[1]


class _Shares:
    """Each fine-tuning's seconds, set when it starts: the phase's time left (until ``stop``, a point on the
    fit's ``clock``), less the scoring of the runs still to score (``scoring``: seconds to embed and score one
    fold's candidates, once measured on the first), in proportion to its training ``rows`` among those still to
    come (the folds', the learning curve's, then all of them; the list may change as the curve is planned).
    Without a budget every share is unlimited."""

    def __init__(self, clock, stop: float, rows: list[int]):
        self.clock, self.stop, self.rows = clock, stop, rows
        self.scoring = 0.0

    def __call__(self, i: int) -> float:
        if self.clock.budget is None:
            return float("inf")
        left = self.stop - self.clock.spent() - self.scoring * (len(self.rows) - 1 - i)
        return left * self.rows[i] / sum(self.rows[i:])


class ContrastiveStep:
    """The recipe's contrastive step (see the module docstring), mixed into
    :class:`~shoestring.tasks.classify.recipe.FewLabelClassifier`: it reads the recipe's ``config``,
    ``views_``, ``classes_`` and ``cv_`` (the frozen candidates' scores), and scores candidates with its
    ``_log_proba_fold``, ``_choose`` and ``_view_Cs``."""

    def _contrastive(self, texts, y, blocks, candidates, clock, callbacks, reembed: float = 0.0,
                     groups=None) -> dict:
        """Fine-tune the ``encoder`` view contrastively on the labels (SetFit's first stage), judged by nested
        cross-validation: each of ``contrastive_folds`` folds fine-tunes on its training part only and scores
        every (candidate with the encoder, C) on its held-out part, beside the frozen candidates on the same
        folds. With ``auto``, ``use`` says what comes of it: ``tuned`` (alone) where the best tuned candidate
        beats the best frozen one in accuracy by more than the paired bootstrap standard error over the held-out
        rows without losing macro-F1 beyond its own (macro-F1 over the classes with two or more examples in every
        fold's training part); ``frozen`` (not used) where it loses either beyond its standard error; ``blend``
        otherwise (both models, their log-probabilities averaged; ``frozen_chosen`` / ``frozen_C`` name the frozen
        one, and ``blend_cv`` has the blend's nested scores); the gains judged include, with
        ``contrastive_curve``, their growth with the labels where beyond its noise (:meth:`_curve`, one more
        fine-tuning on half the last fold's training rows; ``curve`` in the record). Then one more fine-tuning
        on all labels gives the encoder used (``model``). With ``contrastive_warm_start`` that last
        fine-tuning continues the last fold's encoder (tuned on that fold's training rows) rather than starting
        over from the checkpoint: the final encoder gets the fold's steps too, at least as many as each judged
        one had, where a slow machine's budget leaves the fine-tuning short of steps.

        The phase gets ``CONTRASTIVE_SHARE`` of the time left less ``reembed`` (the seconds the tuned encoder
        will take to embed the labelled rows again, measured on the frozen one); the rest is the pool's and the
        final head's."""
        from shoestring.learners.mlm.estimator import MaskedLM

        c = self.config
        out = {"used": False, "mode": c.contrastive}
        enc = self._encoder_index()
        lm = None if enc is None else self.views_[enc].model
        if c.contrastive == "off":
            out["why"] = "off"
            return out
        if not isinstance(lm, MaskedLM):
            out["why"] = "no BERT-family encoder (--checkpoint / encoder=) to fine-tune"
            return out
        # copies of a text held out together, as in the views' cross-validation
        cfolds = stratified_folds(y, c.contrastive_folds, c.seed, groups)
        rows = [len(tr) for tr, _ in (cfolds or [])] + [len(texts)]
        stop = clock.spent() + CONTRASTIVE_SHARE * max(clock.left() - reembed, 0.0)
        if clock.budget is not None:
            out["planned_seconds"], out["reembed_seconds"] = round(stop - clock.spent(), 2), round(reembed, 2)
        share = _Shares(clock, stop, rows)
        if min(rows) * share(0) / rows[0] < MIN_FINETUNE_SECONDS:  # the smallest share
            out["why"] = (f"not enough of the --minutes budget left ({clock.left():.0f} s) for {len(rows)} "
                          "fine-tunings: not used")
            return out
        # the learning curve's run (auto only): half the last fold's training rows, fine-tuned before the final
        # one; left out (said in the record) where its share would be too short to mean anything
        sub = None
        if c.contrastive_curve and c.contrastive == "auto" and cfolds is not None:
            sub = half_per_class(cfolds[-1][0], y, c.seed)
            rows.insert(len(rows) - 1, len(sub))
            if len(sub) * share(0) / rows[0] < MIN_FINETUNE_SECONDS:
                rows.pop(-2)
                sub, out["curve"] = None, {"skipped": "its share of the --minutes budget would be too short"}
        if cfolds is None and c.contrastive == "auto":
            out["why"] = "every class has a single labelled example: nothing to cross-validate it by, not used"
            return out
        nested = self._nested_folds(lm, texts, y, blocks, candidates, cfolds or [], share, callbacks, groups)
        if nested["folds_done"] < len(cfolds or []):
            out["why"] = (f"the --minutes budget ran out after {nested['folds_done']} of {len(cfolds)} nested "
                          "cross-validation folds: not used")
            return out
        out["cv"] = nested["scores"]
        if nested["scores"]:
            helps, (bt, bf) = self._judge(out, nested, texts, y, blocks, candidates, cfolds, sub, share, lm,
                                          callbacks, groups)
            if out["use"] == "frozen":
                return out
            chosen, C = parse_key(_untagged(bt))
            out.update(chosen=chosen, C=C, why=out["why"] + (
                ": used" if helps else ": used (asked for)" if c.contrastive == "on" else
                ": within the noise either way, so used blended with the frozen best"))
            if out["use"] == "blend":
                out["frozen_chosen"], out["frozen_C"] = parse_key(_untagged(bf))
        else:  # "on" with one example per class: all views, C = 10, as without cross-validation
            out.update(use="tuned", chosen="+".join(v.name for v in self.views_), C=10.0,
                       why="contrastive fine-tuning asked for; one example per class: all views with C = 10")
        if share(len(rows) - 1) < MIN_FINETUNE_SECONDS:
            out["why"] += (f"; but the --minutes budget left ({clock.left():.0f} s) cannot fine-tune on all labels: "
                           "not used")
            out["use"] = "frozen"  # what the model is, whatever the folds said
            return out
        last = nested["last"]
        t = time.perf_counter()
        tuned = self._fine_tune(lm if last is None else last, texts, y, share(len(rows) - 1), callbacks)
        training = dict(tuned.training_)
        if last is not None:  # what the encoder had before: the last fold's fine-tuning on its training rows
            training["warm_start"] = {"from": f"nested fold {len(cfolds)}", "labelled": len(cfolds[-1][0]),
                                      "steps": last.training_["steps"], "seconds": last.training_["seconds"]}
        out.update(used=True, model=tuned, training=training, seconds=round(time.perf_counter() - t, 2))
        return out

    def _encoder_index(self) -> int | None:
        """Where the encoder's view sits among ``views_`` (``None`` without one)."""
        names = [v.name for v in self.views_]
        return names.index("encoder") if "encoder" in names else None

    def _fine_tune(self, lm, texts: list[str], y, seconds: float, callbacks):
        """``lm`` fine-tuned contrastively on ``texts`` / ``y`` for at most ``seconds`` (a share: infinite
        without a budget), with the recipe's contrastive settings."""
        from shoestring.learners.contrastive.config import ContrastiveConfig
        from shoestring.learners.contrastive.labels import fit_contrastive

        c = self.config
        config = ContrastiveConfig(max_epochs=c.contrastive_epochs, lr=c.contrastive_lr, seed=c.seed,
                                   train_layers=c.contrastive_layers, precision=c.precision,
                                   minutes=None if math.isinf(seconds) else seconds / 60.0)
        return fit_contrastive(lm, texts, y, config, callbacks=callbacks)

    def _nested_folds(self, lm, texts, y, blocks, candidates, cfolds, share: _Shares, callbacks, groups) -> dict:
        """The nested cross-validation: on each fold, ``lm`` fine-tuned on the fold's training rows, and every
        (candidate with the encoder, C) scored on its held-out rows with the tuned encoder's features
        (``"tuned: <key>"``), beside every frozen (candidate, C) on the same rows (``"frozen: <key>"``; the
        frozen stack with each view's C from the views' cross-validation, where that scored it). Stops before a
        fold whose share of the budget would be under ``MIN_FINETUNE_SECONDS`` (``folds_done`` says how many
        ran). Returns the mean ``scores``, every key's ``held_out`` predictions (-1: never held out) and
        ``log_p`` (log-probabilities, for the blend), the ``last`` fold's tuned encoder (with
        ``contrastive_warm_start``; else None) and its ``fold_steps``."""
        c = self.config
        names, enc = [v.name for v in self.views_], self._encoder_index()
        # no tuned stack: the stack's weights need out-of-fold probabilities, and a view fine-tuned on the same
        # labels has none (measured: the tuned encoder took all the weight, the others 0-0.1)
        with_enc = {k: v for k, v in candidates.items() if enc in v and not k.endswith(STACKED)}
        # the frozen stack (where the views' cross-validation scored it), with each view's C from there
        stack_Cs = {cand: self._view_Cs([names[i] for i in idx]) for cand, idx in candidates.items()
                    if cand.endswith(STACKED) and any(parse_key(k)[0] == cand for k in self.cv_)}
        per_fold: dict[str, list] = {}  # each key's (accuracy, macro-F1) on each fold
        held_out, log_p = {}, {}
        run = {"folds_done": 0, "last": None, "fold_steps": None}
        for f, (tr, va) in enumerate(cfolds):
            if share(f) < MIN_FINETUNE_SECONDS:
                break
            tuned = self._fine_tune(lm, [texts[i] for i in tr], y[tr], share(f), callbacks)
            t_score = time.perf_counter()
            E = self._tuned_view(tuned).transform(texts)
            run["last"] = tuned if c.contrastive_warm_start else None
            run["fold_steps"] = tuned.training_["steps"]
            del tuned
            for tag, cands, swap in (("tuned", with_enc, E), ("frozen", candidates, None)):
                for cand, idx in cands.items():
                    stacked = cand.endswith(STACKED)
                    if stacked and cand not in stack_Cs:
                        continue  # a stack the views' cross-validation did not get to score
                    X = side_by_side([swap if (swap is not None and i == enc) else blocks[i] for i in idx])
                    widths = [blocks[i].shape[1] for i in idx]
                    for Cv in ([stack_Cs[cand]] if stacked else c.c_grid):
                        key = f"{tag}: {key_of(cand, Cv)}"
                        lp = self._log_proba_fold(X, y, tr, va, Cv, widths, groups)
                        pred = lp.argmax(1)
                        per_fold.setdefault(key, []).append(accuracy_and_macro_f1(y[va], pred, len(self.classes_)))
                        held_out.setdefault(key, np.full(len(y), -1))[va] = pred
                        log_p.setdefault(key, np.zeros((len(y), len(self.classes_))))[va] = lp
            share.scoring = max(share.scoring, time.perf_counter() - t_score)
            run["folds_done"] = f + 1
        run.update(scores={k: mean_scores(v) for k, v in per_fold.items()}, held_out=held_out, log_p=log_p)
        return run

    def _judge(self, out: dict, nested: dict, texts, y, blocks, candidates, cfolds, sub, share: _Shares, lm,
               callbacks, groups) -> tuple[bool, tuple[str, str]]:
        """The verdict of the nested folds, into ``out``: the tuned best's gains over the frozen best (accuracy;
        macro-F1 over the classes every nested fine-tuning saw a pair of) with their paired bootstrap standard
        errors, the two blended's scores, the learning curve where asked for, ``use`` (``tuned``, ``frozen`` or
        ``blend``) and ``why``. Returns whether the tuned encoder helps beyond the noise, and the keys of the
        (tuned, frozen) best compared."""
        c = self.config
        n, enc = len(self.classes_), self._encoder_index()
        scores, held_out, log_p = nested["scores"], nested["held_out"], nested["log_p"]
        (bt, note_t), (bf, note_f) = (self._choose(scores, held_out, y, tag) for tag in ("tuned: ", "frozen: "))
        st, sf = scores[bt], scores[bf]
        out["gain_accuracy"] = st["accuracy"] - sf["accuracy"]
        # macro-F1 is judged on the classes every nested fine-tuning saw a same-class pair of (two or more
        # training examples in every fold): a class with one example in a fold's training part gives the
        # contrastive loss nothing to pull together, a handicap the final fine-tuning, on all labels, has only
        # for classes with a single example overall (those are never held out, so never scored)
        paired = np.flatnonzero(np.min([np.bincount(y[tr], minlength=n) for tr, _ in cfolds], axis=0) >= 2)
        judged = paired if len(paired) else np.arange(n)
        scored = held_out[bt] >= 0
        pt, pf = held_out[bt][scored], held_out[bf][scored]
        out["gain_macro_f1"] = macro_f1(y[scored], pt, n, judged) - macro_f1(y[scored], pf, n, judged)
        out["macro_f1_classes"] = [len(judged), n]
        out["gain_accuracy_se"], out["gain_macro_f1_se"] = paired_gain_se(y[scored], pt, pf, n, c.seed, judged)
        # the blend of the two (their log-probabilities averaged) on the same held-out rows, for the record
        pb = (log_p[bt][scored] + log_p[bf][scored]).argmax(1)
        out["blend_cv"] = {"accuracy": float(np.mean(pb == y[scored])), "macro_f1": macro_f1(y[scored], pb, n, judged)}
        # used alone where it gains accuracy beyond its noise without losing macro-F1 beyond its noise (a rare
        # class's one or two held-out examples swing macro-F1 by points: a loss within one standard error is
        # not a trade); dropped where it loses either beyond its noise; where the folds cannot tell the two
        # apart, both are used, blended (see the module docstring). With the curve, the gains judged are the
        # nested ones plus their growth from a quarter to half of the labels where it is beyond its noise
        gain, gain_f1 = out["gain_accuracy"], out["gain_macro_f1"]
        if sub is not None and share(len(cfolds)) >= MIN_FINETUNE_SECONDS:
            tuned = self._fine_tune(lm, [texts[i] for i in sub], y[sub], share(len(cfolds)), callbacks)
            out["curve"] = self._curve(tuned, texts, y, sub, cfolds[-1], (bt, bf), held_out, judged,
                                       nested["fold_steps"], (candidates, enc, blocks), groups)
            del tuned
            gain += out["curve"]["counted_accuracy"]
            gain_f1 += out["curve"]["counted_macro_f1"]
            out["gain_accuracy_judged"], out["gain_macro_f1_judged"] = gain, gain_f1
        elif sub is not None:
            out["curve"] = {"skipped": "the --minutes budget left was too short for its fine-tuning"}
        helps = gain > out["gain_accuracy_se"] and gain_f1 >= -out["gain_macro_f1_se"]
        hurts = gain < -out["gain_accuracy_se"] or gain_f1 < -out["gain_macro_f1_se"]
        out["use"] = "tuned" if helps or c.contrastive == "on" else "frozen" if hurts else "blend"
        verdict = (f"{len(cfolds)}-fold nested cross-validation on the labels: the tuned encoder's best "
                   f"({_untagged(bt)}) {100 * st['accuracy']:.1f} / macro-F1 {100 * st['macro_f1']:.1f} against "
                   f"the frozen best ({_untagged(bf)}) {100 * sf['accuracy']:.1f} / {100 * sf['macro_f1']:.1f} "
                   "(macro-F1 on "
                   + (f"the {len(judged)} classes with a pair in every fold's training rows " if len(paired) else
                      "all classes, none having a pair in every fold's training rows ")
                   + f"{100 * out['gain_macro_f1']:+.1f}, standard error {100 * out['gain_macro_f1_se']:.1f})"
                   + "".join(f"; {side}: {note}" for side, note in (("tuned", note_t), ("frozen", note_f)) if note))
        blend = out["blend_cv"]
        verdict += f"; the two blended {100 * blend['accuracy']:.1f} / {100 * blend['macro_f1']:.1f}"
        k = out.get("curve", {})
        if "trend_accuracy" in k:
            verdict += (f"; from a quarter to half of the labels (fold {len(cfolds)}) that gain grew by "
                        f"{100 * k['trend_accuracy']:+.1f} / {100 * k['trend_macro_f1']:+.1f} (standard errors "
                        f"{100 * k['trend_accuracy_se']:.1f} / {100 * k['trend_macro_f1_se']:.1f})"
                        + ("" if not (k["counted_accuracy"] or k["counted_macro_f1"]) else
                           ", counted once more for the final fine-tuning's doubling: judged gain "
                           f"{100 * gain:+.1f} / {100 * gain_f1:+.1f}"))
        elif "skipped" in k:
            verdict += f"; the learning curve was not drawn ({k['skipped']})"
        out["why"] = verdict + (": not used" if out["use"] == "frozen" else "")
        return helps, (bt, bf)

    def _curve(self, tuned, texts, y, sub, fold, keys, held_out, classes, fold_steps, views: tuple,
               groups=None) -> dict:
        """The learning curve of the tuned-minus-frozen gain, from a quarter to half of the labels. ``tuned`` is
        the encoder fine-tuned on ``sub`` - half of the last nested ``fold``'s training rows, with half its
        fine-tuning time (each share is in proportion to the rows), so about half its steps - and the two best
        models ``keys`` (tuned, frozen) are fitted on ``sub`` and scored on the fold's held-out rows, beside the
        fold's own predictions (``held_out``) from all its training rows. The growth of the gain (in accuracy, and
        in macro-F1 over ``classes``) with that doubling of labels and steps, where beyond its standard error (a
        paired bootstrap over the held-out rows of the four models), is *counted*: the final fine-tuning doubles
        both once more (all the labels, twice a fold's share of time, more with the warm start), and on a
        learning curve linear in the log of the labels - the usual shape - the gain grows about as much again.
        The pairs of a contrastive loss grow with the square of each class's examples, the frozen views' head
        learns from the examples alone: with many classes of few examples the tuned encoder's gain grows with
        the labels where the nested folds, on half of them, cannot see it yet. Within the noise it counts 0.
        ``views``: the candidates' views, the encoder's index among them and every view's features."""
        candidates, enc, blocks = views
        _, va = fold
        idx = np.concatenate([sub, va])
        local_tr, local_va = np.arange(len(sub)), np.arange(len(sub), len(idx))
        E = self._tuned_view(tuned).transform([texts[i] for i in idx])
        quarter = {}
        for tag, key in zip(("tuned", "frozen"), keys):
            cand, C = parse_key(_untagged(key))
            own = candidates[cand]
            X = side_by_side([E if (tag == "tuned" and i == enc) else blocks[i][idx] for i in own])
            quarter[tag] = self._log_proba_fold(X, y[idx], local_tr, local_va, C, [blocks[i].shape[1] for i in own],
                                                None if groups is None else groups[idx]).argmax(1)
        yv, n = y[va], len(self.classes_)
        preds = [held_out[keys[0]][va], held_out[keys[1]][va], quarter["tuned"], quarter["frozen"]]
        acc, f1 = zip(*(accuracy_and_macro_f1(yv, p, n, classes) for p in preds))
        trend, trend_f1 = acc[0] - acc[1] - acc[2] + acc[3], f1[0] - f1[1] - f1[2] + f1[3]
        se, se_f1 = contrast_se(yv, preds, [1, -1, -1, 1], n, self.config.seed, classes)
        return {"labelled": [len(sub), len(fold[0])], "steps": [tuned.training_["steps"], fold_steps],
                "seconds": tuned.training_["seconds"],
                "tuned_accuracy": [acc[2], acc[0]], "frozen_accuracy": [acc[3], acc[1]],
                "trend_accuracy": trend, "trend_accuracy_se": se, "trend_macro_f1": trend_f1,
                "trend_macro_f1_se": se_f1, "counted_accuracy": trend if abs(trend) > se else 0.0,
                "counted_macro_f1": trend_f1 if abs(trend_f1) > se_f1 else 0.0}
