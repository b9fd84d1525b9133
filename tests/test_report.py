"""The static HTML report: rendering, escaping, offline-ness, atomic writes, and the 2-D map."""

from __future__ import annotations

import html
import math
import os
import re

import numpy as np
import pytest

from shoestring.evaluation.report import map_2d, render_report, write_report

EVIL = "<script>alert(1)</script>"


def _topics(n: int = 12) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        words = [f"w{k}_{j}" for j in range(10)]
        out.append({"id": k, "words": words, "npmi": float(rng.uniform(-0.2, 0.4)), "size": float(rng.uniform(0, 0.2))})
    out[1]["words"][0] = EVIL
    out[2]["words"][4] = 'say "hi" & \'bye\''
    out[3]["npmi"] = float("nan")
    out[4]["size"] = float("inf")
    return out


def _full() -> dict:
    n = 120
    rng = np.random.default_rng(1)
    cats = [f"topic {i % 25}" for i in range(n)]  # more categories than palette colors
    texts = [f"snippet {i} {EVIL} & more" for i in range(n)]
    ep = list(range(1, 11))
    return {
        "title": "VAMPIRE <report> & co",
        "subtitle": "models/x · 2024-01-01",
        "summary": {"documents": 27948, "vocabulary": 30000, "mean NPMI": 0.12, "topic diversity": float("nan"),
                    "training time": "2 min 10 s", "<b>key</b>": None, "ok": True},
        "topics": _topics(),
        "map": {"x": rng.normal(size=n).tolist() + [float("nan")], "y": rng.normal(size=n).tolist() + [0.0],
                "color": cats + ["x"], "color_by": "dominant topic", "text": texts + ["t"]},
        "curves": {
            "train loss": {"x": ep, "y": [100.0 / e for e in ep]},
            "KL": {"x": ep, "y": [1.0, 2.0, float("nan"), 3.0, float("inf"), 4.0, 5.0, 5.0, 5.0, 5.0]},
            "NPMI (reference split)": {"x": ep, "y": [0.01 * e - 0.0008 * e * e for e in ep]},
            "empty": {"x": [], "y": []},
            "all nan": {"x": [1, 2], "y": [float("nan"), float("nan")]},
            "single": {"x": [3], "y": [7.5]},
        },
        "best_metric": {"name": "NPMI (reference split)", "mode": "max"},
        "settings": {"model": {"hidden": [64, 64], "dropout": 0.2, "act": EVIL}, "lr": 0.001,
                     "nan": float("nan"), "none": None, "empty": {}},
    }


def _no_external_refs(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"@import|url\(", page, re.I)


def test_full_report_renders_everything():
    data = _full()
    page = render_report(data)
    assert isinstance(page, str)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    assert "<svg" in page
    for t in data["topics"]:
        for w in t["words"]:
            assert html.escape(w, quote=True) in page
    for sec in ('id="summary"', 'id="topics"', 'id="map"', 'id="training"', 'id="settings"', "<details"):
        assert sec in page
    assert "27,948" in page and "2 min 10 s" in page
    assert "dominant topic" in page and ">other<" in page  # 25 categories: the rest are grey "other"
    assert "best 0.0312 at epoch 6" in page  # the best NPMI is marked
    assert page.count("<circle") >= 120
    _no_external_refs(page)


def test_minimal_report():
    topics = _topics(5)
    page = render_report({"title": "min", "topics": topics})
    assert "<svg" in page and "<title>min</title>" in page
    for t in topics:
        for w in t["words"]:
            assert html.escape(w) in page
    assert 'id="map"' not in page and 'id="training"' not in page and 'id="settings"' not in page
    _no_external_refs(page)
    # even with no topics at all the page renders
    page = render_report({"title": "empty", "topics": []})
    assert "<svg" in page and "No topics" in page


