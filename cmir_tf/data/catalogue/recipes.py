"""Track tables from public datasets' metadata (docs/catalogue.md has the commands): FMA's `tracks.csv` and
`genres.csv`, MTG-Jamendo's `autotagging*.tsv`. Neither dataset has playlists."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence

from cmir_tf.data.atomic import atomic_path
from cmir_tf.data.catalogue.table import CatalogueInputError

HEADER = ("path", "genre", "artist", "album")


def _write_table(path: str, rows: Iterable[Sequence[str]]) -> int:
    """Writes a track table (`HEADER`, then `rows`) atomically; returns the number of rows."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _rows(path: str, delimiter: str = ",") -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def fma_track_table(tracks_csv: str, genres_csv: str, output: str) -> int:
    """FMA's metadata -> a track table; returns its number of tracks.

    `tracks.csv` has two header rows (column group, column: ("track", "genres_all"), ("artist", "name"),
    ("album", "title")) and a third naming the index, `track_id`; `genres_all` is a list of genre ids such as
    "[12, 25]" (every genre of the track and their parents), named by `genres.csv` (`genre_id`, `title`).
    A track's path is FMA's audio layout, `000/000002.mp3` (the id's first three of six digits, then the id).
    """
    names = {row["genre_id"]: row["title"] for row in csv.DictReader(open(genres_csv, encoding="utf-8"))}
    rows = _rows(tracks_csv)
    if len(rows) < 3:
        raise CatalogueInputError(f"{tracks_csv}: expected FMA's two header rows and the track_id row")
    columns = list(zip(rows[0], rows[1]))
    wanted = [("track", "genres_all"), ("artist", "name"), ("album", "title")]
    missing = [f"{group}.{name}" for group, name in wanted if (group, name) not in columns]
    if missing:
        raise CatalogueInputError(f"{tracks_csv}: not FMA's tracks.csv (no column {', '.join(missing)})")
    genres, artist, album = (columns.index(c) for c in wanted)

    def table():
        for row in rows[3:]:
            track = f"{int(row[0]):06d}"
            ids = json.loads(row[genres] or "[]")
            yield (f"{track[:3]}/{track}.mp3", "|".join(names[str(i)] for i in ids if str(i) in names),
                   row[artist], row[album])

    return _write_table(output, table())


def jamendo_track_table(tsv: str, output: str, categories: str | Sequence[str] = "genre") -> int:
    """An MTG-Jamendo `autotagging*.tsv` -> a track table; returns its number of tracks.

    Columns TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, then one tag a column, `category---value`
    ("genre---rock", "mood/theme---happy", "instrument---piano"). The genres are the values of the tags of
    `categories` (default genre only); artist and album are the dataset's ids.
    """
    wanted = (categories,) if isinstance(categories, str) else tuple(categories)
    rows = _rows(tsv, "\t")
    if not rows or rows[0][:4] != ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH"]:
        raise CatalogueInputError(f"{tsv}: not an MTG-Jamendo autotagging TSV (header {rows[0][:6] if rows else []})")

    def table():
        for row in rows[1:]:
            tags = [tag.split("---", 1) for tag in row[5:] if "---" in tag]
            yield row[3], "|".join(value for category, value in tags if category in wanted), row[1], row[2]

    return _write_table(output, table())
