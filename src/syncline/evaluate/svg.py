"""Figures for the offline report as inline SVG: no JavaScript, no fonts or scripts from a CDN,
readable in any browser years later. Each function returns one ``<svg>`` element as text.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, ROW = 640, 22


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 11, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'font-family="sans-serif">{escape(s)}</text>')


def forest(rows: list[dict[str, Any]], *, title: str, limit: float | None = None, lo_is_good: bool = False) -> str:
    """One line per slice: the value as a dot, its 95 % interval as a bar, n beside it; a slice
    with no value is listed with "no rows". ``limit`` draws a gate's threshold."""
    left, right, top = 190, 90, 40
    h = top + ROW * len(rows) + 30
    span = W - left - right

    def x(v: float) -> float:
        return left + span * min(max(v, 0.0), 1.0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" role="img" aria-label="{escape(title)}">',
           _text(8, 16, title, weight="bold")]
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 6}" x2="{x(t):.1f}" y2="{h - 24}" stroke="#ddd"/>')
        out.append(_text(x(t), h - 10, f"{100 * t:.0f}%", "middle", 10))
    if limit is not None:
        out.append(f'<line x1="{x(limit):.1f}" y1="{top - 6}" x2="{x(limit):.1f}" y2="{h - 24}" stroke="#c00" '
                   'stroke-dasharray="4 3"/>')
        out.append(_text(x(limit) + 3, top - 3, f"gate {100 * limit:g}%", size=10))
    for i, r in enumerate(rows):
        y = top + ROW * i + ROW / 2
        out.append(_text(left - 8, y + 4, r["slice"], "end"))
        if r.get("value") is None:
            out.append(_text(left + 4, y + 4, "no rows", size=10))
            continue
        if r.get("lo") is not None and r.get("hi") is not None:
            out.append(f'<line x1="{x(r["lo"]):.1f}" y1="{y:.1f}" x2="{x(r["hi"]):.1f}" y2="{y:.1f}" '
                       'stroke="#246" stroke-width="2"/>')
        colour = "#c00" if r.get("flag") else "#246"
        out.append(f'<circle cx="{x(r["value"]):.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
        out.append(_text(W - right + 8, y + 4, f"n={r['n']}", size=10))
    out.append("</svg>")
    return "".join(out)


def reliability(bins: list[dict[str, Any]], *, title: str) -> str:
    """Accuracy against confidence per bin with Wilson bars; the diagonal is perfect calibration."""
    size, pad = 260, 36
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + pad + 10}" height="{size + pad + 24}" '
           f'role="img" aria-label="{escape(title)}">', _text(4, 14, title, weight="bold")]

    def px(v: float) -> float:
        return pad + size * v

    def py(v: float) -> float:
        return 20 + size * (1 - v)

    out.append(f'<rect x="{pad}" y="20" width="{size}" height="{size}" fill="none" stroke="#999"/>')
    out.append(f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" stroke="#bbb" stroke-dasharray="4 3"/>')
    for b in bins:
        cx = px(b["confidence"])
        out.append(f'<line x1="{cx:.1f}" y1="{py(b["lo"]):.1f}" x2="{cx:.1f}" y2="{py(b["hi"]):.1f}" stroke="#246"/>')
        out.append(f'<circle cx="{cx:.1f}" cy="{py(b["accuracy"]):.1f}" r="3" fill="#246"><title>'
                   f'{escape(str(b["n"]))} rows</title></circle>')
    out.append(_text(pad + size / 2, size + 20 + 28, "confidence", "middle", 10))
    out.append(_text(4, 20 + size / 2, "acc.", size=10))
    out.append("</svg>")
    return "".join(out)


def curve(xs: list[float], ys: list[float], *, title: str, xlabel: str, ylabel: str) -> str:
    size, pad = 260, 36
    top = max([y for y in ys if y == y] + [1e-9])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + pad + 10}" height="{size + pad + 24}" '
           f'role="img" aria-label="{escape(title)}">', _text(4, 14, title, weight="bold"),
           f'<rect x="{pad}" y="20" width="{size}" height="{size}" fill="none" stroke="#999"/>']
    pts = " ".join(f"{pad + size * x_:.1f},{20 + size * (1 - y_ / top):.1f}" for x_, y_ in zip(xs, ys, strict=True)
                   if y_ == y_)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#246" stroke-width="2"/>')
    out.append(_text(pad + size / 2, size + 48, xlabel, "middle", 10))
    out.append(_text(4, 30, f"{ylabel} (top {top:.2g})", size=10))
    out.append("</svg>")
    return "".join(out)


def confusion(classes: list[str], m: list[list[int]], *, title: str) -> str:
    """Truth in rows, prediction in columns; shade by the share of the truth's row."""
    cell, left, top = 70, 110, 60
    k = len(classes)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + cell * k + 10}" height="{top + cell * k + 10}" '
           f'role="img" aria-label="{escape(title)}">', _text(4, 14, title, weight="bold"),
           _text(left + cell * k / 2, 32, "predicted", "middle", 10)]
    for j, c in enumerate(classes):
        out.append(_text(left + cell * j + cell / 2, top - 8, c, "middle", 10))
        out.append(_text(left - 6, top + cell * j + cell / 2 + 4, c, "end", 10))
    for i in range(k):
        total = max(1, sum(m[i]))
        for j in range(k):
            share = m[i][j] / total
            shade = int(255 - 180 * share)
            colour = f"rgb({shade},{shade},255)" if i == j else f"rgb(255,{shade},{shade})"
            out.append(f'<rect x="{left + cell * j}" y="{top + cell * i}" width="{cell}" height="{cell}" '
                       f'fill="{colour}" stroke="#fff"/>')
            out.append(_text(left + cell * j + cell / 2, top + cell * i + cell / 2 + 4, str(m[i][j]), "middle"))
    out.append("</svg>")
    return "".join(out)
