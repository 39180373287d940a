"""The demo corpus: formats, names matching the real split lists, determinism, and planted structure."""

import collections
import filecmp
import itertools
import json
import os
import re
from importlib import resources

import numpy as np
import soundfile as sf
from conftest import TINY_CORPUS
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from cmir_tf.synthetic import corpus as synthetic
from cmir_tf.synthetic import melon as melon_corpus
from cmir_tf.synthetic import tags
from cmir_tf.data import melon
from cmir_tf.synthetic.downstream import GTZAN_GENRES, gtzan_jobs


def _mel_features(melon_dir, meta):
    """Per song: mean and std over time of each mel band (96,), standardised."""
    mels = (np.load(melon.mel_path(melon_dir, s["id"])).astype(np.float32) for s in meta)
    x = np.stack([np.concatenate([m.mean(1), m.std(1)]) for m in mels])
    return (x - x.mean(0)) / x.std(0)


def _timbre_features(melon_dir, meta):
    """Per song, register-invariant: each frame's band levels below its peak, sorted (spectral shape whatever
    the pitch), mean and std over time, and each band's mean frame-to-frame change (144,), standardised."""
    features = []
    for song in meta:
        mel = np.load(melon.mel_path(melon_dir, song["id"])).astype(np.float32)
        shape = np.sort(mel - mel.max(axis=0, keepdims=True), axis=0)
        features.append(np.concatenate([shape.mean(1), shape.std(1), np.abs(np.diff(mel, axis=1)).mean(1)]))
    x = np.stack(features)
    return (x - x.mean(0)) / (x.std(0) + 1e-6)


def test_melon_format(demo_corpus):
    melon_dir = os.path.join(demo_corpus, "melon")
    meta = melon.load_json(os.path.join(melon_dir, "song_meta.json"))
    names = melon.load_json(os.path.join(melon_dir, "genre_gn_all.json"))
    assert len(meta) == TINY_CORPUS["melon_songs"] and len(names) == 25
    assert all(re.fullmatch(r"GN\d{4}", c) and f"{c[:4]}00" in names for c in names)
    for song in meta:
        assert set(song["song_gn_gnr_basket"]) == {f"{c[:4]}00" for c in song["song_gn_dtl_gnr_basket"]}
        mel = np.load(melon.mel_path(melon_dir, song["id"]))
        assert mel.dtype == np.float16 and mel.shape[0] == 48
        assert TINY_CORPUS["min_frames"] <= mel.shape[1] <= TINY_CORPUS["max_frames"] and np.isfinite(mel).all()
    playlists = melon.load_playlists(melon_dir, "all")
    assert len(playlists) == TINY_CORPUS["melon_playlists"]
    assert all({"id", "songs", "tags", "plylst_title", "like_cnt", "updt_date"} <= set(p) for p in playlists)


def test_genre_and_playlists_are_partly_audible(demo_corpus):
    melon_dir = os.path.join(demo_corpus, "melon")
    meta = [s for s in melon.load_json(os.path.join(melon_dir, "song_meta.json")) if s["song_gn_gnr_basket"]]
    top = np.array([s["song_gn_gnr_basket"][0] for s in meta])
    # Genre is partly audible through timbre: clearly above the majority class, far from perfect.
    accuracy = cross_val_score(LogisticRegression(max_iter=3000, C=0.3), _timbre_features(melon_dir, meta), top,
                               cv=5).mean()
    majority = np.unique(top, return_counts=True)[1].max() / len(top)
    assert majority + 0.08 < accuracy < 0.9
    x = _mel_features(melon_dir, meta)
    # Within a genre, songs sharing a playlist sound a little closer (the latent energy, masked by each song's
    # own register and tempo) than those that never do.
    row = {s["id"]: i for i, s in enumerate(meta)}
    together = {pair for p in melon.load_playlists(melon_dir, "all") for pair in itertools.permutations(p["songs"], 2)}
    near, far = [], []
    for a, b in itertools.combinations(row, 2):
        if top[row[a]] == top[row[b]]:
            (near if (a, b) in together else far).append(np.linalg.norm(x[row[a]] - x[row[b]]))
    assert len(far) > 20 and np.mean(near) < 0.97 * np.mean(far)


