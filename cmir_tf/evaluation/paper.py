"""Row names and published values of Ferraro et al. 2021, Tables 1-3, as printed in the paper.

Source: A. Ferraro, X. Favory, K. Drossos, Y. Kim, D. Bogdanov, "Enriched Music Representations with Multiple
Cross-modal Contrastive Learning", IEEE Signal Processing Letters 28, 2021 (arXiv 2104.00437):
Table 1 (GTZAN accuracy, fault-filtered split, mean ± std over 10 MLP repeats, printed in percent), Table 2
(MTG-Jamendo macro ROC-AUC ± std per category; the paper reports no PR-AUC) and Table 3 (Melon playlist
continuation NDCG@100 / MAP@100, with a random row). Copied from the project's shared transcription of the
tables (`ferraro2021_tables.json`).

Units here are those of the simulation: GTZAN accuracy as a fraction (the paper's percent / 100), so one
table holds one unit. A value the paper does not print is absent and shows as `NOT_REPORTED`.
"""

from __future__ import annotations

from cmir_tf import errors

# Internal row name -> the name printed in tables and figures: the paper's six variants (its spelling), this
# package's intra-modal (docs/intra_modal.md) and playlist-tag variants (docs/playlist_tags.md), the untrained
# reference and the random baseline.
DISPLAY_NAMES = {
    "contr_g": "ContrG",
    "contr_cf": "ContrCF",
    "contr_cf_g": "ContrCF-G",
    "bline_g": "B-lineG",
    "bline_cf": "B-lineCF",
    "bline_cf_g": "B-lineCF-G",
    "self": "Self (two crops)",
    "pl_pos": "PlaylistPos",
    "artist_pos": "ArtistPos",
    "genre_pos": "GenrePos",
    "hybrid": "Hybrid (ContrCF-G + PlaylistPos)",
    "contr_t": "ContrT",
    "contr_cf_g_t": "ContrCF-G-T",
    "untrained": "Untrained encoder",
    "random": "Random",
}

NOT_REPORTED = "not reported"
# MTG-Jamendo categories in the paper's column order (Table 2: genre, mood/theme, instrument).
JAMENDO_CATEGORIES = ("genre", "moodtheme", "instrument")

# Table 1: {row: (mean, std)}, accuracy as a fraction (printed: percent).
GTZAN_ACCURACY: dict[str, tuple[float, float]] = {
    "bline_g": (0.6328, 0.0119),
    "bline_cf": (0.5712, 0.0182),
    "bline_cf_g": (0.6435, 0.0110),
    "contr_g": (0.7678, 0.0122),
    "contr_cf": (0.6712, 0.0094),
    "contr_cf_g": (0.7529, 0.0132),
}
# Table 1's pre-trained embeddings (no std printed): reference rows, not simulated.
GTZAN_LITERATURE: dict[str, float] = {
    "VGGish (AudioSet)": 0.7758,
    "OpenL3 (AudioSet)": 0.7465,
    "musicnn (MSD)": 0.7724,
}
# Table 2: {row: {category: (mean, std)}}, macro ROC-AUC.
JAMENDO_ROC_AUC: dict[str, dict[str, tuple[float, float]]] = {
    "bline_g": {"genre": (0.840, 0.004), "moodtheme": (0.722, 0.004), "instrument": (0.781, 0.005)},
    "bline_cf": {"genre": (0.836, 0.002), "moodtheme": (0.722, 0.003), "instrument": (0.770, 0.008)},
    "bline_cf_g": {"genre": (0.845, 0.004), "moodtheme": (0.727, 0.006), "instrument": (0.785, 0.004)},
    "contr_g": {"genre": (0.847, 0.004), "moodtheme": (0.732, 0.005), "instrument": (0.797, 0.005)},
    "contr_cf": {"genre": (0.845, 0.004), "moodtheme": (0.732, 0.004), "instrument": (0.793, 0.007)},
    "contr_cf_g": {"genre": (0.843, 0.004), "moodtheme": (0.733, 0.005), "instrument": (0.791, 0.006)},
}
# Table 3: {row: {metric: value}} (no std printed).
PLAYLIST: dict[str, dict[str, float]] = {
    "random": {"ndcg@100": 0.0005, "map@100": 0.0001},
    "bline_g": {"ndcg@100": 0.0044, "map@100": 0.0007},
    "bline_cf": {"ndcg@100": 0.0035, "map@100": 0.0007},
    "bline_cf_g": {"ndcg@100": 0.0042, "map@100": 0.0008},
    "contr_g": {"ndcg@100": 0.0074, "map@100": 0.0016},
    "contr_cf": {"ndcg@100": 0.0076, "map@100": 0.0017},
    "contr_cf_g": {"ndcg@100": 0.0085, "map@100": 0.0020},
}


def row_key(name: str) -> str:
    """The internal row of a table name: `contr_cf_g`, `ContrCF-G` or a run named after it with a `-suffix`
    (`ContrCF-G-demo`; the longest display name that fits: `ContrCF-G-T-demo` -> `contr_cf_g_t`) -> `contr_cf_g`;
    any other name is returned as is."""
    if name in DISPLAY_NAMES:
        return name
    fits = [key for key, display in DISPLAY_NAMES.items() if name == display or name.startswith(display + "-")]
    return max(fits, key=lambda key: len(DISPLAY_NAMES[key])) if fits else name


def published(task: str, row: str, category: str | None = None, metric: str | None = None):
    """The paper's value for one cell: (mean, std), a plain float, or None where it printed none.

    Args:
      task: "gtzan" (accuracy), "jamendo" (needs `category` and `metric`; only "roc_auc" is published) or
        "playlist" (needs `metric`, "ndcg@100" or "map@100").
      row: an internal row name or a display name (e.g. an evaluate.py `--name` such as "ContrCF-G").
    """
    row = row_key(row)
    if task == "gtzan":
        return GTZAN_ACCURACY.get(row)
    if task == "jamendo":
        return JAMENDO_ROC_AUC.get(row, {}).get(category) if metric == "roc_auc" else None
    if task == "playlist":
        return PLAYLIST.get(row, {}).get(metric)
    raise errors.ConfigError(f"task must be gtzan, jamendo or playlist, got {task!r}")


def cell(value: tuple[float, float] | float | None, digits: int = 3) -> str:
    """A published value as a table cell: `mean ± std` or `value` with `digits` decimals, or "not reported"."""
    if value is None:
        return NOT_REPORTED
    if isinstance(value, tuple):
        return f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"
    return f"{value:.{digits}f}"
