"""The training loop: distributed train steps, validation, checkpoints with exact resume, and export.

One run = `train(config)`. Rerunning with the same `model_dir` resumes from the latest checkpoint, which
holds the model, the optimizer, the global step, the epoch, the position inside the epoch and the best
validation loss; the reader regenerates an epoch's batches from (seed, epoch) and skips the ones already
used, so a resumed run sees exactly the batches an uninterrupted one would.

Training does not use `keras.Model.fit` (nor `evaluate`, hence `CrossModalModel` has no `test_step`): exact
resume needs the position inside an epoch checkpointed with the model and optimizer and the reader's batches
skipped up to it, the global step drives the checkpoint and TensorBoard cadence across epochs, a non-finite
loss must stop the run before a checkpoint, and validation adds embedding-space measures (retrieval,
alignment, uniformity) over counted rows to the loss terms. This loop calls `train_step` under the strategy.

Faults (docs/robustness.md): one run at a time per `model_dir` (`cmir_tf.data.lock`); the prepared folder's
shards are checked against its manifest first (sizes, and checksums with `verify_data`); a SIGINT (Ctrl-C)
lets the running step finish, saves a checkpoint and raises `TrainingInterrupted`; a checkpoint that cannot
be written (full disk, read-only folder) raises an `OSError` naming the folder, the previous checkpoints
intact; TensorFlow's `ckpt-N_temp` scratch folders of a killed save are removed at start-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
import tqdm
from absl import logging

from cmir_tf import errors
from cmir_tf.data import make_dataset
from cmir_tf.data.atomic import tf_write_errors_named
from cmir_tf.data.lock import exclusive_lock
from cmir_tf.data.prepared import DamagedFolderError, PreparedFolder
from cmir_tf.export.genre_vocabulary import GenreVocabulary, tags_from_prepared
from cmir_tf.export.saved_model import export_audio_encoder
from cmir_tf.models import CrossModalModel, LossWeights, build_variant
from cmir_tf.models.cross_modal import contrastive_modalities
from cmir_tf.training.config import TrainConfig, check_resume, store_config
from cmir_tf.training.global_state import global_state_kept
from cmir_tf.training.precision import resolve_precision
from cmir_tf.training.strategy import is_chief, make_strategy
from cmir_tf.training.summaries import SummaryWriters
from cmir_tf.training.validation import embedding_space_measures


class NonFiniteLossError(errors.InputError, RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) stopped training after a checkpoint of `step`; rerunning resumes exactly there."""

    def __init__(self, step: int):
        super().__init__(f"interrupted at step {step}; rerun the same command to resume")
        self.step = step


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[Callable[[], bool]]:
    """While active, a first SIGINT only sets a flag (the yielded callable reads it) so that the loop stops at
    a step boundary; a second one interrupts at once. Off the main thread (no signal handlers), nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    received = []

    def on_sigint(signum, frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)


def remove_checkpoint_scratch(*folders: str) -> list[str]:
    """Removes TensorFlow's `ckpt-N_temp` folders, left by a save that was killed or failed; returns them."""
    stale = [p for folder in folders for p in glob.glob(os.path.join(folder, "*_temp")) if os.path.isdir(p)]
    for path in stale:
        shutil.rmtree(path)
    return stale


def _damaged_data(folder: PreparedFolder, error: tf.errors.DataLossError) -> DamagedFolderError:
    """The one-line error for a corrupt record met while reading: the damaged shard, found by checksum."""
    try:
        folder.verify(checksums=True)
    except DamagedFolderError as damaged:
        return damaged
    return DamagedFolderError(f"a corrupt record in {folder.path} ({error.message.splitlines()[0]}), although "
                              f"every shard matches its checksum; rewrite the folder with: {folder.repair_command()}")


