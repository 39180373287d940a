"""80/10/10 song split by multilabel iterative stratification on genres (Sechidis et al. 2011)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

SPLITS = ("train", "validation", "test")


def _stratified_halves(labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    return next(splitter.split(np.zeros((labels.shape[0], 1)), labels))


def stratified_split(
    song_ids: Sequence[int],
    genres: Sequence[Sequence[str]],
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> dict[str, list[int]]:
    """Splits songs so that every genre code keeps about the same share in each split.

    Args:
      song_ids: n song ids.
      genres: n lists of genre codes (multilabel targets), aligned with `song_ids`.
      seed: random state of both stratified cuts (train | rest, then validation | test).
      fractions: (train, validation, test) shares, summing to 1.

    Returns:
      {"train"|"validation"|"test": sorted song ids}. A split that stratification leaves empty (a few dozen
      songs, as in a small catalogue) gets one training song drawn with `seed`, so that each has one.
    """
    if len(song_ids) != len(genres):
        raise ValueError(f"{len(song_ids)} song ids but {len(genres)} genre lists")
    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    codes = sorted({code for song in genres for code in song})
    column = {code: j for j, code in enumerate(codes)}
    labels = np.zeros((len(song_ids), len(codes)), np.uint8)
    for i, song in enumerate(genres):
        labels[i, [column[code] for code in song]] = 1
    ids = np.asarray(song_ids, np.int64)
    train, rest = _stratified_halves(labels, 1.0 - fractions[0], seed)
    validation, test = _stratified_halves(labels[rest], fractions[2] / (fractions[1] + fractions[2]), seed + 1)
    parts = [ids[train].tolist(), ids[rest][validation].tolist(), ids[rest][test].tolist()]
    rng = np.random.default_rng(seed)
    for part in parts[1:]:
        if not part and len(parts[0]) > 1:
            part.append(parts[0].pop(int(rng.integers(len(parts[0])))))
    return {name: sorted(part) for name, part in zip(SPLITS, parts)}


def fingerprint(song_ids: Sequence[int]) -> str:
    """16 hex digits of the sha256 of a split's sorted song ids: equal exactly when the song sets are equal."""
    text = ",".join(str(s) for s in sorted(int(s) for s in song_ids))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
