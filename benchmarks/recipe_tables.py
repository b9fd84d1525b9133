"""Render few-label recipe results (``bench fewshot --json`` files, several merged) as the Markdown tables of
docs/benchmarks.md: per dataset and N, every method's seeds, mean accuracy / macro-F1, training time, and what
the recipe chose; then the target check (the recipe above the best baseline).

    python benchmarks/recipe_tables.py docs/results/recipe_chemprot_200.json docs/results/recipe_tweeteval_hate_200.json
    python benchmarks/recipe_tables.py --summary docs/results/baselines_*.json docs/results/own_*_200.json  # one table
    python benchmarks/recipe_tables.py --verdict docs/results/setfit_*.json docs/results/baselines_*.json \
        docs/results/own_*.json docs/results/auto_*.json    # the README's table: each family's margin
    python benchmarks/recipe_tables.py --write docs/results/own_chemprot_1000.json parts/own_chemprot_1000_seed*.json
    python benchmarks/recipe_tables.py --before docs/results/auto_*_200*.json -- docs/results/stack_auto_*.json
        # two versions of a method on the seeds both ran: means, the paired difference, wins and losses

Records of the same dataset, N and method from several files (one seed per process, say) are merged seed by
seed (a later file's run replaces an earlier one of the same seed) and their means recomputed; ``--write OUT``
writes the merged records as one ``bench fewshot --json`` file instead of printing tables.
"""

from __future__ import annotations

import json

from shoestring.bench.fewshot import run_statistics

BASELINES = ("tfidf_lr", "tfidf_pool_lr", "glove_lr", "minilm_lr", "setfit")
OWN_BASELINES = ("tfidf_lr", "tfidf_pool_lr", "glove_lr")


def _cs(C) -> str:
    """A recipe's C: one number, a stack's per-view Cs, or a blend's two (frozen | tuned)."""
    if isinstance(C, dict):
        return f"{_cs(C['frozen'])} | {_cs(C['tuned'])}"
    return ",".join(f"{c:g}" for c in C) if isinstance(C, list) else f"{C:g}"


def _pct(x):
    return f"{100 * x:.1f}"


def merge(records: list[dict]) -> list[dict]:
    """One record per (dataset, N, method): the runs of all records of that key, by seed (later ones replace
    earlier ones of the same seed), summarised over them as bench fewshot does (``run_statistics``)."""
    out: dict = {}
    for r in records:
        key = (r["dataset"], r["n_labels"], r["method"])
        if key not in out:
            out[key] = {**r, "runs": list(r["runs"])}
            continue
        runs = {x["seed"]: x for x in out[key]["runs"]}
        runs.update({x["seed"]: x for x in r["runs"]})
        out[key] = {**out[key], **r, **run_statistics([runs[s] for s in sorted(runs)])}
    return list(out.values())


def _read(paths) -> tuple[list[dict], dict | None]:
    """The merged records of these files, and the last file's meta."""
    recs, meta = [], None
    for p in paths:
        d = json.load(open(p))
        recs += d["records"] if isinstance(d, dict) else d
        meta = d.get("meta", meta) if isinstance(d, dict) else meta
    return merge(recs), meta