def build_model(config: TrainConfig) -> CrossModalModel:
    """The variant of `config`, compiled with Adam; call under the strategy's scope."""
    folder = PreparedFolder(config.data_dir)
    model = build_variant(
        config.variant,
        folder.genre_word2vec(),
        dropout=config.dropout,
        num_heads=config.num_heads,
        temperature=config.temperature,
        loss_weights=LossWeights(
            audio_genre=config.lambda_audio_genre,
            audio_cf=config.lambda_audio_playlist,
            genre_cf=config.lambda_genre_playlist,
            audio_tag=config.lambda_audio_tag,
            tag_cf=config.lambda_tag_playlist,
        ),
        weight_decay=config.weight_decay,
        tag_word2vec=folder.tag_word2vec() if "tag" in contrastive_modalities(config.variant) else None,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    model.optimizer.build(model.trainable_variables)  # slots exist before a checkpoint is restored
    return model


def validate(model: CrossModalModel, config: TrainConfig) -> dict[str, float]:
    """Loss terms and embedding-space measures over the validation split (centre chunks), batch-weighted."""
    dataset = make_dataset(
        config.data_dir, "validation", config.batch_size, training=False, seed=config.seed, chunks="center",
        views=model.views,
    )
    if config.validation_steps:
        dataset = dataset.take(config.validation_steps)

    @tf.function
    def evaluate(batch):
        terms = model.loss_terms(batch, training=False)
        values = {f"{name}_loss": value for name, value in terms.items()}
        values["loss"] = model.total_loss(terms)
        values.update(embedding_space_measures(model(batch, training=False), batch.get("has_cf")))
        return values

    sums: dict[str, float] = {}
    count = 0
    for batch in dataset:
        size = int(tf.shape(batch["mel"])[0])
        if size < 2:
            continue  # in-batch measures need a negative
        for name, value in evaluate(batch).items():
            sums[name] = sums.get(name, 0.0) + float(value) * size
        count += size
    if not count:
        raise errors.ConfigError(f"the validation split of {config.data_dir} has no batch of 2 or more songs")
    return {name: total / count for name, total in sums.items()}


class _Progress(tf.Module):
    """Checkpointed counters: global step, epoch, batches done in the epoch, best validation loss."""

    def __init__(self):
        super().__init__()
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_validation_loss = tf.Variable(np.inf, dtype=tf.float64, trainable=False)


def make_train_step(model: CrossModalModel, strategy: tf.distribute.Strategy):
    """A tf.function running `model.train_step` on every replica; returns the logs averaged over replicas."""

    @tf.function
    def distributed_train_step(batch):
        logs = strategy.run(model.train_step, args=(batch,))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for name, v in logs.items()}

    return distributed_train_step


def make_ops_deterministic() -> None:
    """TensorFlow's op determinism plus single-threaded CPU thread pools (one op at a time, one thread each).

    Measured (the resume test's docstring in tests/test_training.py): with TF's default pools two identical
    trainings diverge within a few steps in the first convolution's kernel gradient, and
    `enable_op_determinism()` alone does not prevent it. With both pools single-threaded, runs on oneDNN
    kernels agree bitwise; on Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0) that gradient still diverged at times.
    Must run before TensorFlow executes its first op (the pools are fixed then); one device only
    (collectives across replicas need concurrent ops).
    """
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as error:  # the context already exists: only fine if it is single-threaded already
        threads = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        if threads != (1, 1):
            raise RuntimeError("--deterministic must be set before TensorFlow runs its first op") from error


def _checkpoint_dirs(model_dir: str, chief: bool) -> tuple[str, str]:
    """(latest, best) checkpoint folders; non-chief workers write to a scratch folder they delete at the end."""
    if chief:
        return os.path.join(model_dir, "checkpoints"), os.path.join(model_dir, "best")
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    scratch = os.path.join(model_dir, f".worker-{index}")
    return os.path.join(scratch, "checkpoints"), os.path.join(scratch, "best")


