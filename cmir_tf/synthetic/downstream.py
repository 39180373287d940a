"""The downstream parts of the demo corpus: a GTZAN-format folder and an MTG-Jamendo-format folder.

GTZAN: `genres/<genre>/<genre>.000NN.wav`, 22,050 Hz mono 16-bit like the real files (shorter clips), so the
real fault-filtered split lists (package data) apply unchanged. The 10 genres are 5 pairs of related timbres
(a random timbre and two `synth.vary` variations of it); a clip is its genre's timbre jittered by
`synth.SONG_JITTER`, with a random register, tempo and energy (`synth.perform`).

MTG-Jamendo: `split-0/autotagging_{genre,instrument,moodtheme}-{train,validation,test}.tsv` in the real
syntax (CRLF, header `TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS`, tab-separated `genre---x` tags after
DURATION) and audio at `audio/<PATH>` with the stem of PATH and a `.flac` extension (16 kHz mono). Planted:
a track mixes a backing voice with its first genre tag's timbre (jittered as in GTZAN) and one voice per
instrument tag (the instrument's timbre in the backing voice's register and tempo); mood tags set its energy.
Artists (5 tracks each) are split 60/20/20 so no artist crosses splits.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cmir_tf.synthetic import synth
from cmir_tf.synthetic.jobs import RenderJob

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_SAMPLE_RATE = 22_050
JAMENDO_GENRES = ("electronic", "pop", "rock", "classical", "ambient", "soundtrack")
JAMENDO_MOODS = {"energetic": 0.9, "happy": 0.5, "epic": 0.2, "dark": -0.4, "relaxing": -0.8}
JAMENDO_INSTRUMENTS = {
    "piano": dict(partials=8, rolloff=1.5, odd_gain=1.0, decay=3.0),
    "guitar": dict(partials=6, rolloff=1.0, odd_gain=1.0, decay=7.0),
    "synthesizer": dict(partials=12, rolloff=0.5, odd_gain=3.0, decay=0.3),
    "voice": dict(partials=10, rolloff=1.2, odd_gain=1.0, decay=0.5),
    "drums": dict(pulses_per_second=4.0, noise_level=0.4),
}
TSV_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"
TRACKS_PER_ARTIST = 5


def gtzan_jobs(rng: np.random.Generator, per_genre: int, seconds: float) -> list[RenderJob]:
    """`per_genre` clips per genre, named `<genre>/<genre>.000NN.wav` (NN from 0), relative to `genres/`."""
    jobs = []
    families = [synth.random_recipe(rng) for _ in range(len(GTZAN_GENRES) // 2)]
    for g, genre in enumerate(GTZAN_GENRES):
        recipe = synth.vary(families[g // 2], rng)
        energies = np.clip(rng.normal(0, 0.5, per_genre), -1, 1)
        for k in range(per_genre):
            jobs.append(
                RenderJob(
                    path=f"{genre}/{genre}.{k:05d}.wav",
                    recipes=(synth.perform(synth.vary(recipe, rng, synth.SONG_JITTER), rng),),
                    n_samples=int(seconds * GTZAN_SAMPLE_RATE),
                    sample_rate=GTZAN_SAMPLE_RATE,
                    energy=float(energies[k]),
                    seed=(2, g, k),
                )
            )
    return jobs


def _pick(rng: np.random.Generator, names: list[str], second_probability: float) -> list[str]:
    count = 1 + int(rng.random() < second_probability)
    return [names[i] for i in rng.choice(len(names), count, replace=False)]


def jamendo_corpus(
    rng: np.random.Generator, n_tracks: int, seconds: float, sample_rate: int
) -> tuple[dict[str, str], list[RenderJob]]:
    """TSV files (relative name -> text) and render jobs (relative to the Jamendo folder)."""
    genre_recipes = {g: synth.random_recipe(rng) for g in JAMENDO_GENRES}
    n_artists = -(-n_tracks // TRACKS_PER_ARTIST)
    order = rng.permutation(n_artists)
    artist_split = np.empty(n_artists, dtype=object)
    cut1, cut2 = int(0.6 * n_artists), int(0.8 * n_artists)
    artist_split[order[:cut1]], artist_split[order[cut1:cut2]], artist_split[order[cut2:]] = (
        "train",
        "validation",
        "test",
    )
    rows = {(c, s): [] for c in ("genre", "instrument", "moodtheme") for s in ("train", "validation", "test")}
    jobs = []
    for i in range(n_tracks):
        track_id, artist = 1000 + i, i // TRACKS_PER_ARTIST
        genres = _pick(rng, list(JAMENDO_GENRES), 0.2)
        moods = _pick(rng, list(JAMENDO_MOODS), 0.2)
        instruments = _pick(rng, list(JAMENDO_INSTRUMENTS), 0.3)
        backing = synth.perform(synth.vary(genre_recipes[genres[0]], rng, synth.SONG_JITTER), rng)
        recipes = (backing, *(dataclasses.replace(backing, **JAMENDO_INSTRUMENTS[name]) for name in instruments))
        path = f"{track_id % 100:02d}/{track_id}.mp3"
        prefix = f"track_{track_id:07d}\tartist_{artist:06d}\talbum_{artist:06d}\t{path}\t{seconds:.1f}"
        split = artist_split[artist]
        for category, key, tags in (
            ("genre", "genre", genres),
            ("instrument", "instrument", instruments),
            ("moodtheme", "mood/theme", moods),
        ):
            rows[category, split].append(prefix + "".join(f"\t{key}---{t}" for t in tags))
        jobs.append(
            RenderJob(
                path=f"audio/{track_id % 100:02d}/{track_id}.flac",
                recipes=recipes,
                n_samples=int(seconds * sample_rate),
                sample_rate=sample_rate,
                energy=float(np.mean([JAMENDO_MOODS[m] for m in moods])),
                seed=(3, i),
            )
        )
    tsv = {
        f"split-0/autotagging_{c}-{s}.tsv": "".join(f"{line}\r\n" for line in [TSV_HEADER, *lines])
        for (c, s), lines in rows.items()
    }
    return tsv, jobs
