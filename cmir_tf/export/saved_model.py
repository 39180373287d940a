"""Exports the trained encoders, with the Melon front end, as a self-contained TensorFlow SavedModel.

Audio signatures (all float32 in and out; the whole graph is float32, whatever dtype policy the encoders were
trained under: they are exported as float32 copies, `cmir_tf.export.float32`, so an export runs at full speed
on every CPU):

- `serving_default` = `embed_mel`: `mel` (B, 256, 48) log-mel in dB -> `features` (B, 1024),
  `embedding` (B, 128), the audio's vector in the joint space;
- `embed_track_mel`: `mel` (T, 48), T >= 1 -> `features` (n, 1024), `embedding` (n, 128) for the
  n = ceil(T / 256) non-overlapping chunks (the last one completed by wrapping around to the first frames,
  see `cmir_tf.audio.chunk_mel`) and their means `mean_features` (1024,), `mean_embedding` (128,);
- `embed_waveform`: `waveform` (n,) 16 kHz mono in [-1, 1] -> the same plus `log_mel` (T, 48),
  T = 1 + ceil(n / 256) (the YAMNet convention).

Joint-space signatures, present when the variant trained that encoder contrastively (`contr_g`, `contr_cf_g`
have the genre ones, `contr_cf`, `contr_cf_g` the CF one):

- `embed_genres`: `genre_codes` (N, T) tf.string, padded with "" -> `embedding` (N, 128);
- `genre_vocabulary`: no input -> `codes` (V,) tf.string, in genre-id order, and `names` (V,) tf.string
  (Melon's `genre_gn_all.json` name, "" where none was given);
- `embed_cf`: `cf` (N, 301) LightFM vectors (300 factors, then the bias) -> `embedding` (N, 128);
- tag variants (`contr_t`, `contr_cf_g_t`, docs/playlist_tags.md): `embed_tags`: `tags` (N, T) tf.string,
  normalised playlist tags (`cmir_tf.data.playlist_tags.normalise_tag`) padded with "" -> `embedding` (N, 128);
  `tag_vocabulary`: no input -> `tags` (V,) tf.string in tag-id order.

Every signature checks its input's shape and names the expected one (`checked_shape`), and rejects empty input, NaN/inf values, waveforms whose peak exceeds 4 (not float audio in
[-1, 1]) and unknown genre codes or tags (named) with an `InvalidArgumentError` that says so (`cmir_tf.export.input_checks`;
the audio contract of `cmir_tf.audio.input_contract`).

Asset `assets/cmir_tf.json`: front-end parameters, chunking, the signatures, `dtype_policy` (of the export:
always float32) and `training_precision` (the policy the encoder was trained under), the caller's `metadata`
(variant, training flags, split fingerprint, best step), package, TensorFlow and Keras versions. The artefact
holds only protocol buffers, variables and that JSON file: no pickle. Next to them, `audio_encoder.keras` is
the same float32 audio encoder for Keras (`cmir_tf.export.keras_file`).

An export is staged in a scratch folder `.<name>.export-*` next to `export_dir` and renamed into place; a
scratch folder of the same destination left by a killed export is removed by the next export.
"""

from __future__ import annotations

import json
import glob
import os
import shutil
import tempfile

import keras
import tensorflow as tf

import cmir_tf
from cmir_tf import errors
from cmir_tf.audio import CHUNK_PADDING, FRONT_END_PARAMS, chunk_mel, log_mel_spectrogram
from cmir_tf.constants import CF_DIM, CHUNK_FRAMES, EMBEDDING_DIM, FEATURES_DIM, N_MELS
from cmir_tf.data.atomic import tf_write_errors_named
from cmir_tf.export.exported import ASSET_NAME
from cmir_tf.export.float32 import float32_copy
from cmir_tf.export.genre_vocabulary import GenreVocabulary
from cmir_tf.export.input_checks import checked_finite, checked_genre_ids, checked_shape, checked_waveform
from cmir_tf.export.keras_file import save_keras_encoder

OUTPUTS = ("features", "embedding")
MAX_CHUNKS_PER_BATCH = 64  # bounds the encoder's activation memory for long tracks
MEL_CHUNKS = "B chunks of 256 frames x 48 mel bands, time-major: transpose a (48, 256) mel"


