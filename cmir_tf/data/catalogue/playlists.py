"""A catalogue's playlists: a folder of `.m3u` / `.m3u8` files (one playlist each, the file name its title) or
a CSV of (playlist, track[, tags]) rows, each entry resolved to a track of the audio folder.

M3U: `#EXTM3U`, `#EXTINF` and other `#` lines are comments; an entry is a path relative to the playlist's own
folder (or, failing that, to the audio folder), an absolute path, or a URL: `file://` URLs are paths, other
URLs (`http://`, ...) are counted as `url_entry`. `.m3u8` is UTF-8; a `.m3u` that is not UTF-8 is read as
Latin-1 (the format's old default). Entries that name no track are counted as `no_such_track`, an entry
repeated within a playlist as `duplicate_entry` (kept once).
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse

from cmir_tf.data.catalogue.mess import Mess
from cmir_tf.data.catalogue.table import decoded_lines, read_rows
from cmir_tf.data.catalogue.tracks import PathIndex, relative_path
from cmir_tf.data.catalogue.words import split_words

PLAYLIST_EXTENSIONS = (".m3u", ".m3u8")
CSV_COLUMNS = {"playlist": ("playlist", "playlist_id", "title"), "track": ("track", "path", "file")}
CSV_OPTIONAL = {"tags": ("tags", "tag")}
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclasses.dataclass
class Playlist:
    """A playlist: its title, its tags as given (None: none given, its title's words stand in) and its entries
    as track paths relative to the audio folder, in order, each once."""

    title: str
    tags: list[str] | None
    tracks: list[str] = dataclasses.field(default_factory=list)


def _resolve(entry: str, base: str, audio_dir: str, tracks: PathIndex, where: str, mess: Mess) -> str | None:
    """The track `entry` names (relative to `base`, then to `audio_dir`), or None, counted by reason."""
    if entry.lower().startswith("file://"):
        entry = urllib.parse.unquote(urllib.parse.urlparse(entry).path)
    elif URL.match(entry):
        mess.add("url_entry", f"{where} {entry}")
        return None
    for folder in (base, audio_dir):
        path = tracks.find(relative_path(audio_dir, entry, folder))
        if path is not None:
            return path
    mess.add("no_such_track", f"{where} {entry}")
    return None


def _add(playlist: Playlist, path: str | None, where: str, mess: Mess) -> None:
    if path is None:
        return
    if path in playlist.tracks:
        mess.add("duplicate_entry", f"{where} {path}")
    else:
        playlist.tracks.append(path)


def _m3u_lines(path: str, mess: Mess) -> list[str]:
    if path.lower().endswith(".m3u"):
        with open(path, "rb") as f:
            raw = f.read().removeprefix(b"\xef\xbb\xbf")
        try:
            return raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            return raw.decode("latin-1").splitlines()
    return [text for _, text in decoded_lines(path, mess)]


def from_m3u_folder(folder: str, audio_dir: str, tracks: PathIndex, mess: Mess) -> list[Playlist]:
    """One playlist per `.m3u` / `.m3u8` file below `folder` (sorted by path), titled by its file name."""
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
                   if os.path.splitext(name)[1].lower() in PLAYLIST_EXTENSIONS)
    playlists = []
    for path in files:
        playlist = Playlist(os.path.splitext(os.path.basename(path))[0], None)
        for line in _m3u_lines(path, mess):
            entry = line.strip()
            if entry and not entry.startswith("#"):
                where = os.path.basename(path)
                _add(playlist, _resolve(entry, os.path.dirname(path), audio_dir, tracks, where, mess), where, mess)
        playlists.append(playlist)
    return playlists


def from_csv(table: str, audio_dir: str, tracks: PathIndex, mess: Mess) -> list[Playlist]:
    """One playlist per distinct value of the CSV's playlist column (in order of first appearance), its tags
    the union of its rows' tags column (separated by `|`, `;` or `,`), None without such a column."""
    playlists: dict[str, Playlist] = {}
    for row in read_rows(table, CSV_COLUMNS, CSV_OPTIONAL, mess):
        playlist = playlists.setdefault(row["playlist"], Playlist(row["playlist"], None if "tags" not in row else []))
        if "tags" in row:
            playlist.tags.extend(t for t in split_words(row["tags"]) if t not in playlist.tags)
        where = f"{os.path.basename(table)}:{row['line']}"
        _add(playlist, _resolve(row["track"], audio_dir, audio_dir, tracks, where, mess), where, mess)
    return list(playlists.values())