def test_gtzan_names_cover_the_real_split_lists(demo_corpus):
    lists = resources.files("cmir_tf") / "splits" / "gtzan"
    texts = [(lists / f"{split}_filtered.txt").read_text() for split in ("train", "valid", "test")]
    listed = {name for text in texts for name in text.split()}
    all_names = {job.path for job in gtzan_jobs(np.random.default_rng(0), 100, 0.1)}
    assert len(all_names) == 1000 and listed <= all_names
    for genre in GTZAN_GENRES:
        for k in range(TINY_CORPUS["gtzan_per_genre"]):
            info = sf.info(os.path.join(demo_corpus, "gtzan", "genres", genre, f"{genre}.{k:05d}.wav"))
            assert info.samplerate == 22050 and info.channels == 1
            assert info.frames == int(TINY_CORPUS["gtzan_seconds"] * 22050)


def test_jamendo_tsv_syntax_splits_and_audio(demo_corpus):
    root = os.path.join(demo_corpus, "mtg-jamendo")
    split_of_artist, tracks = {}, {}
    for category, prefix in (("genre", "genre"), ("instrument", "instrument"), ("moodtheme", "mood/theme")):
        for split in ("train", "validation", "test"):
            with open(os.path.join(root, "split-0", f"autotagging_{category}-{split}.tsv"), newline="") as f:
                text = f.read()
            lines = text.split("\r\n")
            assert lines[0] == "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS" and lines[-1] == ""
            assert "\n" not in text.replace("\r\n", "")
            for line in lines[1:-1]:
                track, artist, album, path, duration, *tags = line.split("\t")
                assert re.fullmatch(r"track_\d{7}", track) and re.fullmatch(r"artist_\d{6}", artist)
                assert re.fullmatch(r"album_\d{6}", album) and re.fullmatch(r"\d\d/\d+\.mp3", path)
                assert tags and all(re.fullmatch(rf"{re.escape(prefix)}---[a-z]+", t) for t in tags)
                assert split_of_artist.setdefault(artist, split) == split
                tracks[track] = (path, float(duration))
    assert len(tracks) == TINY_CORPUS["jamendo_tracks"] and len(set(split_of_artist.values())) == 3
    for path, duration in tracks.values():
        info = sf.info(os.path.join(root, "audio", path.replace(".mp3", ".flac")))
        assert info.samplerate == 16000 and abs(info.frames / 16000 - duration) < 0.05


def test_generation_is_deterministic_for_a_seed(tmp_path):
    sizes = dict(melon_songs=12, melon_playlists=4, min_frames=256, max_frames=300)
    sizes.update(gtzan_per_genre=1, gtzan_seconds=0.3, jamendo_tracks=5, jamendo_seconds=0.3)
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        synthetic.generate(str(tmp_path / name), seed=seed, **sizes)
    root = tmp_path / "a"
    files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names)
    files.remove("corpus.json")  # holds the generation time
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert not mismatch and not errors and len(match) == len(files)
    assert filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", files, shallow=False)[1]
    with open(tmp_path / "a" / "corpus.json") as f:
        assert json.load(f)["melon"]["songs"] == 12


def _tagged_playlists(seed=0, n_songs=2000, n_playlists=600):
    """The demo corpus's songs (latent factors), untagged playlists, listeners and tagged playlists, no audio."""
    rng = np.random.default_rng(seed)
    songs = melon_corpus._songs(rng, n_songs, 0.01)
    playlists, listeners = melon_corpus._playlists(rng, songs, n_playlists)
    return songs, playlists, listeners, tags.tag_playlists(np.random.default_rng(seed + 1), playlists, **listeners)


def _kind(words):
    """word -> its index among `words`' groups (a dict of word tuples) or words (a tuple): band, genre, scene."""
    groups = words.values() if isinstance(words, dict) else ([w] for w in words)
    return {w: k for k, group in enumerate(groups) for w in group}