class AudioEncoderModule(tf.Module):
    """The encoders and front end as `tf.function`s; what `export_audio_encoder` saves.

    Args:
      encoder: `build_audio_encoder()` model, (B, 256, 48) -> dict `features`, `embedding`; every encoder runs
        in inference mode (BatchNorm running statistics, no dropout).
      asset_path: optional JSON file saved as the SavedModel asset.
      chunks_per_batch: most chunks of one track sent through the encoder at once (bounds memory).
      genre_encoder: optional `build_genre_encoder()` model trained with `encoder`; needs `vocabulary`.
      vocabulary: the genre codes of the genre encoder's ids 1..V.
      cf_encoder: optional `build_cf_encoder()` model trained with `encoder`.
      tag_encoder: optional `build_tag_encoder()` model trained with `encoder`; needs `tags`.
      tags: the playlist tags of the tag encoder's ids 1..V.
    """

    def __init__(
        self,
        encoder: keras.Model,
        asset_path: str | None = None,
        chunks_per_batch: int = MAX_CHUNKS_PER_BATCH,
        genre_encoder: keras.Model | None = None,
        vocabulary: GenreVocabulary | None = None,
        cf_encoder: keras.Model | None = None,
        tag_encoder: keras.Model | None = None,
        tags: tuple[str, ...] | None = None,
    ):
        super().__init__(name="cmir_tf_audio_encoder")
        if (genre_encoder is None) != (vocabulary is None):
            raise ValueError("a genre encoder needs its vocabulary and a vocabulary needs a genre encoder")
        if (tag_encoder is None) != (tags is None):
            raise ValueError("a tag encoder needs its tags and tags need a tag encoder")
        self.encoder = encoder
        self._chunks_per_batch = chunks_per_batch
        if asset_path is not None:
            self.metadata_file = tf.saved_model.Asset(asset_path)
        self.genre_encoder, self.cf_encoder, self.tag_encoder = genre_encoder, cf_encoder, tag_encoder
        if genre_encoder is not None:
            self._codes = tf.constant(vocabulary.codes)
            self._names = tf.constant(vocabulary.names)
            self._code_ids = _id_table(vocabulary.codes)
            self.embed_genres = tf.function(
                self._embed_genres, input_signature=[tf.TensorSpec([None, None], tf.string, name="genre_codes")]
            )
            self.genre_vocabulary = tf.function(self._genre_vocabulary, input_signature=[])
        if cf_encoder is not None:
            self.embed_cf = tf.function(
                self._embed_cf, input_signature=[tf.TensorSpec([None, CF_DIM], tf.float32, name="cf")]
            )
        if tag_encoder is not None:
            if not tags or "" in tags or len(set(tags)) != len(tags):
                raise ValueError("tags must be a non-empty tuple of distinct non-empty strings")
            self._tags = tf.constant(tags)
            self._tag_ids = _id_table(tags)
            self.embed_tags = tf.function(
                self._embed_tags, input_signature=[tf.TensorSpec([None, None], tf.string, name="tags")]
            )
            self.tag_vocabulary = tf.function(self._tag_vocabulary, input_signature=[])

    def signatures(self) -> dict[str, tf.types.experimental.GenericFunction]:
        """Signature name -> function, the joint-space ones only for the encoders this module holds."""
        functions = {
            "serving_default": self.embed_mel,
            "embed_mel": self.embed_mel,
            "embed_track_mel": self.embed_track_mel,
            "embed_waveform": self.embed_waveform,
        }
        if self.genre_encoder is not None:
            functions.update(embed_genres=self.embed_genres, genre_vocabulary=self.genre_vocabulary)
        if self.cf_encoder is not None:
            functions["embed_cf"] = self.embed_cf
        if self.tag_encoder is not None:
            functions.update(embed_tags=self.embed_tags, tag_vocabulary=self.tag_vocabulary)
        return functions

    def _encode(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.encoder(mel, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in OUTPUTS}

    @tf.function(input_signature=[tf.TensorSpec([None, CHUNK_FRAMES, N_MELS], tf.float32, name="mel")])
    def embed_mel(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        """(B, 256, 48) -> `features` (B, 1024), `embedding` (B, 128)."""
        mel = checked_shape("embed_mel", "mel", mel, ("B", CHUNK_FRAMES, N_MELS), MEL_CHUNKS)
        return self._encode(checked_finite("embed_mel", "mel", mel))

    @tf.function(input_signature=[tf.TensorSpec([None, N_MELS], tf.float32, name="mel")])
    def embed_track_mel(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        """(T, 48) -> per-chunk `features`, `embedding` and their means."""
        mel = checked_shape("embed_track_mel", "mel", mel, ("T", N_MELS), "T frames of 48 mel bands, time-major")
        return self._embed_track(checked_finite("embed_track_mel", "mel", mel))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    def embed_waveform(self, waveform: tf.Tensor) -> dict[str, tf.Tensor]:
        """(n,) 16 kHz waveform -> `embed_track_mel` outputs plus `log_mel` (T, 48)."""
        waveform = checked_shape("embed_waveform", "waveform", waveform, ("n",), "one 16 kHz mono sound")
        log_mel = log_mel_spectrogram(checked_waveform("embed_waveform", waveform))
        return {**self._embed_track(log_mel), "log_mel": log_mel}

    def _embed_genres(self, genre_codes: tf.Tensor) -> dict[str, tf.Tensor]:
        """(N, T) codes padded with "" -> `embedding` (N, 128)."""
        genre_codes = checked_shape("embed_genres", "genre_codes", genre_codes, ("N", "T"), "N songs' genre codes")
        ids = checked_genre_ids("embed_genres", genre_codes, self._code_ids.lookup(genre_codes))
        return {"embedding": tf.cast(self.genre_encoder(tf.cast(ids, tf.int32), training=False), tf.float32)}

    def _genre_vocabulary(self) -> dict[str, tf.Tensor]:
        """`codes` (V,) in genre-id order and their `names` (V,)."""
        return {"codes": tf.identity(self._codes), "names": tf.identity(self._names)}

    def _embed_tags(self, tags: tf.Tensor) -> dict[str, tf.Tensor]:
        """(N, T) tags padded with "" -> `embedding` (N, 128)."""
        tags = checked_shape("embed_tags", "tags", tags, ("N", "T"), "N rows of playlist tags padded with ''")
        ids = checked_genre_ids("embed_tags", tags, self._tag_ids.lookup(tags), input_name="tags",
                                what="playlist tags", vocabulary="tag_vocabulary")
        return {"embedding": tf.cast(self.tag_encoder(tf.cast(ids, tf.int32), training=False), tf.float32)}

    def _tag_vocabulary(self) -> dict[str, tf.Tensor]:
        """`tags` (V,) in tag-id order."""
        return {"tags": tf.identity(self._tags)}

    def _embed_cf(self, cf: tf.Tensor) -> dict[str, tf.Tensor]:
        """(N, 301) -> `embedding` (N, 128)."""
        cf = checked_shape("embed_cf", "cf", cf, ("N", CF_DIM), "N LightFM vectors: 300 factors, then the bias")
        cf = checked_finite("embed_cf", "cf", cf)
        return {"embedding": tf.cast(self.cf_encoder(cf, training=False), tf.float32)}

    def _embed_track(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        chunks = chunk_mel(mel)  # (n, 256, 48)
        n_chunks = tf.shape(chunks)[0]
        features = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, FEATURES_DIM])
        embedding = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, EMBEDDING_DIM])
        size = self._chunks_per_batch
        for step in tf.range((n_chunks + size - 1) // size):
            outputs = self._encode(chunks[step * size : (step + 1) * size])
            features = features.write(step, outputs["features"])
            embedding = embedding.write(step, outputs["embedding"])
        features, embedding = features.concat(), embedding.concat()
        return {
            "features": features,
            "embedding": embedding,
            "mean_features": tf.reduce_mean(features, axis=0),
            "mean_embedding": tf.reduce_mean(embedding, axis=0),
        }


def _id_table(words: tuple[str, ...]) -> tf.lookup.StaticHashTable:
    """"" (padding) -> 0, word i -> i + 1, unknown -> -1."""
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(["", *words], tf.range(len(words) + 1, dtype=tf.int64)),
        default_value=-1,
    )


