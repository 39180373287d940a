"""The claims table: verdicts from per-seed numbers (synthetic), as ablation.json holds them."""

import pytest

from cmir_tf.experiments import claims


def _metric(per_seed):
    return {"mean": sum(per_seed) / len(per_seed), "probe_std": 0.0, "seed_std": 0.0, "per_seed": per_seed}


def _row(gtzan, moodtheme=(0.5, 0.5, 0.5), ndcg=(0.01, 0.01, 0.01)):
    jamendo = {c: {"roc_auc": _metric(list(moodtheme)), "pr_auc": _metric([0.1] * 3)}
               for c in ("genre", "moodtheme", "instrument")}
    return {"gtzan": {"accuracy": _metric(list(gtzan))}, "jamendo": jamendo,
            "playlist": {"ndcg@100": _metric(list(ndcg)), "map@100": _metric(list(ndcg))}}


def test_verdicts_use_two_standard_errors_over_seeds():
    assert claims.verdict(0.05, 0.02) == "holds"
    assert claims.verdict(0.03, 0.02) == "within noise"
    assert claims.verdict(-0.05, 0.02) == "does not hold"
    assert claims.verdict(0.05, None) == "too few seeds"


def test_claims_from_synthetic_ablation_numbers():
    summaries = {
        "contr_g": _row((0.80, 0.82, 0.81), moodtheme=(0.70, 0.71, 0.72)),
        "bline_g": _row((0.60, 0.61, 0.62), moodtheme=(0.60, 0.61, 0.62)),
        "contr_cf": _row((0.70, 0.75, 0.65)),
        "bline_cf": _row((0.69, 0.74, 0.66)),
        "contr_cf_g": _row((0.50, 0.51, 0.52), ndcg=(0.030, 0.031, 0.032)),
        "bline_cf_g": _row((0.60, 0.61, 0.62)),
        "pl_pos": _row((0.55, 0.56, 0.57), ndcg=(0.010, 0.011, 0.012)),
        "contr_cf_g_t": _row((0.50, 0.51, 0.52), ndcg=(0.040, 0.041, 0.042)),
    }
    checks = {(c.claim, c.metric, c.row, c.other): c for c in claims.check_claims(summaries)}
    gtzan = "contrastive beats its baseline on GTZAN"
    # contr_g - bline_g: +0.2, SE = sqrt(2 * 0.01^2 / 3) = 0.00816: holds.
    first = checks[(gtzan, "GTZAN accuracy", "contr_g", "bline_g")]
    assert first.verdict == "holds" and first.difference == pytest.approx(0.2)
    assert first.standard_error == pytest.approx((2 * 0.01 ** 2 / 3) ** 0.5)
    assert first.paper_difference == pytest.approx(0.7678 - 0.6328)
    assert checks[(gtzan, "GTZAN accuracy", "contr_cf", "bline_cf")].verdict == "within noise"
    assert checks[(gtzan, "GTZAN accuracy", "contr_cf_g", "bline_cf_g")].verdict == "does not hold"
    assert checks[("ContrG is best on GTZAN", "GTZAN accuracy", "contr_g", "contr_cf")].verdict == "holds"
    mood = checks[("ContrCF-G is best on mood/theme", "MTG-Jamendo moodtheme ROC-AUC", "contr_cf_g", "contr_g")]
    assert mood.verdict == "does not hold" and mood.difference == pytest.approx(-0.21)
    (summary,) = [c for c in checks.values() if c.claim.endswith("in almost all cases")]
    assert summary.verdict == "within noise"  # 3 hold (ContrG), 6 equal: within noise, 0 do not hold
    assert "3 hold, 6 within noise, 0 do not hold" in summary.metric
    (playlists,) = [c for c in checks.values() if c.claim == "ContrCF-G is best on playlists"
                    and c.metric == "Melon NDCG@100"]
    assert playlists.verdict == "holds" and playlists.other != "pl_pos"  # runner-up among the paper's six
    new = checks[("PlaylistPos beats ContrCF-G", "Melon NDCG@100", "pl_pos", "contr_cf_g")]
    assert new.verdict == "does not hold" and new.paper_difference is None
    tagged = checks[("ContrCF-G-T beats ContrCF-G", "Melon NDCG@100", "contr_cf_g_t", "contr_cf_g")]
    assert tagged.verdict == "holds" and tagged.difference == pytest.approx(0.01)
    assert checks[("ContrCF-G-T beats ContrCF-G", "GTZAN accuracy", "contr_cf_g_t", "contr_cf_g")].verdict == (
        "within noise")
    assert not any(c.row == "contr_t" for c in checks.values())  # only the variants run are compared
    text = claims.markdown(list(checks.values()), seeds=3)
    assert "| ContrG is best on GTZAN | GTZAN accuracy | ContrG vs ContrCF | +0.1100 |" in text


def test_one_seed_gives_no_verdict():
    summaries = {"contr_g": {"gtzan": {"accuracy": _metric([0.8])}}, "bline_g": {"gtzan": {"accuracy": _metric([0.6])}}}
    (first, *_) = claims.check_claims(summaries)
    assert first.verdict == "too few seeds" and first.difference == pytest.approx(0.2)
