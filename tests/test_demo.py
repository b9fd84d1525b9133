"""`shoestring demo`, the README's first command: the whole pipeline on the shipped Debian corpus."""

import re

import numpy as np
import pytest

from shoestring.cli import main


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_loadable_models(tmp_path, capsys):
    from shoestring.data.bow import BowCorpus
    from shoestring.demo import run_demo
    from shoestring.learners.vampire.estimator import VAMPIRE
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.estimator import TextClassifier

    out = tmp_path / "d"
    result = run_demo(out, minutes=0.05, labels=60)  # a ~3 s VAMPIRE budget: ~30-60 s in all on 2 cores
    printed = capsys.readouterr().out
    steps = [line.split(" ", 1)[0] for line in printed.splitlines() if re.match(r"\d/4 ", line)]
    assert steps == ["1/4", "2/4", "3/4", "4/4"]
    assert re.search(r"\d+ training \+ \d+ reference documents, V = \d+", printed)
    assert "best NPMI" in printed and "domain word vectors:" in printed and "done in" in printed
    for name in ("VAMPIRE + domain word vectors", "VAMPIRE", "no pre-training"):
        assert re.search(re.escape(name) + r" +accuracy \d+\.\d%  macro-F1 \d+\.\d%", printed), name
        assert 0.0 <= result[name] <= 1.0
    assert np.isfinite(result["npmi"]) and -1.0 <= result["npmi"] <= 1.0

    # every folder it writes is there and loads
    assert {p.name for p in out.iterdir()} >= {"prepared", "vampire", "vectors", "classifier", "report.html"}
    assert len(BowCorpus.load(out / "prepared").vocab) > 0
    vae = VAMPIRE.from_pretrained(out / "vampire")
    assert vae.transform(["a library to parse fonts"]).shape[0] == 1
    assert len(WordVectors.from_pretrained(out / "vectors").vocab_) > 0
    clf = TextClassifier.from_pretrained(out / "classifier")
    pred = clf.predict(["a library to parse fonts", "a daemon that writes logs"])
    assert len(pred) == 2 and set(pred) <= set(clf.classes_)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "https://" not in html

    # a second run into the same folder is refused before any work, through the CLI as the README runs it
    assert main(["demo", "-o", str(out), "--minutes", "0.05", "--labels", "60"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_demo_passes_its_options_through(tmp_path, monkeypatch):
    import shoestring.demo

    calls = []
    monkeypatch.setattr(shoestring.demo, "run_demo", lambda output, **kw: calls.append((output, kw)))
    assert main(["demo", "-o", str(tmp_path / "d"), "--minutes", "0.05", "--labels", "60"]) == 0
    assert calls == [(str(tmp_path / "d"), {"minutes": 0.05, "labels": 60, "overwrite": False})]
    assert main(["demo", "-o", str(tmp_path / "d"), "--overwrite"]) == 0
    assert calls[1] == (str(tmp_path / "d"), {"minutes": None, "labels": 200, "overwrite": True})
