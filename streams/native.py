"""The optional compiled KPI core: `python -m streams.native build | clean | status`.

mypyc compiles the per-event path to C extensions beside their sources: every module of
`streams.kpis` (engine, areas, windows and the rest) and the contract's per-record modules
(`topics.validation`, `topics.checks`, `topics.partitioner`). Python imports an extension
before the `.py` of the same name, so a tree with the extensions built runs the compiled
core and a clean tree runs the same modules as Python: the fallback, with the same code and
the same tests.

An extension built from other sources than those beside it would run code nobody reads:
`build` records a hash of each source, and importing `streams.kpis` or `topics` finds a
build whose sources changed since (`check_built`), warns with the command that fixes it,
and runs the Python modules instead (`use_python_modules`).

orjson serializes a dataclass by reading its instance fields itself, and crashes the process
on a compiled one: what leaves the core for orjson (records, alerts) is a dict.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
"""The folder holding the `streams` and `topics` packages."""
KPIS = "streams/kpis"
CONTRACT_MODULES = ("topics/validation.py", "topics/checks.py", "topics/partitioner.py")
"""The contract's modules every record goes through (decoding, checks, partitioning)."""
GROUP = "streams.kpis.compiled_core"
"""The shared library mypyc puts the compiled modules in (`compiled_core__mypyc` in streams/kpis)."""
STAMP = f"{KPIS}/compiled-core.json"
"""Each compiled module's source hash at build time."""
EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


class StaleBuild(ImportError):
    """The compiled core was built from sources that have changed since."""


def sources(root: Path = ROOT) -> list[Path]:
    """The modules compiled: those of `streams.kpis` but its `__init__` (which checks the build),
    and the contract's per-record modules."""
    kpis = sorted(p for p in (root / KPIS).glob("*.py") if p.name != "__init__.py")
    return [*kpis, *(root / name for name in CONTRACT_MODULES)]


def _name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extensions(root: Path = ROOT) -> list[Path]:
    """The built extensions (none: the core runs as Python)."""
    folders = {root / KPIS, *((root / name).parent for name in CONTRACT_MODULES)}
    return sorted(p for folder in folders for p in folder.iterdir() if p.name.endswith(EXTENSION_SUFFIXES))


def check_built(root: Path = ROOT) -> bool:
    """True when the compiled core is built and current, False when none is built.

    Raises `StaleBuild` when extensions are there but a source changed (or was added)
    after the build: importing them would run other code than the sources say."""
    if not extensions(root):
        return False
    stamp_path = root / STAMP
    built = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    changed = [_name(p, root) for p in sources(root) if built.get(_name(p, root)) != _digest(p)]
    if changed:
        raise StaleBuild(
            f"the compiled core was built before {', '.join(changed)} changed; "
            "run `python -m streams.native build` to compile it again, or "
            "`python -m streams.native clean` to run the Python modules"
        )
    return True


_running_compiled: bool | None = None
"""What `checked_import` found, once per process (both packages ask)."""


def checked_import(package: str) -> bool:
    """For a compiled package's `__init__`: whether its modules run compiled. A stale build is
    not used: a warning says how to rebuild, and the Python modules run (`use_python_modules`)."""
    global _running_compiled
    if _running_compiled is None:
        try:
            _running_compiled = check_built()
        except StaleBuild as stale:
            warnings.warn(f"{package}: {stale}; running the Python modules until then", RuntimeWarning, stacklevel=3)
            use_python_modules()
            _running_compiled = False
    return _running_compiled


def clean(root: Path = ROOT) -> list[Path]:
    """Remove the extensions and the stamp: the core runs as Python from the next start."""
    removed = [*extensions(root), *(p for p in [root / STAMP] if p.exists())]
    for path in removed:
        path.unlink()
    return removed


def build(root: Path = ROOT) -> list[Path]:
    """Compile the modules in place (about a minute on two cores); returns the extensions.

    Runs mypyc through setuptools in a child process, its generated C and objects in a scratch
    folder; a failed build leaves the tree clean, so it runs as Python."""
    clean(root)
    compiled = sources(root)
    stamp = {_name(p, root): _digest(p) for p in compiled}  # what is compiled, not what is there after
    with tempfile.TemporaryDirectory(prefix="cxkpi-native-") as scratch:
        names = [_name(p, root) for p in compiled]
        args = ["build_ext", "--inplace", "--build-temp", scratch, "--build-lib", scratch]
        script = (
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            f"modules = mypycify({names!r}, group_name={GROUP!r}, opt_level='3', target_dir={scratch!r})\n"
            f"setup(name='cxkpi-compiled-core', script_args={args!r}, ext_modules=modules)\n"
        )
        subprocess.run([sys.executable, "-c", script], cwd=root, check=True)
    (root / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    return extensions(root)


class _PythonModules(importlib.abc.MetaPathFinder):
    """Finds the compiled modules as their `.py` sources, ahead of the extensions beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = ROOT / (fullname.replace(".", "/") + ".py")
        if source not in sources():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def use_python_modules() -> None:
    """From now on, import the compiled modules from their sources, whatever is built beside them."""
    if not any(isinstance(finder, _PythonModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PythonModules())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.native", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "clean", "status"))
    args = parser.parse_args(argv)
    if args.command == "build":
        built = build()
        print(f"compiled core: {len(built)} extensions built")
    elif args.command == "clean":
        removed = clean()
        print(f"compiled core: removed {len(removed)} files; the core runs as Python")
    else:
        try:
            current = check_built()
        except StaleBuild as error:
            print(f"{error} (until then, it runs as Python)")
            return 1
        print("compiled core: " + ("built and current" if current else "not built (the core runs as Python)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
