"""Row names and published values of Ferraro et al. 2021 (arXiv 2104.00437), Tables 1-3.

Source: the paper's Tables 1 (GTZAN accuracy), 2 (MTG-Jamendo ROC-AUC / PR-AUC per category) and 3 (Melon
playlist continuation NDCG@100 / MAP@100). This project's sessions could not reach the paper's text (the
stored copies hold only its abstract and introduction, and the authors' repository README has no numbers),
so every published value below is None and prints as "n/a" rather than a guessed number. Fill them in
from the paper's tables, keeping the keys, to get the adjacent columns filled.
"""

from __future__ import annotations

# Internal variant name -> the paper's row name, in the order of the list.
DISPLAY_NAMES = {
    "contr_g": "ContrG",
    "contr_cf": "ContrCF",
    "contr_cf_g": "ContrCF-G",
    "bline_g": "B-lineG",
    "bline_cf": "B-lineCF",
    "bline_cf_g": "B-lineCF-G",
    "untrained": "Untrained encoder",
    "random": "Random",
}

JAMENDO_CATEGORIES = ("genre", "instrument", "moodtheme")

# {row key: value or None}; "random" is the paper's random baseline row where it has one.
GTZAN_ACCURACY: dict[str, float | None] = {name: None for name in DISPLAY_NAMES}
JAMENDO: dict[str, dict[str, dict[str, float | None]]] = {
    name: {c: {"roc_auc": None, "pr_auc": None} for c in JAMENDO_CATEGORIES} for name in DISPLAY_NAMES
}
PLAYLIST: dict[str, dict[str, float | None]] = {name: {"ndcg@100": None, "map@100": None} for name in DISPLAY_NAMES}


def cell(value: float | None) -> str:
    """A published value as a table cell: three decimals, or "n/a" where the value is not known here."""
    return "n/a" if value is None else f"{value:.3f}"
