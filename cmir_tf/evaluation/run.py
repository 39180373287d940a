"""One evaluation entry: `evaluate_model(model, config)` runs the paper's downstream tasks on an exported audio
encoder, with the same options for every caller (`cmir-evaluate`, the ablation, a user's script).

Tasks (`TASKS`): `gtzan` (Table 1, probe; plus the zero-shot GTZAN column where the model has the genre
signatures), `jamendo` (Table 2, probes), `playlist` (Table 3: continuation, plus the cold-start columns from
the LightFM vector where the model has `embed_cf` and the data folder the playlist vectors, and the tag-only
cold-start columns where it has `embed_tags`), `zero_shot` (Table 4: zero-shot Melon genre tagging, needs
`embed_genres`), `tags` (Table 5: zero-shot playlist-tag retrieval, needs `embed_tags` and a data folder
prepared with playlist tags). A column or table whose signature or data is missing is skipped with one line
saying why (`skipped_reason` in its result; Tables 4 and 5 then have no result).

The model is opened once (`ExportedModel`: checked, loaded once) and every song is embedded once for all
tasks (the embedding cache, a temporary one when `cache_dir` is empty).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import tempfile

import numpy as np
from absl import logging

from cmir_tf import errors
from cmir_tf.evaluation import protocol
from cmir_tf.evaluation.cold_start import PlaylistVectorsMissingError, evaluate_cold_start
from cmir_tf.evaluation.embedding_map import melon_embedding_map
from cmir_tf.evaluation.embeddings import SavedModelEmbedder
from cmir_tf.evaluation.gtzan import evaluate_gtzan
from cmir_tf.evaluation.jamendo import CATEGORIES, evaluate_jamendo
from cmir_tf.evaluation.playlist import evaluate_playlists
from cmir_tf.evaluation.probes import ProbeConfig
from cmir_tf.evaluation.tags import TagsMissingError, evaluate_tag_cold_start, evaluate_tag_retrieval
from cmir_tf.evaluation.zero_shot import evaluate_gtzan_zero_shot, evaluate_melon_zero_shot
from cmir_tf.export.exported import ExportedModel
from cmir_tf.joint import JointSpace
from cmir_tf.training.global_state import global_state_kept

TASKS = ("gtzan", "jamendo", "playlist", "zero_shot", "tags")
PATH_FIELDS = ("gtzan_dir", "gtzan_splits_dir", "gtzan_melon_map", "jamendo_dir", "jamendo_splits_dir", "melon_dir",
               "data_dir", "test_songs")  # inputs: each must exist when given
REQUIRED_DIRS = {"gtzan": ("gtzan_dir",), "jamendo": ("jamendo_dir",), "playlist": ("melon_dir", "data_dir"),
                 "zero_shot": ("melon_dir", "data_dir"), "tags": ("melon_dir", "data_dir")}


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """What `evaluate_model` runs and on which data (folders as `cmir-evaluate --help` describes them).

    `figures_dir` receives the GTZAN confusion matrix and (with `embedding_map`) the playlist task's t-SNE map
    of the Melon test songs, named after `name` (None: no figures). `test_songs` is a file of candidate song ids replacing the data folder's test
    split. The search options apply to playlist continuation (`evaluate_playlists`).
    """

    tasks: tuple[str, ...] = TASKS
    embedding: str = "features"
    cache_dir: str = ""
    gtzan_dir: str | None = None
    gtzan_splits_dir: str | None = None
    gtzan_melon_map: str | None = None
    jamendo_dir: str | None = None
    jamendo_splits_dir: str | None = None
    jamendo_categories: tuple[str, ...] = CATEGORIES
    melon_dir: str | None = None
    data_dir: str | None = None
    test_songs: str | None = None
    repeats: int = 10
    epochs: int = 200
    patience: int = 10
    batch_size: int = 64
    n_trees: int = 50
    search_k: int = 2000
    exact: bool = False
    search_precision: str = "auto"
    recall_sample: int = 1000
    query_sample: int | None = None
    baseline: bool = True
    allow_missing: bool = False
    seed: int = 0
    figures_dir: str | None = None
    embedding_map: bool = True
    name: str = "model"

    def __post_init__(self):
        unknown = set(self.tasks) - set(TASKS)
        if unknown or not self.tasks:
            raise errors.ConfigError(f"tasks must be a non-empty subset of {TASKS}, got {self.tasks}")
        unset = list(dict.fromkeys(f"--{d}" for task in self.tasks for d in REQUIRED_DIRS[task]
                                   if not getattr(self, d)))
        if unset:
            raise errors.ConfigError(f"evaluating {', '.join(self.tasks)} needs {', '.join(unset)}")
        for name in PATH_FIELDS:
            if getattr(self, name):
                errors.require_path(getattr(self, name), f"--{name}")

    def figure(self, kind: str) -> str | None:
        """`<figures_dir>/<kind>_<name>.png`, the name made file-safe; None without `figures_dir`."""
        if self.figures_dir is None:
            return None
        return os.path.join(self.figures_dir, f"{kind}_{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}.png")


def evaluate_model(model: ExportedModel | str, config: EvaluationConfig) -> dict[str, dict]:
    """Runs `config.tasks` on `model` (an `ExportedModel` or its folder).

    Returns:
      task -> JSON-ready result, in `config.tasks` order; `zero_shot` and `tags` are absent when skipped.
      Each result also records the model's folder and content fingerprint.

    Raises:
      the `cmir_tf.errors` of the tasks: missing dataset files (`MissingFilesError`), undecodable audio,
      damaged or unprepared data folders (exit 1); a model unfit for a task the user must change (exit 2).
    """
    model = ExportedModel.of(model)
    for folder, what in ((config.cache_dir, "--cache_dir"), (config.figures_dir, "the figures' folder")):
        if folder:  # checked before hours of embedding and probes
            errors.require_writable_dir(folder, what)
    embedder = SavedModelEmbedder(model, output=config.embedding)
    with contextlib.ExitStack() as stack, global_state_kept():  # seeds drawn by probes, samples and maps
        cache_dir = config.cache_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="cmir-embeddings-"))
        tasks = _Tasks(embedder, dataclasses.replace(config, cache_dir=cache_dir))
        found = {task: tasks.run(task) for task in config.tasks}
    results = {task: result for task, result in found.items() if result is not None}
    for result in results.values():
        result["model"] = os.path.abspath(model.model_dir)
        result["model_fingerprint"] = model.fingerprint
    return results


class _Tasks:
    """The tasks of one model and config; the joint-space ones (probe-free, always on the 128-d `embedding`)
    share one `JointSpace` and one embedding-output embedder."""

    def __init__(self, embedder: SavedModelEmbedder, config: EvaluationConfig):
        self.config = config
        self.embedder = embedder
        self.model = embedder.model
        self.joint_embedder = embedder if embedder.output == "embedding" else None
        self.common = dict(cache_dir=config.cache_dir, allow_missing=config.allow_missing)

    def run(self, task: str) -> dict | None:
        return getattr(self, task)()

    @functools.cached_property
    def space(self) -> JointSpace:
        return JointSpace(self.model)

    @functools.cached_property
    def test_songs(self) -> np.ndarray | None:
        """The `test_songs` candidates (None: the data folder's test split), for every Melon task."""
        return protocol.read_test_songs(self.config.test_songs) if self.config.test_songs else None

    def _joint(self) -> SavedModelEmbedder:
        if self.joint_embedder is None:
            self.joint_embedder = SavedModelEmbedder(self.model, output="embedding")
        return self.joint_embedder

    def _missing(self, signature: str, what: str) -> str | None:
        missing = self.model.missing(signature)
        if missing is None:
            return None
        reason = f"{what}: skipped, {missing}"
        print(reason)
        return reason

    def _probe(self) -> dict:
        c = self.config
        return dict(config=ProbeConfig(epochs=c.epochs, patience=c.patience, batch_size=c.batch_size),
                    repeats=c.repeats, baseline=c.baseline, seed=c.seed, **self.common)

    def gtzan(self) -> dict:
        c = self.config
        result = evaluate_gtzan(self.embedder, c.gtzan_dir, splits_dir=c.gtzan_splits_dir,
                                confusion_png=c.figure("gtzan_confusion"), **self._probe())
        reason = self._missing("embed_genres", "zero-shot GTZAN")
        result["zero_shot"] = {"skipped_reason": reason} if reason else evaluate_gtzan_zero_shot(
            self.space, self._joint(), c.gtzan_dir, splits_dir=c.gtzan_splits_dir, map_path=c.gtzan_melon_map,
            **self.common)
        return result

    def jamendo(self) -> dict:
        c = self.config
        return evaluate_jamendo(self.embedder, c.jamendo_dir, splits_dir=c.jamendo_splits_dir,
                                categories=c.jamendo_categories, **self._probe())

    def playlist(self) -> dict:
        c = self.config
        warning = protocol.training_split_warning(self.model, c.data_dir, bool(c.test_songs))
        if warning:
            logging.warning("%s", warning)
        result = evaluate_playlists(self.embedder, c.melon_dir, c.data_dir, exact=c.exact, n_trees=c.n_trees,
                                    search_k=c.search_k, recall_sample=c.recall_sample, test_songs=self.test_songs,
                                    query_sample=c.query_sample, precision=c.search_precision, seed=c.seed,
                                    **self.common)
        png = c.figure("embedding_map") if c.embedding_map else None
        if png:
            result["embedding_map"] = melon_embedding_map(self.embedder, c.melon_dir, c.data_dir, png,
                                                          cache_dir=c.cache_dir, seed=c.seed, test_songs=self.test_songs)
            logging.info("embedding map of %d Melon test songs: %s", result["embedding_map"]["songs"], png)
        result["cold_start"] = self._cold_start()
        result["tag_cold_start"] = self._tag_cold_start()
        return result

    def _cold_start(self) -> dict:
        reason = self._missing("embed_cf", "cold-start continuation")
        if reason:
            return {"skipped_reason": reason}
        c = self.config
        try:
            return evaluate_cold_start(self.space, self._joint(), c.melon_dir, c.data_dir, seed=c.seed,
                                       test_songs=self.test_songs, query_sample=c.query_sample, **self.common)
        except PlaylistVectorsMissingError as e:  # data prepared before the playlist vectors were kept
            print(f"cold-start continuation: skipped, {e}")
            return {"skipped_reason": str(e)}

    def _tag_cold_start(self) -> dict:
        reason = self._missing("embed_tags", "tag cold-start continuation")
        if reason:
            return {"skipped_reason": reason}
        c = self.config
        return evaluate_tag_cold_start(self.space, self._joint(), c.melon_dir, c.data_dir, seed=c.seed,
                                       test_songs=self.test_songs, query_sample=c.query_sample, **self.common)

    def zero_shot(self) -> dict | None:
        """Table 4's result, None (with a printed reason) for a model without genre signatures."""
        if self._missing("embed_genres", "zero-shot Melon genre tagging"):
            return None
        c = self.config
        return evaluate_melon_zero_shot(self.space, self._joint(), c.melon_dir, c.data_dir, seed=c.seed,
                                        test_songs=self.test_songs, **self.common)

    def tags(self) -> dict | None:
        """Table 5's result; None (with a printed reason) for a model without tag signatures or a data folder
        without playlist tags."""
        if self._missing("embed_tags", "zero-shot playlist-tag retrieval"):
            return None
        c = self.config
        try:
            return evaluate_tag_retrieval(self.space, self._joint(), c.melon_dir, c.data_dir, seed=c.seed,
                                          test_songs=self.test_songs, **self.common)
        except TagsMissingError as e:  # data prepared before playlist tags
            print(f"zero-shot playlist-tag retrieval: skipped, {e}")
            return None
