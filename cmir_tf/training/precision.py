"""`--precision=auto`: the Keras dtype policy this machine runs fastest without losing accuracy.

`select_precision` is a pure function of the CPU flags and GPU compute capabilities (tested with injected
values); `resolve_precision` feeds it this machine's, less the bf16 flags when `ONEDNN_MAX_CPU_ISA` keeps
oneDNN below its AVX-512 bf16 kernels (then bf16 is emulated as on a CPU without it), and refuses a bf16 that
cannot run at all (`bf16_unavailable_reason`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence

import tensorflow as tf
from absl import logging

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Measured with benchmarks/bench_training.py on a 2-core AMD EPYC Zen 3 (AVX2, no bf16): mixed_bfloat16
# trained at 0.13x the float32 rate (1.22 vs 9.27 examples/s), since every bf16 op is emulated in float32.
EMULATED_BF16_SLOWDOWN = 8
# `ONEDNN_MAX_CPU_ISA` values below AVX-512: TensorFlow hands bf16 ops to oneDNN when CPUID reports avx512f,
# whatever the cap, and oneDNN capped there has no bf16 kernel for some of them (FusedBatchNormV3 fails).
ONEDNN_ISA_BELOW_AVX512 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2")
# Those under which oneDNN has no native bf16 kernels, whatever the CPU.
ONEDNN_ISA_BELOW_BF16 = (*ONEDNN_ISA_BELOW_AVX512, "AVX512_CORE", "AVX512_CORE_VNNI")


class PrecisionUnavailableError(ValueError):
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


def cpu_model_and_flags(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, set[str]]:
    """The first CPU's model name ("" if none is given) and feature flags (x86 `flags`, Arm `Features`) from
    /proc/cpuinfo; ("", set()) if unreadable."""
    model, flags = "", set()
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    return model, set(value.split())
    except OSError:
        pass
    return model, flags


def bf16_usable_flags(flags: Collection[str], environ: Mapping[str, str] = os.environ) -> set[str]:
    """`flags` less the native-bf16 ones when `ONEDNN_MAX_CPU_ISA` in `environ` caps oneDNN below them."""
    if environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ONEDNN_ISA_BELOW_BF16:
        return set(flags) - set(NATIVE_BF16_CPU_FLAGS)
    return set(flags)


def bf16_unavailable_reason(flags: Collection[str], environ: Mapping[str, str] = os.environ) -> str | None:
    """Why bf16 ops cannot run on the CPU here, or None: a CPU with avx512f (`flags`) whose oneDNN kernels are on
    but capped below AVX-512 by `ONEDNN_MAX_CPU_ISA` (an AVX2-only CPU runs them on Eigen kernels instead)."""
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if "avx512f" in flags and environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0" and cap in ONEDNN_ISA_BELOW_AVX512:
        return (f"mixed_bfloat16 cannot run with ONEDNN_MAX_CPU_ISA={cap} on this AVX-512 CPU: TensorFlow hands "
                "bf16 ops to oneDNN by CPUID, and oneDNN capped below AVX-512 lacks some bf16 kernels; unset the "
                "cap or use --precision=float32")
    return None


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
