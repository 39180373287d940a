"""Results files: `<results_dir>/<task>.json` keyed by run name, and `<task>.md`, the paper's table.

Every `record` call adds (or replaces) one run's row and regenerates the Markdown from all runs, so
evaluating the six variants under six `--name`s yields the full Table 1 (GTZAN accuracy), Table 2 (MTG-Jamendo
macro ROC-AUC / PR-AUC per category) and Table 3 (Melon NDCG@100 / MAP@100). Each table ends with the latest
random baseline per embedding dimension (GTZAN, tagging) or the latest random ranking (playlists), and notes
the runs that skipped files.
"""

from __future__ import annotations

import json
import os

from cmir_tf.evaluation.files import atomic_write

TASKS = ("gtzan", "jamendo", "playlist")
TITLES = {
    "gtzan": "Table 1: GTZAN genre classification (fault-filtered split), accuracy, mean ± std over repeats",
    "jamendo": "Table 2: MTG-Jamendo auto-tagging (split 0), macro ROC-AUC / PR-AUC, mean ± std over repeats",
    "playlist": "Table 3: Melon playlist continuation, top 100",
}
CATEGORY_NAMES = {"genre": "Genre", "instrument": "Instrument", "moodtheme": "Mood/theme"}


def _mean_std(summary: dict) -> str:
    return f"{summary['mean']:.3f} ± {summary['std']:.3f}"


def _cells(task: str, result: dict) -> list[str]:
    """A run's (or random baseline's) metric cells, in column order."""
    if task == "gtzan":
        return [_mean_std(result["accuracy"])]
    if task == "jamendo":
        categories = result.get("categories", result)
        return [_mean_std(categories[c][m]) if c in categories else "–"
                for c in CATEGORY_NAMES for m in ("roc_auc", "pr_auc")]
    return [f"{result['ndcg@100']:.4f}", f"{result['map@100']:.4f}"]


def _header(task: str) -> list[str]:
    if task == "gtzan":
        return ["Model", "Accuracy"]
    if task == "jamendo":
        return ["Model"] + [f"{name} {m}" for name in CATEGORY_NAMES.values() for m in ("ROC-AUC", "PR-AUC")]
    return ["Model", "NDCG@100", "MAP@100"]


def markdown_table(task: str, runs: dict[str, dict]) -> str:
    """The Markdown table of `runs` ({name: result dict}), one row per run, then the random baselines."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    header = _header(task)
    title = TITLES[task]
    playlist_files = sorted({", ".join(r["playlists"]) for r in runs.values() if "playlists" in r})
    if playlist_files:
        title += f" (playlists of {' / '.join(playlist_files)})"
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    baselines: dict[str, dict] = {}  # label -> latest random baseline
    for name, result in runs.items():
        lines.append("| " + " | ".join([name] + _cells(task, result)) + " |")
        if "random_baseline" in result:
            label = "Random ranking" if task == "playlist" else f"Random embeddings ({result['dim']}-d)"
            baselines[label] = result["random_baseline"]
    for label, baseline in sorted(baselines.items()):
        lines.append("| " + " | ".join([label] + _cells(task, baseline)) + " |")
    notes = [f"- {name}: skipped {r['skipped']['missing']} missing and {r['skipped']['undecodable']} "
             f"undecodable files" for name, r in runs.items()
             if r.get("skipped", {}).get("missing") or r.get("skipped", {}).get("undecodable")]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def record(results_dir: str, task: str, name: str, result: dict) -> tuple[str, str]:
    """Stores `result` as run `name` in `<task>.json` and rewrites `<task>.md`; returns both paths."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    json_path = os.path.join(results_dir, f"{task}.json")
    md_path = os.path.join(results_dir, f"{task}.md")
    runs = load_runs(results_dir, task)
    runs[name] = result
    atomic_write(json_path, lambda f: f.write(json.dumps(runs, indent=2).encode()))
    atomic_write(md_path, lambda f: f.write(markdown_table(task, runs).encode()))
    return json_path, md_path


def load_runs(results_dir: str, task: str) -> dict[str, dict]:
    """{name: result} of `<task>.json`, empty if absent."""
    path = os.path.join(results_dir, f"{task}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
