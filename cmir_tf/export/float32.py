"""Float32 copies of Keras encoders: what every export holds, whatever dtype policy training used.

An encoder trained under `mixed_bfloat16` or `mixed_float16` computes in 16-bit floats; exported as it is, its
graph would run bf16/fp16 kernels, emulated (several times slower) or not available at all (oneDNN aborts)
on a CPU without them. Its variables are float32 already (mixed policies keep float32 weights), so the copy
is the same architecture rebuilt under `float32` with the same weights: the graph then has no 16-bit op.
"""

from __future__ import annotations

import keras

FLOAT32 = "float32"
SIXTEEN_BIT = ("bfloat16", "float16")  # compute dtypes of the mixed policies


def _float32_config(config: object) -> object:
    """`config` (a Keras model config, nested dicts and lists) with every dtype policy set to float32, and
    every 16-bit dtype an operation recorded (e.g. the target of an `ops.cast` traced under the mixed policy)."""
    if isinstance(config, list):
        return [_float32_config(item) for item in config]
    if isinstance(config, str):
        return FLOAT32 if config in SIXTEEN_BIT else config
    if not isinstance(config, dict):
        return config
    if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(config.get("config"), dict):
        return {**config, "config": {**config["config"], "name": FLOAT32}}
    return {key: _float32_config(value) for key, value in config.items()}


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` itself when every layer computes in float32, else the same architecture built under float32
    holding the same weights (cast to float32)."""
    if all(layer.dtype_policy.name == FLOAT32 for layer in [model, *model.layers]):
        return model
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(FLOAT32)  # also for sub-layers whose config names no policy
    try:
        copy = model.__class__.from_config(_float32_config(model.get_config()))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights([weight.astype(FLOAT32) for weight in model.get_weights()])
    return copy
