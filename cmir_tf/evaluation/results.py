"""Results files: `<results_dir>/<task>.json` keyed by run name, and `<task>.md`, the paper's table.

Every `record` call adds (or replaces) one run's row and regenerates the Markdown from all runs, so
evaluating the six variants under six `--name`s yields the full Table 1 (GTZAN accuracy, with the zero-shot
accuracy next to the probe's), Table 2 (MTG-Jamendo macro ROC-AUC / PR-AUC per category), Table 3 (Melon
NDCG@100 / MAP@100, the paper's audio-neighbour method, cold-start continuation from the LightFM vector and from
the playlist tags), Table 4 (zero-shot Melon genre tagging) and Table 5 (zero-shot playlist-tag retrieval). "–"
marks a number a model cannot give (no genre, CF or tag encoder). Each table ends with the latest random
baseline per embedding dimension (GTZAN, tagging) or the random ranking / scores (each column's latest), and
notes the runs that skipped files.

Tables 1-3 end each row with the paper's published values (`cmir_tf.evaluation.paper`, Ferraro et al. 2021)
for the run's paper row: a run named after one (`ContrCF-G`, `contr_cf_g`, `ContrCF-G-run2`); "not reported"
where the paper prints none (every PR-AUC, other names). The simulated columns keep their order and the paper's
columns follow them, GTZAN accuracy in both as a fraction (the paper's percent / 100); Table 1 ends with the
paper's three pre-trained reference embeddings.
"""

from __future__ import annotations

import json
import os

from cmir_tf import errors
from cmir_tf.data.atomic import atomic_write
from cmir_tf.evaluation import paper
from cmir_tf.evaluation.tags import MIN_TAG_POSITIVES

TASKS = ("gtzan", "jamendo", "playlist", "zero_shot", "tags")
TITLES = {
    "gtzan": "Table 1: GTZAN genre classification (fault-filtered split), accuracy as a fraction (the paper's "
             "percent / 100), mean ± std over repeats; zero-shot: no GTZAN training",
    "jamendo": "Table 2: MTG-Jamendo auto-tagging (split 0), macro ROC-AUC / PR-AUC, mean ± std over repeats",
    "playlist": "Table 3: Melon playlist continuation, top 100: the paper's audio neighbours of the seed songs, and "
                "cold-start (test songs' audio vs the playlist's LightFM vector, or vs its tags, in the joint space)",
    "zero_shot": "Table 4: zero-shot genre tagging of the Melon test split (no probe), macro over genre codes",
    "tags": "Table 5: zero-shot playlist-tag retrieval of the Melon test split (no probe: audio vs tag embeddings), "
            f"macro over the tags with at least {MIN_TAG_POSITIVES} positive test songs",
}
CATEGORY_NAMES = {"genre": "Genre", "instrument": "Instrument", "moodtheme": "Mood/theme"}
RANDOM_ROWS = {"playlist": "random"}  # the paper row of a task's random baseline, where the paper has one


def _mean_std(summary: dict) -> str:
    return f"{summary['mean']:.3f} ± {summary['std']:.3f}"


def _optional(result: dict | None, keys: tuple[str, ...]) -> list[str]:
    """`result[key]` formatted per key, or "–" cells where `result` lacks the numbers."""
    if not result or keys[0] not in result:
        return ["–"] * len(keys)
    return [f"{result[key]:.3f}" if key in ("accuracy", "roc_auc", "pr_auc") else f"{result[key]:.4f}"
            for key in keys]


def _cells(task: str, result: dict) -> list[str]:
    """A run's (or random baseline's) metric cells, in column order."""
    if task == "gtzan":
        return [_mean_std(result["accuracy"])] + _optional(result.get("zero_shot"), ("accuracy",))
    if task == "jamendo":
        categories = result.get("categories", result)
        return [_mean_std(categories[c][m]) if c in categories else "–"
                for c in CATEGORY_NAMES for m in ("roc_auc", "pr_auc")]
    if task in ("zero_shot", "tags"):
        return _optional(result, ("roc_auc", "pr_auc"))
    return [f"{result['ndcg@100']:.4f}", f"{result['map@100']:.4f}"] + [
        cell for column in ("cold_start", "tag_cold_start")
        for cell in _optional(result.get(column), ("ndcg@100", "map@100"))]


def _baseline(task: str, result: dict) -> dict:
    """The random baseline of a run, in the shape `_cells` reads."""
    baseline = dict(result["random_baseline"])
    if task == "gtzan" and "chance" in result.get("zero_shot", {}):
        baseline["zero_shot"] = {"accuracy": result["zero_shot"]["chance"]}
    if task == "playlist":
        baseline.update({column: result[column]["random_baseline"] for column in ("cold_start", "tag_cold_start")
                         if "random_baseline" in result.get(column, {})})
    return baseline


