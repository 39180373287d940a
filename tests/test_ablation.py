"""The ablation experiment: variance bookkeeping, tables, and a two-variant run end to end (tiny budget)."""

import dataclasses
import json
import os

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
    result = ablation.run(config)
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
