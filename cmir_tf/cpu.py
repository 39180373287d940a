"""What this machine's CPU can do, read from /proc/cpuinfo (no TensorFlow): its model name and feature flags,
and whether oneDNN can run bf16 natively here (`ONEDNN_MAX_CPU_ISA` may cap it). Used by the training
precision (`training/precision.py`) and the neighbour search's precision (`evaluation/neighbours.py`)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# `ONEDNN_MAX_CPU_ISA` values below AVX-512: TensorFlow hands bf16 ops to oneDNN when CPUID reports avx512f,
# whatever the cap, and oneDNN capped there has no bf16 kernel for some of them (FusedBatchNormV3 fails).
ONEDNN_ISA_BELOW_AVX512 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2")
# Those under which oneDNN has no native bf16 kernels, whatever the CPU.
ONEDNN_ISA_BELOW_BF16 = (*ONEDNN_ISA_BELOW_AVX512, "AVX512_CORE", "AVX512_CORE_VNNI")


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