def test_escaping():
    page = render_report(_full())
    body = page.split("<script>", 1)[0]  # everything before the page's own inline script
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # only the report's own inline script
    assert "<report>" not in page and "VAMPIRE &lt;report&gt; &amp; co" in page
    assert "<b>key</b>" not in page
    assert 'say "hi"' not in body and "say &quot;hi&quot; &amp; &#x27;bye&#x27;" in page


def test_non_finite_values():
    data = _full()
    page = render_report(data)
    assert "n/a" in page
    for bad in ("nan", "NaN", "inf", "Infinity"):
        assert not re.search(rf'="[^"]*\b{bad}\b', page), bad  # never inside an attribute (coordinates, widths)
    # every topic row sorts by a finite number or by nothing
    for attr in re.findall(r'data-(?:npmi|size|id)="([^"]*)"', page):
        assert attr == "" or math.isfinite(float(attr))
    # NaN npmi sorted last by default
    rows = re.findall(r'<tr data-npmi="([^"]*)"', page)
    assert rows[-1] == "" and all(r != "" for r in rows[:-1])
    values = [float(r) for r in rows[:-1]]
    assert values == sorted(values, reverse=True)


def test_write_report_is_atomic(tmp_path):
    target = tmp_path / "sub" / "report.html"
    write_report(_full(), target)
    text = target.read_text(encoding="utf-8")
    assert text == render_report(_full())
    assert os.listdir(target.parent) == ["report.html"]
    # overwriting replaces the file in one step and leaves no temp file behind
    write_report({"title": "second", "topics": []}, str(target))
    assert "<title>second</title>" in target.read_text(encoding="utf-8")
    assert os.listdir(target.parent) == ["report.html"]


def test_write_report_failure_leaves_old_file(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    write_report({"title": "old", "topics": []}, target)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_report({"title": "new", "topics": []}, target)
    assert "<title>old</title>" in target.read_text(encoding="utf-8")
    assert os.listdir(tmp_path) == ["report.html"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_map_2d_tiny(n):
    X = np.random.default_rng(0).normal(size=(n, 6))
    for method in ("auto", "pca", "tsne"):
        idx, xy = map_2d(X, method=method)
        assert idx.shape == (n,) and xy.shape == (n, 2)
        assert np.all(np.isfinite(xy))


def test_map_2d_shapes_and_determinism():
    X = np.random.default_rng(0).normal(size=(300, 8))
    idx, xy = map_2d(X, random_state=3)  # auto -> t-SNE
    assert idx.shape == (300,) and xy.shape == (300, 2) and np.all(np.isfinite(xy))
    idx2, xy2 = map_2d(X, random_state=3)
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_allclose(xy, xy2)


def test_map_2d_sampling():
    X = np.random.default_rng(0).normal(size=(300, 8))
    idx, xy = map_2d(X, method="pca", max_points=100, random_state=7)
    assert idx.shape == (100,) and xy.shape == (100, 2)
    assert len(set(idx.tolist())) == 100 and idx.min() >= 0 and idx.max() < 300
    idx2, xy2 = map_2d(X, method="pca", max_points=100, random_state=7)
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_allclose(xy, xy2)
    idx3, _ = map_2d(X, method="pca", max_points=100, random_state=8)
    assert not np.array_equal(idx, idx3)
    # the coordinates belong to the sampled rows
    _, full = map_2d(X[idx], method="pca")
    np.testing.assert_allclose(np.abs(xy), np.abs(full), atol=1e-9)


def test_map_2d_degenerate_inputs():
    idx, xy = map_2d(np.ones((60, 4)))  # identical rows: no t-SNE, still a valid map
    assert xy.shape == (60, 2) and np.all(np.isfinite(xy))
    idx, xy = map_2d(np.arange(10.0))  # one feature
    assert xy.shape == (10, 2)
    X = np.random.default_rng(0).normal(size=(8, 3))
    X[0, 0] = np.nan
    assert np.all(np.isfinite(map_2d(X)[1]))
    with pytest.raises(ValueError):
        map_2d(X, method="umap")
