"""Choosing the songs to prepare from `song_meta.json`; every song or code left out is counted by reason."""

from __future__ import annotations

import os
from collections import Counter

from tqdm import tqdm

from cmir_tf.data import melon

EXAMPLES = 20  # offending ids or codes listed per reason


def is_song_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def select_songs(meta: list, melon_dir: str, genre_level: str, genre_names: dict | None) -> dict:
    """Songs with a valid id, genre codes and a mel file.

    Args:
      meta: parsed `song_meta.json` (a list of song dicts).
      melon_dir: where `arena_mel/` is.
      genre_level: `melon.GENRE_LEVELS` entry.
      genre_names: parsed `genre_gn_all.json` (code -> name), or None when the file is absent.

    Returns:
      {"songs": {str(id): [codes]}, "dropped": {"bad_id", "duplicate_id", "no_genres", "missing_npy": count},
       "examples": {reason: [ids]}, "genre_codes": {"not_strings": entries ignored, "unknown": codes absent
       from genre_gn_all.json (kept), "unknown_songs": songs with one, "unknown_examples": [codes]}}.
    """
    if not isinstance(meta, list):
        raise melon.MelonInputError(f"{melon_dir}/song_meta.json: expected a list of songs, got {type(meta).__name__}")
    songs: dict[str, list[str]] = {}
    dropped: Counter = Counter({"bad_id": 0, "duplicate_id": 0, "no_genres": 0, "missing_npy": 0})
    examples: dict[str, list] = {}
    not_strings, unknown, unknown_songs = 0, Counter(), 0

    def drop(reason: str, song_id: object) -> None:
        dropped[reason] += 1
        if len(examples.setdefault(reason, [])) < EXAMPLES:
            examples[reason].append(song_id if isinstance(song_id, (int, str)) else repr(song_id))

    seen = set()
    for song in tqdm(meta, desc="select songs", unit="song"):
        song_id = song.get("id") if isinstance(song, dict) else None
        if not is_song_id(song_id):
            drop("bad_id", song_id)
            continue
        if song_id in seen:
            drop("duplicate_id", song_id)  # the first entry is kept
            continue
        seen.add(song_id)
        not_strings += len(melon.bad_genre_codes(song))
        codes = melon.song_genres(song, genre_level)
        if genre_names is not None:
            missing = [c for c in codes if c not in genre_names]
            unknown.update(missing)
            unknown_songs += bool(missing)
        if not codes:
            drop("no_genres", song_id)
        elif not os.path.exists(melon.mel_path(melon_dir, song_id)):
            drop("missing_npy", song_id)
        else:
            songs[str(song_id)] = codes
    return {
        "songs": songs,
        "dropped": dict(dropped),
        "examples": examples,
        "genre_codes": {
            "not_strings": not_strings,
            "unknown": len(unknown),
            "unknown_songs": unknown_songs,
            "unknown_examples": sorted(unknown)[:EXAMPLES],
        },
    }
