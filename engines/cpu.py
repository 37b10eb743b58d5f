"""What this CPU does fast, from its flags: the choices that depend on it (INT8 weights, bf16 training).

Measured on two 2-core machines of this project: an AVX-512 VNNI/BF16 CPU and an AMD EPYC with AVX2
only. On the second, ONNX Runtime's INT8 kernels saturate with 8-bit weights (a year of MAE lost)
and Keras' bf16 mixed precision trains 10x slower than float32 (it is 1.45x faster on the first).
"""

from __future__ import annotations

import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
X86 = ("x86_64", "amd64", "i386", "i686", "x86")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 / AMX; "bf16" is ARM's feature name


def cpu_flags(cpuinfo: str | Path = CPUINFO) -> frozenset[str] | None:
    """The first CPU's feature flags (Linux ``flags`` on x86, ``Features`` on ARM); None if unknown."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def is_x86(machine: str | None = None) -> bool:
    return (machine if machine is not None else platform.machine()).lower() in X86


def cpu_int8_saturates(machine: str | None = None, cpuinfo: str | Path = CPUINFO) -> bool:
    """True where ONNX Runtime's uint8 x int8 kernels can saturate: an x86 CPU without VNNI.

    Without VNNI (AVX2, AVX-512F) the kernels add pairs of uint8 x int8 products in int16
    (``vpmaddubsw``), which saturates for weights of full 8-bit range: an INT8 twin quantized so
    measured 1.0 year of MAE worse on an AVX2 EPYC than on the AVX-512 VNNI machine it was gated on.
    7-bit weights (``reduce_range``, what ``engines.quantize`` writes) cannot saturate there. Other
    architectures (ARM) do not use these kernels. x86 whose flags cannot be read counts as saturating.

    Args:
        machine: ``platform.machine()`` (for tests).
        cpuinfo: where the CPU flags are read on Linux.
    """
    if not is_x86(machine):
        return False
    flags = cpu_flags(cpuinfo)
    return flags is None or not any(f in flags for f in VNNI_FLAGS)


def cpu_has_bf16(cpuinfo: str | Path = CPUINFO) -> bool:
    """True where the CPU computes bf16 natively (AVX-512 BF16, AMX, ARM BF16); False if unknown."""
    flags = cpu_flags(cpuinfo)
    return flags is not None and any(f in flags for f in BF16_FLAGS)
