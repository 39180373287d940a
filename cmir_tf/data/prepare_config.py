"""What `prepare` is asked to do: `PrepareConfig` (one field per flag of `cmir-prepare`) and its validation.

Two sources, exactly one per run: the Melon Playlist Dataset (`melon_dir`) or a catalogue of one's own music
(`audio_dir`, with an optional track table `tracks` and playlists `playlists_from`: docs/catalogue.md).
"""

from __future__ import annotations

import dataclasses
import os

from cmir_tf import errors
from cmir_tf.constants import CHUNK_FRAMES
from cmir_tf.data import melon

MIN_TAG_COUNT = 5  # default --min_tag_count (docs/playlist_tags.md says why)
# Fields that name where inputs and outputs are, or how fast to run: they do not shape the output, so they stay
# out of the recipe fingerprint (the catalogue's inputs are fingerprinted by content instead).
UNFINGERPRINTED = ("melon_dir", "audio_dir", "tracks", "playlists_from", "mel_cache_dir", "output_dir", "workers",
                   "cf_threads", "verify_data")


class PrepareUsageError(errors.UsageError, ValueError):
    """Flags that cannot work together or a dataset folder that is not there (exit status 2)."""


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """The flags of `cmir-prepare` (`cmir_tf.cli.prepare` says what each means)."""

    melon_dir: str | None
    output_dir: str
    genre_level: str = "both"
    frames: int = 1300
    short: str = "pad"
    playlists: str = "train"
    word2vec_dim: int = 200
    min_tag_count: int = MIN_TAG_COUNT
    genre_matrix: str | None = None
    genre_code_map: str | None = None
    cf_epochs: int = 50
    cf_learning_rate: float = 0.05
    cf_max_sampled: int = 40
    cf_threads: int = 1
    seed: int = 0
    shard_size_mb: float = 150.0
    songs_per_shard: int = 0
    workers: int = 1
    verify_data: bool = False
    audio_dir: str | None = None
    tracks: str | None = None
    playlists_from: str | None = None
    mel_cache_dir: str | None = None

    @property
    def is_catalogue(self) -> bool:
        """Whether the source is a catalogue (`audio_dir`) rather than Melon."""
        return bool(self.audio_dir)

    def fingerprinted(self) -> dict:
        """The settings that determine the output (`UNFINGERPRINTED` excluded)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in UNFINGERPRINTED}


def _source_problems(config: PrepareConfig) -> list[str]:
    if bool(config.melon_dir) == bool(config.audio_dir):
        return ["give one source: --melon_dir (the Melon Playlist Dataset) or --audio_dir (a folder of audio, "
                f"docs/catalogue.md), got {'both' if config.melon_dir else 'neither'}"]
    if config.melon_dir:
        return [f"--{flag} goes with --audio_dir, not --melon_dir"
                for flag in ("tracks", "playlists_from", "mel_cache_dir") if getattr(config, flag)]
    if config.genre_level == "detailed":
        return ["--genre_level=detailed reads Melon's detailed codes; a catalogue's genres have one level "
                "(leave --genre_level at both, or top)"]
    return []


def _missing_inputs(config: PrepareConfig) -> list[tuple[str, str]]:
    """(flag, what is wrong) for each input path given that is not there (or not of its kind)."""
    missing = []
    if config.melon_dir and not os.path.isfile(os.path.join(config.melon_dir, "song_meta.json")):
        missing.append(("melon_dir", "has no song_meta.json"))
    if config.audio_dir and not os.path.isdir(config.audio_dir):
        missing.append(("audio_dir", "is not a folder"))
    if config.tracks and not os.path.isfile(config.tracks):
        missing.append(("tracks", "is not a file"))
    missing += [(flag, "does not exist") for flag in ("playlists_from", "genre_matrix", "genre_code_map")
                if getattr(config, flag) and not os.path.exists(getattr(config, flag))]
    return missing


def validate(config: PrepareConfig) -> None:
    """Raises, before anything is written, `PrepareUsageError` naming every flag that cannot work (and any input
    not there), or `errors.MissingPathError` when only an input path is missing."""
    problems = _source_problems(config)
    if os.path.exists(config.output_dir) and not os.path.isdir(config.output_dir):
        problems.append(f"--output_dir={config.output_dir} is a file")
    if bool(config.genre_matrix) != bool(config.genre_code_map):
        problems.append("--genre_matrix and --genre_code_map go together")
    choices = {"genre_level": melon.GENRE_LEVELS, "short": ("pad", "drop"), "playlists": tuple(melon.PLAYLIST_CHOICES)}
    problems += [f"--{flag} must be one of {', '.join(options)}, got {getattr(config, flag)!r}"
                 for flag, options in choices.items() if getattr(config, flag) not in options]
    minimums = {"frames": CHUNK_FRAMES, "word2vec_dim": 1, "min_tag_count": 1, "cf_epochs": 1, "cf_max_sampled": 1,
                "cf_threads": 1, "workers": 1, "songs_per_shard": 0}
    problems += [f"--{flag} must be >= {low}, got {getattr(config, flag)}"
                 for flag, low in minimums.items() if getattr(config, flag) < low]
    problems += [f"--{flag} must be > 0, got {getattr(config, flag)}"
                 for flag in ("cf_learning_rate", "shard_size_mb") if not getattr(config, flag) > 0]
    missing = _missing_inputs(config)
    if problems:  # everything named at once, the missing inputs too
        raise PrepareUsageError("; ".join(problems + [f"--{flag}={getattr(config, flag)} {what}"
                                                      for flag, what in missing]))
    if missing:  # only inputs are wrong: an input failure, as in every command
        flag, what = missing[0]
        raise errors.missing_path(getattr(config, flag), f"--{flag}", what)
