"""The ablation experiment: variance bookkeeping, tables, and a two-variant run end to end (tiny budget)."""

import dataclasses
import json
import os
import random

import keras
import numpy as np
import pytest

from cmir_tf.experiments import ablation, report, summary


def test_probe_and_seed_variance_are_kept_apart():
    per_seed = [{"mean": 0.5, "std": 0.1, "values": [0.4, 0.6]}, {"mean": 0.7, "std": 0.3, "values": [0.4, 1.0]}]
    combined = summary.combine(per_seed)
    assert combined["per_seed"] == [0.5, 0.7]
    assert [combined[k] for k in ("mean", "probe_std", "seed_std")] == pytest.approx([0.6, 0.2, 0.1])
    assert summary.combine([0.25, 0.25]) == {"mean": 0.25, "probe_std": 0.0, "seed_std": 0.0,
                                             "per_seed": [0.25, 0.25]}


def test_tables_show_simulation_next_to_paper_and_seed_std_only_with_seeds():
    metric = {"mean": 0.8, "probe_std": 0.01, "seed_std": 0.02, "per_seed": [0.8]}
    rows = {"contr_cf_g": {"gtzan": {"accuracy": metric}}, "random": {"gtzan": {"accuracy": metric}}}
    tables = report.markdown_tables(rows, seeds=1, repeats=10)
    assert "| ContrCF-G | 0.800 ± 0.010 | 0.753 ± 0.013 |" in tables  # the paper's 75.29 ± 1.32 %
    assert "| Random | 0.800 ± 0.010 | not reported |" in tables
    rows["contr_cf_g"]["gtzan"]["accuracy"] = {**metric, "per_seed": [0.79, 0.81]}
    assert "| ContrCF-G | 0.800 ± 0.010 [0.020] | 0.753 ± 0.013 |" in report.markdown_tables(rows, seeds=2, repeats=10)


def _run(score: float, tags: bool = False, baseline: bool = False) -> dict:
    """One evaluation of an export, as `ablation.evaluate_row` stores it (one probe repeat, synthetic numbers)."""
    probed = lambda v: {"mean": v, "std": 0.0}  # noqa: E731
    jamendo = {"categories": {c: {"roc_auc": probed(score), "pr_auc": probed(score / 2)}
                              for c in summary.JAMENDO_CATEGORIES}}
    ranking = {"ndcg@100": score / 4, "map@100": score / 8}
    run = {"gtzan": {"accuracy": probed(score)}, "jamendo": jamendo,
           "playlist": {**ranking, "random_baseline": {"ndcg@100": 0.1, "map@100": 0.02}}}
    if baseline:
        run["gtzan"]["random_baseline"] = {"accuracy": probed(0.1)}
        run["jamendo"]["random_baseline"] = {"categories": {c: {"roc_auc": probed(0.5), "pr_auc": probed(0.2)}
                                                            for c in summary.JAMENDO_CATEGORIES}}
    if tags:
        run["tags"] = {"roc_auc": score, "pr_auc": score / 2, "random_baseline": {"roc_auc": 0.5, "pr_auc": 0.15}}
        run["tag_cold_start"] = {**ranking, "random_baseline": {"ndcg@100": 0.11, "map@100": 0.03}}
    return run


def test_tag_variants_add_table_5_and_tag_cold_start_columns_and_the_default_tables_are_unchanged(tmp_path):
    config = ablation.AblationConfig(str(tmp_path), variants=("contr_cf_g", "contr_cf_g_t"))
    runs = {"contr_cf_g": [_run(0.6)], "contr_cf_g_t": [_run(0.8, tags=True)],
            ablation.UNTRAINED: [_run(0.4, baseline=True)]}
    stored = ablation.write_outputs(config, runs, seconds=1.0)
    assert set(stored["contr_cf_g_t"]) == {"gtzan", "jamendo", "playlist", "tags", "tag_cold_start"}
    assert set(stored["contr_cf_g"]) == {"gtzan", "jamendo", "playlist"}
    assert stored["random"]["tags"]["roc_auc"]["mean"] == 0.5  # from the tag row: the untrained one has no tags
    assert stored["random"]["tag_cold_start"]["ndcg@100"]["mean"] == 0.11
    assert stored["random"]["playlist"]["ndcg@100"]["mean"] == 0.1
    tables = (tmp_path / "tables.md").read_text()
    assert "| Tag cold-start NDCG@100 (sim.) | Tag cold-start MAP@100 (sim.) |" in tables
    assert "| ContrCF-G | 0.1500 | " in tables and tables.count(" | – | – |") == 2  # ContrCF-G, untrained
    assert "### Table 5: zero-shot playlist-tag retrieval" in tables
    assert "| ContrCF-G-T | 0.800 | 0.400 |" in tables and "| Random | 0.500 | 0.150 |" in tables
    assert "| ContrCF-G-T beats ContrCF-G | GTZAN accuracy | ContrCF-G-T vs ContrCF-G |" in (
        tmp_path / "claims.md").read_text()
    default = report.markdown_tables({r: s for r, s in stored.items() if r in ("contr_cf_g", "untrained")}, 1, 1)
    assert "Table 5" not in default and "Tag cold-start" not in default


