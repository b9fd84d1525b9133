"""Learning curves as one self-contained SVG: accuracy against labels, one line per strategy (the mean over
seeds, a band of +- one standard deviation), random sampling dashed, and the target accuracy as a rule."""

from __future__ import annotations

import html
import math

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def learning_curves_svg(summary: dict, *, title: str = "", target: float | None = None,
                        metric: str = "accuracy") -> str:
    """``summary``: :func:`~shoestring.tasks.active.simulate.compare`'s ``summary`` (strategy -> curves)."""
    W, H, L, R, T, B = 820, 440, 58, 240, 34, 46
    pw, ph = W - L - R, H - T - B
    series = []
    for k, (name, s) in enumerate(summary.items()):
        mean = s[f"{metric}_mean"]
        std = s.get(f"{metric}_std") or [0.0] * len(mean)
        series.append((name, s["n_labels"], mean, std, PALETTE[k % len(PALETTE)]))
    xs = [x for _, n, _, _, _ in series for x in n]
    ys = [m - d for _, _, mm, dd, _ in series for m, d in zip(mm, dd)] + \
         [m + d for _, _, mm, dd, _ in series for m, d in zip(mm, dd)] + ([target] if target is not None else [])
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 0.01
    y0, y1 = max(0.0, y0 - pad), min(1.0, y1 + pad)
    if x1 == x0:
        x1 = x0 + 1

    def px(x):
        return L + (x - x0) / (x1 - x0) * pw

    def py(y):
        return T + ph - (y - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           f'font-family="system-ui, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="#fff"/>',
           f'<text x="{L}" y="20" font-size="14" font-weight="600">{html.escape(title)}</text>']
    for t in _ticks(y0, y1, 6):
        out.append(f'<line x1="{L}" x2="{L + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eceff3"/>'
                   f'<text x="{L - 6}" y="{py(t) + 4:.1f}" text-anchor="end" fill="#555">{100 * t:.0f}</text>')
    for t in _ticks(x0, x1, 8):
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{T + ph}" y2="{T + ph + 4}" stroke="#555"/>'
                   f'<text x="{px(t):.1f}" y="{T + ph + 17}" text-anchor="middle" fill="#555">{t:g}</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{L + pw / 2}" y="{H - 8}" text-anchor="middle" fill="#333">labels</text>')
    out.append(f'<text transform="translate(16 {T + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">'
               f'{html.escape(metric.replace("_", "-"))} (%), mean over seeds</text>')
    if target is not None and y0 <= target <= y1:
        out.append(f'<line x1="{L}" x2="{L + pw}" y1="{py(target):.1f}" y2="{py(target):.1f}" stroke="#888" '
                   f'stroke-dasharray="2 3"/><text x="{L + pw - 4}" y="{py(target) - 4:.1f}" text-anchor="end" '
                   f'fill="#666">target {100 * target:.1f}</text>')
    for name, n, mean, std, col in series:
        band = [(px(x), py(m + d)) for x, m, d in zip(n, mean, std)] + \
               [(px(x), py(m - d)) for x, m, d in reversed(list(zip(n, mean, std)))]
        out.append(f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in band)}" fill="{col}" '
                   f'fill-opacity="0.10" stroke="none"/>')
    for k, (name, n, mean, std, col) in enumerate(series):
        dash = ' stroke-dasharray="6 4"' if name == "random" else ""
        pts = " ".join(f"{px(x):.1f},{py(m):.1f}" for x, m in zip(n, mean))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"{dash}>'
                   f'<title>{html.escape(name)}</title></polyline>')
        ly = T + 10 + 20 * k
        auc = summary[name].get("auc_mean")
        label = f"{name}" + (f"  AUC {100 * auc:.1f}" if auc is not None and metric == "accuracy" else "")
        out.append(f'<line x1="{L + pw + 14}" x2="{L + pw + 38}" y1="{ly}" y2="{ly}" stroke="{col}" '
                   f'stroke-width="2"{dash}/><text x="{L + pw + 44}" y="{ly + 4}" fill="#333">'
                   f'{html.escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
