"""`--precision=auto`: the Keras dtype policy this machine runs fastest without losing accuracy.

`select_precision` is a pure function of the CPU flags and GPU compute capabilities (tested with injected
values); `resolve_precision` feeds it this machine's, less the bf16 flags when `ONEDNN_MAX_CPU_ISA` keeps
oneDNN below its AVX-512 bf16 kernels (then bf16 is emulated as on a CPU without it), and refuses a bf16 that
cannot run at all (`bf16_unavailable_reason`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence

import tensorflow as tf
from absl import logging

from cmir_tf import errors
from cmir_tf.cpu import (
    NATIVE_BF16_CPU_FLAGS,
    bf16_unavailable_reason,
    bf16_usable_flags,
    cpu_model_and_flags,
)

# Measured with benchmarks/bench_training.py on a 2-core AMD EPYC Zen 3 (AVX2, no bf16): mixed_bfloat16
# trained at 0.13x the float32 rate (1.22 vs 9.27 examples/s), since every bf16 op is emulated in float32.
EMULATED_BF16_SLOWDOWN = 8


class PrecisionUnavailableError(errors.UsageError, ValueError):
    """The requested precision cannot run on this machine as configured."""


def select_precision(
    requested: str, cpu_flags: Collection[str], gpu_capabilities: Sequence[tuple[int, int]]
) -> tuple[str, str | None]:
    """The dtype policy for `--precision=requested` on a machine, and a warning for a slow explicit choice.

    Args:
      requested: "auto", "float32", "mixed_bfloat16" or "mixed_float16".
      cpu_flags: the CPU's feature flags (as in /proc/cpuinfo), e.g. {"avx2", "avx512_bf16"}.
      gpu_capabilities: (major, minor) compute capability of each visible GPU; empty on a CPU-only machine.

    Returns:
      (policy, warning or None). "auto" picks mixed_bfloat16 on GPUs of compute capability >= 8.0 (all of
      them) or, without GPUs, on CPUs with native bf16 (avx512_bf16 or amx_bf16); mixed_float16 on 7.x GPUs;
      float32 otherwise. An explicit mixed_bfloat16 on a CPU-only machine without native bf16 is kept, with a
      warning giving the expected slowdown.
    """
    native_bf16_cpu = any(flag in cpu_flags for flag in NATIVE_BF16_CPU_FLAGS)
    if requested == "auto":
        if gpu_capabilities:
            major = min(capability[0] for capability in gpu_capabilities)
            return ("mixed_bfloat16" if major >= 8 else "mixed_float16" if major == 7 else "float32"), None
        return ("mixed_bfloat16" if native_bf16_cpu else "float32"), None
    if requested == "mixed_bfloat16" and not gpu_capabilities and not native_bf16_cpu:
        return requested, (
            f"--precision=mixed_bfloat16 on a CPU without native bf16 ({' or '.join(NATIVE_BF16_CPU_FLAGS)}): "
            f"bf16 is emulated, expect training about {EMULATED_BF16_SLOWDOWN}x slower than float32 "
            "(--precision=auto picks float32 here)"
        )
    return requested, None


def gpu_capabilities() -> list[tuple[int, int]]:
    """(major, minor) compute capability of every visible GPU."""
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability:
            capabilities.append(tuple(capability))
    return capabilities


def resolve_precision(requested: str) -> str:
    """`select_precision` on this machine; logs the choice and any warning. Raises `PrecisionUnavailableError`
    for a mixed_bfloat16 that cannot run on this CPU (`bf16_unavailable_reason`)."""
    flags, gpus = cpu_model_and_flags()[1], gpu_capabilities()
    policy, warning = select_precision(requested, bf16_usable_flags(flags), gpus)
    reason = bf16_unavailable_reason(flags) if policy == "mixed_bfloat16" and not gpus else None
    if reason:
        raise PrecisionUnavailableError(reason)
    if warning:
        logging.warning("%s", warning)
    if requested == "auto":
        logging.info("--precision=auto: training in %s", policy)
    return policy


def machine_summary() -> str:
    """One line naming this machine for a reported number: CPU model, cores, the flags that decide kernels and
    precision, any oneDNN ISA cap, and the GPUs."""
    model, flags = cpu_model_and_flags()
    features = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}"
                         for flag in ("avx2", "avx512f", *NATIVE_BF16_CPU_FLAGS))
    gpus = tf.config.list_physical_devices("GPU")
    return (f"CPU: {model or 'unknown model'}, {os.cpu_count()} cores, {features}; "
            f"ONEDNN_MAX_CPU_ISA {os.environ.get('ONEDNN_MAX_CPU_ISA', 'not capped')}, "
            f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}; "
            f"GPUs: {len(gpus) or 'none'}; TensorFlow {tf.__version__}")
