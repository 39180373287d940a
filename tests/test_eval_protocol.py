"""The playlist protocol's inputs: the training-split check, `--test_songs` files, the table caption."""

import json
import types

import pytest

from cmir_tf.data import splits
from cmir_tf.evaluation import protocol, results


def _model(folder, metadata):
    """What `training_split_warning` reads of an `ExportedModel`: its folder and recorded split fingerprint."""
    return types.SimpleNamespace(model_dir=str(folder), train_split_fingerprint=metadata.get("train_split_fingerprint"))


def test_a_model_trained_on_another_split_is_warned_about(tmp_path):
    data_dir = tmp_path / "prepared"
    data_dir.mkdir()
    (data_dir / "splits.json").write_text(json.dumps({"train": [3, 1, 2], "validation": [4], "test": [5]}))
    same = _model(tmp_path / "same", {"train_split_fingerprint": splits.fingerprint([1, 2, 3])})
    other = _model(tmp_path / "other", {"train_split_fingerprint": splits.fingerprint([1, 2, 4])})
    assert protocol.training_split_warning(same, str(data_dir), test_songs_given=False) is None
    warning = protocol.training_split_warning(other, str(data_dir), test_songs_given=False)
    assert "another split" in warning and "--test_songs=FILE" in warning
    assert "--test_songs" not in protocol.training_split_warning(other, str(data_dir), test_songs_given=True)
    imported = protocol.training_split_warning(_model(tmp_path / "no_asset", {}), str(data_dir), test_songs_given=False)
    assert "records no training split" in imported


def test_test_songs_files(tmp_path):
    (tmp_path / "a.json").write_text("[5, 3, 3]")
    (tmp_path / "b.txt").write_text("5\n3\n\n7\n")
    assert protocol.read_test_songs(str(tmp_path / "a.json")).tolist() == [3, 5]
    assert protocol.read_test_songs(str(tmp_path / "b.txt")).tolist() == [3, 5, 7]
    (tmp_path / "bad.txt").write_text("5\nabc\n")
    with pytest.raises(ValueError, match="bad.txt"):
        protocol.read_test_songs(str(tmp_path / "bad.txt"))


def test_the_playlist_table_names_its_playlists():
    run = {"ndcg@100": 0.3, "map@100": 0.1, "playlists": ["train.json"], "dim": 1024}
    table = results.markdown_table("playlist", {"ContrCF-G": run})
    title = table.splitlines()[0]
    assert title.startswith("### Table 3: Melon playlist continuation, top 100") and title.endswith(
        "(playlists of train.json)")
