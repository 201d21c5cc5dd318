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


def _log_spectrogram(x: np.ndarray, sr: int) -> np.ndarray:
    """|STFT| in dB (25 ms Hann windows, 10 ms hop), floor at -100 dB."""
    win, hop = int(0.025 * sr), int(0.010 * sr)
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), win)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1))
    return (20 * np.log10(np.maximum(mag, 1e-5))).T


def before_after_spectrogram(before: np.ndarray, after: np.ndarray, sr: int, title: str) -> bytes:
    """Two spectrograms, noisy above and denoised below, on one colour scale, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = [_log_spectrogram(before, sr), _log_spectrogram(after, sr)]
    top = max(float(s.max()) for s in specs)
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True, sharey=True)
    for ax, spec, label in zip(axes, specs, ("before (raw)", "after (denoised)"), strict=True):
        extent = (0.0, len(before) / sr, 0.0, sr / 2000)
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            extent=extent,
            vmin=top - 80,
            vmax=top,
            cmap="magma",
        )
        ax.set_ylabel("kHz")
        ax.set_title(label, fontsize=9)
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title, fontsize=10)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)
