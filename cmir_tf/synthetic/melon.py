"""The Melon-format part of the demo corpus: metadata, playlists and render jobs with planted structure.

Generative model (docs/demo_corpus.md):
- 5 top genres GN0100..GN0500 with 4 detailed genres each (GNxx01..GNxx04): 25 codes. Each detailed genre
  has a timbre, a variation of its top genre's (`synth.vary`). A song sounds like its own detailed genre
  jittered by `synth.SONG_JITTER`, except for a fraction `INAUDIBLE_GENRE` of songs that sound like a random
  detailed genre: genre is audible through timbre only, and only partly;
- register and base tempo are drawn per song and carry no label (`synth.perform`);
- a latent energy per song in [-1, 1], independent of genre, sets rhythm and dynamics (`synth.with_energy`);
- a latent "scene" per artist (8 scenes) and a popularity per song, both inaudible;
- playlists from listener tastes: a peaked preference over top genres, a target energy and a favourite
  scene, plus song popularity. Playlist membership is therefore partly audible through timbre (via genre)
  and rhythm (via energy), and partly not audible at all (scene, popularity, the inaudible-genre songs);
- playlist tags and titles from the same listener factors: mood, genre, scene and Zipf noise words (`tags`),
  drawn from a stream of their own, so that the rest of the corpus is the same with or without them.
"""

from __future__ import annotations

import numpy as np

from cmir_tf.constants import HOP_LENGTH
from cmir_tf.synthetic import synth
from cmir_tf.synthetic.jobs import RenderJob
from cmir_tf.synthetic.tags import SCENE_TAGS, tag_playlists

TOP_GENRES = {"GN0100": "Ballad", "GN0200": "Dance", "GN0300": "Rap/Hip-hop", "GN0400": "R&B/Soul", "GN0500": "Indie"}
DETAIL_NAMES = ("Classic", "Modern", "Acoustic", "Crossover")
N_SCENES = len(SCENE_TAGS)
SONGS_PER_ARTIST = 8
INAUDIBLE_GENRE = 0.25  # fraction of songs whose timbre is that of a random detailed genre


def genre_names() -> dict[str, str]:
    """`genre_gn_all.json`: code -> name for the 5 top and 20 detailed codes."""
    names = {}
    for top, name in TOP_GENRES.items():
        names[top] = name
        for d, detail in enumerate(DETAIL_NAMES, start=1):
            names[f"{top[:4]}{d:02d}"] = f"{name}: {detail}"
    return names


def _songs(rng: np.random.Generator, n_songs: int, no_genre_fraction: float) -> dict[str, np.ndarray]:
    n_top = len(TOP_GENRES)
    top = rng.choice(n_top, n_songs, p=rng.dirichlet(np.full(n_top, 8.0)))
    detail = rng.integers(0, len(DETAIL_NAMES), n_songs)
    inaudible = rng.random(n_songs) < INAUDIBLE_GENRE
    return {
        "top": top,
        "detail": detail,
        "sound_top": np.where(inaudible, rng.integers(0, n_top, n_songs), top),
        "sound_detail": np.where(inaudible, rng.integers(0, len(DETAIL_NAMES), n_songs), detail),
        "second_detail": np.where(rng.random(n_songs) < 0.3, rng.integers(0, len(DETAIL_NAMES), n_songs), -1),
        "second_top": np.where(rng.random(n_songs) < 0.08, rng.integers(0, n_top, n_songs), -1),
        "energy": np.clip(rng.normal(0, 0.5, n_songs), -1, 1),
        "artist": rng.permutation(n_songs) // SONGS_PER_ARTIST,
        "popularity": rng.lognormal(0, 0.7, n_songs),
        "no_genres": rng.random(n_songs) < no_genre_fraction,
    }


