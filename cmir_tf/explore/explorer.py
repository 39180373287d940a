"""What the page asks of an index, answered from memory: the map, a song's genres, tags and nearest songs, a
tag or genre query, and a playlist continuation. Nothing a request does changes an `Explorer`.

    explorer = open_explorer("music.idx")           # the index, its model, its map (computed once, stored)
    explorer.song(3, k=10)                          # {"name", "genres", "tags", "neighbours": [...]}
    explorer.query("운동 신나는 GN0100", k=20)        # {"tags", "genres", "unknown", "results": [...]}
    explorer.continuation([3, 7], k=20)             # {"seeds", "results": [{"id", "name", "votes", "cosine"}]}
    explorer.m3u([3, 7], k=20)                      # the seeds, then their continuation, as an .m3u file

Similarities are exact cosines over the index's stored embeddings ((N, 128) float32): one product and an
exact top-k per request (`cmir_tf.evaluation.neighbours.top_k_cosine`; docs/explore.md has the latencies).
Requests that cannot be answered raise `BadRequest` with the HTTP status the server sends (400 malformed or
too large, 404 no such song).
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from cmir_tf import errors
from cmir_tf.data import playlist_tags
from cmir_tf.evaluation import neighbours
from cmir_tf.evaluation.playlist import K as SEED_NEIGHBOURS, rank_by_votes
from cmir_tf.explore.projection import index_map
from cmir_tf.joint import JointSpace, unit_rows
from cmir_tf.search import AudioIndex, open_index

MAX_K = 100  # results per request
MAX_SEEDS = 100  # songs a continuation starts from
MAX_QUERY_CHARS = 500
TOP_GENRES, TOP_TAGS = 3, 5  # shown for a song
MAX_COLOURS = 10  # legend entries; the other labels share OTHER
OTHER = "other"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#7f3c8d")
OTHER_COLOUR = "#9a9a9a"
LABEL_CHUNK = 8192  # songs scored against the genre vocabulary at a time


class BadRequest(errors.UsageError):
    """A request the explorer cannot answer; `status` is its HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def open_explorer(index_dir: str, model_dir: str | None = None) -> Explorer:
    """The `Explorer` of the index folder `index_dir`, queried with the model it was built with (or
    `model_dir`: the same model by content, wherever it is now); `search.open_index`'s errors."""
    index, space = open_index(index_dir, model_dir)
    return Explorer(index, space, index_map(index_dir, index.vectors))


def _label_of(code: str, name: str) -> str:
    return f"{code} {name}" if name else code


