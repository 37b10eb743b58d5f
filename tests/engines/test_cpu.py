"""The CPU's flags decide INT8 weights and bf16 training (engines.cpu), read from cpuinfo files."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelog.engines.cpu import cpu_flags, cpu_has_bf16, cpu_int8_saturates


def _cpuinfo(tmp_path: Path, key: str, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\n{key}\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


@pytest.mark.parametrize(
    "machine, flags, saturates",
    [
        ("x86_64", "fpu sse2 avx avx2 fma", True),
        ("x86_64", "fpu avx2 avx512f avx512bw", True),
        ("x86_64", "fpu avx2 avx512f avx512_vnni", False),
        ("x86_64", "fpu avx2 avx_vnni", False),
        ("AMD64", None, True),
        ("aarch64", None, False),
        ("arm64", "fp asimd asimddp", False),
    ],
)
def test_cpu_int8_saturates_reads_the_vnni_flags(
    tmp_path: Path, machine: str, flags: str | None, saturates: bool
) -> None:
    cpuinfo = _cpuinfo(tmp_path, "flags", flags) if flags is not None else tmp_path / "absent"
    assert cpu_int8_saturates(machine, cpuinfo) is saturates


@pytest.mark.parametrize(
    "key, flags, bf16",
    [
        ("flags", "fpu avx2 fma", False),
        ("flags", "avx512f avx512_vnni", False),
        ("flags", "avx512f avx512_vnni avx512_bf16", True),
        ("flags", "avx512f amx_bf16 amx_tile", True),
        ("Features", "fp asimd asimddp", False),
        ("Features", "fp asimd bf16 i8mm", True),
    ],
)
def test_cpu_has_bf16_reads_x86_and_arm_flags(tmp_path: Path, key: str, flags: str, bf16: bool) -> None:
    assert cpu_has_bf16(_cpuinfo(tmp_path, key, flags)) is bf16


def test_unknown_cpu_has_no_flags_and_no_bf16(tmp_path: Path) -> None:
    no_flags = tmp_path / "cpuinfo"
    no_flags.write_text("processor\t: 0\nmodel name\t: test\n")
    assert cpu_flags(no_flags) is None and cpu_flags(tmp_path / "absent") is None
    assert not cpu_has_bf16(no_flags)
    assert cpu_int8_saturates("x86_64", no_flags)
