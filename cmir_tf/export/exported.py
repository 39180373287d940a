"""The one handle on an exported cmir-tf model: opened and checked once, asked what the model can do.

    model = ExportedModel("runs/contr_cf_g/export")            # or "pretrained:contr_cf_g", the authors' weights
    model.variant, model.signature_names, model.modalities     # "contr_cf_g", (...), ("cf", "genre")
    embed = model.chunk_embedder("features")                   # (B, 256, 48) log-mel -> (B, 1024) numpy
    model.fingerprint                                          # sha256 of the graph and weights' bytes
    encoder = model.keras_encoder()                            # the same encoder as a Keras model (fine-tuning)

Opening a folder (all before any consumer touches the model):
0. `pretrained:NAME` (one of the six encoders the authors released) becomes the folder of its cached export,
   downloaded, verified and converted on first use (`cmir_tf.export.pretrained`);
1. checks that it is a cmir-tf export: `saved_model.pb` and `assets/cmir_tf.json` (`NotACmirModelError`,
   one line naming the folder, otherwise);
2. reads the asset once;
3. compares the recorded log-mel recipe with the one this package computes (`FrontEndMismatchError`, one
   line naming each difference and the re-export command): every consumer computes log-mels outside the
   model (files, HEAR, evaluation) and feeds them to `embed_mel`;
4. loads the SavedModel once and checks it has `embed_mel`.

Every consumer of an export goes through this class, so each accepts `pretrained:NAME`: `cmir-embed`,
`cmir-search` and `JointSpace`, HEAR, evaluate.py and `cmir_tf.evaluation`, the LiteRT conversion, the ablation
and fine-tuning (`load_keras_encoder`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from cmir_tf import errors
from cmir_tf.audio.recipe import check_front_end
from cmir_tf.export import pretrained
from cmir_tf.export.keras_file import read_keras_file

ASSET_NAME = "cmir_tf.json"  # the export's own record, in assets/
ASSET_PATH = os.path.join("assets", ASSET_NAME)
EmbedChunks = Callable[[np.ndarray], np.ndarray]  # (B, 256, 48) log-mel chunks in dB -> (B, D) float32
OUTPUTS = ("features", "embedding")  # of `embed_mel`: (B, 1024) CNN features, (B, 128) joint-space vectors
GENRE_SIGNATURES = ("embed_genres", "genre_vocabulary")  # of a genre encoder
CF_SIGNATURE = "embed_cf"  # of a CF encoder
TAG_SIGNATURES = ("embed_tags", "tag_vocabulary")  # of a playlist-tag encoder
HASH_BLOCK = 1 << 20  # bytes read at a time by `fingerprint`


class NotACmirModelError(errors.UsageError, ValueError):
    """The folder holds no SavedModel, or one without this package's asset or signatures."""


class MissingSignatureError(errors.UsageError, ValueError):
    """The SavedModel lacks a signature that the requested operation needs."""


def _model_files(model_dir: str) -> list[str]:
    """`saved_model.pb` and every file below `variables/`, relative to `model_dir`, sorted."""
    files = ["saved_model.pb"]
    for folder, _, names in os.walk(os.path.join(model_dir, "variables")):
        files += [os.path.relpath(os.path.join(folder, name), model_dir) for name in names]
    return sorted(files)


