"""Split loaders on the real split files, file lookup by stem, missing-file errors, results tables."""

import json
import os

import numpy as np
import pytest

from cmir_tf.evaluation import files, gtzan, jamendo, results

SHARED = "/work/shared/datasets"


def test_gtzan_fault_filtered_split_sizes():
    splits = {s: gtzan.load_split(s) for s in ("train", "validation", "test")}
    assert {s: len(p) for s, p in splits.items()} == {"train": 443, "validation": 197, "test": 290}
    assert len(set().union(*map(set, splits.values()))) == 930  # disjoint
    assert gtzan.genre_of("reggae/reggae.00012.wav") == gtzan.GENRES.index("reggae")
    counts = np.bincount([gtzan.genre_of(p) for p in splits["test"]], minlength=10)
    assert counts.min() > 0 and counts.sum() == 290
    if os.path.isdir(os.path.join(SHARED, "gtzan")):
        assert gtzan.load_split("validation", os.path.join(SHARED, "gtzan")) == splits["validation"]


@pytest.mark.parametrize("category, n_tags, n_tracks", [
    ("genre", 87, {"train": 32572, "validation": 11043, "test": 11479}),
    ("instrument", 40, {"train": 14395, "validation": 5466, "test": 5115}),
    ("moodtheme", 56, {"train": 9949, "validation": 3802, "test": 4231}),
])
def test_jamendo_split0_tag_and_track_counts(category, n_tags, n_tracks):
    splits = {s: jamendo.load_split(category, s) for s in jamendo.SPLITS}
    assert {s: len(t) for s, t in splits.items()} == n_tracks
    vocabulary = jamendo.tag_vocabulary(splits)
    assert len(vocabulary) == n_tags
    prefix = {"moodtheme": "mood/theme"}.get(category, category)
    assert all(tag.startswith(f"{prefix}---") for tag in vocabulary)
    assert max(len(t.tags) for t in splits["train"]) > 1  # several TAGS fields per row
    first = splits["train"][0]
    assert first.track_id.startswith("track_") and first.path.endswith(".mp3")
    labels = jamendo.multi_hot(splits["test"], vocabulary)
    assert labels.shape == (n_tracks["test"], n_tags)
    assert (labels.sum(axis=1) == [len(t.tags) for t in splits["test"]]).all()
    shared = os.path.join(SHARED, "mtg-jamendo", "split-0")
    if os.path.isdir(shared):
        assert jamendo.load_split(category, "test", shared) == splits["test"]


def test_jamendo_rejects_malformed_tsv(tmp_path):
    (tmp_path / "autotagging_genre-train.tsv").write_text(
        "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\ntrack_1\tartist_1\talbum_1\t1/1.mp3\t10.0\n")
    with pytest.raises(ValueError, match="autotagging_genre-train.tsv:2"):
        jamendo.load_split("genre", "train", str(tmp_path))


def test_find_by_stem_and_missing_error(tmp_path):
    (tmp_path / "blues").mkdir()
    (tmp_path / "blues" / "blues.00012.au").write_bytes(b"x")
    (tmp_path / "blues" / "blues.00001.wav").write_bytes(b"x")
    assert files.find_by_stem(str(tmp_path / "blues" / "blues.00012.wav")).endswith("blues.00012.au")
    assert files.find_by_stem(str(tmp_path / "blues" / "blues.00001.wav")).endswith("blues.00001.wav")
    assert files.find_by_stem(str(tmp_path / "blues" / "blues.00002.wav")) is None
    assert files.find_by_stem(str(tmp_path / "nowhere" / "x.wav")) is None
    missing = [f"m{i}.wav" for i in range(8)]
    with pytest.raises(files.MissingFilesError, match=r"8 of 10 files listed in the list .*m0.wav, m1.wav"):
        files.check_missing(missing, 10, "the list", allow_missing=False)
    assert files.check_missing(missing, 10, "the list", allow_missing=True) == 8


def test_results_accumulate_rows_across_names(tmp_path):
    summary = lambda m: {"mean": m, "std": 0.01, "values": [m]}  # noqa: E731
    for name, accuracy in (("ContrG", 0.7), ("ContrCF-G", 0.8)):
        results.record(str(tmp_path), "gtzan", name, {
            "accuracy": summary(accuracy), "dim": 1024, "random_baseline": {"accuracy": summary(0.1)},
            "skipped": {"missing": 2 if name == "ContrG" else 0, "undecodable": 0}})
    runs = json.loads((tmp_path / "gtzan.json").read_text())
    assert list(runs) == ["ContrG", "ContrCF-G"]
    table = (tmp_path / "gtzan.md").read_text()
    assert "| ContrG | 0.700 ± 0.010 |" in table and "| ContrCF-G | 0.800 ± 0.010 |" in table
    assert "| Random embeddings (1024-d) | 0.100 ± 0.010 |" in table
    assert "ContrG: skipped 2 missing" in table
    cats = {c: {"roc_auc": summary(0.8), "pr_auc": summary(0.2)} for c in ("genre", "moodtheme")}
    table = results.markdown_table("jamendo", {"A": {"categories": cats, "dim": 128}})
    assert "| A | 0.800 ± 0.010 | 0.200 ± 0.010 | – | – | 0.800 ± 0.010 | 0.200 ± 0.010 |" in table
    table = results.markdown_table("playlist", {"A": {"ndcg@100": 0.12345, "map@100": 0.05, "dim": 128,
                                                      "random_baseline": {"ndcg@100": 0.001, "map@100": 0.0}}})
    assert "| A | 0.1235 | 0.0500 |" in table and "| Random ranking | 0.0010 | 0.0000 |" in table
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "gtzan.md").stat().st_mode & 0o777 == 0o666 & ~umask
