#!/usr/bin/env python3
"""Copy the ``tensorrt-stubs`` package into build/stubs/ and fix the lines mypy rejects.

``tensorrt-stubs`` (installed with ``pip install --no-deps tensorrt-stubs``) ships ``tensorrt/`` and
``tensorrt_bindings/`` as .pyi files without ``py.typed``, so mypy ignores them in site-packages.
Copied onto MYPYPATH (``.ci/mypy.sh`` adds build/stubs when it exists) mypy reads them, once three
generated defects are fixed (see /work/shared/FACTS.md, "Type-checking TensorRT code"):

1. parameters named ``in`` (a Python keyword) -> ``in_``;
2. ``INetworkDefinition.add_scale_nd`` has defaults before a parameter without one -> drop the defaults;
3. ``import tensorrt_libs`` names a package that does not exist -> drop the import and its
   ``__all__`` entry.

mypy reports errors inside stubs found on MYPYPATH even with ``--follow-imports=silent`` (~500 more
generated-code defects: a module-level ``bool`` that shadows the builtin, ``capsule`` types, ``...``
defaults). Each copied file therefore starts with ``# mypy: ignore-errors``: mypy still uses every
signature to check *our* code (a misspelled builder method is reported), but stays quiet about the stubs.

Exits 0 with a note when the stubs are not installed (mypy then treats ``tensorrt`` as untyped).
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "build" / "stubs"
PACKAGES = ("tensorrt", "tensorrt_bindings")
HEADER = (
    "# mypy: ignore-errors\n# Copied from tensorrt-stubs and fixed by .ci/fix_trt_stubs.py; do not edit.\n"
)

_IN_PARAM = re.compile(r"(?<=[(,] )in(?=: )|(?<=\()in(?=: )")
_SCALE_ND = re.compile(
    r"(def add_scale_nd\(self, input: ITensor, mode: ScaleMode, )(.*?)(, channel_axis: int\))"
)


def fix_text(text: str) -> tuple[str, int]:
    """Apply the three fixes to one .pyi text. Returns (fixed text, number of edits)."""
    edits = 0
    out_lines = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == "import tensorrt_libs as tensorrt_libs":
            edits += 1
            continue
        if stripped.startswith("def ") and re.search(r"[(,] ?in: ", line):
            line, n = _IN_PARAM.subn("in_", line)
            edits += n
        if "def add_scale_nd(" in line:
            m = _SCALE_ND.search(line)
            if m:
                params = re.sub(r" = None", "", m.group(2))
                line = line[: m.start()] + m.group(1) + params + m.group(3) + line[m.end() :]
                edits += 1
        if stripped.startswith("__all__") and "'tensorrt_libs'" in line:
            line = line.replace(", 'tensorrt_libs'", "")
            edits += 1
        out_lines.append(line)
    return "".join(out_lines), edits


def find_stub_root() -> Path | None:
    """The site-packages folder holding the installed ``tensorrt-stubs`` files, or None."""
    try:
        dist = metadata.distribution("tensorrt-stubs")
    except metadata.PackageNotFoundError:
        # Run by a Python outside the venv (e.g. the shebang's python3): look in the repo's .venv.
        found = sorted(ROOT.glob(".venv/lib/python3*/site-packages/tensorrt/__init__.pyi"))
        return found[-1].parents[1] if found else None
    for f in dist.files or ():
        if str(f).replace("\\", "/") == "tensorrt/__init__.pyi":
            return Path(str(dist.locate_file(f))).parents[1]
    return None


def main() -> int:
    src = find_stub_root()
    if src is None:
        print("fix_trt_stubs: tensorrt-stubs not installed (pip install --no-deps tensorrt-stubs); skipped")
        return 0
    total = 0
    for pkg in PACKAGES:
        dest = DEST / pkg
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for pyi in sorted((src / pkg).glob("*.pyi")):
            fixed, n = fix_text(pyi.read_text(encoding="utf-8"))
            (dest / pyi.name).write_text(HEADER + fixed, encoding="utf-8")
            total += n
    if total == 0:
        print("fix_trt_stubs: no line needed fixing: the stubs changed; check mypy's output", file=sys.stderr)
    print(f"fix_trt_stubs: {', '.join(PACKAGES)} -> {DEST.relative_to(ROOT)} ({total} lines fixed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