def test_playlist_tags_are_strings_within_bounds_from_disjoint_vocabularies():
    _, _, listeners, tagged = _tagged_playlists()
    vocabularies = [set(_kind(words)) for words in (tags.MOOD_TAGS, tags.GENRE_TAGS, tags.SCENE_TAGS, tags.NOISE_TAGS)]
    assert sum(map(len, vocabularies)) == len(set.union(*vocabularies)) == 12 + 10 + 8 + len(tags.NOISE_TAGS) > 200
    assert list(tags.GENRE_TAGS) == list(melon_corpus.TOP_GENRES) and len(tags.SCENE_TAGS) == melon_corpus.N_SCENES
    moods, genres, scenes = _kind(tags.MOOD_TAGS), _kind(tags.GENRE_TAGS), _kind(tags.SCENE_TAGS)
    bands = tags.mood_band(listeners["target"])
    for p, playlist in enumerate(tagged):
        words = playlist["tags"]
        assert tags.MIN_TAGS <= len(words) <= tags.MAX_TAGS and len(set(words)) == len(words)
        assert all(isinstance(w, str) and w for w in words) and isinstance(playlist["plylst_title"], str)
        assert any(w in playlist["plylst_title"] for w in words)
        # Each signal word is its listener's: the target energy's band, one of the top two genres, the scene.
        top_two = set(np.argsort(-listeners["taste"][p])[:2])
        assert all(moods[w] == bands[p] for w in words if w in moods)
        assert all(genres[w] in top_two for w in words if w in genres)
        assert all(scenes[w] == listeners["favourite"][p] for w in words if w in scenes)
    counts = collections.Counter(w for playlist in tagged for w in playlist["tags"])
    noise = sorted((counts[w] for w in tags.NOISE_TAGS), reverse=True)
    assert noise[0] > 10 * noise[len(noise) // 2]  # a long tail



def _by_tag(kind, values, tagged):
    """For each tag of `kind` (word -> index), the playlist `values` of the playlists carrying it, by index."""
    groups = collections.defaultdict(list)
    for value, playlist in zip(values, tagged):
        for w in playlist["tags"]:
            if w in kind:
                groups[kind[w]].append(value)
    return [groups[k] for k in sorted(groups)]


def test_mood_and_genre_tags_are_audible_and_scene_tags_are_not():
    """Audible is what sets a song's sound: its latent energy (rhythm, dynamics) and its timbre's genre."""
    songs, _, _, tagged = _tagged_playlists()
    energy = np.array([songs["energy"][p["songs"]].mean() for p in tagged])
    genre = [np.bincount(songs["top"][p["songs"]], minlength=5).argmax() for p in tagged]  # the dominant genre
    sound = [np.bincount(songs["sound_top"][p["songs"]], minlength=5).argmax() for p in tagged]  # ... by timbre
    by_mood = [np.mean(g) for g in _by_tag(_kind(tags.MOOD_TAGS), energy, tagged)]
    assert by_mood == sorted(by_mood) and by_mood[-1] - by_mood[0] > 0.6  # calm words to energetic ones
    agree = [(k == g) for k, group in enumerate(_by_tag(_kind(tags.GENRE_TAGS), genre, tagged)) for g in group]
    chance = np.sum((np.bincount(genre) / len(genre)) ** 2)
    assert len(agree) > 300 and np.mean(agree) > 2 * chance  # seed 0: 3.1 x chance
    scenes = _kind(tags.SCENE_TAGS)
    assert stats.f_oneway(*_by_tag(scenes, energy, tagged)).pvalue > 0.01  # seed 0: 0.82
    table = [np.bincount(g, minlength=5) for g in _by_tag(scenes, sound, tagged)]
    assert stats.chi2_contingency(table).pvalue > 0.01  # seed 0: 0.25


def test_tags_change_nothing_else_in_the_corpus(monkeypatch):
    """The corpus with the tag step skipped: the same songs, playlists and render jobs, and the same `rng` after."""
    def build():
        rng = np.random.default_rng(3)
        files, jobs = melon_corpus.melon_corpus(rng, 60, 20, (256, 300), 16000)
        return files, jobs, rng.bit_generator.state

    files, jobs, state = build()
    monkeypatch.setattr(melon_corpus, "tag_playlists", lambda rng, playlists, **listeners: playlists)
    untagged_files, untagged_jobs, untagged_state = build()
    assert jobs == untagged_jobs and state == untagged_state
    for name, content in files.items():
        if name in ("train.json", "val.json"):
            content = [{k: v for k, v in p.items() if k not in ("tags", "plylst_title")} for p in content]
        assert content == untagged_files[name], name