def _song_meta(songs: dict[str, np.ndarray]) -> list[dict]:
    tops = list(TOP_GENRES)
    meta = []
    for i in range(len(songs["top"])):
        top_codes = [tops[songs["top"][i]]]
        detail_codes = [f"{top_codes[0][:4]}{songs['detail'][i] + 1:02d}"]
        if songs["second_detail"][i] >= 0:
            detail_codes.append(f"{top_codes[0][:4]}{songs['second_detail'][i] + 1:02d}")
        if songs["second_top"][i] >= 0:
            top_codes.append(tops[songs["second_top"][i]])
            detail_codes.append(f"{top_codes[-1][:4]}{songs['detail'][i] + 1:02d}")
        if songs["no_genres"][i]:
            top_codes, detail_codes = [], []
        artist = int(songs["artist"][i])
        meta.append(
            {
                "id": i,
                "song_name": f"Song {i}",
                "album_id": artist * 10,
                "album_name": f"Album {artist * 10}",
                "artist_id_basket": [artist],
                "artist_name_basket": [f"Artist {artist}"],
                "issue_date": f"20{10 + i % 10}0101",
                "song_gn_gnr_basket": list(dict.fromkeys(top_codes)),
                "song_gn_dtl_gnr_basket": list(dict.fromkeys(detail_codes)),
            }
        )
    return meta


def _playlists(
    rng: np.random.Generator, songs: dict[str, np.ndarray], n_playlists: int
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Untagged playlists (`id`, `songs`, `like_cnt`, `updt_date`) and their listeners' latent factors: `taste`
    (P, 5) over top genres, `target` (P,) energy in [-1, 1], `favourite` (P,) scene (`tags.tag_playlists`)."""
    n_top = len(TOP_GENRES)
    scene = rng.integers(0, N_SCENES, songs["artist"].max() + 1)[songs["artist"]]
    taste = rng.dirichlet(np.full(n_top, 0.3), n_playlists)  # (P, genres)
    target = rng.uniform(-1, 1, n_playlists)
    favourite = rng.integers(0, N_SCENES, n_playlists)
    score = (
        np.log(taste[:, songs["top"]] + 1e-3)
        - (songs["energy"][None] - target[:, None]) ** 2 / (2 * 0.35**2)
        + np.log(3.0) * (scene[None] == favourite[:, None])
        + np.log(songs["popularity"])[None]
    )
    gumbel = score + rng.gumbel(size=score.shape)
    playlists = []
    for p in range(n_playlists):
        length = int(rng.integers(10, 41))
        chosen = np.argsort(-gumbel[p])[:length]
        playlists.append(
            {
                "id": p,
                "songs": sorted(int(s) for s in chosen),
                "like_cnt": int(rng.poisson(20)),
                "updt_date": f"2020-0{1 + p % 9}-01 00:00:00.000",
            }
        )
    return playlists, {"taste": taste, "target": target, "favourite": favourite}


def melon_corpus(
    rng: np.random.Generator,
    n_songs: int,
    n_playlists: int,
    frames: tuple[int, int],
    sample_rate: int,
    no_genre_fraction: float = 0.01,
) -> tuple[dict[str, object], list[RenderJob]]:
    """Melon-format JSON files (name -> content) and one mel render job per song (`arena_mel/...`)."""
    songs = _songs(rng, n_songs, no_genre_fraction)
    top_recipes = [synth.random_recipe(rng) for _ in TOP_GENRES]
    recipes = [[synth.vary(r, rng) for _ in DETAIL_NAMES] for r in top_recipes]
    playlists, listeners = _playlists(rng, songs, n_playlists)
    playlists = tag_playlists(rng.spawn(1)[0], playlists, **listeners)  # own stream: `rng` is not advanced
    n_train = int(round(0.9 * n_playlists))
    files = {
        "song_meta.json": _song_meta(songs),
        "genre_gn_all.json": genre_names(),
        "train.json": playlists[:n_train],
        "val.json": playlists[n_train:],
    }
    lengths = rng.integers(frames[0], frames[1] + 1, n_songs)
    song_recipes = [
        synth.perform(synth.vary(recipes[top][detail], rng, synth.SONG_JITTER), rng)
        for top, detail in zip(songs["sound_top"], songs["sound_detail"])
    ]
    jobs = [
        RenderJob(
            path=f"arena_mel/{i // 1000}/{i}.npy",
            recipes=(song_recipes[i],),
            n_samples=(int(lengths[i]) - 1) * HOP_LENGTH,
            sample_rate=sample_rate,
            energy=float(songs["energy"][i]),
            seed=(1, i),
        )
        for i in range(n_songs)
    ]
    return files, jobs
