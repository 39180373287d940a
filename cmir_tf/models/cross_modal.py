"""The training variants as one Keras Model with its own `train_step`.

Contrastive variants align the audio embedding with other modalities by NT-Xent (genres, CF vectors and, for
the tag variants, playlist tags: docs/playlist_tags.md); baselines predict the modality from the audio
embedding with a linear head (the authors' `Multiobjective`). The intra-modal
variants (docs/intra_modal.md) align it with the audio embedding of a positive: another crop of the song or a
partner song (`cmir_tf.losses.intra_modal`).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from cmir_tf.constants import ALL_VARIANTS, CF_DIM, EMBEDDING_DIM
from cmir_tf.batch_keys import mask_key, view_key
from cmir_tf.losses import TERM_VIEWS, cf_regression_loss, genre_prediction_loss, nt_xent, views_of
from cmir_tf.models.audio_encoder import build_audio_encoder
from cmir_tf.models.cf_encoder import build_cf_encoder
from cmir_tf.models.genre_encoder import build_genre_encoder, build_tag_encoder

# The loss terms each variant optimises (all weighted by `LossWeights`).
VARIANT_LOSSES: dict[str, tuple[str, ...]] = {
    "contr_g": ("audio_genre",),
    "contr_cf": ("audio_cf",),
    "contr_cf_g": ("audio_genre", "audio_cf", "genre_cf"),
    "bline_g": ("genre_prediction",),
    "bline_cf": ("cf_prediction",),
    "bline_cf_g": ("genre_prediction", "cf_prediction"),
    "self": ("self",),
    "pl_pos": ("playlist_positive",),
    "artist_pos": ("artist_positive",),
    "genre_pos": ("genre_positive",),
    "hybrid": ("audio_genre", "audio_cf", "genre_cf", "playlist_positive"),
    "contr_t": ("audio_tag",),
    "contr_cf_g_t": ("audio_genre", "audio_cf", "genre_cf", "audio_tag", "tag_cf"),
}


PREDICTION_TERMS = ("genre_prediction", "cf_prediction")
MASKS = {"cf": "has_cf", "tag": "has_tags"}  # modality -> the batch's (B,) 0/1 mask of songs that have it


def contrastive_modalities(variant: str) -> set[str]:
    """The modalities (`audio`, `genre`, `cf`, `tag`) that a variant's NT-Xent terms pair up."""
    return {m for term in VARIANT_LOSSES[variant] if term not in (*PREDICTION_TERMS, *TERM_VIEWS)
            for m in term.split("_")}


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """The paper's lambdas: total = a2g * L(audio, genre) + a2p * L(audio, cf) + g2p * L(genre, cf), plus the
    weights of the prediction and intra-modal terms (one per term, named as the term)."""

    audio_genre: float = 1.0
    audio_cf: float = 1.0
    genre_cf: float = 1.0
    genre_prediction: float = 1.0
    cf_prediction: float = 1.0
    self: float = 1.0
    playlist_positive: float = 1.0
    artist_positive: float = 1.0
    genre_positive: float = 1.0
    audio_tag: float = 1.0
    tag_cf: float = 1.0


