"""GTZAN and MTG-Jamendo protocols end to end on small generated folders with a spectral stand-in embedder."""

import os

import keras
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from cmir_tf.evaluation import ProbeConfig, evaluate_gtzan, evaluate_jamendo, gtzan, jamendo, probes
from cmir_tf.evaluation.files import MissingFilesError

CONFIG = ProbeConfig(epochs=25, patience=3, batch_size=16)


class SpectrumEmbedder:
    """Stand-in embedder: per 256-frame chunk, its mean log-mel spectrum (48-d)."""

    model_key, output, dim = "spectrum", "features", 48

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        return chunks.mean(axis=1)


def _tone(rng, sample_rate, seconds, hz, noise=0.05, gain=0.5):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (gain * np.sin(2 * np.pi * hz * (1 + 0.01 * rng.standard_normal()) * t)
            + noise * rng.standard_normal(len(t))).astype(np.float32)


def test_gtzan_protocol_beats_random_and_reports_missing(tmp_path):
    rng = np.random.default_rng(0)
    splits = {"train": range(0, 6), "validation": range(6, 9), "test": range(9, 12)}
    for g, genre in enumerate(gtzan.GENRES):
        os.makedirs(tmp_path / "genres" / genre)
        for k in range(12):
            ext = "au" if k == 0 else "wav"  # the split lists say .wav; any extension with the stem is found
            sf.write(tmp_path / "genres" / genre / f"{genre}.{k:05d}.{ext}",
                     _tone(rng, 22050, 4.5, 220 * 1.25 ** g), 22050, format="AU" if ext == "au" else "WAV")
    lists = tmp_path / "lists"
    lists.mkdir()
    for split, numbers in splits.items():
        names = [f"{genre}/{genre}.{k:05d}.wav" for genre in gtzan.GENRES for k in numbers]
        names += [f"blues/blues.{90 + len(split):05d}.wav"]  # listed, not on disk
        (lists / gtzan.SPLIT_FILES[split]).write_text("\n".join(names) + "\n")

    with pytest.raises(MissingFilesError, match=r"3 of 123 files .*blues\.00095\.wav"):
        evaluate_gtzan(SpectrumEmbedder(), str(tmp_path), splits_dir=str(lists), repeats=1)
    png = tmp_path / "confusion.png"
    result = evaluate_gtzan(SpectrumEmbedder(), str(tmp_path), splits_dir=str(lists), repeats=2, config=CONFIG,
                            allow_missing=True, cache_dir=str(tmp_path / "cache"), confusion_png=str(png))
    assert result["skipped"]["missing"] == 3
    assert result["n_tracks"] == {"train": 60, "validation": 30, "test": 30}
    assert len(result["accuracy"]["values"]) == 2
    assert result["accuracy"]["mean"] >= 0.9
    assert result["random_baseline"]["accuracy"]["mean"] <= 0.4
    assert np.sum(result["confusion_matrix"]) == 2 * 30  # two repeats of 30 test tracks
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_majority_vote_breaks_ties_by_summed_probability():
    probabilities = np.array([[0.6, 0.4, 0.0], [0.1, 0.5, 0.4], [0.2, 0.3, 0.5],  # track 0: one vote each
                              [0.0, 0.1, 0.9]])  # track 1
    predicted = gtzan.majority_vote(probabilities, np.array([0, 0, 0, 1]), 2)
    np.testing.assert_array_equal(predicted, [1, 2])  # track 0: class 1 has the largest sum (1.2)


def _write_jamendo(root, rng):
    """36 train / 18 validation / 18 test tracks; genre sets the pitch, instrument a partial, mood the noise."""
    genres, instruments, moods = ("rock", "pop", "jazz"), ("piano", "voice"), ("happy", "dark")
    rows = {split: [] for split in jamendo.SPLITS}
    for i in range(72):
        split = jamendo.SPLITS[0 if i < 36 else 1 if i < 54 else 2]
        g, n, m = i % 3, (i // 3) % 2, (i // 6) % 2
        hz = 200 * 1.5 ** g
        audio = _tone(rng, 16000, 6.0, hz, noise=0.02 + 0.3 * m) + _tone(rng, 16000, 6.0, hz * (3 + 2 * n), 0.0, 0.3)
        folder = root / "audio" / f"{i:02d}"
        folder.mkdir(parents=True)
        sf.write(folder / f"{i}.flac", audio, 16000)
        tags = {"genre": [f"genre---{genres[g]}"] + (["genre---pop"] if g == 0 and i % 4 == 0 else []),
                "instrument": [f"instrument---{instruments[n]}"], "moodtheme": [f"mood/theme---{moods[m]}"]}
        rows[split].append((i, tags))
    (root / "split-0").mkdir()
    for category in jamendo.CATEGORIES:
        for split, tracks in rows.items():
            lines = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"] + [
                f"track_{i:07d}\tartist_{i:06d}\talbum_{i:06d}\t{i:02d}/{i}.mp3\t6.0\t" + "\t".join(tags[category])
                for i, tags in tracks]
            (root / "split-0" / jamendo.split_file_name(category, split)).write_bytes(
                ("\r\n".join(lines) + "\r\n").encode())