def train(config: TrainConfig, *, verify_data: bool = False) -> dict:
    """Trains (or resumes) one variant and exports its best audio encoder to `model_dir/export`.

    With `config.deterministic`, TensorFlow's op determinism is on: a resumed run then gives bitwise the
    weights of an uninterrupted one on the same machine and software. `verify_data` checks every shard's
    sha256 against the manifest before training (reads all the data); sizes are always checked.

    Returns:
      `{"steps", "epochs", "best_validation_loss", "export_dir"}`.

    Raises:
      NotPreparedError (a FileNotFoundError): `data_dir` holds no prepared data (the message gives the
        prepare command).
      DamagedFolderError: a shard differs from its manifest record, found at start-up or by a corrupt record
        while reading (the message names the shard and the prepare command that rewrites it).
      DirectoryLockedError: another process trains in `model_dir` (its pid named).
      ResumeMismatchError: `model_dir` holds a run with other training-defining flags (each one named).
      PrecisionUnavailableError: mixed_bfloat16 requested where it cannot run (oneDNN capped below AVX-512).
      NonFiniteLossError: the loss became NaN/inf (the message names the step and the last good checkpoint).
      TrainingInterrupted: SIGINT; a checkpoint of the step reached was saved first.
      OSError: `model_dir` cannot be written (read-only, full); the message names the path.
    """
    folder = PreparedFolder(config.data_dir)
    folder.verify(checksums=verify_data)
    chief = is_chief()
    lock_dir = config.model_dir if chief else os.path.dirname(_checkpoint_dirs(config.model_dir, chief)[0])
    with exclusive_lock(lock_dir, "train.py"), global_state_kept():
        try:
            return _train_locked(config, folder, chief)
        except tf.errors.DataLossError as error:
            raise _damaged_data(folder, error) from None


