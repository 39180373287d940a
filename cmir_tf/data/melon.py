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

from cmir_tf.constants import CHUNK_FRAMES, MAX_GENRES, N_MELS

PLAYLIST_FILES = ("train.json", "val.json", "test.json")
GENRE_LEVELS = ("top", "detailed", "both")


class BadMelError(ValueError):
    """A mel file that cannot be used; `reason` is the report key (e.g. "corrupt_npy")."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def load_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def mel_path(melon_dir: str, song_id: int) -> str:
    """Path of one song's mel: `arena_mel/<id // 1000>/<id>.npy`."""
    return os.path.join(melon_dir, "arena_mel", str(song_id // 1000), f"{song_id}.npy")


def song_genres(song: dict, level: str, max_genres: int = MAX_GENRES) -> list[str]:
    """Genre codes of one `song_meta.json` entry, in file order, de-duplicated, at most `max_genres`.

    `level`: "top" (`song_gn_gnr_basket`, GNxx00 codes), "detailed" (`song_gn_dtl_gnr_basket`, GNxxyy) or
    "both" (top codes first, then detailed ones).
    """
    if level not in GENRE_LEVELS:
        raise ValueError(f"genre level must be one of {GENRE_LEVELS}, got {level!r}")
    top = song.get("song_gn_gnr_basket") or []
    detailed = song.get("song_gn_dtl_gnr_basket") or []
    codes = {"top": top, "detailed": detailed, "both": [*top, *detailed]}[level]
    return list(dict.fromkeys(codes))[:max_genres]


def load_playlists(melon_dir: str) -> list[dict]:
    """All playlists of `train.json`, `val.json` and `test.json` (those present); `train.json` is required."""
    if not os.path.exists(os.path.join(melon_dir, "train.json")):
        raise FileNotFoundError(f"{melon_dir} has no train.json: not a Melon Playlist Dataset directory")
    playlists = []
    for name in PLAYLIST_FILES:
        path = os.path.join(melon_dir, name)
        if os.path.exists(path):
            playlists.extend(load_json(path))
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
