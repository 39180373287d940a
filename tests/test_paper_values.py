"""The paper's published values (Ferraro et al. 2021, Tables 1-3) as the ablation and evaluate.py print them."""

import json
import os

import pytest

from cmir_tf.evaluation import results
from cmir_tf.evaluation import paper
from cmir_tf.experiments import report

SHARED_TABLES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "paper", "ferraro2021_tables.json")


def _metric(value):
    return {"mean": value, "probe_std": 0.0, "seed_std": 0.0, "per_seed": [value]}


@pytest.mark.skipif(not os.path.exists(SHARED_TABLES), reason="the shared transcription is not on this machine")
def test_every_copied_value_equals_the_shared_transcription():
    with open(SHARED_TABLES) as f:
        tables = json.load(f)
    for name, entry in tables["table1_gtzan"].items():
        key = paper.row_key(name)
        if key in paper.GTZAN_ACCURACY:
            assert paper.GTZAN_ACCURACY[key] == pytest.approx((entry["mean"] / 100, entry["std"] / 100))
        else:
            literature = {label.split(" (")[0]: value for label, value in paper.GTZAN_LITERATURE.items()}
            assert literature[name.split()[0]] == pytest.approx(entry["mean"] / 100)
    assert len(paper.GTZAN_ACCURACY) + len(paper.GTZAN_LITERATURE) == len(tables["table1_gtzan"])
    for name, categories in tables["table2_jamendo_roc_auc"].items():
        assert {c: tuple(v) for c, v in categories.items()} == paper.JAMENDO_ROC_AUC[paper.row_key(name)]
    assert tuple(next(iter(tables["table2_jamendo_roc_auc"].values()))) == paper.JAMENDO_CATEGORIES
    for name, metrics in tables["table3_playlist"].items():
        assert metrics == paper.PLAYLIST[paper.row_key(name)]


def test_ablation_tables_print_the_paper_beside_each_cell_in_its_order():
    rows = {"contr_g": {"gtzan": {"accuracy": _metric(0.5)},
                        "jamendo": {c: {"roc_auc": _metric(0.6), "pr_auc": _metric(0.1)}
                                    for c in ("genre", "instrument", "moodtheme")},
                        "playlist": {"ndcg@100": _metric(0.01), "map@100": _metric(0.002)}},
            "random": {"playlist": {"ndcg@100": _metric(0.001), "map@100": _metric(0.0)}}}
    tables = report.markdown_tables(rows, seeds=1, repeats=3)
    assert "| ContrG | 0.500 ± 0.000 | 0.768 ± 0.012 |" in tables  # 76.78 ± 1.22 %
    assert "| VGGish (AudioSet) (paper's reference) | – | 0.776 |" in tables
    assert "| OpenL3 (AudioSet) (paper's reference) | – | 0.747 |" in tables
    assert "| musicnn (MSD) (paper's reference) | – | 0.772 |" in tables
    # Table 2 in the paper's order: genre, mood/theme, instrument; PR-AUC was not published.
    assert ("| ContrG | 0.600 ± 0.000 | 0.847 ± 0.004 | 0.100 ± 0.000 | not reported | 0.600 ± 0.000 | "
            "0.732 ± 0.005 | 0.100 ± 0.000 | not reported | 0.600 ± 0.000 | 0.797 ± 0.005 |") in tables
    assert "| ContrG | 0.0100 | 0.0074 | 0.0020 | 0.0016 |" in tables
    assert "| Random | 0.0010 | 0.0005 | 0.0000 | 0.0001 |" in tables
    assert "accuracy as a fraction" in tables and "n/a" not in tables


def test_evaluate_tables_end_rows_with_the_paper_row_of_the_run_name():
    summary = {"mean": 0.7, "std": 0.01}
    gtzan = results.markdown_table("gtzan", {"B-lineCF-G-demo": {"accuracy": summary, "dim": 128},
                                             "mine": {"accuracy": summary, "dim": 128}})
    assert "| B-lineCF-G-demo | 0.700 ± 0.010 | – | 0.643 ± 0.011 |" in gtzan  # 64.35 ± 1.10 %
    assert "| mine | 0.700 ± 0.010 | – | not reported |" in gtzan
    assert "| musicnn (MSD) (paper's reference) | – | – | 0.772 |" in gtzan
    categories = {c: {"roc_auc": summary, "pr_auc": summary} for c in ("genre", "instrument", "moodtheme")}
    jamendo = results.markdown_table("jamendo", {"contr_cf": {"categories": categories, "dim": 128}})
    assert jamendo.rstrip().endswith("| 0.845 ± 0.004 | not reported | 0.793 ± 0.007 | not reported | "
                                     "0.732 ± 0.004 | not reported |")
    playlist = results.markdown_table("playlist", {"ContrCF-G": {
        "ndcg@100": 0.3, "map@100": 0.1, "random_baseline": {"ndcg@100": 0.1, "map@100": 0.02}}})
    assert "| ContrCF-G | 0.3000 | 0.1000 | – | – | – | – | 0.0085 | 0.0020 |" in playlist  # no cold starts
    assert "| Random ranking | 0.1000 | 0.0200 | – | – | – | – | 0.0005 | 0.0001 |" in playlist
