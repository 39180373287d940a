"""Playlist tags and titles of the demo corpus, drawn from each listener's latent factors (`melon._playlists`).

A playlist's tags (Korean like Melon's, some English) are drawn per kind, each independently:
- a mood word (probability `P_MOOD`): one of the 3 synonyms of the listener's target-energy band (`MOOD_TAGS`,
  4 equal bands of [-1, 1], calm to energetic); audible through the songs' rhythm and dynamics;
- genre words: the word of the listener's top genre (`P_GENRE`) and of its second genre (`P_SECOND_GENRE`) by
  taste, each English with probability `P_ENGLISH` (`GENRE_TAGS`); partly audible through timbre;
- a scene word (`P_SCENE`): the favourite artist scene's (`SCENE_TAGS`); not audible (scenes have no sound);
- noise words: min(Poisson(`NOISE_MEAN`), `MAX_NOISE`) distinct words of `NOISE_TAGS`, more when the playlist
  would have fewer than `MIN_TAGS`, drawn with Zipf weights (rank ** -`ZIPF`, head words first): they carry
  nothing.
So a playlist has `MIN_TAGS`..`MAX_TAGS` distinct tags, in random order. Its title is one or two of them and a
suffix (`TITLE_SUFFIXES`).
"""

from __future__ import annotations

import numpy as np

MOOD_TAGS = {
    "calm": ("휴식", "잔잔한", "새벽"),
    "mellow": ("감성", "힐링", "편안한"),
    "bright": ("기분전환", "설렘", "산책"),
    "energetic": ("운동", "신나는", "드라이브"),
}
GENRE_TAGS = {  # Melon top-genre code (`melon.TOP_GENRES`, same order) -> (Korean, English)
    "GN0100": ("발라드", "ballad"),
    "GN0200": ("댄스", "dance"),
    "GN0300": ("힙합", "hiphop"),
    "GN0400": ("알앤비", "rnb"),
    "GN0500": ("인디", "indie"),
}
SCENE_TAGS = ("카페", "여행", "출근길", "공부", "파티", "비오는날", "밤", "여름")  # scene k -> word
_NOISE_HEAD = (
    "kpop", "추억", "노래방", "명곡", "OST", "띵곡", "히트곡", "주말", "인기곡", "최신곡", "선곡", "취향저격",
    "2000년대", "2010년대", "90년대", "아이돌", "월요일", "금요일", "혼자", "친구", "기억", "일상", "오후", "노동요",
)
_NOISE_PREFIXES = (
    "나만의", "오늘의", "추억의", "요즘", "최애", "인생", "옛날", "매일듣는",
    "숨은", "내가좋아하는", "듣기좋은", "가끔듣는", "우리들의", "그시절", "처음듣는", "언제나",
)
_NOISE_NOUNS = (
    "노래", "명곡", "플레이리스트", "모음", "추천곡", "히트곡", "띵곡", "음악",
    "선곡", "리스트", "애창곡", "명반", "케이팝", "가요", "플리", "곡들",
)
NOISE_TAGS = _NOISE_HEAD + tuple(p + n for p in _NOISE_PREFIXES for n in _NOISE_NOUNS)  # 280, by Zipf rank
TITLE_SUFFIXES = ("모음", "플레이리스트", "듣기 좋은 노래", "노래 추천", "mix", "playlist")
P_MOOD, P_GENRE, P_SECOND_GENRE, P_SCENE, P_ENGLISH = 0.8, 0.7, 0.25, 0.5, 0.25
NOISE_MEAN, MAX_NOISE, ZIPF = 2.0, 4, 1.0
MIN_TAGS, MAX_TAGS = 2, 4 + MAX_NOISE  # 4: mood, two genres, scene


def mood_band(target: np.ndarray) -> np.ndarray:
    """(P,) index into `MOOD_TAGS` of target energies (P,) in [-1, 1]: 4 equal bands, calm first."""
    return np.clip(((target + 1) / 2 * len(MOOD_TAGS)).astype(int), 0, len(MOOD_TAGS) - 1)


def tag_playlists(
    rng: np.random.Generator,
    playlists: list[dict],
    taste: np.ndarray,
    target: np.ndarray,
    favourite: np.ndarray,
) -> list[dict]:
    """`playlists` (P dicts) with `plylst_title` and `tags` after `id`, from the listeners' latent factors.

    taste: (P, 5) preference over `GENRE_TAGS`' genres; target: (P,) energy in [-1, 1]; favourite: (P,) scene in
    0..7. Only `rng` is drawn from (its own stream, so that nothing else in the corpus depends on the tags).
    """
    moods = list(MOOD_TAGS.values())
    genres = list(GENRE_TAGS.values())
    zipf = np.arange(1, len(NOISE_TAGS) + 1, dtype=float) ** -ZIPF
    tagged = []
    for playlist, band, ranked, scene in zip(playlists, mood_band(target), np.argsort(-taste, axis=1), favourite):
        words = []
        if rng.random() < P_MOOD:
            words.append(moods[band][rng.integers(3)])
        for genre, chance in ((ranked[0], P_GENRE), (ranked[1], P_SECOND_GENRE)):
            if rng.random() < chance:
                words.append(genres[genre][int(rng.random() < P_ENGLISH)])
        if rng.random() < P_SCENE:
            words.append(SCENE_TAGS[scene])
        n_noise = max(min(int(rng.poisson(NOISE_MEAN)), MAX_NOISE), MIN_TAGS - len(words))
        words += [NOISE_TAGS[i] for i in rng.choice(len(NOISE_TAGS), n_noise, replace=False, p=zipf / zipf.sum())]
        words = [words[i] for i in rng.permutation(len(words))]
        in_title = [words[i] for i in sorted(rng.choice(len(words), rng.integers(1, 3), replace=False))]
        title = " ".join([*in_title, TITLE_SUFFIXES[rng.integers(len(TITLE_SUFFIXES))]])
        tagged.append({"id": playlist["id"], "plylst_title": title, "tags": words, **playlist})
    return tagged
