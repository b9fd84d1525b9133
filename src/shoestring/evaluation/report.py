"""A static, fully offline HTML report for a trained topic model (VAMPIRE).

:func:`render_report` turns a plain, JSON-serializable ``dict`` into one standalone HTML document:
hand-written inline SVG charts, a little inline CSS and a few lines of inline vanilla JavaScript
(table sorting, word filter, legend highlighting). Nothing is loaded from the network, so the file
can be opened anywhere, mailed, archived next to the model, and printed.

The ``data`` dict (only ``title`` and ``topics`` are required)::

    {
      "title": "VAMPIRE on ag_news",
      "subtitle": "models/ag_news_vampire · 2024-05-01",
      "summary": {"documents": 27948, "vocabulary": 30000, "mean NPMI": 0.12},
      "topics": [{"id": 0, "words": ["game", "team", ...], "npmi": 0.21, "size": 0.04}, ...],
      "map": {"x": [...], "y": [...], "color": ["sports", ...], "color_by": "label",
              "text": ["first words of the document", ...]},
      "curves": {"train loss": {"x": [1, 2, ...], "y": [612.3, 580.1, ...]}, ...},
      "best_metric": {"name": "NPMI (reference split)", "mode": "max"},
      "settings": {"model": {"hidden": 64, ...}, "lr": 0.001},
    }

Every string that comes from ``data`` is HTML-escaped; non-finite numbers are shown as ``n/a``.
:func:`map_2d` projects document representations to 2-D (t-SNE or PCA) for the ``map`` section,
and :func:`write_report` writes the page atomically.
"""

from __future__ import annotations

import html
import math
import numbers
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["render_report", "write_report", "map_2d"]

# Categorical palette for the map: distinct hues first, lighter variants after (no greys: grey is "other").
_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
    "#9c755f", "#2f4b7c", "#17becf", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#d37295",
    "#86bcb6", "#ff9d9a", "#d4a6c8", "#9d7660",
)
_OTHER_COLOR = "#c4c8ce"
_POS_COLOR = "#2f7ed8"
_NEG_COLOR = "#d9534f"
_SIZE_COLOR = "#7b8794"
_LINE_COLOR = "#3b5bdb"
_BEST_COLOR = "#e8590c"
_MINUS = "\u2212"


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    """HTML-escape any value (quotes included), so it is safe in text and in attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _to_float(value: Any) -> float:
    """A float, or NaN for anything that is not a real number (None, strings, bools stay NaN too)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return math.nan
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _finite(v: float) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def _minus(text: str) -> str:
    """Typographic minus sign for display."""
    return text.replace("-", _MINUS) if text.startswith("-") else text


def _fmt_value(value: Any) -> str:
    """Human-friendly display of a summary value (already escaped)."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return _minus(f"{int(value):,}")
    if isinstance(value, numbers.Real):
        f = _to_float(value)
        if not math.isfinite(f):
            return "n/a"
        a = abs(f)
        if a == 0:
            text = "0"
        elif f.is_integer() and a < 1e15:
            text = f"{int(f):,}"
        elif a >= 1e4:
            text = f"{f:,.0f}"
        elif a >= 1000:
            text = f"{f:,.1f}"
        elif a >= 1e-3:
            text = f"{f:.4g}" if a >= 1 else f"{f:.3g}"
        else:
            text = f"{f:.2e}"
        return _minus(text)
    if isinstance(value, (list, tuple)):
        return _esc(", ".join(str(v) for v in value))
    return _esc(value)


def _fmt_setting(value: Any) -> str:
    """Exact-ish display of a settings value (not escaped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = _to_float(value)
        return repr(f) if math.isfinite(f) else "n/a"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt_setting(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt_setting(v)}" for k, v in value.items()) + "}"
    return str(value)


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        if not d and prefix:
            out.append((prefix, "{}"))
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.extend(_flatten(v, key))
            else:
                out.append((key, v))
    else:
        out.append((prefix or "value", d))
    return out


def _n(v: float) -> str:
    """Compact coordinate for SVG attributes."""
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _nice_step(raw: float) -> float:
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    frac = raw / 10**exp
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if frac <= m * (1 + 1e-9):
            return m * 10**exp
    return 10.0 ** (exp + 1)


