"""Every signature of an export checks its input's shape and names the expected one: a transposed mel, a
batch of waveforms, a CF matrix of the wrong width or codes of the wrong rank fail in one clear message
instead of inside an op (or, for `embed_mel`, not at all)."""

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.constants import CF_DIM


@pytest.fixture(scope="module")
def signatures(tag_model):
    return tf.saved_model.load(tag_model[1]).signatures


@pytest.mark.parametrize("name, inputs, expected", [
    ("embed_mel", {"mel": np.zeros((1, 48, 256), np.float32)}, "`mel` must have shape (B, 256, 48)"),
    ("embed_mel", {"mel": np.zeros((256, 48), np.float32)}, "`mel` must have shape (B, 256, 48)"),
    ("embed_track_mel", {"mel": np.zeros((300, 40), np.float32)}, "`mel` must have shape (T, 48)"),
    ("embed_waveform", {"waveform": np.zeros((2, 16000), np.float32)}, "`waveform` must have shape (n,)"),
    ("embed_cf", {"cf": np.zeros((2, 300), np.float32)}, f"`cf` must have shape (N, {CF_DIM})"),
    ("embed_genres", {"genre_codes": np.array(["GN0101"])}, "`genre_codes` must have shape (N, T)"),
    ("embed_tags", {"tags": np.array([[["kpop"]]])}, "`tags` must have shape (N, T)"),
])
def test_a_wrong_shape_is_refused_naming_the_expected_one(signatures, name, inputs, expected):
    with pytest.raises(tf.errors.InvalidArgumentError) as refused:
        signatures[name](**{key: tf.constant(value) for key, value in inputs.items()})
    message = str(refused.value)
    assert f"{name}: {expected}" in message and "got shape" in message


def test_the_right_shapes_still_embed(signatures):
    out = signatures["embed_mel"](mel=tf.zeros([2, 256, 48]))
    assert out["embedding"].shape == (2, 128) and out["features"].shape == (2, 1024)
    assert signatures["embed_waveform"](waveform=tf.zeros([16000]) + 0.1)["log_mel"].shape == (64, 48)
    assert signatures["embed_cf"](cf=tf.zeros([3, CF_DIM]))["embedding"].shape == (3, 128)
