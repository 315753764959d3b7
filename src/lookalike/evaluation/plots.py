"""PNG plots for evaluation reports: ROC (verification), CMC (retrieval), DIR vs FAR (open set)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lookalike.io import atomic_write_stream


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    return fig, ax


def _save(fig: Any, path: str | Path) -> Path:
    """Write the PNG atomically and close the figure."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write_stream(path, lambda fh: fig.savefig(fh, format="png", bbox_inches="tight"), ".png")
    finally:
        plt.close(fig)


def _rate_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, title: str,
                 marks: tuple[float, float], xlabel: str, ylabel: str) -> Path:
    """Rate-against-false-rate curves on a log x axis from 1e-4, with dotted marks at ``marks``."""
    fig, ax = _figure()
    for label, (x, y) in curves.items():
        ax.plot([max(f, 1e-4) for f in x], y, label=label, lw=1.5)
    for m in marks:
        ax.axvline(m, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_roc(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
             title: str = "LFW verification ROC") -> Path:
    """``{label: (far, tar)}`` on a log FAR axis."""
    return _rate_curves(curves, path, title, (1e-3, 1e-2), "false accept rate", "true accept rate")


def plot_cmc(curves: Mapping[str, Sequence[float]], path: str | Path, title: str = "CMC") -> Path:
    """``{label: cmc}`` with ``cmc[k-1]`` the rank-k identification rate."""
    fig, ax = _figure()
    for label, cmc in curves.items():
        ax.plot(range(1, len(cmc) + 1), cmc, marker=".", ms=3, label=label, lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("rank k")
    ax.set_ylabel("queries with a same-person photo in the top k")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_dir(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
             title: str = "Open-set identification") -> Path:
    """``{label: (far, dir)}``: detection-and-identification rate against false alarm rate."""
    return _rate_curves(curves, path, title, (1e-2, 1e-1), "false alarm rate (unknown people accepted)",
                        "detection and identification rate")
