"""The UpSet-style coverage plot: how many entities hold each exact combination of modalities.

Top: one bar per combination (entity count). Bottom: a dot matrix, filled where the
combination includes the modality, so a missing modality reads as a gap in a column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_upset(combinations: list[dict[str, Any]], modalities: list[str], out: Path, *, title: str) -> None:
    n = len(combinations)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(4.0, 0.7 * n + 2.5), 2.4 + 0.35 * len(modalities)),
        gridspec_kw={"height_ratios": [2.0, max(1.0, 0.35 * len(modalities))]}, sharex=True)
    xs = list(range(n))
    counts = [c["entities"] for c in combinations]
    top.bar(xs, counts, color="#3b6ea5")
    for x, c in zip(xs, counts, strict=True):
        top.text(x, c, str(c), ha="center", va="bottom", fontsize=8)
    top.set_ylabel("entities")
    top.set_title(title, fontsize=10)
    top.spines[["top", "right"]].set_visible(False)
    for y, m in enumerate(modalities):
        for x, c in enumerate(combinations):
            has = m in c["modalities"]
            bottom.scatter(x, y, s=60, color="#222" if has else "#ddd", zorder=2)
    for x, c in enumerate(combinations):
        ys = [modalities.index(m) for m in c["modalities"] if m in modalities]
        if ys:
            bottom.plot([x, x], [min(ys), max(ys)], color="#222", lw=1.5, zorder=1)
    bottom.set_yticks(range(len(modalities)), modalities, fontsize=8)
    bottom.set_xticks([])
    bottom.set_ylim(-0.6, len(modalities) - 0.4)
    bottom.spines[["top", "right", "bottom"]].set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