def print_paired(before: list[dict], after: list[dict]) -> None:
    """Per (dataset, N, method) in both: the seeds both ran, each version's mean accuracy / macro-F1 on them,
    the mean paired difference in accuracy with its standard error over the seeds, and the seeds won / lost."""
    import numpy as np

    old = {(r["dataset"], r["n_labels"], r["method"]): {x["seed"]: x for x in r["runs"]} for r in before}
    print("| dataset | N | method | seeds | before | after | after - before (SE) | seeds up / down |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for r in sorted(after, key=lambda r: (r["dataset"], r["n_labels"], r["method"])):
        prev = old.get((r["dataset"], r["n_labels"], r["method"]), {})
        both = sorted(x["seed"] for x in r["runs"] if x["seed"] in prev)
        if not both:
            continue
        new = {x["seed"]: x for x in r["runs"]}
        d = np.array([new[s]["accuracy"] - prev[s]["accuracy"] for s in both])
        se = f" ({100 * d.std(ddof=1) / np.sqrt(len(d)):.1f})" if len(d) > 1 else ""

        def mean(runs, key):
            return _pct(float(np.mean([runs[s][key] for s in both])))

        print(f"| {r['dataset']} | {r['n_labels']} | {r['method']} | {','.join(map(str, both))} | "
              f"{mean(prev, 'accuracy')} / {mean(prev, 'macro_f1')} | {mean(new, 'accuracy')} / "
              f"{mean(new, 'macro_f1')} | {100 * d.mean():+.1f}{se} | {(d > 0).sum()} / {(d < 0).sum()} |")


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="bench fewshot --json files")
    ap.add_argument("--summary", action="store_true", help="one table: every method's mean per dataset and N")
    ap.add_argument("--verdict", action="store_true",
                    help="one short table: each recipe family against its best baseline, and its worst seed")
    ap.add_argument("--write", metavar="OUT", help="write the merged records here instead of printing tables")
    ap.add_argument("--before", nargs="+", metavar="FILE",
                    help="an earlier version's files: compare the paths' runs with them, seed by seed")
    a = ap.parse_args(argv)
    paths, write = a.paths, a.write
    recs, meta = _read(paths)
    if a.before:
        return print_paired(_read(a.before)[0], recs)
    if write:
        from shoestring.artifacts import write_json

        write_json(write, {"meta": {**(meta or {}), "merged_from": paths}, "records": recs})
        return print(f"{len(recs)} records ({sum(len(r['runs']) for r in recs)} runs) written to {write}")
    groups = {}
    for r in recs:
        groups.setdefault((r["dataset"], r["n_labels"]), {})[r["method"]] = r
    if a.summary:
        return print_summary(groups)
    if a.verdict:
        return print_verdict(groups)
    for (ds, n), by in sorted(groups.items()):
        print(f"\n#### {ds}, N = {n} (test {next(iter(by.values()))['n_test']} rows)\n")
        print("| method | per seed: accuracy / macro-F1 | mean accuracy / macro-F1 | training s (mean) | chosen |")
        print("|---|---|---|---:|---|")
        order = [m for m in ("auto", "auto_own", *BASELINES) if m in by] + [m for m in by if m not in
                                                                           ("auto", "auto_own", *BASELINES)]
        for m in order:
            r = by[m]
            seeds = ", ".join(f"{x['seed']}: {_pct(x['accuracy'])} / {_pct(x['macro_f1'])}" for x in r["runs"])
            fits = [x["fit_seconds"] for x in r["runs"] if "fit_seconds" in x]  # the recipe: fit only, no test
            secs = sum(fits) / len(fits) if fits else r.get("train_seconds", r["train_seconds_mean"])
            chosen = "; ".join(
                f"{x['chosen']}, C={_cs(x['C'])}" + (", tuned encoder" if x.get("contrastive") else "")
                + (f", {x['semi_supervised']}" if x.get("semi_supervised") else "")
                for x in r["runs"] if "chosen" in x)
            if m == "setfit":
                chosen = f"{r.get('setfit_steps')} contrastive steps"
            print(f"| {m} | {seeds} | {_pct(r['accuracy_mean'])} / {_pct(r['macro_f1_mean'])} | {secs:.0f} | "
                  f"{chosen} |")
        for m, pool in (("auto", BASELINES), ("auto_own", OWN_BASELINES)):
            best = _best_baseline(by, pool)
            if m not in by or best is None:
                continue
            diff = 100 * (by[m]["accuracy_mean"] - by[best]["accuracy_mean"])
            print(f"\n`{m}` {_pct(by[m]['accuracy_mean'])} is {'above' if diff > 0 else 'NOT above'} the best "
                  f"{'baseline' if m == 'auto' else 'baseline without pre-trained weights'} `{best}` "
                  f"{_pct(by[best]['accuracy_mean'])} ({diff:+.1f} points).", end="")
            print(" " + stability(by[m]), end="")
        print()


def print_summary(groups) -> None:
    """One row per (dataset, N): every method's mean accuracy / macro-F1 over its seeds (the seed count when
    it is not 5), and the recipe's margin over the best baseline of its family."""
    methods = [m for m in ("auto", "auto_own", *BASELINES) if any(m in by for by in groups.values())]
    print("| dataset | N | " + " | ".join(f"`{m}`" for m in methods) + " | `auto` - best baseline | `auto_own` - best "
          "own baseline |")
    print("|---|---:|" + "---:|" * (len(methods) + 2))
    for (ds, n), by in sorted(groups.items()):
        cells = []
        for m in methods:
            r = by.get(m)
            cells.append("" if r is None else f"{_pct(r['accuracy_mean'])} / {_pct(r['macro_f1_mean'])}" + _seeds(r))
        margins = []
        for m, pool in (("auto", BASELINES), ("auto_own", OWN_BASELINES)):
            best = _best_baseline(by, pool)
            margins.append("" if m not in by or best is None else
                           f"{100 * (by[m]['accuracy_mean'] - by[best]['accuracy_mean']):+.1f}")
        print(f"| {ds} | {n} | " + " | ".join(cells + margins) + " |")


