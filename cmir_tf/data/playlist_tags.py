"""Playlist tags (Melon's `tags`): normalised, a vocabulary, a word2vec, and per song a bag of tf-idf tags.

Melon's training playlists carry free tags (about 29,000 distinct: moods, situations, genres such as 드라이브,
새벽, 휴식, 운동, 카페, 발라드). Prepare turns them into a fourth modality, from the training playlists only:

- a tag is NFC-normalised, stripped and lower-cased (Korean is unchanged); non-strings, empty and
  whitespace-only tags and tags over `MAX_TAG_CHARS` characters are dropped and counted by reason;
- the vocabulary holds the tags used by at least `min_count` playlists, ids 1..V by descending playlist count,
  ties by the tag's code points (0 is the padding);
- a song's bag is its at most `MAX_TAGS` tags ranked by tf-idf over playlists: tf = how many of the song's
  playlists carry the tag, idf = ln((1 + P) / (1 + df)) + 1 with P the playlists with a tag in the vocabulary
  and df those carrying this one (the smoothed idf of scikit-learn's `TfidfTransformer`), ties by tag id. A
  tag that a song's playlists share is ranked above one of a single playlist, and a rare, specific tag above a
  frequent one of the same count.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from cmir_tf.constants import MAX_TAGS

MAX_TAG_CHARS = 100  # longer "tags" are pasted text, not tags (Melon's longest real tags are about 30)
ODD_TAG_REASONS = ("not_a_string", "empty", "whitespace_only", "too_long")


def normalise_tag(tag: object) -> tuple[str | None, str | None]:
    """(the normalised tag, None), or (None, the reason it is dropped: one of `ODD_TAG_REASONS`)."""
    if not isinstance(tag, str):
        return None, "not_a_string"
    if not tag:
        return None, "empty"
    cleaned = unicodedata.normalize("NFC", tag).strip().lower()
    if not cleaned:
        return None, "whitespace_only"
    if len(cleaned) > MAX_TAG_CHARS:
        return None, "too_long"
    return cleaned, None


def tags_of(playlist: dict, odd: Counter | None = None) -> list[str]:
    """A Melon playlist's distinct normalised tags in file order; dropped ones counted in `odd` (by reason,
    and "tags_not_a_list" for a `tags` field that is not a list)."""
    raw = playlist.get("tags")
    if raw is None:
        return []
    if not isinstance(raw, list):
        if odd is not None:
            odd["tags_not_a_list"] += 1
        return []
    kept = []
    for tag in raw:
        cleaned, reason = normalise_tag(tag)
        if reason is not None and odd is not None:
            odd[reason] += 1
        if cleaned is not None:
            kept.append(cleaned)
    return list(dict.fromkeys(kept))


def query_words(text: str) -> list[str]:
    """The distinct words of a free-text tag query (split on whitespace), normalised as tags are, in order."""
    return list(dict.fromkeys(tag for tag, _ in map(normalise_tag, text.split()) if tag is not None))


def tag_vocabulary(tag_lists: Sequence[Sequence[str]], min_count: int) -> dict[str, int]:
    """{tag: id 1..V} of the tags in at least `min_count` of the playlists' (distinct) tag lists, ids by
    descending count, ties by the tag."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counts = Counter(tag for tags in tag_lists for tag in set(tags))
    kept = sorted((tag for tag, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    return {tag: i + 1 for i, tag in enumerate(kept)}


def song_tag_bags(song_lists: Sequence[Sequence[int]], tag_lists: Sequence[Sequence[str]], vocab: dict[str, int],
                  songs: set[int], max_tags: int = MAX_TAGS) -> dict[int, list[int]]:
    """Per song of `songs`, its at most `max_tags` tag ids ranked by tf-idf (module docstring), best first.

    Args:
      song_lists: per playlist, its song ids; tag_lists: per playlist, its normalised tags (same order).
      vocab: `tag_vocabulary`'s output; tags outside it are ignored.
      songs: the songs to give a bag (others in the playlists are ignored).

    Returns:
      {song id: [tag ids]}; songs whose playlists carry no vocabulary tag are absent.
    """
    tag_ids = [np.unique([vocab[t] for t in tags if t in vocab]).astype(np.int64) for tags in tag_lists]
    with_tags = [p for p, ids in enumerate(tag_ids) if len(ids)]
    if not with_tags or not vocab:
        return {}
    wanted = np.fromiter(songs, dtype=np.int64)
    per_playlist = [np.intersect1d(np.asarray(song_lists[p], dtype=np.int64), wanted) for p in with_tags]
    n_songs = np.array([len(s) for s in per_playlist])
    n_tags = np.array([len(tag_ids[p]) for p in with_tags])
    if not n_songs.sum():
        return {}
    # every (song, tag) pair of every playlist: each playlist's songs crossed with its tags
    song = np.concatenate([np.repeat(s, n) for s, n in zip(per_playlist, n_tags)])
    tag = np.concatenate([np.tile(tag_ids[p], n) for p, n in zip(with_tags, n_songs)])
    df = np.bincount(np.concatenate([tag_ids[p] for p in with_tags]), minlength=len(vocab) + 1)
    idf = np.log((1 + len(with_tags)) / (1 + np.maximum(df, 1))) + 1
    pairs, tf = np.unique(song * (len(vocab) + 1) + tag, return_counts=True)
    song, tag = pairs // (len(vocab) + 1), pairs % (len(vocab) + 1)
    order = np.lexsort((tag, -tf * idf[tag], song))  # per song: best score first, ties by tag id
    song, tag = song[order], tag[order]
    starts = np.flatnonzero(np.r_[True, song[1:] != song[:-1]])
    rank = np.arange(len(song)) - np.repeat(starts, np.diff(np.r_[starts, len(song)]))
    keep = rank < max_tags
    bags: dict[int, list[int]] = {}
    for s, t in zip(song[keep].tolist(), tag[keep].tolist()):
        bags.setdefault(s, []).append(t)
    return bags