class CrossModalModel(keras.Model):
    """Audio encoder plus the modality encoders or prediction heads of one variant.

    Batches are dicts with `mel` (B, 256, 48) float32, `genre_ids` (B, 10) int32, `cf` (B, 301) float32 and
    optionally `has_cf` (B,) 0/1: songs without a CF vector take no part in the CF terms (`audio_cf`,
    `genre_cf`, `tag_cf`, `cf_prediction`: neither anchors nor negatives, nor regressed); all have one if
    absent. Tag variants also read `tag_ids` (B, 10) int32 and `has_tags` (B,) 0/1, which masks the tag terms
    (`audio_tag`, `tag_cf`) the same way.
    Intra-modal variants also need the reader's views (`views`, `make_dataset(views=...)`): the positive's
    mel (B, 256, 48) and, for partner kinds, its (B,) 0/1 mask; anchors and views go through the audio
    encoder as one (B * (1 + views), 256, 48) batch.
    Every step reports each loss term (`<term>_loss`) and the weighted total (`loss`). Under `tf.distribute`
    each replica computes its own mean (NT-Xent negatives come from every replica) and gradients of
    `loss / replicas` are summed, so training equals one device holding the global batch.

    `weight_decay` is PyTorch `Adam(weight_decay=...)`'s coupled L2 (the authors' optimiser): the gradient of
    `weight_decay / 2 * sum(w ** 2)` over every trainable variable is added; it is not part of the reported loss.
    """

    def __init__(
        self,
        variant: str,
        audio_encoder: keras.Model,
        genre_encoder: keras.Model | None = None,
        cf_encoder: keras.Model | None = None,
        tag_encoder: keras.Model | None = None,
        num_genres: int | None = None,
        temperature: float = 0.1,
        loss_weights: LossWeights = LossWeights(),
        weight_decay: float = 0.0,
        **kwargs,
    ):
        super().__init__(name=kwargs.pop("name", variant), **kwargs)
        if variant not in VARIANT_LOSSES:
            raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(ALL_VARIANTS)}")
        self.variant = variant
        self.terms = VARIANT_LOSSES[variant]
        self.views = views_of(self.terms)
        self.temperature = temperature
        self.loss_weights = loss_weights
        self.weight_decay = weight_decay
        self.audio_encoder = audio_encoder
        self.genre_encoder = genre_encoder
        self.cf_encoder = cf_encoder
        self.tag_encoder = tag_encoder
        modalities = contrastive_modalities(variant)
        for modality, encoder in (("genre", genre_encoder), ("cf", cf_encoder), ("tag", tag_encoder)):
            if modality in modalities and encoder is None:
                raise ValueError(f"variant {variant} needs a {modality} encoder")
        self.genre_head = (
            keras.layers.Dense(num_genres, name="genre_head") if "genre_prediction" in self.terms else None
        )
        self.cf_head = keras.layers.Dense(CF_DIM, name="cf_head") if "cf_prediction" in self.terms else None
        if self.genre_head is not None and not num_genres:
            raise ValueError(f"variant {variant} needs num_genres for its genre head")
        for head in (self.genre_head, self.cf_head):
            if head is not None:  # built now: variables must not be created inside a replica context
                head.build((None, EMBEDDING_DIM))
        self.trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in self.terms}
        self.trackers["total"] = keras.metrics.Mean(name="loss")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def call(self, batch: dict, training: bool = False) -> dict[str, tf.Tensor]:
        """Returns the embeddings / predictions this variant's losses need, keyed by modality."""
        mel = tf.concat([batch["mel"], *(batch[view_key(v)] for v in self.views)], axis=0)
        audio = tf.split(self.audio_encoder(mel, training=training)["embedding"], 1 + len(self.views), axis=0)
        outputs = {"audio": audio[0], **{f"audio/{v}": z for v, z in zip(self.views, audio[1:])}}
        if self.genre_encoder is not None:
            outputs["genre"] = self.genre_encoder(batch["genre_ids"], training=training)
        if self.cf_encoder is not None:
            outputs["cf"] = self.cf_encoder(batch["cf"], training=training)
        if self.tag_encoder is not None:
            outputs["tag"] = self.tag_encoder(batch["tag_ids"], training=training)
        if self.genre_head is not None:
            outputs["genre_logits"] = self.genre_head(outputs["audio"])
        if self.cf_head is not None:
            outputs["cf_predicted"] = self.cf_head(outputs["audio"])
        return outputs

    def loss_terms(self, batch: dict, training: bool) -> dict[str, tf.Tensor]:
        """Each of this variant's loss terms (scalar float32, mean over this replica's examples)."""
        out = self(batch, training=training)
        has_cf = batch.get("has_cf")
        terms = {}
        for name in self.terms:
            if name == "genre_prediction":
                terms[name] = genre_prediction_loss(out["genre_logits"], batch["genre_ids"])
            elif name == "cf_prediction":
                terms[name] = cf_regression_loss(out["cf_predicted"], batch["cf"], has_cf)
            elif name in TERM_VIEWS:
                view = TERM_VIEWS[name]
                mask = batch[mask_key(view)] if mask_key(view) else None
                terms[name] = nt_xent(out["audio"], out[f"audio/{view}"], self.temperature, mask)
            else:
                first, second = name.split("_")
                terms[name] = nt_xent(out[first], out[second], self.temperature, self._pair_mask(batch, first, second))
        return terms

    @staticmethod
    def _pair_mask(batch: dict, first: str, second: str) -> tf.Tensor | None:
        """(B,) 0/1: the songs that have both modalities (None: all), from `MASKS` present in the batch."""
        masks = [tf.cast(batch[MASKS[m]], tf.float32) for m in (first, second) if m in MASKS and MASKS[m] in batch]
        return None if not masks else masks[0] if len(masks) == 1 else masks[0] * masks[1]

    def total_loss(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """The lambda-weighted sum of `loss_terms`."""
        return tf.add_n([getattr(self.loss_weights, name) * value for name, value in terms.items()])

    def _l2_penalty(self, dtype: tf.DType) -> tf.Tensor:
        if not self.weight_decay:
            return tf.constant(0.0, dtype)
        squares = [tf.reduce_sum(tf.square(tf.cast(v, dtype))) for v in self.trainable_variables]
        return 0.5 * self.weight_decay * tf.add_n(squares)

    def _report(self, terms: dict[str, tf.Tensor], total: tf.Tensor) -> dict[str, tf.Tensor]:
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        self.trackers["total"].update_state(total)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, batch: dict) -> dict[str, tf.Tensor]:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            terms = self.loss_terms(batch, training=True)
            total = self.total_loss(terms)
            objective = total + self._l2_penalty(total.dtype)  # each replica adds penalty / R: counted once in the sum
            scaled = self.optimizer.scale_loss(objective / replicas)  # loss scaling for mixed_float16
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._report(terms, total)


