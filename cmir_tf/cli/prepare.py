"""`cmir-prepare` (`python -m cmir_tf prepare`): a source of music -> a prepared folder of sharded TFRecords,
genre word2vec, LightFM vectors and playlist tags (`cmir_tf.data.prepare`; docs/data.md).

    cmir-prepare --melon_dir=MELON --output_dir=PREPARED [--playlists=train|all] [--workers=N]
    cmir-prepare --audio_dir=MUSIC [--tracks=FILE] [--playlists_from=DIR_OR_CSV] --output_dir=PREPARED

The first source is the Melon Playlist Dataset; the second a catalogue of one's own music: a folder of audio
(any format cmir-tf decodes), a track table (CSV or TSV: path, genres, optional artist and album) or else the
files' own tags, and playlists (a folder of .m3u/.m3u8 files or a CSV of playlist, track rows): docs/catalogue.md.
Give exactly one source. A rerun resumes a killed run; one with other inputs or flags is refused.
Exit status: 0; 1 when an input cannot be read or the output cannot be written; 2 for usage errors (flags, a
folder prepared from other inputs, a folder another prepare is writing).
"""

from __future__ import annotations

import dataclasses

from absl import flags, logging

from cmir_tf.cli import runner
from cmir_tf.data import melon
from cmir_tf.data.prepare import PrepareConfig, prepare


def define_flags() -> None:
    d = PrepareConfig
    flags.DEFINE_string("melon_dir", None, "Source 1: the Melon Playlist Dataset directory (song_meta.json, "
                        "arena_mel/, ...).")
    flags.DEFINE_string("audio_dir", None, "Source 2: a folder of audio files, searched recursively "
                        "(docs/catalogue.md).")
    flags.DEFINE_string("tracks", None, "With --audio_dir: a track table, CSV or TSV with a header: path (relative "
                        "to --audio_dir), genre (several separated by | ; or ,), optional artist, album. Without "
                        "it, the files' own genre, artist and album tags are read.")
    flags.DEFINE_string("playlists_from", None, "With --audio_dir: a folder of .m3u/.m3u8 playlists (the file name "
                        "is the title) or a CSV of playlist,track[,tags] rows.")
    flags.DEFINE_string("mel_cache_dir", None, "With --audio_dir: where computed mels are cached, keyed by path, "
                        "size and mtime (default OUTPUT_DIR/catalogue/mel_cache); several prepared folders may "
                        "share one.")
    flags.DEFINE_string("output_dir", None, "Prepared data directory (created; a rerun resumes it).")
    flags.DEFINE_enum("genre_level", d.genre_level, melon.GENRE_LEVELS, "Melon genre codes per song: GNxx00, "
                      "GNxxyy or both.")
    flags.DEFINE_integer("frames", d.frames, "Mel frames stored per song (the first ones).")
    flags.DEFINE_enum("short", d.short, ["pad", "drop"], "Mels shorter than 256 frames: pad to 256 or drop.")
    flags.DEFINE_enum("playlists", d.playlists, list(melon.PLAYLIST_CHOICES),
                      "Melon playlists for LightFM and genre word2vec: train.json alone (the paper's) or all files.")
    flags.DEFINE_integer("word2vec_dim", d.word2vec_dim, "Genre and playlist-tag word2vec dimension F_w.")
    flags.DEFINE_integer("min_tag_count", d.min_tag_count, "Playlist tags used by fewer playlists are left out of the "
                         "tag vocabulary (docs/playlist_tags.md).")
    flags.DEFINE_string("genre_matrix", None, "Use this (V + 1, F_w) .npy instead of training word2vec.")
    flags.DEFINE_string("genre_code_map", None, "JSON code -> row index - 1 for --genre_matrix.")
    flags.DEFINE_integer("cf_epochs", d.cf_epochs, "LightFM epochs.")
    flags.DEFINE_float("cf_learning_rate", d.cf_learning_rate, "LightFM learning rate.")
    flags.DEFINE_integer("cf_max_sampled", d.cf_max_sampled, "LightFM WARP max_sampled.")
    flags.DEFINE_integer("cf_threads", d.cf_threads, "LightFM threads. 1: reproducible, and a killed fit resumes "
                         "to bitwise the same vectors; measured at full Melon scale on a 2-core AMD EPYC (Zen 4): "
                         "158 s per epoch (2.2 h for 50). 2: 60-76 s per epoch there, but Hogwild updates make the "
                         "CF vectors, hence the shards, differ every run (the manifest's cf_sha256 tells them "
                         "apart).")
    flags.DEFINE_integer("seed", d.seed, "Seed of the split, word2vec and LightFM.")
    flags.DEFINE_float("shard_size_mb", d.shard_size_mb, "Target shard size in MB.")
    flags.DEFINE_integer("songs_per_shard", d.songs_per_shard, "Songs per shard; overrides --shard_size_mb if > 0.")
    flags.DEFINE_integer("workers", d.workers, "Parallel processes writing shards and (--audio_dir) computing mels.")
    flags.DEFINE_bool("verify_data", d.verify_data, "On a rerun, also check each finished shard's sha256 "
                      "(reads every byte) and rewrite those that differ; sizes are always checked.")
    flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    config = PrepareConfig(**{f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(PrepareConfig)})
    manifest = prepare(config)
    logging.info("records per split: %s", manifest["counts"])


def run() -> None:
    """Console entry (`cmir-prepare`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-prepare")


if __name__ == "__main__":
    run()
