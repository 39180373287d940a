"""What Melon playlist continuation takes from the prepared data, and how a model's training split compares.

- the playlist files: those the data was prepared with (`manifest.json`'s `playlist_files`; `train.json`
  alone, the paper's protocol, when there is no manifest);
- the candidates: the test split of `splits.json`, or a list given with evaluate.py's `--test_songs=FILE`
  (e.g. the test songs of the split another model was trained on);
- the training split: every export records the fingerprint of the split it was trained on
  (`cmir_tf.data.splits.fingerprint`, read by `ExportedModel.train_split_fingerprint`); a model trained on
  another split has probably seen test songs.
"""

from __future__ import annotations

import json

import numpy as np

from cmir_tf import errors
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.export.exported import ExportedModel


def playlist_files(data_dir: str) -> tuple[str, ...]:
    """The playlist files `data_dir` was prepared from (prepare format 1, without the entry, used them all)."""
    return PreparedFolder(data_dir).playlist_files()


def read_test_songs(path: str) -> np.ndarray:
    """Sorted unique song ids from `path`: a JSON list, or ids separated by white space or commas."""
    with open(path) as f:
        text = f.read()
    try:
        ids = json.loads(text) if text.lstrip().startswith("[") else text.replace(",", " ").split()
        songs = np.unique(np.asarray([int(s) for s in ids], dtype=np.int64))
    except (ValueError, TypeError) as e:
        raise errors.DatasetError(f"{path}: expected song ids (a JSON list or one per line): {e}") from e
    if not len(songs):
        raise errors.DatasetError(f"{path} lists no song ids")
    return songs


def training_split_warning(model: ExportedModel, data_dir: str, test_songs_given: bool) -> str | None:
    """A warning when `model` was not trained on the train split of `data_dir`, else None."""
    recorded = model.train_split_fingerprint
    data_split = PreparedFolder(data_dir).split_fingerprint()
    if recorded == data_split:
        return None
    what = ("records no training split (e.g. the authors' published encoders)" if recorded is None
            else f"was trained on another split (train fingerprint {recorded}, {data_dir}: {data_split})")
    advice = ("" if test_songs_given else
              "; pass --test_songs=FILE with the test songs of the split it was trained on")
    return f"{model.model_dir} {what}: some test candidates may be songs it was trained on{advice}"
