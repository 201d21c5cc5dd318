"""Pictures for people: PNG plots as base64 strings (for markdown metadata)."""

from __future__ import annotations

import base64
import io

import numpy as np


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode()


def mel_stats_plot(mean: np.ndarray, std: np.ndarray, title: str = "") -> str:
    """Mean +- std of each mel bin, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8))
    bins = np.arange(len(mean))
    ax.fill_between(bins, mean - std, mean + std, alpha=0.3, label="mean ± std")
    ax.plot(bins, mean, lw=1.5)
    ax.set_xlabel("mel bin")
    ax.set_ylabel("log mel")
    ax.set_title(title or "dataset mel statistics")
    ax.legend(loc="upper right")
    try:
        return _png(fig)
    finally:
        plt.close(fig)


def markdown_image(png_b64: str, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{png_b64})"
