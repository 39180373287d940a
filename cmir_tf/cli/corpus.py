"""`cmir-corpus --output_dir=...` (`python -m cmir_tf corpus`): the synthetic demo corpus (what `make demo` uses).

Writes, deterministically for `--seed` (and independently of `--workers`), Melon, GTZAN and MTG-Jamendo
folders in their real formats with planted structure (`cmir_tf.synthetic.corpus`, docs/demo_corpus.md).
"""

from __future__ import annotations

import os

from absl import flags, logging

from cmir_tf.cli import runner
from cmir_tf.synthetic.corpus import generate

FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    corpus = generate(
        FLAGS.output_dir,
        seed=FLAGS.seed,
        melon_songs=FLAGS.melon_songs,
        melon_playlists=FLAGS.melon_playlists,
        min_frames=FLAGS.min_frames,
        max_frames=FLAGS.max_frames,
        gtzan_per_genre=FLAGS.gtzan_per_genre,
        gtzan_seconds=FLAGS.gtzan_seconds,
        jamendo_tracks=FLAGS.jamendo_tracks,
        jamendo_seconds=FLAGS.jamendo_seconds,
        workers=FLAGS.workers,
    )
    logging.info("demo corpus in %s: %s", FLAGS.output_dir, corpus)


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("output_dir", None, "Folder to create (must not exist or be empty).")
    flags.DEFINE_integer("seed", 0, "Corpus seed.")
    flags.DEFINE_integer("melon_songs", 2000, "Melon songs.")
    flags.DEFINE_integer("melon_playlists", 600, "Melon playlists (90% train.json, 10% val.json).")
    flags.DEFINE_integer("min_frames", 1250, "Shortest Melon mel, frames (>= 256).")
    flags.DEFINE_integer("max_frames", 1600, "Longest Melon mel, frames.")
    flags.DEFINE_integer("gtzan_per_genre", 100, "GTZAN clips per genre (100 = every name in the split lists).")
    flags.DEFINE_float("gtzan_seconds", 8.0, "GTZAN clip length, seconds.")
    flags.DEFINE_integer("jamendo_tracks", 300, "MTG-Jamendo tracks.")
    flags.DEFINE_float("jamendo_seconds", 10.0, "MTG-Jamendo track length, seconds.")
    flags.DEFINE_integer("workers", os.cpu_count() or 1, "Render processes.")
    flags.mark_flag_as_required("output_dir")


def run() -> None:
    """Console entry (`cmir-corpus`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-corpus")


if __name__ == "__main__":
    run()