def export_metadata(module: AudioEncoderModule, metadata: dict, training_precision: str) -> dict:
    """The asset JSON's content: front end, chunking, signatures, precisions, `metadata` (verbatim), versions."""
    return {
        "front_end": FRONT_END_PARAMS,
        "chunk_frames": CHUNK_FRAMES,
        "chunk_padding": CHUNK_PADDING,
        "signatures": list(module.signatures()),
        "dtype_policy": module.encoder.dtype_policy.name,
        "training_precision": training_precision,
        "metadata": metadata,
        "versions": {"cmir_tf": cmir_tf.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
    }


def export_audio_encoder(
    encoder: keras.Model,
    export_dir: str,
    metadata: dict | None = None,
    overwrite: bool = False,
    *,
    genre_encoder: keras.Model | None = None,
    vocabulary: GenreVocabulary | None = None,
    cf_encoder: keras.Model | None = None,
    tag_encoder: keras.Model | None = None,
    tags: tuple[str, ...] | None = None,
    training_precision: str | None = None,
) -> str:
    """Writes the SavedModel described in the module docstring.

    The model is saved to a temporary folder next to `export_dir` and renamed into place, so `export_dir`
    is never left half-written.

    Args:
      encoder: the audio encoder (`build_audio_encoder()`), possibly built under a mixed dtype policy (then
        exported as its float32 copy; the policy is recorded as `training_precision`).
      export_dir: destination folder; must not exist unless `overwrite`.
      metadata: JSON-serialisable dict stored in the asset, e.g. `{"variant": "contr_cf_g", ...flags}`.
      overwrite: replace an existing `export_dir`.
      genre_encoder, vocabulary: the genre encoder trained with `encoder` and its genre codes (both or
        neither): adds `embed_genres` and `genre_vocabulary`.
      cf_encoder: the CF encoder trained with `encoder`: adds `embed_cf`.
      tag_encoder, tags: the playlist-tag encoder trained with `encoder` and its tags in id order (both or
        neither): adds `embed_tags` and `tag_vocabulary`.
      training_precision: the dtype policy training used, recorded in the asset (default: `encoder`'s; a
        re-export restores the weights into a float32 encoder and passes the run's recorded precision).

    Returns:
      `export_dir`.

    Raises:
      errors.OutputExistsError: `export_dir` exists and `overwrite` is off.
      errors.PathError: `export_dir` cannot be written (read-only, full, denied), naming it.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and not overwrite:
        raise errors.OutputExistsError(f"{export_dir} exists; pass overwrite=True (--overwrite) to replace it")
    errors.require_writable_dir(os.path.dirname(export_dir), "the export's folder")
    try:
        with tf_write_errors_named(export_dir):
            return _write_export(encoder, export_dir, metadata, training_precision, genre_encoder=genre_encoder,
                                 vocabulary=vocabulary, cf_encoder=cf_encoder, tag_encoder=tag_encoder, tags=tags)
    except OSError as error:
        raise errors.input_error_from_os(error, export_dir, "write the export") from error


def _write_export(encoder, export_dir: str, metadata: dict | None, training_precision: str | None, *,
                  genre_encoder, vocabulary, cf_encoder, tag_encoder, tags) -> str:
    """`export_audio_encoder`'s writing: staged in a scratch folder beside `export_dir`, then renamed."""
    parent, name = os.path.split(export_dir)
    os.makedirs(parent, exist_ok=True)
    prefix = f".{name}.export-"
    for stale in glob.glob(os.path.join(glob.escape(parent), glob.escape(prefix) + "*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by an export of this folder that was killed
    training_precision = training_precision or encoder.dtype_policy.name
    encoder, genre_encoder, cf_encoder, tag_encoder = (
        None if model is None else float32_copy(model) for model in (encoder, genre_encoder, cf_encoder, tag_encoder))
    with tempfile.TemporaryDirectory(dir=parent, prefix=prefix) as scratch:
        asset_path = os.path.join(scratch, ASSET_NAME)
        module = AudioEncoderModule(
            encoder, asset_path, genre_encoder=genre_encoder, vocabulary=vocabulary, cf_encoder=cf_encoder,
            tag_encoder=tag_encoder, tags=tags,
        )
        asset = export_metadata(module, metadata or {}, training_precision)
        with open(asset_path, "w") as f:
            f.write(json.dumps(asset, indent=2, sort_keys=True))
        staged = os.path.join(scratch, "saved_model")
        tf.saved_model.save(module, staged, signatures=module.signatures())
        save_keras_encoder(encoder, staged)
        if os.path.exists(export_dir):
            shutil.move(export_dir, os.path.join(scratch, "replaced"))
        os.replace(staged, export_dir)
    return export_dir