def _ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> tuple[float, float, float, list[float]]:
    """Nice (start, end, step, ticks) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        pad = abs(lo) * 0.05 if lo != 0 else 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step((hi - lo) / max(1, target - 1))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    count = int(round((end - start) / step))
    ticks = [start + i * step for i in range(count + 1)]
    return start, end, step, ticks


def _fmt_tick(v: float, step: float) -> str:
    if abs(v) < step * 1e-6:
        return "0"
    if max(abs(v), step) >= 1e4:
        if abs(v) >= 1e6:
            return _minus(f"{v / 1e6:.3g}M")
        return _minus(f"{v / 1e3:.3g}k")
    exp = math.floor(math.log10(step))
    decimals = max(0, -exp)
    if decimals and abs(step / 10**exp - 2.5) < 1e-6:
        decimals += 1
    return _minus(f"{v:.{decimals}f}")


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------


def _section(anchor: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (
        f'<section class="card" id="{anchor}"><div class="card-head"><h2>{_esc(title)}</h2>{note_html}</div>'
        f"{body}</section>"
    )


def _summary_section(summary: Any) -> str:
    if not isinstance(summary, dict) or not summary:
        return ""
    tiles = "".join(
        f'<div class="stat"><dt>{_esc(k)}</dt><dd>{_fmt_value(v)}</dd></div>' for k, v in summary.items()
    )
    return f'<section class="card" id="summary" aria-label="Summary"><dl class="stats">{tiles}</dl></section>'


def _npmi_bar(v: float, scale: float) -> str:
    w, h, c = 96, 12, 48
    parts = [
        f'<svg class="bar" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-hidden="true">',
        f'<rect x="0" y="2" width="{w}" height="8" rx="2" fill="#f0f2f5"/>',
    ]
    if _finite(v) and scale > 0:
        length = min(1.0, abs(v) / scale) * (c - 1)
        if v >= 0:
            parts.append(f'<rect x="{c}" y="2" width="{_n(length)}" height="8" fill="{_POS_COLOR}"/>')
        else:
            parts.append(
                f'<rect x="{_n(c - length)}" y="2" width="{_n(length)}" height="8" fill="{_NEG_COLOR}"/>'
            )
    parts.append(f'<line x1="{c}" y1="0" x2="{c}" y2="{h}" stroke="#8a94a3" stroke-width="1"/></svg>')
    return "".join(parts)


def _size_bar(v: float, scale: float) -> str:
    w, h = 72, 12
    parts = [
        f'<svg class="bar" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-hidden="true">',
        f'<rect x="0" y="2" width="{w}" height="8" rx="2" fill="#f0f2f5"/>',
    ]
    if _finite(v) and scale > 0 and v > 0:
        length = min(1.0, v / scale) * w
        parts.append(f'<rect x="0" y="2" width="{_n(max(length, 1.0))}" height="8" rx="2" fill="{_SIZE_COLOR}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _clean_topics(topics: Any) -> list[dict]:
    out = []
    if not isinstance(topics, (list, tuple)):
        return out
    for i, t in enumerate(topics):
        if not isinstance(t, dict):
            continue
        words = t.get("words") or []
        if isinstance(words, str):
            words = words.split()
        tid = t.get("id", i)
        out.append(
            {
                "id": tid,
                "id_num": _to_float(tid),
                "words": [str(w) for w in words],
                "npmi": _to_float(t.get("npmi")),
                "size": _to_float(t.get("size")),
            }
        )
    return out


def _topics_section(topics: list[dict]) -> str:
    if not topics:
        return _section("topics", "Topics", '<p class="empty">No topics.</p>')
    npmis = [t["npmi"] for t in topics if _finite(t["npmi"])]
    sizes = [t["size"] for t in topics if _finite(t["size"])]
    n_scale = max((abs(v) for v in npmis), default=0.0)
    s_scale = max((v for v in sizes if v > 0), default=0.0)

    def key(t: dict) -> tuple:
        v = t["npmi"]
        return (0, -v) if _finite(v) else (1, 0.0)

    ordered = sorted(topics, key=key)
    rows = []
    for t in ordered:
        v, s = t["npmi"], t["size"]
        npmi_txt = _minus(f"{v:.3f}") if _finite(v) else "n/a"
        size_txt = f"{100 * s:.1f}%" if _finite(s) else "n/a"
        words = t["words"]
        strong = " ".join(f"<b>{_esc(w)}</b>" for w in words[:3])
        rest = " ".join(f"<span>{_esc(w)}</span>" for w in words[3:])
        words_html = strong + (" " + rest if rest else "")
        data_npmi = repr(v) if _finite(v) else ""
        data_size = repr(s) if _finite(s) else ""
        data_id = repr(t["id_num"]) if _finite(t["id_num"]) else ""
        na_n = ' na' if not _finite(v) else ""
        na_s = ' na' if not _finite(s) else ""
        rows.append(
            f'<tr data-npmi="{data_npmi}" data-size="{data_size}" data-id="{data_id}">'
            f'<td class="tid">{_esc(t["id"])}</td>'
            f'<td class="metric{na_n}"><span class="num">{npmi_txt}</span>{_npmi_bar(v, n_scale)}</td>'
            f'<td class="metric{na_s}"><span class="num">{size_txt}</span>{_size_bar(s, s_scale)}</td>'
            f'<td class="words">{words_html}</td></tr>'
        )
    n_pos = sum(1 for v in npmis if v > 0)
    med = sorted(npmis)[len(npmis) // 2] if npmis else math.nan
    note_bits = [f"{len(topics):,} topics"]
    if npmis:
        note_bits.append(f"{n_pos:,} with positive NPMI")
        note_bits.append("median NPMI " + _minus(f"{med:.3f}"))
    if n_scale > 0:
        note_bits.append("NPMI bars scaled to \u00b1" + f"{n_scale:.3f}")
    head = (
        '<thead><tr>'
        '<th scope="col" class="tid" aria-sort="none"><button type="button" data-key="id">Topic</button></th>'
        '<th scope="col" class="metric" aria-sort="descending"><button type="button" data-key="npmi">NPMI</button></th>'
        '<th scope="col" class="metric" aria-sort="none"><button type="button" data-key="size">Size</button></th>'
        '<th scope="col" class="words">Top words</th>'
        "</tr></thead>"
    )
    tools = (
        '<div class="tools" id="topic-tools" hidden>'
        '<input type="search" id="topic-filter" placeholder="Filter topics by word\u2026" aria-label="Filter topics by word">'
        '<span class="muted" id="topic-count"></span></div>'
    )
    table = f'<div class="table-wrap"><table id="topics-table" class="topics">{head}<tbody>{"".join(rows)}</tbody></table></div>'
    note = " \u00b7 ".join(note_bits) + ". Size: share of documents whose dominant topic this is."
    return _section("topics", "Topics", tools + table, note=_esc(note))


def _natural(text: str) -> list:
    """Sort key that orders "topic 2" before "topic 10"."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in re.split(r"(\d+)", text) if p]


