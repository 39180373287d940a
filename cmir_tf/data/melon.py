"""Reading the Melon Playlist Dataset as distributed (JSON metadata and `arena_mel/*.npy`).

Layout: `song_meta.json`, `genre_gn_all.json`, `train.json` (and optionally `val.json`, `test.json`),
`arena_mel/<id // 1000>/<id>.npy` holding a (48 mel bands, T frames) log-mel spectrogram in dB.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from cmir_tf import errors
from cmir_tf.constants import CHUNK_FRAMES, MAX_GENRES, N_MELS

PLAYLIST_FILES = ("train.json", "val.json", "test.json")
# `--playlists`: "train" is the paper's protocol (the authors' `create_dataset.py` reads train.json alone: the
# LightFM matrix and the evaluation playlists); "all" adds the partial challenge playlists of val/test.json.
PLAYLIST_CHOICES = {"train": PLAYLIST_FILES[:1], "all": PLAYLIST_FILES}
GENRE_LEVELS = ("top", "detailed", "both")


class MelonInputError(errors.InputError, ValueError):
    """An input file of the dataset that cannot be used as it is; the message names the file."""


class BadMelError(errors.InputError, ValueError):
    """A mel file that cannot be used; `reason` is the report key (e.g. "corrupt_npy")."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def load_json(path: str) -> Any:
    """Parsed JSON of `path`; `MelonInputError` naming the file when it is missing, unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MelonInputError(f"{path}: {e}") from e


def mel_path(melon_dir: str, song_id: int) -> str:
    """Path of one song's mel: `arena_mel/<id // 1000>/<id>.npy`."""
    return os.path.join(melon_dir, "arena_mel", str(song_id // 1000), f"{song_id}.npy")


def song_genres(song: dict, level: str, max_genres: int = MAX_GENRES) -> list[str]:
    """Genre codes of one `song_meta.json` entry, in file order, de-duplicated, at most `max_genres`.

    `level`: "top" (`song_gn_gnr_basket`, GNxx00 codes), "detailed" (`song_gn_dtl_gnr_basket`, GNxxyy) or
    "both" (top codes first, then detailed ones). Entries that are not strings are left out
    (`bad_genre_codes` lists them).
    """
    if level not in GENRE_LEVELS:
        raise ValueError(f"genre level must be one of {GENRE_LEVELS}, got {level!r}")
    top, detailed = _baskets(song)
    codes = {"top": top, "detailed": detailed, "both": [*top, *detailed]}[level]
    return list(dict.fromkeys(c for c in codes if isinstance(c, str)))[:max_genres]


def _baskets(song: dict) -> tuple[list, list]:
    top, detailed = song.get("song_gn_gnr_basket") or [], song.get("song_gn_dtl_gnr_basket") or []
    return (top if isinstance(top, list) else [top]), (detailed if isinstance(detailed, list) else [detailed])


def bad_genre_codes(song: dict) -> list:
    """The entries of a song's genre baskets that are not genre code strings (ignored by `song_genres`)."""
    top, detailed = _baskets(song)
    return [c for c in (*top, *detailed) if not isinstance(c, str)]


def load_playlists(melon_dir: str, which: str = "train") -> list[dict]:
    """The playlists of `PLAYLIST_CHOICES[which]`: `train.json` alone (the paper's) or with `val.json` and
    `test.json` (those present). `train.json` is required; each playlist must hold a `songs` list."""
    if which not in PLAYLIST_CHOICES:
        raise ValueError(f"playlists must be one of {sorted(PLAYLIST_CHOICES)}, got {which!r}")
    return read_playlists(melon_dir, PLAYLIST_CHOICES[which])


def read_playlists(melon_dir: str, files: Sequence[str]) -> list[dict]:
    """The playlists of the Melon playlist `files` present in `melon_dir` (e.g. those a prepared folder was
    made from, `PreparedFolder.playlist_files()`); `train.json` is required."""
    if not os.path.exists(os.path.join(melon_dir, "train.json")):
        raise MelonInputError(f"{melon_dir} has no train.json: not a Melon Playlist Dataset directory")
    playlists = []
    for name in files:
        path = os.path.join(melon_dir, name)
        if not os.path.exists(path):
            continue
        loaded = load_json(path)
        bad = next((i for i, p in enumerate(loaded) if not isinstance(p, dict) or not isinstance(p.get("songs"), list)),
                   None) if isinstance(loaded, list) else -1
        if bad is not None:
            where = "the file is not a list" if bad < 0 else f"entry {bad} has no 'songs' list"
            raise MelonInputError(f"{path}: not a Melon playlist file ({where})")
        playlists.extend(loaded)
    return playlists


def playlist_sentences(playlists: Sequence[dict], song_codes: dict[int, list[str]]) -> Iterator[list[str]]:
    """Per playlist, the genre codes of its songs concatenated (songs unknown to `song_codes` skipped)."""
    for playlist in playlists:
        sentence = [code for song in playlist["songs"] for code in song_codes.get(song, ())]
        if sentence:
            yield sentence


def load_mel(path: str, short: str = "pad") -> tuple[np.ndarray, bool]:
    """Loads and checks one mel file.

    Args:
      path: a `.npy` file holding a (48, T) array of any float dtype, dB.
      short: what to do with T < 256 frames: "pad" (repeat the minimum value up to 256 frames) or "drop".

    Returns:
      (mel (T, 48) float32 time-major in dB, padded) where `padded` says a short mel was padded.

    Raises:
      BadMelError with reason "missing_npy", "corrupt_npy", "bad_shape", "non_finite", "all_zero" or
      "short_dropped".
    """
    if short not in ("pad", "drop"):
        raise ValueError(f"short must be 'pad' or 'drop', got {short!r}")
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise BadMelError("missing_npy", str(e)) from e
    except (OSError, ValueError, EOFError) as e:
        raise BadMelError("corrupt_npy", f"{path}: {e}") from e
    if array.ndim != 2 or array.shape[0] != N_MELS or not np.issubdtype(array.dtype, np.floating):
        raise BadMelError("bad_shape", f"{path}: {array.shape} {array.dtype}, expected (48, T) float")
    mel = np.ascontiguousarray(array.T, dtype=np.float32)
    if not np.isfinite(mel).all():
        raise BadMelError("non_finite", path)
    if not mel.any():
        raise BadMelError("all_zero", path)
    if mel.shape[0] >= CHUNK_FRAMES:
        return mel, False
    if short == "drop":
        raise BadMelError("short_dropped", f"{path}: {mel.shape[0]} < {CHUNK_FRAMES} frames")
    pad = np.full((CHUNK_FRAMES - mel.shape[0], N_MELS), mel.min(), np.float32)
    return np.concatenate([mel, pad]), True
