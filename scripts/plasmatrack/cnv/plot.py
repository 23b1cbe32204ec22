"""Genome-wide copy-number plots (PNG, matplotlib) of the HMM state path: one point per bin,
coloured by the fitted tumour copy number, with each state's expected level.

Only for static images (docs, the CLI's ``--plot``); the HTML reports draw their own plotly figures
from the same TSV files."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

STATE_COLOURS = {0: "#1a9850", 1: "#66bd63", 2: "#4575b4", 3: "#f46d43", 4: "#d73027",
                 5: "#a50026"}
AMP_COLOUR = "#67001f"


def _chrom_sort_key(name: str):
    key = name[3:] if name.lower().startswith("chr") else name
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def plot_states(panels: list[tuple[str, pd.DataFrame, dict]], path: str | os.PathLike,
                ylim: tuple[float, float] = (-1.5, 2.0)) -> None:
    """Write a PNG with one row per (title, states table, fit summary) panel. ``states`` has the
    columns of ``TumourFractionFit.states``; the summary's tumour_fraction, tf_lower, tf_upper and
    ploidy go into the panel title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(14, 3.2 * len(panels)), squeeze=False)
    for ax, (title, states, summary) in zip(axes[:, 0], panels):
        chroms = sorted(states["chromosome"].astype(str).unique(), key=_chrom_sort_key)
        offset, ticks, x = 0.0, [], np.zeros(len(states))
        for i, chrom in enumerate(chroms):
            sel = (states["chromosome"].astype(str) == chrom).to_numpy()
            mid = (states.loc[sel, "start"].to_numpy() + states.loc[sel, "end"].to_numpy()) / 2
            x[sel] = offset + mid
            end = float(states.loc[sel, "end"].max())
            ticks.append((offset + end / 2, chrom))
            if i % 2 == 0:
                ax.axvspan(offset, offset + end, color="#f2f2f2", zorder=0)
            offset += end
        colours = [AMP_COLOUR if amp else STATE_COLOURS.get(int(s), "#000000")
                   for s, amp in zip(states["state"], states["amp"])]
        y = states["log2"].to_numpy(float).clip(*ylim)
        ax.scatter(x, y, c=colours, s=4, linewidths=0, zorder=2)
        ax.scatter(x, states["expected_log2"].clip(*ylim), c="black", s=1, linewidths=0,
                   zorder=3)
        ax.set_xlim(0, offset)
        ax.set_ylim(*ylim)
        ax.axhline(0, color="grey", lw=0.5, zorder=1)
        ax.set_xticks([t for t, _ in ticks])
        ax.set_xticklabels([c[3:] if c.lower().startswith("chr") else c for _, c in ticks],
                           fontsize=7)
        ax.set_ylabel("log2 copy ratio")
        tf = summary.get("tumour_fraction")
        label = title
        if tf is not None:
            label += (f"   TF {tf:.3f} ({summary.get('tf_lower', np.nan):.3f}-"
                      f"{summary.get('tf_upper', np.nan):.3f}), ploidy "
                      f"{summary.get('ploidy', np.nan):.2f}")
            if summary.get("tf_detected") is not None:
                label += "" if summary["tf_detected"] else "   (not detected)"
        ax.set_title(label, fontsize=10, loc="left")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=f"CN {s}")
               for s, c in STATE_COLOURS.items()]
    handles.append(plt.Line2D([], [], marker="o", ls="", color=AMP_COLOUR, label="amplified"))
    axes[0, 0].legend(handles=handles, ncol=len(handles), fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sample(tf_table: pd.DataFrame, sample_id: str, states_tsv: str | os.PathLike,
                path: str | os.PathLike) -> None:
    """The CLI's ``<sample>.cnv.png``: one sample's state path (``.hmm_states.tsv``) with its
    fitted TF (whatever the detection) from the tumour-fraction table."""
    states = pd.read_csv(states_tsv, sep="\t", dtype={"chromosome": str})
    summary = tf_table[tf_table["sample_id"] == sample_id].iloc[0].to_dict()
    summary["tumour_fraction"] = summary["tumour_fraction_fit"]
    plot_states([(sample_id, states, summary)], path)