def test_jamendo_protocol_beats_random(tmp_path):
    _write_jamendo(tmp_path, np.random.default_rng(1))
    result = evaluate_jamendo(SpectrumEmbedder(), str(tmp_path), repeats=1, config=CONFIG,
                              cache_dir=str(tmp_path / "cache"))
    assert result["skipped"] == {"missing": 0, "undecodable": 0, "first_skipped": []}
    for category, n_tags in (("genre", 3), ("instrument", 2), ("moodtheme", 2)):
        scores, baseline = result["categories"][category], result["random_baseline"][category]
        assert scores["n_tags"] == scores["n_tags_scored"] == n_tags
        assert scores["n_tracks"] == {"train": 36, "validation": 18, "test": 18}
        assert scores["roc_auc"]["mean"] > baseline["roc_auc"]["mean"] + 0.2, category
        assert scores["pr_auc"]["mean"] > baseline["pr_auc"]["mean"] + 0.1, category
    cache_files = [f for _, _, fs in os.walk(tmp_path / "cache") for f in fs]
    assert len(cache_files) == 1  # one track-mean cache shared by the three categories


def test_repeats_reuse_one_compiled_probe_without_retracing(caplog):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 8)).astype(np.float32), rng.integers(0, 3, 40)
    probe = probes.Probe(probes.build_genre_mlp(x, 3, hidden_units=4), "sparse_categorical_crossentropy",
                         ProbeConfig(epochs=1, batch_size=16))
    first_weights = []

    def run():
        first_weights.append(probe.model.get_layer("hidden").kernel.numpy().copy())  # after the previous repeat
        probe.fit((x, y), (x, y))
        return {"accuracy": float(np.mean(probe.predict(x).argmax(axis=1) == y))}

    with caplog.at_level("WARNING", logger="tensorflow"):
        probes.repeat(run, 6, seed=0, desc="test")
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    probe._reinitialise()
    kernel = probe.model.get_layer("hidden").kernel.numpy()
    assert not np.allclose(kernel, first_weights[-1])  # fresh weights, not the trained ones
    assert probe.model.optimizer.iterations.numpy() == 0


def test_probe_stops_after_patience_epochs_and_restores_the_best_weights():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    x_val, y_val = rng.normal(size=(32, 8)).astype(np.float32), rng.integers(0, 3, 32)  # unrelated: overfits
    probe = probes.Probe(probes.build_genre_mlp(x, 3, hidden_units=64), "sparse_categorical_crossentropy",
                         ProbeConfig(epochs=200, patience=4, batch_size=16, learning_rate=1e-2))
    validation_losses = []
    mean_loss = probe._mean_loss

    def recorded(*args):
        validation_losses.append(float(mean_loss(*args)))
        return validation_losses[-1]

    probe._mean_loss = recorded
    keras.utils.set_random_seed(0)
    probe.fit((x, y), (x_val, y_val))
    best = int(np.argmin(validation_losses))
    assert len(validation_losses) == best + 1 + 4 < 200  # stopped 4 epochs after the best one
    assert float(mean_loss(tf.constant(x_val), tf.constant(y_val))) == pytest.approx(validation_losses[best], rel=1e-6)


@pytest.mark.parametrize("build, loss, labels", [
    (probes.build_genre_mlp, "sparse_categorical_crossentropy", lambda rng, n: rng.integers(0, 3, n)),
    (probes.build_tagging_mlp, "binary_crossentropy", lambda rng, n: (rng.random((n, 3)) < 0.3).astype("float32")),
])
def test_probes_are_float32_and_finite_under_a_callers_mixed_float16_policy(build, loss, labels):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((96, 1024)) * 300.0).astype(np.float32)  # `features` reach the hundreds
    y = labels(rng, 96)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        probe = probes.Probe(build(x[:64], 3), loss, ProbeConfig(epochs=3, patience=2, batch_size=16))
        probe.fit((x[:64], y[:64]), (x[64:], y[64:]))
        predicted = probe.predict(x[64:])
        assert keras.mixed_precision.global_policy().name == "mixed_float16"  # the caller's, untouched
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert predicted.shape == (32, 3) and np.isfinite(predicted).all()
    assert {layer.dtype_policy.name for layer in probe.model.layers} == {"float32"}
    assert probe.model.dtype_policy.name == "float32"
