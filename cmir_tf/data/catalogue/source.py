"""Reading a catalogue (audio folder, track table or file tags, playlists) into memory, and its fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import os

from cmir_tf.data.catalogue import playlists as playlist_files
from cmir_tf.data.catalogue import tracks as track_files
from cmir_tf.data.catalogue.mess import Mess
from cmir_tf.data.checksum import sha256_file


@dataclasses.dataclass
class Catalogue:
    """A catalogue as read: `listing` (relative path, size, mtime ns) of its audio files, its `tracks` (sorted
    by path), its `playlists`, and the `mess` met so far (by reason)."""

    audio_dir: str
    tracks_table: str | None
    playlists_from: str | None
    listing: list[tuple[str, int, int]]
    tracks: list[track_files.Track]
    playlists: list[playlist_files.Playlist]
    mess: Mess


def read_catalogue(audio_dir: str, tracks_table: str | None, playlists_from: str | None) -> Catalogue:
    """Scans `audio_dir`, reads the track table (or the files' tags) and the playlists (a folder of M3U
    files or a CSV); unusable rows and entries are counted, never fatal (`CatalogueInputError` only for a
    table with no header or without a required column)."""
    mess = Mess()
    listing = track_files.scan_audio(audio_dir)
    audio = [path for path, _, _ in listing]
    if tracks_table:
        tracks = track_files.from_table(tracks_table, audio_dir, audio, mess)
    else:
        tracks = track_files.from_file_tags(audio_dir, audio, mess)
    tracks.sort(key=lambda track: track.path)
    known = track_files.PathIndex([track.path for track in tracks])
    if not playlists_from:
        playlists = []
    elif os.path.isdir(playlists_from):
        playlists = playlist_files.from_m3u_folder(playlists_from, audio_dir, known, mess)
    else:
        playlists = playlist_files.from_csv(playlists_from, audio_dir, known, mess)
    return Catalogue(audio_dir, tracks_table, playlists_from, listing, tracks, playlists, mess)


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def fingerprint(catalogue: Catalogue, flags: dict) -> dict:
    """The recipe of a catalogue's prepared folder (`cmir_tf.data.fingerprint`): the sha256 of the track table,
    of the playlist files (each file's name and sha256) and of the audio listing (each file's path, size and
    mtime), and the flags. A rerun with any of them changed is refused."""
    inputs = {"audio_files": _digest([f"{p}\0{size}\0{mtime}" for p, size, mtime in catalogue.listing])}
    if catalogue.tracks_table:
        inputs["tracks_table"] = sha256_file(catalogue.tracks_table)
    if catalogue.playlists_from and os.path.isdir(catalogue.playlists_from):
        folder = catalogue.playlists_from
        files = sorted(os.path.relpath(os.path.join(root, n), folder) for root, _, names in os.walk(folder)
                       for n in names if os.path.splitext(n)[1].lower() in playlist_files.PLAYLIST_EXTENSIONS)
        inputs["playlists"] = _digest([f"{name}\0{sha256_file(os.path.join(folder, name))}" for name in files])
    elif catalogue.playlists_from:
        inputs["playlists"] = sha256_file(catalogue.playlists_from)
    return {"inputs": inputs, "flags": flags}