def _paper_cells(task: str, row: str) -> list[str]:
    """The paper's values for `row` (a run name or paper row), in `_paper_header`'s order; [] for Tables 4, 5."""
    if task == "gtzan":
        return [paper.cell(paper.published("gtzan", row))]
    if task == "jamendo":
        return [paper.cell(paper.published("jamendo", row, c, m))
                for c in CATEGORY_NAMES for m in ("roc_auc", "pr_auc")]
    if task == "playlist":
        return [paper.cell(paper.published("playlist", row, metric=m), 4) for m in ("ndcg@100", "map@100")]
    return []


def _paper_header(task: str) -> list[str]:
    if task == "gtzan":
        return ["Paper accuracy"]
    if task == "jamendo":
        return [f"Paper {CATEGORY_NAMES[c]} {m}" for c in CATEGORY_NAMES for m in ("ROC-AUC", "PR-AUC")]
    if task == "playlist":
        return ["Paper NDCG@100", "Paper MAP@100"]
    return []


def _header(task: str) -> list[str]:
    if task == "gtzan":
        columns = ["Model", "Accuracy", "Zero-shot accuracy"]
    elif task == "jamendo":
        columns = ["Model"] + [f"{name} {m}" for name in CATEGORY_NAMES.values() for m in ("ROC-AUC", "PR-AUC")]
    elif task in ("zero_shot", "tags"):
        columns = ["Model", "ROC-AUC", "PR-AUC"]
    else:
        columns = ["Model", "NDCG@100", "MAP@100", "Cold-start NDCG@100", "Cold-start MAP@100",
                   "Tag cold-start NDCG@100", "Tag cold-start MAP@100"]
    return columns + _paper_header(task)


def markdown_table(task: str, runs: dict[str, dict]) -> str:
    """The Markdown table of `runs` ({name: result dict}), one row per run, then the random baselines."""
    if task not in TASKS:
        raise errors.ConfigError(f"task must be one of {TASKS}, got {task!r}")
    header = _header(task)
    title = TITLES[task]
    playlist_files = sorted({", ".join(r["playlists"]) for r in runs.values() if "playlists" in r})
    if playlist_files:
        title += f" (playlists of {' / '.join(playlist_files)})"
    samples = sorted({f"{r['query_sample']['n']:,} of {r['query_sample']['of']:,}" for r in runs.values()
                      if r.get("query_sample")})
    if samples:
        title += f"; a seeded sample of {' / '.join(samples)} query playlists (a deviation from the paper: all)"
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    baselines: dict[str, dict] = {}  # label -> random baseline, each column's latest
    for name, result in runs.items():
        lines.append("| " + " | ".join([name] + _cells(task, result) + _paper_cells(task, name)) + " |")
        if "random_baseline" in result:
            label = {"playlist": "Random ranking", "zero_shot": "Random scores", "tags": "Random scores"}.get(
                task, f"Random embeddings ({result.get('dim')}-d)")
            baselines[label] = {**baselines.get(label, {}), **_baseline(task, result)}
    for label, baseline in sorted(baselines.items()):
        lines.append("| " + " | ".join([label] + _cells(task, baseline)
                                       + _paper_cells(task, RANDOM_ROWS.get(task, label))) + " |")
    if task == "gtzan":
        lines += [f"| {label} (paper's reference) | – | – | {paper.cell(value)} |"
                  for label, value in paper.GTZAN_LITERATURE.items()]
    notes = [f"- {name}: skipped {r['skipped']['missing']} missing and {r['skipped']['undecodable']} "
             f"undecodable files" for name, r in runs.items()
             if r.get("skipped", {}).get("missing") or r.get("skipped", {}).get("undecodable")]
    if task == "gtzan":
        notes += [_zero_shot_note(name, r["zero_shot"]) for name, r in runs.items() if "classes" in r.get("zero_shot", {})]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def _zero_shot_note(name: str, zero_shot: dict) -> str:
    """What a zero-shot GTZAN cell was measured over: its classes (the GTZAN genres whose Melon codes the model's
    vocabulary has), its chance level, and the genres left out."""
    classes = zero_shot["classes"]
    note = (f"- {name}: zero-shot accuracy over {len(classes)} of 10 GTZAN classes ({', '.join(classes)}), "
            f"chance {zero_shot['chance']:.2f}")
    return note + (f"; left out (no Melon code in the vocabulary): {', '.join(zero_shot['left_out'])}"
                   if zero_shot.get("left_out") else "")


def record(results_dir: str, task: str, name: str, result: dict) -> tuple[str, str]:
    """Stores `result` as run `name` in `<task>.json` and rewrites `<task>.md`; returns both paths."""
    if task not in TASKS:
        raise errors.ConfigError(f"task must be one of {TASKS}, got {task!r}")
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
