"""Reduces per-seed evaluation results to the ablation's numbers, keeping probe and training-seed variance apart.

A run = one trained (or untrained) encoder evaluated by `cmir_tf.evaluation`: `{"gtzan": ..., "jamendo": ...,
"playlist": ...}` as `evaluate_gtzan` / `evaluate_jamendo` / `evaluate_playlists` return them; a tag variant's
also holds `TAG_TASKS`: "tags" (`evaluate_tag_retrieval`, Table 5) and "tag_cold_start"
(`evaluate_tag_cold_start`, columns of Table 3). For each metric the summary holds

  mean       mean over training seeds of the per-seed mean over probe repeats
  probe_std  mean over training seeds of the std over probe repeats (what the paper reports; 0 for playlists,
             which have no probe)
  seed_std   std over training seeds of the per-seed means (0 with one seed)
  per_seed   the per-seed means
"""

from __future__ import annotations

import numpy as np

JAMENDO_CATEGORIES = ("genre", "instrument", "moodtheme")
TAGGING_METRICS = ("roc_auc", "pr_auc")
PLAYLIST_METRICS = ("ndcg@100", "map@100")
TASKS = ("gtzan", "jamendo", "playlist")  # every row's
TAG_TASKS = ("tags", "tag_cold_start")  # the tag variants' (models with an `embed_tags` signature)


def _repeats(metric: dict | float) -> tuple[float, float]:
    """(mean, std over probe repeats) of `{"mean", "std", ...}` or of a plain number (no repeats)."""
    if isinstance(metric, dict):
        return float(metric["mean"]), float(metric["std"])
    return float(metric), 0.0


def combine(per_seed: list[dict | float]) -> dict:
    """One metric over training seeds -> {mean, probe_std, seed_std, per_seed}."""
    means, stds = zip(*(_repeats(m) for m in per_seed))
    return {"mean": float(np.mean(means)), "probe_std": float(np.mean(stds)), "seed_std": float(np.std(means)),
            "per_seed": [float(m) for m in means]}


def task_metrics(task: str, result: dict) -> dict:
    """The metrics one task result contributes, nested as in the summary: {name: metric} or
    {category: {name: metric}}; also accepts a `random_baseline` entry of such a result."""
    if task == "gtzan":
        return {"accuracy": result["accuracy"]}
    if task == "jamendo":
        categories = result.get("categories", result)
        return {c: {m: categories[c][m] for m in TAGGING_METRICS} for c in JAMENDO_CATEGORIES if c in categories}
    if task == "tags":
        return {m: result[m] for m in TAGGING_METRICS}
    return {m: result[m] for m in PLAYLIST_METRICS}  # playlist, tag_cold_start


def _combine_nested(per_seed: list[dict]) -> dict:
    first = per_seed[0]
    if isinstance(first, dict) and "mean" not in first:
        return {key: _combine_nested([p[key] for p in per_seed]) for key in first}
    return combine(per_seed)


def summarize(runs: list[dict]) -> dict:
    """{task: summary} over the runs (one per training seed) of one model."""
    return {task: _combine_nested([task_metrics(task, run[task]) for run in runs]) for task in runs[0]}


def summarize_random(runs: list[dict]) -> dict:
    """{task: summary} of the random baselines stored in `runs` (each run's `random_baseline` per task)."""
    return {task: _combine_nested([task_metrics(task, run[task]["random_baseline"]) for run in runs])
            for task in runs[0] if "random_baseline" in runs[0][task]}