_TOPIC_RE = re.compile(r"^\s*topic\s*#?\s*(-?\d+)\s*$", re.IGNORECASE)


def _map_section(m: Any, topics: list[dict]) -> str:
    if not isinstance(m, dict):
        return ""
    xs = m.get("x") or []
    ys = m.get("y") or []
    n = min(len(xs), len(ys))
    if n == 0:
        return ""
    colors = list(m.get("color") or [])
    texts = list(m.get("text") or [])
    pts = []
    for i in range(n):
        x, y = _to_float(xs[i]), _to_float(ys[i])
        if not (_finite(x) and _finite(y)):
            continue
        cat = str(colors[i]) if i < len(colors) and colors[i] is not None else "n/a"
        txt = str(texts[i]) if i < len(texts) and texts[i] is not None else ""
        pts.append((x, y, cat, txt))
    if not pts:
        return ""
    counts = Counter(p[2] for p in pts)
    cats = sorted(counts, key=lambda c: (-counts[c], _natural(c)))
    colored = cats[: len(_PALETTE)] if len(cats) > len(_PALETTE) else cats
    index = {c: k for k, c in enumerate(colored)}
    other = [c for c in cats if c not in index]

    # geometry: uniform scale (t-SNE / PCA distances are isotropic), centred in the plot box
    W, H, pad = 720, 540, 18
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    sx, sy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    scale = min((W - 2 * pad) / sx, (H - 2 * pad) / sy)
    ox = (W - sx * scale) / 2 - x0 * scale
    oy = (H - sy * scale) / 2 + y1 * scale  # y grows upward
    r = 3.4 if len(pts) <= 400 else 2.8 if len(pts) <= 1200 else 2.3

    topic_words = {}
    for t in topics:
        if _finite(t["id_num"]):
            topic_words[int(t["id_num"])] = t["words"][:3]

    def hint(cat: str) -> str:
        mt = _TOPIC_RE.match(cat)
        if mt and int(mt.group(1)) in topic_words:
            return " ".join(topic_words[int(mt.group(1))])
        return ""

    def order(p: tuple) -> int:  # other first (underneath), then large categories, small ones on top
        return -1 if p[2] not in index else -index[p[2]]

    circles = []
    for x, y, cat, txt in sorted(pts, key=order):
        k = index.get(cat)
        cls = f"k{k}" if k is not None else "ko"
        tip = cat if not txt else f"{cat}\n{txt}"
        circles.append(
            f'<circle class="{cls}" cx="{_n(x * scale + ox)}" cy="{_n(oy - y * scale)}" r="{r}">'
            f"<title>{_esc(tip)}</title></circle>"
        )
    style = "".join(f".map .k{k}{{fill:{_PALETTE[k]}}}" for k in range(len(colored)))
    svg = (
        f'<svg class="map" viewBox="0 0 {W} {H}" role="img" aria-label="2-D map of documents">'
        f"<style>{style}.map .ko{{fill:{_OTHER_COLOR}}}</style>"
        f'<rect x="0.5" y="0.5" width="{W - 1}" height="{H - 1}" fill="#fff" stroke="#e3e6ea"/>'
        f'<g class="pts">{"".join(circles)}</g></svg>'
    )
    items = []
    for c in colored:
        k = index[c]
        h = hint(c)
        h_html = f'<span class="hint">{_esc(h)}</span>' if h else ""
        items.append(
            f'<li data-k="k{k}"><span class="sw" style="background:{_PALETTE[k]}"></span>'
            f'<span class="lab">{_esc(c)}{h_html}</span><span class="cnt">{counts[c]:,}</span></li>'
        )
    if other:
        n_other = sum(counts[c] for c in other)
        items.append(
            f'<li data-k="ko"><span class="sw" style="background:{_OTHER_COLOR}"></span>'
            f'<span class="lab">other<span class="hint">{len(other):,} more categories</span></span>'
            f'<span class="cnt">{n_other:,}</span></li>'
        )
    color_by = m.get("color_by") or "category"
    legend = (
        f'<div class="legend"><div class="legend-title">Colored by {_esc(color_by)}</div>'
        f'<ul>{"".join(items)}</ul></div>'
    )
    note = f"{len(pts):,} documents"
    if m.get("method"):
        note += f" \u00b7 {m.get('method')}"
    note += " \u00b7 hover a point for its text, a legend entry to highlight its points."
    return _section("map", "Document map", f'<div class="map-wrap">{svg}{legend}</div>', note=_esc(note))