def _best_baseline(by: dict, pool) -> str | None:
    """The method of ``pool`` with the highest mean accuracy among those measured here (None: none is)."""
    base = [b for b in pool if b in by]
    return max(base, key=lambda b: by[b]["accuracy_mean"]) if base else None


def _seeds(r) -> str:
    """The seed count, said when it is not the protocol's five."""
    k = len(r["runs"])
    return "" if k == 5 else f" ({k} seed{'s' if k > 1 else ''})"


def under_earlier_rule(r) -> list[int]:
    """The seeds whose run predates the three-way contrastive judgement (no ``contrastive_use`` in the record:
    the tuned encoder kept alone for any accuracy gain, else dropped) and whose recorded nested gains the current
    rule would judge otherwise (alone only beyond the standard error, dropped only beyond it, else blended): their
    numbers are not the current recipe's."""
    out = []
    for x in r["runs"]:
        g, se = x.get("contrastive_gain_cv"), x.get("contrastive_gain_cv_se")
        if "contrastive_use" in x or g is None or se is None or x.get("contrastive_mode") == "on":
            continue
        gm, sem = x.get("contrastive_gain_cv_macro_f1", 0.0), x.get("contrastive_gain_cv_macro_f1_se", 0.0)
        now = ("tuned" if g > se and gm >= -sem else "frozen" if g < -se or gm < -sem else "blend")
        if now != ("tuned" if x.get("contrastive") else "frozen"):
            out.append(x["seed"])
    return out


def print_verdict(groups) -> None:
    """One row per (dataset, N): each recipe family's mean accuracy against the best baseline it must beat
    (named), the margin, its worst seed's distance from its own mean (the stability target: within 3) beside the
    best baseline's (a seed whose labels are hard for every method shows in both), and the seeds of `auto` run
    before the current contrastive rule that it would now judge otherwise (:func:`under_earlier_rule`)."""
    print("| dataset | N | `auto` | best baseline | margin | worst seed | the baseline's worst seed | earlier rule "
          "| `auto_own` | best own baseline | margin |")
    print("|---|---:|---:|---|---:|---:|---:|---|---:|---|---:|")
    for (ds, n), by in sorted(groups.items()):
        cells = []
        for m, pool in (("auto", BASELINES), ("auto_own", OWN_BASELINES)):
            r, best = by.get(m), _best_baseline(by, pool)
            if r is None or best is None:
                cells += [""] * (6 if m == "auto" else 3)
                continue
            diff = 100 * (r["accuracy_mean"] - by[best]["accuracy_mean"])
            cells += [_pct(r["accuracy_mean"]) + _seeds(r),
                      f"`{best}` {_pct(by[best]['accuracy_mean'])}" + _seeds(by[best]),
                      f"**{diff:+.1f}**" if diff <= 0 else f"{diff:+.1f}"]
            if m == "auto":
                worst = _worst(r)
                cells.append(f"**{worst:.1f}**" if worst < -3 else f"{worst:.1f}")
                cells.append("" if len(by[best]["runs"]) < 2 else f"{_worst(by[best]):.1f}")
                cells.append(", ".join(f"s{k}" for k in under_earlier_rule(r)))
        print(f"| {ds} | {n} | " + " | ".join(cells) + " |")


def _worst(r) -> float:
    """The lowest seed's accuracy minus the mean of the record's seeds, in points."""
    return 100 * (min(x["accuracy"] for x in r["runs"]) - r["accuracy_mean"])


def stability(r) -> str:
    """The issue's stability check: no seed under the test split's majority-class rate, or more than 3 points
    under the method's own mean."""
    accs = [x["accuracy"] for x in r["runs"]]
    worst, mean = min(accs), r["accuracy_mean"]
    floor = r.get("test_majority_rate")
    bad = worst < mean - 0.03 or (floor is not None and worst < floor)
    return (f"Stability over {len(accs)} seeds: worst seed {_pct(worst)} ({100 * (worst - mean):+.1f} against the "
            f"mean" + (f", majority class {_pct(floor)}" if floor is not None else "") + ("): **MISSED**." if bad
                                                                                       else "): met."))


if __name__ == "__main__":
    main()