class Explorer:
    """The read-only answers over an opened index.

    Args:
      index: the opened index (song paths, (N, D) embeddings).
      space: its model's joint space (checked against the index by the caller).
      points: (N, 2) map coordinates of the songs.
    """

    def __init__(self, index: AudioIndex, space: JointSpace, points: np.ndarray):
        self.paths = list(index.paths)
        self.names = [os.path.basename(p) for p in self.paths]
        self.unit = unit_rows(index.vectors)
        self.items = tf.constant(self.unit)  # searched by every request (`neighbours.top_k_cosine`)
        self._nearest(self.unit[:1], 1)  # the search traced now, not on the first request (0.4 s)
        self.space = space
        self.genres = space.genre_embeddings if space.has_genres else None  # (V, D) unit rows
        self.tags = space.tag_embeddings if space.has_tags else None  # (V_t, D) unit rows
        colour_by, labels = self._colour_labels()
        self.songs_json = self._songs_json(points, colour_by, labels)

    # The map.

    def _colour_labels(self) -> tuple[str, list[str]]:
        """("genre", each song's top zero-shot genre) where the model has genres, else ("cluster", its k-means
        cluster of the embeddings)."""
        if self.genres is not None:
            vocabulary = self.space.vocabulary
            best = np.concatenate([np.argmax(self.unit[i:i + LABEL_CHUNK] @ self.genres.T, axis=1)
                                   for i in range(0, len(self.unit), LABEL_CHUNK)])
            return "genre", [_label_of(vocabulary.codes[j], vocabulary.names[j]) for j in best]
        from sklearn.cluster import KMeans

        clusters = KMeans(n_clusters=min(MAX_COLOURS, len(self.unit)), n_init=1, random_state=0).fit_predict(self.unit)
        return "cluster", [f"cluster {c + 1}" for c in clusters]

    def _songs_json(self, points: np.ndarray, colour_by: str, labels: list[str]) -> bytes:
        """The `/api/songs` answer: coordinates scaled into [0, 1] (aspect kept), legend, names, what the model
        can be asked."""
        counts = collections.Counter(labels)
        coloured = [name for name, _ in counts.most_common(MAX_COLOURS)]
        legend = [{"name": name, "colour": colour, "count": counts[name]} for name, colour in zip(coloured, PALETTE)]
        others = len(labels) - sum(entry["count"] for entry in legend)
        if others:
            legend.append({"name": OTHER, "colour": OTHER_COLOUR, "count": others})
        slot = {name: i for i, name in enumerate(coloured)}
        low = points.min(axis=0)
        scaled = (points - low) / max(float((points.max(axis=0) - low).max()), 1e-12)
        answer = {
            "count": len(self.paths), "x": np.round(scaled[:, 0], 4).tolist(), "y": np.round(scaled[:, 1], 4).tolist(),
            "label": [slot.get(name, len(coloured)) for name in labels], "legend": legend, "colour_by": colour_by,
            "names": self.names, "model": {"variant": self.space.variant, "genres": self.genres is not None,
                                           "tags": self.tags is not None},
            "examples": self._examples()}
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _examples(self) -> list[str]:
        """A few words the search box understands (tags first)."""
        found = list(self.space.tag_vocabulary[:3]) if self.tags is not None else []
        return found + (list(self.space.vocabulary.codes[:2]) if self.genres is not None else [])

    # One song.

    def check_song(self, song_id: int) -> int:
        """`song_id` if the index has it, else `BadRequest` 404."""
        if not 0 <= song_id < len(self.paths):
            raise BadRequest(f"no song {song_id}: the index has {len(self.paths)} songs (ids 0 to "
                             f"{len(self.paths) - 1})", 404)
        return song_id

    def audio_path(self, song_id: int) -> str:
        """The indexed file of song `song_id` (the only files the server opens)."""
        return self.paths[self.check_song(song_id)]

    def _nearest(self, queries: np.ndarray, k: int, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(Q, D) unit query rows -> (Q, k') song ids and cosines, best first (k' = k, or fewer where the
        index is smaller), `exclude`d ids left out."""
        excluded = list(set(exclude))
        k = min(k, len(self.paths) - len(excluded))
        if k <= 0:
            return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
        ids, cosines = neighbours.top_k_cosine(queries, self.items, min(len(self.paths), k + len(excluded)))
        kept_first = np.argsort(np.isin(ids, excluded), axis=1, kind="stable")[:, :k]  # each row keeps >= k
        return np.take_along_axis(ids, kept_first, axis=1).astype(np.int64), np.take_along_axis(cosines, kept_first, 1)

    def _listed(self, ids: np.ndarray, cosines: np.ndarray) -> list[dict]:
        return [{"id": int(i), "name": self.names[i], "cosine": round(float(c), 4)} for i, c in zip(ids, cosines)]

    def song(self, song_id: int, k: int) -> dict:
        """Song `song_id`'s file, top genres and playlist tags (where the model has them) and its `k` nearest
        songs with their cosines."""
        self.check_song(song_id)
        check_k(k, allow_zero=True)
        row = self.unit[song_id]
        answer = {"id": song_id, "name": self.names[song_id], "path": self.paths[song_id], "genres": [], "tags": []}
        if self.genres is not None:
            scores = self.genres @ row
            vocabulary = self.space.vocabulary
            answer["genres"] = [{"code": vocabulary.codes[j], "name": vocabulary.names[j],
                                 "score": round(float(scores[j]), 4)} for j in np.argsort(-scores)[:TOP_GENRES]]
        if self.tags is not None:
            scores = self.tags @ row
            answer["tags"] = [{"tag": self.space.tag_vocabulary[j], "score": round(float(scores[j]), 4)}
                              for j in np.argsort(-scores)[:TOP_TAGS]]
        ids, cosines = self._nearest(row[None], k, exclude=[song_id])
        answer["neighbours"] = self._listed(ids[0], cosines[0])
        return answer

    # Asking.

    def _words(self, text: str) -> tuple[list[str], list[str], list[str]]:
        """The query's (playlist tags, genre codes, unknown words): a word is a tag of the model's vocabulary,
        else a genre code or name (any case)."""
        tag_rows = self.space.tag_rows if self.tags is not None else {}
        genre_of = {}
        if self.genres is not None:
            vocabulary = self.space.vocabulary
            genre_of = {name.casefold(): code for code, name in zip(vocabulary.codes, vocabulary.names) if name}
            genre_of.update({code.casefold(): code for code in vocabulary.codes})
        tags, genres, unknown = [], [], []
        for word in playlist_tags.query_words(text):
            if word in tag_rows:
                tags.append(word)
            elif word.casefold() in genre_of:
                genres.append(genre_of[word.casefold()])
            else:
                unknown.append(word)
        return tags, list(dict.fromkeys(genres)), unknown

    def query(self, text: str, k: int) -> dict:
        """The `k` songs closest to the mean of the query's tag and genre embeddings, with the words used and
        the unknown ones named; `BadRequest` when no word is known."""
        check_k(k)
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query has {len(text)} characters; at most {MAX_QUERY_CHARS}")
        if self.tags is None and self.genres is None:
            raise BadRequest(f"the model ({self.space.variant}) has neither playlist tags nor genres to query")
        tags, genres, unknown = self._words(text)
        if not tags and not genres:
            kinds = " or ".join(n for n, have in (("playlist tag", self.tags is not None),
                                                  ("genre code or name", self.genres is not None)) if have)
            named = f"unknown words: {', '.join(unknown)}" if unknown else "the query is empty"
            raise BadRequest(f"no word is a {kinds} of the model ({named}); e.g. {', '.join(self._examples())}")
        rows = [self.tags[self.space.tag_rows[t]] for t in tags]
        rows += [self.genres[self.space.vocabulary.codes.index(g)] for g in genres]
        ids, cosines = self._nearest(unit_rows(np.mean(rows, axis=0)[None]), k)
        return {"tags": tags, "genres": genres, "unknown": unknown, "results": self._listed(ids[0], cosines[0])}

    def continuation(self, seeds: Sequence[int], k: int) -> dict:
        """The paper's continuation of the playlist `seeds` (distinct song ids): every seed retrieves its
        `SEED_NEIGHBOURS` nearest other songs; the `k` retrieved most often, ties by summed cosine to the seeds.
        Each result has its `votes` (seeds that retrieved it) and its mean cosine to the seeds."""
        check_k(k)
        if not 1 <= len(seeds) <= MAX_SEEDS:
            raise BadRequest(f"give 1 to {MAX_SEEDS} seed songs, got {len(seeds)}")
        if len(set(seeds)) != len(seeds):
            raise BadRequest("the seed songs repeat an id")
        for song_id in seeds:
            self.check_song(song_id)
        hits, cosines = self._nearest(self.unit[list(seeds)], SEED_NEIGHBOURS, exclude=seeds)
        ranked = rank_by_votes(hits, cosines, k)
        votes = (hits[:, :, None] == ranked[None, None, :]).any(axis=1).sum(axis=0)
        mean_cosine = (self.unit[ranked] @ self.unit[list(seeds)].T).mean(axis=1)
        return {"seeds": list(seeds), "results": [
            {"id": int(i), "name": self.names[i], "votes": int(v), "cosine": round(float(c), 4)}
            for i, v, c in zip(ranked, votes, mean_cosine)]}

    def m3u(self, seeds: Sequence[int], k: int) -> str:
        """The continued playlist as an extended M3U file: the seeds, then their `continuation`."""
        found = [entry["id"] for entry in self.continuation(seeds, k)["results"]]
        lines = ["#EXTM3U", f"# cmir-explore: {len(seeds)} seed songs, then {len(found)} continuing them"]
        for song_id in [*seeds, *found]:
            lines += [f"#EXTINF:-1,{self.names[song_id]}", self.paths[song_id]]
        return "\n".join(lines) + "\n"


def check_k(k: int, allow_zero: bool = False) -> int:
    """`k` if it is a result count the explorer answers (1, or 0 where allowed, to `MAX_K`), else `BadRequest`."""
    if not (0 if allow_zero else 1) <= k <= MAX_K:
        raise BadRequest(f"k must be {0 if allow_zero else 1} to {MAX_K}, got {k}")
    return k
