"""A catalogue's Melon-format view (`<output_dir>/catalogue/`), which prepare's stages then read as Melon:

  song_meta.json     one entry per kept track: `id` (0.. in path order), `path`, `song_name`,
                     `song_gn_gnr_basket` (its normalised genre words: the "codes" of the genre vocabulary),
                     `artist_id_basket` / `artist_name_basket` (the normalised / given artist), `album_name`
  genre_gn_all.json  genre word -> its most used spelling (the names `cmir-search` prints)
  train.json         the playlists with a kept track: `id`, `plylst_title`, `tags` (given, or the title's
                     words), `songs` (track ids)
  arena_mel/<id // 1000>/<id>.npy   the track's cached mel (`mels.py`), hard-linked (copied across file systems)

Which tracks are kept: those with at least one genre and a mel; a track with the same mel as an earlier one
(same decoded audio under another path, whatever its container or tags: transcodes are not detected) is a
duplicate, dropped, and its playlist entries count for the earlier one. Tracks without a genre get no record
(a record needs a genre): they are dropped, counted as `no_genre`, and never decoded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

from absl import logging

from cmir_tf.constants import MAX_GENRES
from cmir_tf.data import melon
from cmir_tf.data.atomic import atomic_path, write_json
from cmir_tf.data.catalogue import mels
from cmir_tf.data.catalogue.mess import Mess
from cmir_tf.data.catalogue.source import Catalogue
from cmir_tf.data.catalogue.words import display_names, normalise_word, title_words
from cmir_tf.data.prepared import PreparedFolder


@dataclasses.dataclass(frozen=True)
class CatalogueView:
    """The Melon-format folder written for a catalogue, and the catalogue's part of report.json."""

    path: str
    report: dict


def _link(source: str, target: str) -> None:
    """`target` becomes the file `source` (a hard link, or a copy where links fail), atomically."""
    if os.path.exists(target) and os.path.samefile(source, target):
        return
    with atomic_path(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def _genres(catalogue: Catalogue) -> dict[str, list[str]]:
    """{track path: its distinct normalised genre words, at most 10, in order}."""
    return {t.path: list(dict.fromkeys(w for w in map(normalise_word, t.genres) if w))[:MAX_GENRES]
            for t in catalogue.tracks}


def _mels(catalogue: Catalogue, wanted: list[str], cache_dir: str, workers: int,
          mess: Mess) -> tuple[dict[str, str], dict[str, str], dict]:
    """Computes (or finds cached) the mels of `wanted` paths; returns ({kept path: cache file}, {duplicate path:
    the kept path it repeats}, mel statistics)."""
    listed = {path: (size, mtime) for path, size, mtime in catalogue.listing}
    jobs = [mels.MelJob(os.path.join(catalogue.audio_dir, p), mels.cache_path(cache_dir, mels.cache_key(p, *listed[p])))
            for p in wanted]
    kept, duplicates, by_content = {}, {}, {}
    results = mels.compute_all(jobs, workers)
    for path, result in zip(wanted, results):
        if result.error:
            mess.add(result.error[0], path)
        elif result.content in by_content:
            duplicates[path] = by_content[result.content]
            mess.add("duplicate_content", f"{path} = {by_content[result.content]}")
        else:
            by_content[result.content] = path
            kept[path] = result.job.cache_path
    stats = {"computed": sum(not r.error and not r.cached for r in results), "cached": sum(r.cached for r in results),
             "window": f"{mels.WINDOW_START_S:g}-{mels.WINDOW_START_S + mels.WINDOW_S:g} s (docs/catalogue.md)",
             "cache_dir": os.path.abspath(cache_dir)}
    return kept, duplicates, stats


def write_view(catalogue: Catalogue, output_dir: str, cache_dir: str | None, workers: int) -> CatalogueView:
    """Writes (or rewrites, unchanged) the catalogue's Melon-format view in `output_dir`; returns it and the
    catalogue's report (every skipped item by reason, the first few named), logged in one line."""
    folder = PreparedFolder(output_dir)
    mess = catalogue.mess
    genres = _genres(catalogue)
    for path in sorted(p for p, words in genres.items() if not words):
        mess.add("no_genre", path)
    kept, duplicates, mel_stats = _mels(catalogue, [p for p, words in genres.items() if words],
                                        cache_dir or folder.mel_cache_path, workers, mess)
    ids = {path: i for i, path in enumerate(sorted(kept))}
    by_path = {t.path: t for t in catalogue.tracks}
    meta = []
    for path, song in ids.items():
        track = by_path[path]
        artist = normalise_word(track.artist)
        meta.append({"id": song, "path": path, "song_name": os.path.basename(path),
                     "song_gn_gnr_basket": genres[path], "song_gn_dtl_gnr_basket": [],
                     "artist_id_basket": [artist] if artist else [],
                     "artist_name_basket": [track.artist] if artist else [], "album_name": track.album})
        _link(kept[path], melon.mel_path(folder.catalogue_path, song))
    playlists = []
    for playlist in catalogue.playlists:
        songs = list(dict.fromkeys(ids[duplicates.get(p, p)] for p in playlist.tracks if duplicates.get(p, p) in ids))
        dropped = [p for p in playlist.tracks if duplicates.get(p, p) not in ids]
        for path in dropped:
            mess.add("entry_of_dropped_track", f"{playlist.title}: {path}")
        if not songs:
            mess.add("empty_playlist", playlist.title)
            continue
        tags = playlist.tags if playlist.tags is not None else title_words(playlist.title)
        playlists.append({"id": len(playlists), "plylst_title": playlist.title, "tags": tags, "songs": songs})
    names = display_names(g for t in catalogue.tracks for g in t.genres)
    write_json(os.path.join(folder.catalogue_path, "genre_gn_all.json"),
               {code: names[code] for code in sorted({w for words in genres.values() for w in words})})
    write_json(os.path.join(folder.catalogue_path, "train.json"), playlists)
    write_json(os.path.join(folder.catalogue_path, "song_meta.json"), meta)  # last: the view is complete
    report = {"audio_files": len(catalogue.listing), "tracks": len(catalogue.tracks), "kept": len(meta),
              "playlists": {"read": len(catalogue.playlists), "kept": len(playlists)}, "mels": mel_stats,
              "skipped": mess.as_dict()}
    logging.info("catalogue: %d audio files, %d tracks, %d kept; %d of %d playlists kept; mels: %d computed, %d "
                 "cached; skipped: %s", len(catalogue.listing), len(catalogue.tracks), len(meta), len(playlists),
                 len(catalogue.playlists), mel_stats["computed"], mel_stats["cached"], mess.text())
    return CatalogueView(folder.catalogue_path, report)
