"""The demo corpus: formats, names matching the real split lists, determinism, and planted structure."""

import filecmp
import itertools
import json
import os
import re
from importlib import resources

import numpy as np
import soundfile as sf
from conftest import TINY_CORPUS
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from cmir_tf.synthetic import corpus as synthetic
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
