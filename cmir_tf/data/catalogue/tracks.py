"""A catalogue's tracks: the audio files under `--audio_dir` and their genres, artist and album, from a track
table (`--tracks`) or else from the files' own tags (ID3, Vorbis comments, MP4 atoms: mutagen)."""

from __future__ import annotations

import dataclasses
import os
import unicodedata

from cmir_tf.audio import AUDIO_EXTENSIONS
from cmir_tf.data.catalogue.mess import Mess
from cmir_tf.data.catalogue.table import read_rows
from cmir_tf.data.catalogue.words import split_words

TABLE_COLUMNS = {"path": ("path", "file", "filename")}
TABLE_OPTIONAL = {"genre": ("genre", "genres", "tags", "tag"), "artist": ("artist",), "album": ("album",)}


@dataclasses.dataclass(frozen=True)
class Track:
    """One audio file of the catalogue: `path` relative to the audio folder ("/"-separated), its genres as
    written (several allowed), artist and album ("" when unknown)."""

    path: str
    genres: tuple[str, ...]
    artist: str = ""
    album: str = ""


def scan_audio(audio_dir: str) -> list[tuple[str, int, int]]:
    """(relative path, size in bytes, mtime in ns) of every audio file below `audio_dir` (by extension,
    `cmir_tf.audio.AUDIO_EXTENSIONS`, any case), sorted by path."""
    found = []
    for folder, _, names in os.walk(audio_dir):
        for name in names:
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                path = os.path.join(folder, name)
                stat = os.stat(path)
                found.append((os.path.relpath(path, audio_dir).replace(os.sep, "/"), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


class PathIndex:
    """The audio files' relative paths, found by any Unicode form of their names: a table written on one system
    names "노래.mp3" in NFC, a file system (macOS) may store it in NFD."""

    def __init__(self, paths: list[str]):
        self._paths = {unicodedata.normalize("NFC", p): p for p in paths}

    def find(self, path: str | None) -> str | None:
        """The file's path as stored, or None when no file has this path."""
        return None if path is None else self._paths.get(unicodedata.normalize("NFC", path))


def relative_path(audio_dir: str, given: str, base: str | None = None) -> str | None:
    """A table or playlist entry as a path relative to `audio_dir` ("/"-separated, normalised): absolute
    paths are taken as they are, relative ones from `base` (default `audio_dir`); None when outside it."""
    given = given.strip().replace("\\", "/")
    relative = os.path.relpath(os.path.abspath(os.path.join(base or audio_dir, given)), os.path.abspath(audio_dir))
    return None if relative.startswith("..") else relative.replace(os.sep, "/")


def from_table(table: str, audio_dir: str, audio: list[str], mess: Mess) -> list[Track]:
    """The tracks a table lists, in table order: rows naming no audio file of `audio_dir` (`missing_audio`)
    and repeated paths (`duplicate_path`, the first row kept) skipped and counted; audio files the table does
    not list are counted as `not_in_table`."""
    tracks, seen, index = [], set(), PathIndex(audio)
    for row in read_rows(table, TABLE_COLUMNS, TABLE_OPTIONAL, mess):
        path = index.find(relative_path(audio_dir, row["path"]) if row["path"] else None)
        if path is None:
            mess.add("missing_audio", f"{os.path.basename(table)}:{row['line']} {row['path']}")
        elif path in seen:
            mess.add("duplicate_path", f"{os.path.basename(table)}:{row['line']} {path}")
        else:
            seen.add(path)
            tracks.append(Track(path, tuple(split_words(row.get("genre", ""))), row.get("artist", ""),
                                row.get("album", "")))
    for path in sorted(set(audio) - seen):
        mess.add("not_in_table", path)
    return tracks


def from_file_tags(audio_dir: str, paths: list[str], mess: Mess) -> list[Track]:
    """The tracks of `paths` with the genre, artist and album their own tags carry (mutagen's easy keys:
    ID3 TCON/TPE1/TALB, Vorbis GENRE/ARTIST/ALBUM, MP4 atoms); files whose tags cannot be read are kept
    without them (`unreadable_tags`)."""
    import mutagen

    tracks = []
    for path in paths:
        try:
            found = mutagen.File(os.path.join(audio_dir, path), easy=True)
            tags = dict(found.tags or {}) if found is not None else {}
        except (mutagen.MutagenError, OSError, ValueError):
            mess.add("unreadable_tags", path)
            tags = {}
        genres = [word for value in tags.get("genre", []) for word in split_words(str(value))]
        first = {key: str(tags[key][0]).strip() if tags.get(key) else "" for key in ("artist", "album")}
        tracks.append(Track(path, tuple(genres), first["artist"], first["album"]))
    return tracks
