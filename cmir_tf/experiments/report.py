"""The ablation's outputs for people: Tables 1-3 in the paper's layout (Markdown) and a bar-chart PNG; with tag
variants among the rows, Table 3's tag cold-start columns and Table 5 (zero-shot playlist-tag retrieval).

Inputs are summaries from `cmir_tf.experiments.summary`, keyed by row (`contr_g`, ..., `untrained`,
`random`). Each simulated cell is `mean ± probe std` (playlist cells: no probe, mean only); with several
training seeds a `[seed std]` follows. The paper's published value sits in the column to its right
(`paper.cell`: "not reported" where the paper prints none, e.g. every PR-AUC), in the unit of the simulation
that each caption states; Table 1 ends with the paper's three pre-trained reference embeddings.
"""

from __future__ import annotations

import numpy as np

from cmir_tf.data.atomic import atomic_write
from cmir_tf.evaluation import paper

CATEGORY_TITLES = {"genre": "Genre", "moodtheme": "Mood/theme", "instrument": "Instrument"}  # the paper's order
TAGGING_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC"}
PLAYLIST_TITLES = {"ndcg@100": "NDCG@100", "map@100": "MAP@100"}


def _cell(metric: dict | None, digits: int = 3, probed: bool = True) -> str:
    """`mean ± probe std [seed std]`; without a probe (playlists) no probe std."""
    if metric is None:
        return "–"
    text = f"{metric['mean']:.{digits}f}"
    if probed:
        text += f" ± {metric['probe_std']:.{digits}f}"
    if len(metric["per_seed"]) > 1:
        text += f" [{metric['seed_std']:.{digits}f}]"
    return text


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _get(summaries: dict, row: str, task: str, *keys: str) -> dict | None:
    node = summaries.get(row, {}).get(task)
    for key in keys:
        node = None if node is None else node.get(key)
    return node


def markdown_tables(summaries: dict[str, dict], seeds: int, repeats: int) -> str:
    """Tables 1-3 over the rows of `summaries` (model rows first, then `untrained`, then `random`); Table 3's tag
    cold-start columns and Table 5 (over the rows that have it) where a row has the tag tasks."""
    rows = list(summaries)
    name = paper.DISPLAY_NAMES.get
    note = (f"Simulation: mean ± std over {repeats} probe repeats"
            + (f", [std over {seeds} training seeds]" if seeds > 1 else "") + "; paper: published value.")
    table1 = _table("Table 1: GTZAN genre classification, accuracy as a fraction (the paper's percent / 100)",
                    ["Model", "Simulation", "Paper"],
                    [[name(r, r), _cell(_get(summaries, r, "gtzan", "accuracy")),
                      paper.cell(paper.published("gtzan", r))] for r in rows]
                    + [[f"{r} (paper's reference)", "–", paper.cell(v)] for r, v in paper.GTZAN_LITERATURE.items()])
    header2 = ["Model"] + [f"{c} {m} {kind}" for c in CATEGORY_TITLES.values() for m in TAGGING_TITLES.values()
                           for kind in ("(sim.)", "(paper)")]
    table2 = _table("Table 2: MTG-Jamendo auto-tagging, macro ROC-AUC and PR-AUC (fractions)", header2, [
        [name(r, r)] + [cell for c in CATEGORY_TITLES for m in TAGGING_TITLES
                        for cell in (_cell(_get(summaries, r, "jamendo", c, m)),
                                     paper.cell(paper.published("jamendo", r, c, m)))]
        for r in rows])
    tagged = [r for r in rows if "tags" in summaries[r]]
    tag_columns = [f"Tag cold-start {m} (sim.)" for m in PLAYLIST_TITLES.values()] if tagged else []
    header3 = (["Model"] + [f"{m} {kind}" for m in PLAYLIST_TITLES.values() for kind in ("(sim.)", "(paper)")]
               + tag_columns)
    table3 = _table("Table 3: Melon playlist continuation, NDCG@100 and MAP@100 (fractions)", header3, [
        [name(r, r)] + [cell for m in PLAYLIST_TITLES
                        for cell in (_cell(_get(summaries, r, "playlist", m), 4, probed=False),
                                     paper.cell(paper.published("playlist", r, metric=m), 4))]
        + [_cell(_get(summaries, r, "tag_cold_start", m), 4, probed=False) for m in PLAYLIST_TITLES if tagged]
        for r in rows])
    tables = [note, "", table1, table2, table3]
    if tagged:
        tables.append(_table(
            "Table 5: zero-shot playlist-tag retrieval of the Melon test split, macro ROC-AUC and PR-AUC (fractions)",
            ["Model", *TAGGING_TITLES.values()],
            [[name(r, r)] + [_cell(_get(summaries, r, "tags", m), probed=False) for m in TAGGING_TITLES]
             for r in tagged]))
    return "\n".join(tables)


def _bars(ax, groups: list[str], rows: list[str], summaries: dict, getter, title: str) -> None:
    """Grouped bars: one group per entry of `groups`, one bar per row, error bar = total std."""
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        metrics = [getter(row, g) for g in groups]
        means = [m["mean"] if m else np.nan for m in metrics]
        errors = [np.hypot(m["probe_std"], m["seed_std"]) if m else 0.0 for m in metrics]
        ax.bar(np.arange(len(groups)) + (i - (len(rows) - 1) / 2) * width, means, width, yerr=errors,
               capsize=2, label=paper.DISPLAY_NAMES.get(row, row))
    ax.set_xticks(range(len(groups)), groups)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)


def save_figure(summaries: dict[str, dict], path: str) -> None:
    """Writes a PNG with one panel per task (GTZAN, MTG-Jamendo ROC-AUC, playlists), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = list(summaries)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [1, 3, 2]})
    _bars(axes[0], ["accuracy"], rows, summaries, lambda r, g: _get(summaries, r, "gtzan", g), "GTZAN")
    _bars(axes[1], list(CATEGORY_TITLES), rows, summaries,
          lambda r, g: _get(summaries, r, "jamendo", g, "roc_auc"), "MTG-Jamendo, macro ROC-AUC")
    _bars(axes[2], list(PLAYLIST_TITLES), rows, summaries, lambda r, g: _get(summaries, r, "playlist", g),
          "Melon playlist continuation")
    axes[1].set_xticklabels(list(CATEGORY_TITLES.values()))
    axes[2].set_xticklabels(list(PLAYLIST_TITLES.values()))
    axes[0].set_ylim(0, 1)
    axes[1].set_ylim(0.4, 1)
    axes[2].legend(fontsize=8, loc="upper right")
    fig.suptitle("Ablation (error bars: ±1 std over probe repeats and training seeds)")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