def test_config_needs_all_data_folders_or_none(tmp_path):
    with pytest.raises(ValueError, match="--melon_dir"):
        ablation.AblationConfig(str(tmp_path), data_dir="x")
    with pytest.raises(ValueError, match="subset"):
        ablation.AblationConfig(str(tmp_path), variants=("contr_x",))


def test_two_variants_end_to_end_and_resumed(tmp_path, demo_corpus, prepared_demo, eval_corpus):
    config = ablation.AblationConfig(
        str(tmp_path / "ablation"), data_dir=prepared_demo, melon_dir=os.path.join(demo_corpus, "melon"),
        gtzan_dir=str(eval_corpus / "demo" / "gtzan"), jamendo_dir=str(eval_corpus / "demo" / "mtg-jamendo"),
        gtzan_splits_dir=str(eval_corpus / "gtzan_lists"), variants=("contr_g", "bline_cf"), batch_size=8,
        epochs=1, steps_per_epoch=2, validation_steps=1, repeats=1, probe_epochs=2, jamendo_categories=("moodtheme",))
    keras.mixed_precision.set_global_policy("mixed_float16")  # the caller's: training (float32) must restore it
    random.seed(7)
    np.random.seed(7)
    caller = (random.getstate(), np.random.get_state()[1].copy())
    try:
        result = ablation.run(config)
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert random.getstate() == caller[0] and (np.random.get_state()[1] == caller[1]).all()
    with open(config.path("runs", "contr_g-seed0.json")) as f:  # evaluate_model's joint-space tasks, as cmir-evaluate's
        contrastive = json.load(f)
    assert "zero_shot" in contrastive and "accuracy" in contrastive["gtzan"]["zero_shot"]
    with open(config.path("runs", "bline_cf-seed0.json")) as f:
        assert "skipped_reason" in json.load(f)["gtzan"]["zero_shot"]
    rows = ("contr_g", "bline_cf", "untrained", "random")
    with open(config.path("ablation.json")) as f:
        stored = json.load(f)
    for row in rows:
        assert set(stored[row]) == {"gtzan", "jamendo", "playlist"}
        assert 0.0 <= stored[row]["gtzan"]["accuracy"]["mean"] <= 1.0
        assert list(stored[row]["jamendo"]) == ["moodtheme"]
        assert len(stored[row]["jamendo"]["moodtheme"]["roc_auc"]["per_seed"]) == 1
        assert stored[row]["playlist"]["ndcg@100"]["probe_std"] == 0.0
    assert len(stored["contr_g"]["gtzan"]["accuracy"]["per_seed"]) == 1
    with open(config.path("tables.md")) as f:
        tables = f.read()
    assert all(name in tables for name in ("ContrG", "B-lineCF", "Untrained encoder", "Random", "not reported"))
    with open(config.path("claims.md")) as f:
        assert "| contrastive beats its baseline on GTZAN | GTZAN accuracy | ContrG vs B-lineG |" in f.read()
    assert {c["verdict"] for c in stored["claims"]} <= {"too few seeds", "not measured"}  # one seed
    with open(config.path("ablation.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # A rerun retrains and re-evaluates nothing: every finished file keeps its modification time.
    finished = [config.path("runs", f"{row}-seed0.json") for row in rows[:3]]
    finished += [config.path("models", f"{row}-seed0", "done.json") for row in rows[:3]]
    before = [os.path.getmtime(p) for p in finished]
    again = ablation.run(config)
    assert [os.path.getmtime(p) for p in finished] == before
    assert again["contr_g"] == result["contr_g"] and again["random"] == result["random"]
    with pytest.raises(ValueError, match="repeats"):
        ablation.run(dataclasses.replace(config, repeats=3))