class ExportedModel:
    """A folder written by `cmir_tf.export.export_audio_encoder` (train.py's `RUN/export`, a re-export, an
    imported PyTorch encoder), opened as the module docstring says.

    Args:
      model_dir: the SavedModel folder, or `pretrained:NAME` (`cmir_tf.export.pretrained`); `model_dir` is then
        the folder of its cached export.

    Raises:
      UnknownPretrainedError, DownloadError, BlobMismatchError: `pretrained:NAME` could not be had
        (`cmir_tf.export.pretrained.fetch`).
      NotACmirModelError: not a cmir-tf export (no SavedModel, no asset, unreadable asset, no `embed_mel`).
      FrontEndMismatchError: the model records another log-mel recipe than this package computes.
    """

    def __init__(self, model_dir: str):
        self.model_dir = errors.require_path(pretrained.resolve(model_dir), "the model")
        model_dir = self.model_dir
        if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
            raise NotACmirModelError(f"{model_dir} holds no SavedModel (no saved_model.pb)")
        asset = os.path.join(model_dir, ASSET_PATH)
        if not os.path.isfile(asset):
            raise NotACmirModelError(
                f"{model_dir} is not a cmir-tf audio-encoder SavedModel: it has no {ASSET_PATH} (cmir-tf exports "
                "record their front end there, next to the 'embed_mel' signature)")
        try:
            with open(asset) as f:
                self.asset: dict = json.load(f)
            if not isinstance(self.asset, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            raise NotACmirModelError(f"{model_dir} is not a readable cmir-tf export: {asset}: {e}") from e
        check_front_end(self.asset.get("front_end"), model_dir)
        self.saved_model = tf.saved_model.load(model_dir)  # the loaded object; keeps the variables alive
        self.signatures = dict(self.saved_model.signatures)
        embed_mel = self.signatures.get("embed_mel")
        if embed_mel is None or not set(OUTPUTS) <= set(embed_mel.structured_outputs):
            raise NotACmirModelError(
                f"{model_dir} is not a cmir-tf audio-encoder SavedModel: it has no 'embed_mel' signature with "
                f"{' and '.join(repr(o) for o in OUTPUTS)} outputs (its signatures: {sorted(self.signatures)})")

    @classmethod
    def of(cls, model: ExportedModel | str) -> ExportedModel:
        """`model` itself if already opened, else `ExportedModel(model)`."""
        return model if isinstance(model, ExportedModel) else cls(model)

    @property
    def metadata(self) -> dict:
        """What the exporter recorded: the training flags (train.py and re-exports), `variant`, `source`, ..."""
        metadata = self.asset.get("metadata", {})
        return metadata if isinstance(metadata, dict) else {}

    @property
    def variant(self) -> str:
        return str(self.metadata.get("variant", "unknown"))

    @property
    def signature_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.signatures))

    @property
    def modalities(self) -> tuple[str, ...]:
        """The joint-space modalities next to audio: "genre" (`embed_genres` + `genre_vocabulary`), "cf",
        "tag" (`embed_tags` + `tag_vocabulary`)."""
        found = []
        if CF_SIGNATURE in self.signatures:
            found.append("cf")
        if all(name in self.signatures for name in GENRE_SIGNATURES):
            found.append("genre")
        if all(name in self.signatures for name in TAG_SIGNATURES):
            found.append("tag")
        return tuple(found)

    @property
    def train_split_fingerprint(self) -> str | None:
        """`cmir_tf.data.splits.fingerprint` of the split it was trained on; None when not recorded (e.g. the
        authors' published encoders)."""
        return self.metadata.get("train_split_fingerprint")

    @property
    def front_end_version(self) -> int:
        return int(self.asset["front_end"]["version"])

    @property
    def training_precision(self) -> str:
        """The dtype policy the encoder was trained (or built) under; the export itself is float32."""
        return str(self.asset.get("training_precision", self.asset.get("dtype_policy", "float32")))

    @functools.cached_property
    def fingerprint(self) -> str:
        """`sha256:` + 64 hex digits over the bytes of `saved_model.pb` and `variables/*` (names included):
        equal for a moved or copied model, different for other weights. Computed once, on first use: one read
        of the files (16.5 MB for the paper's encoder; as long as hashing the same bytes in memory)."""
        digest = hashlib.sha256()
        for name in _model_files(self.model_dir):
            digest.update(name.encode() + b"\0")
            with open(os.path.join(self.model_dir, name), "rb") as f:
                for block in iter(functools.partial(f.read, HASH_BLOCK), b""):
                    digest.update(block)
        return f"sha256:{digest.hexdigest()}"

    def output_dim(self, output: str) -> int:
        """D of `embed_mel`'s `output` ("features": 1024, "embedding": 128)."""
        self._check_output(output)
        return int(self.signatures["embed_mel"].structured_outputs[output].shape[-1])

    def chunk_embedder(self, output: str) -> EmbedChunks:
        """`embed_mel` as a numpy function: (B, 256, 48) float32 log-mel chunks in dB -> (B, D) float32 `output`."""
        self._check_output(output)
        signature = self.signatures["embed_mel"]
        return lambda mel: signature(mel=tf.constant(mel, tf.float32))[output].numpy()

    def keras_encoder(self) -> keras.Model:
        """The same float32 audio encoder as a Keras model (`audio_encoder.keras` next to the SavedModel): `mel`
        (B, 256, 48) -> dict `features` (B, 1024), `embedding` (B, 128); for fine-tuning (`cmir_tf.finetune`)."""
        return read_keras_file(self.model_dir)

    def missing(self, signature: str) -> str | None:
        """None when the model has `signature`, else why it lacks it (one line)."""
        if signature in self.signatures:
            return None
        if self.metadata.get("source") == "pytorch":
            return (f"the model at {self.model_dir} has no `{signature}` signature: it is one of the authors' released "
                    f"PyTorch audio encoders ({self.variant}), and they released no genre or CF encoder, so it has no "
                    "joint space (use a contrastive variant trained with cmir-train)")
        modality = ("genre" if signature in GENRE_SIGNATURES else "playlist-tag" if signature in TAG_SIGNATURES
                    else "CF (playlist)")
        return (f"the model at {self.model_dir} (variant {self.variant}) has no `{signature}` signature: only "
                f"contrastive variants trained with a {modality} encoder export it (signatures present: "
                f"{', '.join(self.signature_names)})")

    def require(self, signature: str, purpose: str) -> None:
        """Raises `MissingSignatureError` (saying why) unless the model has `signature` (needed for `purpose`)."""
        reason = self.missing(signature)
        if reason:
            raise MissingSignatureError(f"{purpose} needs the `{signature}` signature; {reason}")

    @staticmethod
    def _check_output(output: str) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def load_keras_encoder(model: ExportedModel | str) -> keras.Model:
    """The audio encoder of an export (a folder or `pretrained:NAME`), opened and checked by `ExportedModel`,
    as a Keras model (`ExportedModel.keras_encoder`)."""
    return ExportedModel.of(model).keras_encoder()
