"""The joint audio / genre / playlist (/ playlist-tag) space of an exported contrastive model: zero-shot genre
tagging, playlist tags of a clip and free-text tag queries.

A contrastive variant maps audio, genre codes and LightFM playlist-side vectors into one 128-d space, so an
audio clip's genres can be scored with no probe trained: the cosine similarity between the clip's embedding
and each genre code's embedding.

    space = JointSpace("runs/contr_cf_g/export")
    space.tag_files(["song.mp3"], top_k=3)   # [[Tag("GN0100", "Ballad", 0.61), ...]]
    space.genre_scores(space.embed_file("song.mp3")[None])   # (1, V) cosines, codes: space.vocabulary.codes

The tag variants (`contr_t`, `contr_cf_g_t`, docs/playlist_tags.md) add the playlist tags listeners gave:

    space.top_tags(space.embed_file("song.mp3")[None])      # [[("드라이브", 0.52), ...]]
    space.tags_vector(["드라이브", "새벽"])                    # (128,) query for an index of songs

Only the signatures the model has are usable: baselines have no joint space, `contr_g` no `embed_cf`,
`contr_cf` no genre signatures, only the tag variants have tags; asking for a missing one raises
`MissingSignatureError` naming it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from cmir_tf import errors
from cmir_tf.data import playlist_tags
from cmir_tf.export.chunk_batches import embed_streams
from cmir_tf.export.exported import CF_SIGNATURE, ExportedModel, MissingSignatureError
from cmir_tf.export.genre_vocabulary import GenreVocabulary

__all__ = ["JointSpace", "MissingSignatureError", "Tag", "unit_rows"]


class Tag(NamedTuple):
    code: str
    name: str  # "" where the vocabulary has no name
    score: float  # cosine similarity in [-1, 1]


def _padded(words: Sequence[Sequence[str]]) -> tf.Tensor:
    """(N, T) tf.string of N word lists, padded with "" to the longest (T)."""
    width = max((len(w) for w in words), default=0)
    return tf.constant([list(w) + [""] * (width - len(w)) for w in words], dtype=tf.string, shape=[len(words), width])


def unit_rows(x: np.ndarray) -> np.ndarray:
    """(N, D) rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class JointSpace:
    """An exported cmir_tf SavedModel, seen as the joint space of its encoders.

    Args:
      model: an opened `ExportedModel`, or its folder (written by `cmir_tf.export.export_audio_encoder`, e.g.
        `RUN/export`), opened and checked here (`NotACmirModelError`, `FrontEndMismatchError`).
    """

    def __init__(self, model: ExportedModel | str):
        self.model = ExportedModel.of(model)
        self.model_dir = self.model.model_dir
        self.signatures = self.model.signatures
        self.variant = self.model.variant

    @property
    def has_genres(self) -> bool:
        return "genre" in self.model.modalities

    @property
    def has_cf(self) -> bool:
        return "cf" in self.model.modalities

    @property
    def has_tags(self) -> bool:
        return "tag" in self.model.modalities

    def require(self, signature: str, purpose: str) -> None:
        """Raises `MissingSignatureError` unless the model has `signature` (needed for `purpose`)."""
        self.model.require(signature, purpose)

    @functools.cached_property
    def vocabulary(self) -> GenreVocabulary:
        """The genre codes (in genre-id order) and names the genre encoder knows."""
        self.require("genre_vocabulary", "the genre vocabulary")
        out = self.signatures["genre_vocabulary"]()
        codes, names = ([b.decode("utf-8") for b in out[key].numpy().tolist()] for key in ("codes", "names"))
        return GenreVocabulary(tuple(codes), tuple(names))

    def embed_genres(self, genre_codes: Sequence[Sequence[str]]) -> np.ndarray:
        """Per item a list of genre codes (any lengths >= 1) -> (N, 128) joint-space embeddings."""
        self.require("embed_genres", "embedding genre codes")
        return self.signatures["embed_genres"](genre_codes=_padded(genre_codes))["embedding"].numpy()

    @functools.cached_property
    def tag_vocabulary(self) -> tuple[str, ...]:
        """The playlist tags the tag encoder knows, in tag-id order (normalised as `playlist_tags.normalise_tag`)."""
        self.require("tag_vocabulary", "the playlist-tag vocabulary")
        return tuple(b.decode("utf-8") for b in self.signatures["tag_vocabulary"]()["tags"].numpy().tolist())

    def embed_tags(self, tags: Sequence[Sequence[str]]) -> np.ndarray:
        """Per item a set of vocabulary tags (any sizes >= 1) -> (N, 128) joint-space embeddings."""
        self.require("embed_tags", "embedding playlist tags")
        return self.signatures["embed_tags"](tags=_padded(tags))["embedding"].numpy()

    @functools.cached_property
    def tag_embeddings(self) -> np.ndarray:
        """(V, 128) unit-norm embedding of each vocabulary tag on its own, rows in `tag_vocabulary` order."""
        return unit_rows(self.embed_tags([[tag] for tag in self.tag_vocabulary]))

    @functools.cached_property
    def tag_rows(self) -> dict[str, int]:
        """{vocabulary tag: its row in `tag_embeddings`}."""
        return {tag: i for i, tag in enumerate(self.tag_vocabulary)}

    def tags_vector(self, tags: Sequence[str]) -> np.ndarray:
        """(128,) query vector of a set of tags, normalised as the vocabulary's (`playlist_tags.normalise_tag`,
        as `cmir-search text` normalises its words: "KPOP" is "kpop"): the mean of their unit `tag_embeddings`
        (unknown tags are the caller's to drop: `ValueError` naming them)."""
        row = self.tag_rows
        normalised = [playlist_tags.normalise_tag(t)[0] for t in tags]
        unknown = [t for t, n in zip(tags, normalised) if n not in row]
        if unknown or not tags:
            raise errors.ConfigError(f"tags not in the model's tag vocabulary: {', '.join(unknown) or '(none given)'}")
        return self.tag_embeddings[[row[n] for n in normalised]].mean(axis=0)

    def tag_scores(self, audio_embeddings: np.ndarray) -> np.ndarray:
        """(N, 128) audio embeddings -> (N, V_t) cosine to each vocabulary tag."""
        return unit_rows(audio_embeddings) @ self.tag_embeddings.T

    def top_tags(self, audio_embeddings: np.ndarray, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The `top_k` playlist tags closest to each of the (N, 128) audio embeddings, (tag, cosine) best first."""
        scores = self.tag_scores(audio_embeddings)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        return [[(self.tag_vocabulary[j], float(row[j])) for j in top] for row, top in zip(scores, best)]

    @functools.cached_property
    def genre_embeddings(self) -> np.ndarray:
        """(V, 128) unit-norm embedding of each vocabulary code on its own, rows in `vocabulary.codes` order."""
        return unit_rows(self.embed_genres([[code] for code in self.vocabulary.codes]))

    def embed_cf(self, cf: np.ndarray) -> np.ndarray:
        """(N, 301) LightFM vectors (300 factors, then the bias) -> (N, 128) joint-space embeddings."""
        self.require(CF_SIGNATURE, "embedding CF vectors")
        return self.signatures[CF_SIGNATURE](cf=tf.constant(cf, dtype=tf.float32))["embedding"].numpy()

    def embed_waveform(self, waveform: np.ndarray) -> np.ndarray:
        """(n,) 16 kHz mono float waveform in [-1, 1] -> (128,) mean of its chunks' joint-space embeddings
        (the input contract of `cmir_tf.audio.input_contract`: empty, NaN or peak > 4 refused)."""
        from cmir_tf import audio

        audio.check_levels(waveform, "waveform")
        out = self.signatures["embed_waveform"](waveform=tf.constant(waveform, dtype=tf.float32))
        return out["mean_embedding"].numpy()

    def embed_files(self, paths: Sequence[str], segment: str = "full") -> Iterator[tuple[str, np.ndarray | Exception]]:
        """Audio files (any format `cmir_tf.audio.load_audio` decodes) -> in `paths` order, (path, (128,) mean of
        its chunks' joint-space embeddings, as `embed_waveform` gives, or the `ValueError`/`OSError` decoding
        raised). Files are decoded in blocks (bounded memory) and chunks of consecutive files share `embed_mel`
        calls (`cmir_tf.export.chunk_batches`)."""
        from cmir_tf.audio.chunker import file_chunks  # imported here: only file embedding needs the decoders

        chunk_embeddings = embed_streams(self.model.chunk_embedder("embedding"), list(paths),
                                         lambda path: file_chunks(path, segment))
        for path, chunks, _ in chunk_embeddings:
            yield path, chunks if isinstance(chunks, Exception) else chunks.mean(axis=0)

    def embed_all_files(self, paths: Sequence[str], segment: str = "full") -> np.ndarray:
        """`embed_files` as one (N, 128) array; the first decoding error propagates, naming the file."""
        embeddings = []
        for _, embedding in self.embed_files(paths, segment):
            if isinstance(embedding, Exception):
                raise embedding
            embeddings.append(embedding)
        return np.stack(embeddings)

    def embed_file(self, path: str, segment: str = "full") -> np.ndarray:
        """One audio file -> (128,) joint-space embedding (decoding errors propagate, naming the file)."""
        return self.embed_all_files([path], segment)[0]

    def genre_scores(self, audio_embeddings: np.ndarray) -> np.ndarray:
        """(N, 128) audio embeddings -> (N, V) zero-shot scores: cosine to each vocabulary code."""
        return unit_rows(audio_embeddings) @ self.genre_embeddings.T

    def tags(self, audio_embeddings: np.ndarray, top_k: int = 5) -> list[list[Tag]]:
        """The `top_k` best-scoring genre codes of each of the (N, 128) audio embeddings, best first."""
        scores = self.genre_scores(audio_embeddings)
        vocabulary = self.vocabulary
        best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        return [[Tag(vocabulary.codes[j], vocabulary.names[j], float(row[j])) for j in top] for row, top in
                zip(scores, best)]

    def tag_files(self, paths: Sequence[str], top_k: int = 5, segment: str = "full") -> list[list[Tag]]:
        """`tags` of audio files (the first decoding error propagates, naming the file)."""
        self.require("embed_genres", "zero-shot genre tagging")
        if not paths:
            return []
        return self.tags(self.embed_all_files(paths, segment), top_k)