def build_variant(
    variant: str,
    genre_word2vec: np.ndarray,
    dropout: float = 0.5,
    num_heads: int = 4,
    temperature: float = 0.1,
    loss_weights: LossWeights = LossWeights(),
    weight_decay: float = 0.0,
    tag_word2vec: np.ndarray | None = None,
) -> CrossModalModel:
    """Builds one of the variants (see `VARIANT_LOSSES`) with freshly initialised encoders.

    Args:
      variant: one of `contr_g`, `contr_cf`, `contr_cf_g`, `bline_g`, `bline_cf`, `bline_cf_g` (the paper's)
        or `self`, `pl_pos`, `artist_pos`, `genre_pos`, `hybrid` (intra-modal, docs/intra_modal.md) or
        `contr_t`, `contr_cf_g_t` (playlist tags, docs/playlist_tags.md).
      genre_word2vec: (V + 1, F_w) genre vectors, row 0 padding; sets the genre vocabulary for every variant.
      dropout: dropout rate of every encoder.
      num_heads: attention heads of the genre encoder.
      temperature: NT-Xent temperature.
      loss_weights: the lambdas of the loss terms.
      weight_decay: coupled L2 coefficient (PyTorch Adam's `weight_decay`).
      tag_word2vec: (V_t + 1, F_w) playlist-tag vectors, row 0 padding; needed by the tag variants.
    """
    if variant not in VARIANT_LOSSES:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(ALL_VARIANTS)}")
    modalities = contrastive_modalities(variant)
    if "tag" in modalities and tag_word2vec is None:
        raise ValueError(f"variant {variant} needs playlist-tag vectors (a data folder prepared with tags)")
    return CrossModalModel(
        variant,
        audio_encoder=build_audio_encoder(dropout=dropout),
        genre_encoder=build_genre_encoder(genre_word2vec, num_heads, dropout)
        if "genre" in modalities
        else None,
        cf_encoder=build_cf_encoder(dropout) if "cf" in modalities else None,
        tag_encoder=build_tag_encoder(tag_word2vec, num_heads, dropout) if "tag" in modalities else None,
        num_genres=int(np.shape(genre_word2vec)[0]) - 1,
        temperature=temperature,
        loss_weights=loss_weights,
        weight_decay=weight_decay,
    )