def _line_chart(xs: list[float], ys: list[float], best_mode: str | None) -> tuple[str, str]:
    """One small line chart; returns (svg, best-point caption html)."""
    W, H = 380, 210
    L, R, T, B = 54, 14, 12, 34
    pw, ph = W - L - R, H - T - B
    pairs = [(x, y) for x, y in zip(xs, ys) if _finite(x)]
    fin = [(x, y) for x, y in pairs if _finite(y)]
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img">']
    if not fin:
        parts.append(
            f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#e3e6ea"/>'
            f'<text x="{L + pw / 2}" y="{T + ph / 2}" text-anchor="middle" class="axis">no finite values (n/a)</text></svg>'
        )
        return "".join(parts), ""
    x_lo, x_hi = min(p[0] for p in fin), max(p[0] for p in fin)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    integer_x = all(float(p[0]).is_integer() for p in fin)
    _, _, xstep, xt = _ticks(x_lo, x_hi, 6, integer=integer_x)
    xt = [t for t in xt if x_lo - 1e-9 <= t <= x_hi + 1e-9]
    y_vals = [p[1] for p in fin]
    y0, y1, ystep, yt = _ticks(min(y_vals), max(y_vals), 5)

    def px(x: float) -> float:
        return L + (x - x_lo) / (x_hi - x_lo) * pw

    def py(y: float) -> float:
        return T + ph - (y - y0) / (y1 - y0) * ph

    for t in yt:
        yy = py(t)
        parts.append(f'<line x1="{L}" x2="{L + pw}" y1="{_n(yy)}" y2="{_n(yy)}" class="grid"/>')
        parts.append(f'<text x="{L - 6}" y="{_n(yy + 3.5)}" text-anchor="end" class="axis">{_fmt_tick(t, ystep)}</text>')
    for t in xt:
        xx = px(t)
        parts.append(f'<line x1="{_n(xx)}" x2="{_n(xx)}" y1="{T + ph}" y2="{T + ph + 4}" class="tick"/>')
        parts.append(
            f'<text x="{_n(xx)}" y="{T + ph + 16}" text-anchor="middle" class="axis">{_fmt_tick(t, xstep)}</text>'
        )
    parts.append(f'<line x1="{L}" x2="{L + pw}" y1="{T + ph}" y2="{T + ph}" class="axisline"/>')
    parts.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{T + ph}" class="axisline"/>')
    parts.append(f'<text x="{L + pw / 2}" y="{H - 4}" text-anchor="middle" class="axis label">epoch</text>')

    # the line, broken where values are missing
    segs: list[list[tuple[float, float]]] = [[]]
    for x, y in pairs:
        if _finite(y):
            segs[-1].append((px(x), py(y)))
        elif segs[-1]:
            segs.append([])
    for seg in segs:
        if len(seg) >= 2:
            d = "M" + " L".join(f"{_n(a)},{_n(b)}" for a, b in seg)
            parts.append(f'<path d="{d}" class="line"/>')
        elif len(seg) == 1:
            parts.append(f'<circle cx="{_n(seg[0][0])}" cy="{_n(seg[0][1])}" r="2.5" class="dot"/>')
    if len(fin) <= 40:
        parts.extend(f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="2" class="dot"/>' for x, y in fin)
    # hover targets (thinned when there are many points)
    stride = max(1, len(fin) // 200)
    for x, y in fin[::stride]:
        parts.append(
            f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="6" class="hit">'
            f"<title>epoch {_fmt_value(x)}: {_fmt_value(y)}</title></circle>"
        )
    caption = ""
    if best_mode in ("max", "min"):
        pick = max if best_mode == "max" else min
        bx, by = pick(fin, key=lambda p: p[1])
        cx, cy = px(bx), py(by)
        parts.append(f'<line x1="{_n(cx)}" x2="{_n(cx)}" y1="{T}" y2="{T + ph}" class="bestguide"/>')
        parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="5.5" class="best"/>')
        parts.append(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="2.6" fill="{_BEST_COLOR}">'
            f"<title>best: {_fmt_value(by)} at epoch {_fmt_value(bx)}</title></circle>"
        )
        caption = f'<span class="badge">best {_fmt_value(by)} at epoch {_fmt_value(bx)} ({best_mode})</span>'
    parts.append("</svg>")
    return "".join(parts), caption


def _curves_section(curves: Any, best: Any) -> str:
    if not isinstance(curves, dict) or not curves:
        return ""
    best_name = best.get("name") if isinstance(best, dict) else None
    best_mode = str(best.get("mode", "max")).lower() if isinstance(best, dict) else None
    cards = []
    for name, c in curves.items():
        if isinstance(c, dict):
            ys = [_to_float(v) for v in (c.get("y") or [])]
            xs_raw = c.get("x")
            xs = [_to_float(v) for v in xs_raw] if xs_raw else [float(i + 1) for i in range(len(ys))]
        elif isinstance(c, (list, tuple)):
            ys = [_to_float(v) for v in c]
            xs = [float(i + 1) for i in range(len(ys))]
        else:
            continue
        n = min(len(xs), len(ys))
        xs, ys = xs[:n], ys[:n]
        is_best = best_name is not None and str(name) == str(best_name)
        svg, caption = _line_chart(xs, ys, best_mode if is_best else None)
        last = next((y for y in reversed(ys) if _finite(y)), math.nan)
        last_html = f'<span class="muted">last {_fmt_value(last)}</span>' if n else '<span class="muted">no data</span>'
        cards.append(
            f'<figure class="chart-card{" is-best" if is_best else ""}">'
            f"<figcaption><span class=\"metric-name\">{_esc(name)}</span>{last_html}</figcaption>"
            f"{svg}{caption}</figure>"
        )
    if not cards:
        return ""
    return _section("training", "Training", f'<div class="charts">{"".join(cards)}</div>')


def _settings_section(settings: Any) -> str:
    if settings is None or (isinstance(settings, dict) and not settings):
        return ""
    rows = "".join(
        f'<tr><th scope="row">{_esc(k)}</th><td>{_esc(_fmt_setting(v))}</td></tr>' for k, v in _flatten(settings)
    )
    body = (
        f'<details class="settings"><summary>Show all {len(_flatten(settings)):,} settings</summary>'
        f'<table class="kv">{rows}</table></details>'
    )
    return _section("settings", "Settings", body)


# --------------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------------

_CSS = """
:root{--bg:#f5f6f8;--card:#fff;--line:#e3e6ea;--text:#1f2933;--muted:#6b7380;--accent:#3b5bdb}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.page{max-width:1180px;margin:0 auto;padding:28px 24px 40px}
header.top{display:flex;align-items:center;gap:14px;margin-bottom:6px}
header.top h1{font-size:22px;line-height:1.25;margin:0;font-weight:650;letter-spacing:-.01em}
header.top .sub{color:var(--muted);font-size:13px;margin-top:2px}
nav.toc{display:flex;flex-wrap:wrap;gap:4px 16px;margin:10px 0 18px;font-size:13px}
nav.toc a{color:var(--muted);text-decoration:none;border-bottom:1px solid transparent}
nav.toc a:hover{color:var(--accent);border-bottom-color:var(--accent)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 14px;margin-bottom:12px}
.card h2{font-size:15px;margin:0;font-weight:650;letter-spacing:.01em}
.note{margin:0;color:var(--muted);font-size:12.5px}
.muted{color:var(--muted)}
.empty{color:var(--muted);margin:0}
dl.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;margin:0}
.stat{border-left:3px solid var(--accent);padding:2px 0 2px 12px}
.stat dt{font-size:11.5px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.stat dd{margin:2px 0 0;font-size:20px;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.tools{display:flex;align-items:center;gap:12px;margin:-4px 0 10px}
.tools input{font:inherit;padding:5px 10px;border:1px solid var(--line);border-radius:6px;min-width:260px;background:#fbfcfd}
.tools input:focus{outline:2px solid rgba(59,91,219,.25);border-color:var(--accent)}
.table-wrap{overflow-x:auto}
table.topics{border-collapse:collapse;width:100%;font-size:13px}
table.topics th{text-align:left;font-weight:600;font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;border-bottom:1px solid var(--line);padding:6px 10px;white-space:nowrap}
table.topics th button{font:inherit;color:inherit;text-transform:inherit;letter-spacing:inherit;background:none;border:0;padding:0;cursor:pointer}
table.topics th button:hover{color:var(--accent)}
table.topics th button::after{content:" \\2195";opacity:.35}
table.topics th[aria-sort=descending] button::after{content:" \\2193";opacity:1}
table.topics th[aria-sort=ascending] button::after{content:" \\2191";opacity:1}
table.topics th[aria-sort=descending],table.topics th[aria-sort=ascending]{color:var(--text)}
table.topics td{border-bottom:1px solid #eef0f3;padding:5px 10px;vertical-align:middle}
table.topics tbody tr:hover{background:#f8f9fb}
td.tid{font-variant-numeric:tabular-nums;color:var(--muted);width:1%;white-space:nowrap}
td.metric{white-space:nowrap;width:1%}
td.metric .num{display:inline-block;min-width:46px;text-align:right;margin-right:8px;font-variant-numeric:tabular-nums}
td.metric.na .num{color:var(--muted);font-style:italic}
svg.bar{vertical-align:middle}
td.words{line-height:1.45}
td.words b{font-weight:600}
td.words span{color:#3e4653}
.map-wrap{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
svg.map{flex:1 1 560px;max-width:760px;width:100%;height:auto}
svg.map circle{fill-opacity:.8;stroke:#fff;stroke-width:.4;transition:opacity .12s}
svg.map.dim circle{opacity:.08}
svg.map.dim circle.hi{opacity:1}
.legend{flex:0 1 300px;min-width:220px;font-size:12.5px}
.legend-title{font-weight:600;margin-bottom:6px}
.legend ul{list-style:none;margin:0;padding:0;max-height:540px;overflow:auto}
.legend li{display:flex;align-items:flex-start;gap:8px;padding:3px 4px;border-radius:4px;cursor:default}
.legend li:hover{background:#f1f3f6}
.legend .sw{flex:0 0 11px;height:11px;border-radius:50%;margin-top:3px}
.legend .lab{flex:1;overflow-wrap:anywhere}
.legend .hint{display:block;color:var(--muted);font-size:11.5px}
.legend .cnt{color:var(--muted);font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px}
.chart-card{margin:0;border:1px solid #eef0f3;border-radius:8px;padding:10px 12px 8px}
.chart-card.is-best{border-color:#f4c7a5}
.chart-card figcaption{display:flex;justify-content:space-between;gap:8px;font-size:13px;margin-bottom:4px}
.metric-name{font-weight:600}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid{stroke:#eef0f3;stroke-width:1}
svg.chart .tick,svg.chart .axisline{stroke:#9aa3af;stroke-width:1}
svg.chart .axis{font-size:10.5px;fill:#6b7380;font-variant-numeric:tabular-nums}
svg.chart .label{font-size:11px}
svg.chart .line{fill:none;stroke:""" + _LINE_COLOR + """;stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
svg.chart .dot{fill:""" + _LINE_COLOR + """}
svg.chart .hit{fill:transparent;stroke:none}
svg.chart .hit:hover{fill:rgba(59,91,219,.18)}
svg.chart .best{fill:none;stroke:""" + _BEST_COLOR + """;stroke-width:1.8}
svg.chart .bestguide{stroke:""" + _BEST_COLOR + """;stroke-width:1;stroke-dasharray:3 3;opacity:.6}
.badge{display:inline-block;margin-top:4px;font-size:12px;color:#b34509;background:#fff4eb;border:1px solid #f8d3b5;border-radius:999px;padding:1px 9px}
details.settings summary{cursor:pointer;color:var(--accent);font-weight:500}
table.kv{border-collapse:collapse;margin-top:10px;font-size:12.5px;width:100%}
table.kv th{text-align:left;font-weight:500;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#3e4653;padding:3px 16px 3px 0;width:1%;white-space:nowrap;vertical-align:top}
table.kv td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:3px 0;overflow-wrap:anywhere}
table.kv tr+tr th,table.kv tr+tr td{border-top:1px solid #f0f2f5}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
@media print{
  body{background:#fff;font-size:11.5px}
  .page{max-width:none;padding:0}
  nav.toc,.tools{display:none!important}
  .card{box-shadow:none;border-color:#d5d9df;break-inside:avoid-page;page-break-inside:avoid}
  #topics{break-inside:auto;page-break-inside:auto}
  table.topics tr{break-inside:avoid;page-break-inside:avoid}
  table.topics thead{display:table-header-group}
  table.topics th button::after{content:""!important}
  .legend ul{max-height:none;overflow:visible}
  .chart-card{break-inside:avoid}
}
"""

_JS = """
(function(){
  var t=document.getElementById('topics-table');
  if(t){
    var tb=t.tBodies[0],btns=t.querySelectorAll('th button[data-key]');
    var val=function(r,k){var s=r.getAttribute('data-'+k);var v=parseFloat(s);return (s===''||isNaN(v))?null:v;};
    var sort=function(k,dir){
      var rows=Array.prototype.slice.call(tb.rows);
      rows.sort(function(a,b){var x=val(a,k),y=val(b,k);
        if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
        return dir==='asc'?x-y:y-x;});
      rows.forEach(function(r){tb.appendChild(r);});
      Array.prototype.forEach.call(btns,function(b){var on=b.getAttribute('data-key')===k;
        b.parentNode.setAttribute('aria-sort',on?(dir==='asc'?'ascending':'descending'):'none');});
    };
    Array.prototype.forEach.call(btns,function(b){b.addEventListener('click',function(){
      var k=b.getAttribute('data-key'),cur=b.parentNode.getAttribute('aria-sort');
      var dir=cur==='descending'?'asc':cur==='ascending'?'desc':(k==='id'?'asc':'desc');sort(k,dir);});});
    var tools=document.getElementById('topic-tools'),f=document.getElementById('topic-filter'),
        cnt=document.getElementById('topic-count');
    if(tools&&f){tools.hidden=false;
      var upd=function(){var q=f.value.trim().toLowerCase(),n=0,rows=tb.rows;
        for(var i=0;i<rows.length;i++){var w=rows[i].cells[3].textContent.toLowerCase();
          var show=!q||q.split(/\\s+/).every(function(p){return w.indexOf(p)>=0;});
          rows[i].style.display=show?'':'none';if(show)n++;}
        cnt.textContent=q?(n+' of '+rows.length+' topics'):'';};
      f.addEventListener('input',upd);}
  }
  var svg=document.querySelector('svg.map');
  if(svg){Array.prototype.forEach.call(document.querySelectorAll('.legend li[data-k]'),function(li){
    var k=li.getAttribute('data-k');
    li.addEventListener('mouseenter',function(){svg.classList.add('dim');
      Array.prototype.forEach.call(svg.querySelectorAll('circle.'+k),function(c){c.classList.add('hi');});});
    li.addEventListener('mouseleave',function(){svg.classList.remove('dim');
      Array.prototype.forEach.call(svg.querySelectorAll('circle.hi'),function(c){c.classList.remove('hi');});});});}
  window.addEventListener('beforeprint',function(){
    Array.prototype.forEach.call(document.querySelectorAll('details'),function(d){d.open=true;});});
})();
"""

_LOGO = (
    '<svg class="logo" width="34" height="34" viewBox="0 0 34 34" aria-hidden="true">'
    '<rect width="34" height="34" rx="8" fill="#3b5bdb"/>'
    '<path d="M7 23c4-10 8-10 10-2s6 8 10-2" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/>'
    '<circle cx="7" cy="23" r="2" fill="#fff"/><circle cx="27" cy="19" r="2" fill="#fff"/></svg>'
)


def render_report(data: dict) -> str:
    """Return a complete standalone HTML document (inline CSS/SVG/JS only, nothing fetched)."""
    if not isinstance(data, dict):
        raise TypeError(f"render_report expects a dict, got {type(data).__name__}")
    title = str(data.get("title") or "Topic model report")
    subtitle = data.get("subtitle")
    topics = _clean_topics(data.get("topics"))

    sections = [
        ("summary", "Summary", _summary_section(data.get("summary"))),
        ("topics", "Topics", _topics_section(topics)),
        ("map", "Document map", _map_section(data.get("map"), topics)),
        ("training", "Training", _curves_section(data.get("curves"), data.get("best_metric"))),
        ("settings", "Settings", _settings_section(data.get("settings"))),
    ]
    present = [(a, lab, body) for a, lab, body in sections if body]
    toc = "".join(f'<a href="#{a}">{lab}</a>' for a, lab, _ in present) if len(present) >= 3 else ""
    nav = f'<nav class="toc">{toc}</nav>' if toc else ""
    try:
        from shoestring import __version__ as version
    except Exception:  # pragma: no cover - only when used outside the package
        version = ""
    sub_html = f'<div class="sub">{_esc(subtitle)}</div>' if subtitle else ""
    footer = "Generated by shoestring" + (f" {_esc(version)}" if version else "") + " \u00b7 static offline report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="shoestring">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><div class=\"page\">"
        f'<header class="top">{_LOGO}<div><h1>{_esc(title)}</h1>{sub_html}</div></header>'
        f"{nav}"
        f'{"".join(body for _, _, body in present)}'
        f"<footer>{footer}</footer></div><script>{_JS}</script></body></html>\n"
    )


def write_report(data: dict, path) -> None:
    """Atomically write :func:`render_report` ``(data)`` to ``path``.

    The page is written to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so readers only ever see the old file or the complete new one.
    """
    text = render_report(data)
    target = Path(path)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def map_2d(X, method: str = "auto", random_state: int = 0, max_points: int = 2000):
    """Project document representations to 2-D for the report's map.

    At most ``max_points`` rows are sampled (seeded by ``random_state``, returned in increasing order).
    ``method`` is ``"tsne"`` (scikit-learn t-SNE, ``init="pca"``, perplexity ``min(30, (n-1)/3)``),
    ``"pca"``, or ``"auto"`` (t-SNE when at least 50 rows are mapped, PCA otherwise). Tiny inputs
    (1-4 rows) always use PCA; missing dimensions are padded with zeros.

    Returns ``(indices, coords)``: the sampled row indices into ``X`` and an ``(n, 2)`` float array.
    """
    import numpy as np

    if method not in ("auto", "tsne", "pca"):
        raise ValueError(f"method must be 'auto', 'tsne' or 'pca', got {method!r}")
    if hasattr(X, "toarray"):  # scipy sparse
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    elif X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    n = X.shape[0]
    max_points = max(1, int(max_points))
    rng = np.random.default_rng(random_state)
    if n > max_points:
        idx = np.sort(rng.choice(n, size=max_points, replace=False)).astype(np.int64)
    else:
        idx = np.arange(n, dtype=np.int64)
    m = len(idx)
    if m == 0:
        return idx, np.zeros((0, 2))
    Xs = np.nan_to_num(X[idx], nan=0.0, posinf=0.0, neginf=0.0)
    if Xs.shape[1] < 2:
        Xs = np.hstack([Xs, np.zeros((m, 2 - Xs.shape[1]))])

    use_tsne = (method == "tsne" and m >= 5) or (method == "auto" and m >= 50)
    if use_tsne:
        coords = _tsne(Xs, random_state)
        if coords is not None:
            return idx, coords
    return idx, _pca_2d(Xs)


def _pca_2d(X):
    import numpy as np

    m = X.shape[0]
    Xc = X - X.mean(axis=0, keepdims=True)
    out = np.zeros((m, 2))
    if m < 2 or not np.any(Xc):
        return out
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    k = min(2, S.shape[0])
    # deterministic signs: largest-magnitude loading of each component positive (as sklearn's svd_flip)
    signs = np.sign(Vt[np.arange(k), np.argmax(np.abs(Vt[:k]), axis=1)])
    signs[signs == 0] = 1.0
    out[:, :k] = U[:, :k] * S[:k] * signs
    return out


def _tsne(X, random_state: int):
    import warnings

    import numpy as np
    from sklearn.manifold import TSNE

    m = X.shape[0]
    perplexity = min(30.0, (m - 1) / 3.0)
    if np.allclose(X, X[0]):
        return None
    from shoestring.training.threads import blas_threads

    try:
        # One thread: on small, shared machines OpenMP's spinning threads make t-SNE many times slower.
        with blas_threads(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = TSNE(
                n_components=2, init="pca", perplexity=perplexity, random_state=random_state, learning_rate="auto"
            ).fit_transform(X)
    except Exception:
        return None
    coords = np.asarray(coords, dtype=np.float64)
    if not np.all(np.isfinite(coords)):
        return None
    return coords