def _train_locked(config: TrainConfig, folder: PreparedFolder, chief: bool) -> dict:
    manifest = folder.manifest()
    config = dataclasses.replace(config, precision=resolve_precision(config.precision))
    check_resume(config, manifest.get("input_fingerprint"))
    if chief:
        store_config(config, manifest.get("input_fingerprint"))
    keras.utils.set_random_seed(config.seed)  # Python, NumPy and TensorFlow seeds
    if config.deterministic:
        make_ops_deterministic()
    keras.mixed_precision.set_global_policy(config.precision)
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model = build_model(config)
        progress = _Progress()
    # Dropout seed-generator states are model variables that tf.train.Checkpoint does not reach by itself;
    # without them a resumed run would draw other dropout masks.
    dropout_seeds = [v for v in model.non_trainable_variables if "seed_generator" in v.path]
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=model.optimizer, progress=progress, dropout_seeds=dropout_seeds
    )
    latest_dir, best_dir = _checkpoint_dirs(config.model_dir, chief)
    for stale in remove_checkpoint_scratch(latest_dir, best_dir):
        logging.info("removed %s, the scratch folder of an unfinished checkpoint save", stale)
    latest = tf.train.CheckpointManager(checkpoint, latest_dir, config.keep_checkpoints, step_counter=progress.step)
    best = tf.train.CheckpointManager(checkpoint, best_dir, max_to_keep=1, step_counter=progress.step)
    writers = SummaryWriters(config.model_dir, enabled=chief)
    if latest.latest_checkpoint:
        checkpoint.restore(latest.latest_checkpoint).assert_existing_objects_matched()
        logging.info("resumed from %s (step %d)", latest.latest_checkpoint, int(progress.step))
    else:
        writers.hparams(config)

    steps_per_epoch = config.steps_per_epoch or manifest["counts"]["train"] // config.batch_size
    if steps_per_epoch < 1:
        raise errors.ConfigError(f"{manifest['counts']['train']} training records is less than one batch of {config.batch_size}")

    distributed_train_step = make_train_step(model, strategy)

    def save_latest():
        with tf_write_errors_named(latest_dir):
            latest.save(checkpoint_number=progress.step)

    with _interrupt_flag() as interrupted:
        while int(progress.epoch) < config.epochs:
            epoch, done = int(progress.epoch), int(progress.step_in_epoch)
            batches = iter(
                strategy.distribute_datasets_from_function(
                    lambda context: make_dataset(
                        config.data_dir,
                        "train",
                        config.batch_size,
                        training=True,
                        seed=config.seed,
                        epoch=epoch,
                        skip_batches=done,
                        input_context=context,
                        shuffle_buffer=config.shuffle_buffer,
                        views=model.views,
                    )
                )
            )
            tick, tick_step = time.perf_counter(), int(progress.step)
            # Counted in examples, so tqdm shows examples/s and the epoch's ETA; off on non-chief workers and
            # when stderr is not a terminal (TensorBoard keeps the full record).
            bar = tqdm.tqdm(
                total=steps_per_epoch * config.batch_size,
                initial=done * config.batch_size,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                unit="ex",
                disable=None if chief else True,
                leave=False,
            )
            for _ in range(done, steps_per_epoch):
                logs = distributed_train_step(next(batches))
                progress.step.assign_add(1)
                progress.step_in_epoch.assign_add(1)
                step = int(progress.step)
                bar.update(config.batch_size)
                if not np.isfinite(float(logs["loss"])):
                    raise NonFiniteLossError(
                        f"training loss is {float(logs['loss'])} at step {step} (epoch {epoch}); stopped. "
                        f"Last good checkpoint: {latest.latest_checkpoint or 'none'}"
                    )
                if step % config.log_every == 0:
                    elapsed = time.perf_counter() - tick
                    scalars = {name: float(value) for name, value in logs.items()}
                    scalars["learning_rate"] = float(model.optimizer.learning_rate)
                    scalars["examples_per_second"] = (step - tick_step) * config.batch_size / elapsed
                    writers.scalars("train", scalars, step)
                    bar.set_postfix(loss=f"{scalars['loss']:.4g}", refresh=False)
                    for metric in model.metrics:
                        metric.reset_state()
                    tick, tick_step = time.perf_counter(), step
                if step % config.checkpoint_every == 0 or interrupted():
                    save_latest()
                if interrupted():
                    bar.close()
                    raise TrainingInterrupted(step)
            bar.close()
            progress.epoch.assign_add(1)
            progress.step_in_epoch.assign(0)
            measures = validate(model, config)
            writers.scalars("validation", measures, int(progress.step))
            logging.info("epoch %d/%d, step %d: validation %s", epoch + 1, config.epochs, int(progress.step),
                         ", ".join(f"{name} {value:.4g}" for name, value in sorted(measures.items())))
            if measures["loss"] < float(progress.best_validation_loss):
                progress.best_validation_loss.assign(measures["loss"])
                with tf_write_errors_named(best_dir):
                    best.save(checkpoint_number=progress.step)
            save_latest()
            if interrupted():
                raise TrainingInterrupted(int(progress.step))

    result = {
        "steps": int(progress.step),
        "epochs": int(progress.epoch),
        "best_validation_loss": float(progress.best_validation_loss),
        "export_dir": os.path.join(config.model_dir, "export"),
    }
    if best.latest_checkpoint:
        checkpoint.restore(best.latest_checkpoint).assert_existing_objects_matched()
    if chief:
        metadata = {**dataclasses.asdict(config), "best_step": int(progress.step), **result,
                    "train_split_fingerprint": folder.split_fingerprint()}
        with tf_write_errors_named(result["export_dir"]):
            export_audio_encoder(
                model.audio_encoder, result["export_dir"], metadata, overwrite=True,
                genre_encoder=model.genre_encoder, cf_encoder=model.cf_encoder,
                vocabulary=GenreVocabulary.from_prepared(config.data_dir) if model.genre_encoder else None,
                tag_encoder=model.tag_encoder,
                tags=tags_from_prepared(config.data_dir) if model.tag_encoder else None,
            )
    else:
        shutil.rmtree(os.path.dirname(latest_dir), ignore_errors=True)
    return result
