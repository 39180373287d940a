"""The claims of the paper's Results section, checked on the ablation's numbers over training seeds.

Each claim compares two rows of `ablation.json` on one metric: "A beats B". With the per-seed means of each
row (`summary.combine`'s `per_seed`), the difference is mean(A) - mean(B) and its standard error
sqrt(s_A^2 / n_A + s_B^2 / n_B) (s: sample std over seeds, ddof = 1). The verdict:

  within noise    |difference| <= 2 standard errors (so also no difference at all)
  holds           difference > 2 standard errors, in the claimed direction
  does not hold   difference < -2 standard errors
  too few seeds   a row has fewer than 2 seeds (no standard error)

"X is best on M" compares X with the runner-up among the paper's other variants on M. "Contrastive beats its
baseline on MTG-Jamendo in almost all cases" is checked per (pair, category) and summarised: holds when at most
one of the cells fails to hold, does not hold when more than one does not hold, within noise otherwise.
Intra-modal and playlist-tag variants are each compared with ContrCF-G on every metric of Tables 1-3. Where the
paper printed both numbers, its own difference is shown beside (`paper.py`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cmir_tf.constants import INTRA_MODAL_VARIANTS, TAG_VARIANTS, VARIANTS
from cmir_tf.evaluation import paper

PAIRS = (("contr_g", "bline_g"), ("contr_cf", "bline_cf"), ("contr_cf_g", "bline_cf_g"))
# (task, keys into the summary, label)
GTZAN = ("gtzan", ("accuracy",), "GTZAN accuracy")
JAMENDO = {c: ("jamendo", (c, "roc_auc"), f"MTG-Jamendo {c} ROC-AUC") for c in paper.JAMENDO_CATEGORIES}
PLAYLIST = {m: ("playlist", (m,), f"Melon {m.upper()}") for m in ("ndcg@100", "map@100")}
METRICS = (GTZAN, *JAMENDO.values(), *PLAYLIST.values())


@dataclasses.dataclass(frozen=True)
class Check:
    """One comparison: `row` beats `other` on `metric` (None fields where a row lacks the metric)."""

    claim: str
    metric: str
    row: str
    other: str
    difference: float | None
    standard_error: float | None
    seeds: tuple[int, int]
    verdict: str
    paper_difference: float | None


def _per_seed(summaries: dict, row: str, task: str, keys: tuple[str, ...]) -> list[float] | None:
    node = summaries.get(row, {}).get(task)
    for key in keys:
        node = None if node is None else node.get(key)
    return None if node is None else list(node["per_seed"])


def _paper_value(row: str, task: str, keys: tuple[str, ...]) -> float | None:
    if task == "jamendo":
        value = paper.published(task, row, keys[0], keys[1])
    else:
        value = paper.published(task, row, metric=keys[0])
    return value[0] if isinstance(value, tuple) else value


def verdict(difference: float, standard_error: float | None) -> str:
    """The verdict of a difference in the claimed direction (module docstring)."""
    if standard_error is None:
        return "too few seeds"
    if abs(difference) <= 2 * standard_error:
        return "within noise"
    return "holds" if difference > 0 else "does not hold"


def compare(summaries: dict, claim: str, row: str, other: str, metric: tuple) -> Check:
    """`row` beats `other` on `metric` (one of `METRICS`)."""
    task, keys, label = metric
    a, b = _per_seed(summaries, row, task, keys), _per_seed(summaries, other, task, keys)
    if a is None or b is None:
        return Check(claim, label, row, other, None, None, (len(a or ()), len(b or ())), "not measured", None)
    difference = float(np.mean(a) - np.mean(b))
    standard_error = (float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
                      if min(len(a), len(b)) >= 2 else None)
    paper_a, paper_b = _paper_value(row, task, keys), _paper_value(other, task, keys)
    paper_difference = None if paper_a is None or paper_b is None else paper_a - paper_b
    return Check(claim, label, row, other, difference, standard_error, (len(a), len(b)),
                 verdict(difference, standard_error), paper_difference)


def best(summaries: dict, claim: str, row: str, metric: tuple) -> Check:
    """`row` beats the best other paper variant on `metric` (the runner-up by mean over seeds)."""
    task, keys, _ = metric
    others = [(np.mean(v), r) for r in VARIANTS if r != row and (v := _per_seed(summaries, r, task, keys))]
    runner_up = max(others)[1] if others else "none"
    return compare(summaries, claim, row, runner_up, metric)


def summarise(claim: str, checks: list[Check]) -> Check:
    """One verdict for "in almost all cases" over `checks` (module docstring)."""
    counts = {v: sum(c.verdict == v for c in checks) for v in ("holds", "does not hold", "within noise")}
    measured = sum(counts.values())
    if not measured:
        result = "not measured"
    elif counts["holds"] >= measured - 1:
        result = "holds"
    elif counts["does not hold"] > 1:
        result = "does not hold"
    else:
        result = "within noise"
    text = f"{counts['holds']} hold, {counts['within noise']} within noise, {counts['does not hold']} do not hold"
    return Check(claim, f"{len(checks)} cells ({text})", "contrastive", "baseline", None, None,
                 (0, 0), result, None)


def check_claims(summaries: dict) -> list[Check]:
    """Every claim of the paper's Results section, then the intra-modal and tag variants against ContrCF-G."""
    checks = [compare(summaries, "contrastive beats its baseline on GTZAN", a, b, GTZAN) for a, b in PAIRS]
    jamendo = [compare(summaries, "contrastive beats its baseline on MTG-Jamendo", a, b, m)
               for a, b in PAIRS for m in JAMENDO.values()]
    checks += jamendo + [summarise("contrastive beats its baseline on MTG-Jamendo in almost all cases", jamendo)]
    checks += [compare(summaries, "contrastive beats its baseline on playlists", a, b, m)
               for a, b in PAIRS for m in PLAYLIST.values()]
    checks.append(best(summaries, "ContrG is best on GTZAN", "contr_g", GTZAN))
    checks += [best(summaries, "ContrCF-G is best on playlists", "contr_cf_g", m) for m in PLAYLIST.values()]
    checks.append(best(summaries, "ContrCF-G is best on mood/theme", "contr_cf_g", JAMENDO["moodtheme"]))
    checks += [compare(summaries, f"{paper.DISPLAY_NAMES[v]} beats ContrCF-G", v, "contr_cf_g", m)
               for v in (*INTRA_MODAL_VARIANTS, *TAG_VARIANTS) if v in summaries for m in METRICS]
    return checks


def _number(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def markdown(checks: list[Check], seeds: int) -> str:
    """claims.md: one row per check."""
    name = lambda r: paper.DISPLAY_NAMES.get(r, r)  # noqa: E731
    lines = [
        "### The paper's claims on this run",
        "",
        f"Difference = mean over {seeds} training seed(s) of the first row minus the second; within noise: under "
        "2 standard errors over seeds; paper: the same difference in the paper's Tables 1-3.",
        "",
        "| Claim | Metric | Compared | Difference | 2 SE | Verdict | Paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        two_se = None if c.standard_error is None else 2 * c.standard_error
        lines.append(f"| {c.claim} | {c.metric} | {name(c.row)} vs {name(c.other)} | {_number(c.difference)} | "
                     f"{'–' if two_se is None else f'{two_se:.4f}'} | {c.verdict} | {_number(c.paper_difference)} |")
    return "\n".join(lines) + "\n"
