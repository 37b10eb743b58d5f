"""pyproject.toml lists every package on disk, and pipeline/ keeps a small core at its top."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# issue 9: the shared core stays small; modes live in sub-packages. 16 -> 18 in issues 19/20 (analyzer.py
# out of session.py, kalman.py out of tracker.py, identity.py new); 18 -> 11 when the seven tracking
# modules moved to pipeline/tracking/ (issue 20, twenty-fourth session).
MAX_PIPELINE_TOP_MODULES = 11


def _packages_on_disk(package_dir: dict[str, str]) -> set[str]:
    """Package names of the folders with an ``__init__.py``; a folder mapped to a package of its own
    (``pipeline/cli`` -> ``facelog.cli``) is named by that mapping only."""
    folders = {(ROOT / f).resolve(): name for name, f in package_dir.items()}
    found = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            owner = next(p for p in [init.parent, *init.parent.parents] if p in folders)
            if folders[owner] != name:
                continue  # inside a folder that another package-dir entry maps
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    return found


def test_pyproject_lists_every_package_folder() -> None:
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    assert len(listed) == len(setup["packages"]), "a package is listed twice"
    on_disk = _packages_on_disk(setup["package-dir"])
    assert on_disk - listed == set(), "folders with __init__.py missing from pyproject packages"
    assert listed - on_disk == set(), "pyproject packages without a folder"


def test_every_python_folder_is_a_package() -> None:
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for folder in setup["package-dir"].values():
        for py in (ROOT / folder).rglob("*.py"):
            assert (py.parent / "__init__.py").is_file(), f"{py} is in a folder that is not a package"


def test_pipeline_top_level_stays_small() -> None:
    modules = sorted(p.name for p in (ROOT / "pipeline").glob("*.py"))
    # track.py is being replaced by tracker.py + fusion.py; count it only while those are absent
    if "tracker.py" in modules:
        modules = [m for m in modules if m != "track.py"]
    assert len(modules) <= MAX_PIPELINE_TOP_MODULES, modules


def _imports(py: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(py.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_data_flows_one_way() -> None:
    """pipeline never imports training or the CLI; engines never import pipeline or training (STYLE §0)."""
    cli = (ROOT / "pipeline" / "cli").resolve()
    rules = {
        "pipeline": ("facelog.training", "facelog.cli"),
        "engines": ("facelog.pipeline", "facelog.training"),
    }
    bad = []
    for folder, banned in rules.items():
        for py in (ROOT / folder).rglob("*.py"):
            if cli in py.resolve().parents:
                continue  # the CLI (facelog.cli) drives every package
            bad += [f"{py.relative_to(ROOT)}: {m}" for m in _imports(py) if m.startswith(banned)]
    assert bad == []
