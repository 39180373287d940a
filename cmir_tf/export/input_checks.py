"""In-graph checks of the SavedModel signatures' inputs: bad input fails with a message a user understands.

Each function returns its input behind `tf.debugging` asserts, so a signature called with NaN/inf values,
an empty tensor or (for waveforms) integer-scaled audio raises `tf.errors.InvalidArgumentError` whose
message names the signature, the input and the fix, instead of returning normal-looking embeddings.
"""

from __future__ import annotations

import tensorflow as tf

from cmir_tf.audio.input_contract import MAX_PEAK, PEAK_REFUSAL


def checked_finite(signature: str, name: str, values: tf.Tensor) -> tf.Tensor:
    """`values` (any shape, float) after asserting it is non-empty and holds no NaN or inf."""
    non_empty = tf.debugging.assert_positive(
        tf.size(values), message=f"{signature}: `{name}` is empty (shape has a 0); pass at least one frame/sample"
    )
    with tf.control_dependencies([non_empty]):
        finite = tf.debugging.assert_all_finite(values, f"{signature}: `{name}` contains NaN or inf values")
    with tf.control_dependencies([finite]):
        return tf.identity(values)


def checked_waveform(signature: str, waveform: tf.Tensor) -> tf.Tensor:
    """(n,) `waveform` after asserting n > 0, finite samples and a peak of at most `MAX_PEAK` (the contract of
    `cmir_tf.audio.input_contract`; a peak between 1 and 4 passes unchanged)."""
    waveform = checked_finite(signature, "waveform", waveform)
    peak = tf.reduce_max(tf.abs(waveform))
    in_range = tf.debugging.assert_less_equal(
        peak,
        tf.constant(MAX_PEAK, waveform.dtype),
        message=f"{signature}: {PEAK_REFUSAL}",
    )
    with tf.control_dependencies([in_range]):
        return tf.identity(waveform)


def checked_genre_ids(signature: str, codes: tf.Tensor, ids: tf.Tensor, *, input_name: str = "genre_codes",
                      what: str = "genre codes", vocabulary: str = "genre_vocabulary") -> tf.Tensor:
    """(N, T) vocabulary ids of (N, T) string `codes` ("" -> 0, unknown -> -1) after asserting N, T > 0,
    that every code is in the vocabulary and that every row holds at least one code. `input_name`, `what` and
    `vocabulary` name the input, its words and the vocabulary signature in the messages (the tag signatures:
    "tags", "playlist tags", "tag_vocabulary")."""
    non_empty = tf.debugging.assert_positive(
        tf.size(codes), message=f"{signature}: `{input_name}` is empty; pass (N >= 1, T >= 1) {what} padded with ''"
    )
    with tf.control_dependencies([non_empty]):
        known = tf.debugging.Assert(
            tf.reduce_all(ids >= 0),
            [f"{signature}: {what} not in the model's {vocabulary}:", tf.boolean_mask(codes, ids < 0)],
            summarize=10,
        )
        has_code = tf.debugging.Assert(
            tf.reduce_all(tf.reduce_any(ids > 0, axis=1)),
            [f"{signature}: a row of `{input_name}` holds only padding (''); give every row at least one of its {what}"],
        )
    with tf.control_dependencies([known, has_code]):
        return tf.identity(ids)


def checked_shape(signature: str, name: str, values: tf.Tensor, expected: tuple[int | str, ...],
                  meaning: str) -> tf.Tensor:
    """`values` after asserting its shape is `expected` (ints fixed, strings any size, named in the message),
    e.g. `("B", 256, 48)`: a signature called with a transposed mel or a batch of waveforms fails with a message
    naming the expected shape and the one given, instead of inside an op or, worse, not at all.

    The shape is sliced from a start known only at run time (0), so that graph optimisation cannot fold the
    check away with the signature's declared shape (a signature runs with whatever shape it is given)."""
    shape = tf.shape(values)[tf.minimum(tf.size(values), 0):]
    rank = len(expected)
    padded = tf.concat([shape, tf.zeros([rank], tf.int32)], axis=0)[:rank]
    fixed = [i for i, size in enumerate(expected) if isinstance(size, int)]
    sizes_ok = tf.reduce_all(tf.equal(tf.gather(padded, fixed), [expected[i] for i in fixed])) if fixed else True
    text = "(" + ", ".join(str(size) for size in expected) + ("," if rank == 1 else "") + ")"
    check = tf.debugging.Assert(
        tf.logical_and(tf.equal(tf.size(shape), rank), sizes_ok),
        [f"{signature}: `{name}` must have shape {text} ({meaning}); got shape", shape],
    )
    with tf.control_dependencies([check]):
        return tf.identity(values)
