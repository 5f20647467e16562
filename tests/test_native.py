"""The compiled core's build check (`streams.native`): a build older than its sources is not used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams import native

SUFFIX = native.EXTENSION_SUFFIXES[0]


def _tree(tmp_path: Path) -> Path:
    """A root with the compiled modules' layout: two core modules and the contract's three."""
    (tmp_path / native.KPIS).mkdir(parents=True)
    (tmp_path / "topics").mkdir()
    for name in ("__init__.py", "engine.py", "windows.py"):
        (tmp_path / native.KPIS / name).write_text(f"# {name}\n")
    for name in native.CONTRACT_MODULES:
        (tmp_path / name).write_text(f"# {name}\n")
    (tmp_path / "topics" / "contract.py").write_text("# not compiled\n")
    return tmp_path


def _fake_build(root: Path) -> None:
    """What `build` leaves: an extension per module and the stamp of the sources it compiled."""
    for source in native.sources(root):
        source.with_name(f"{source.stem}{SUFFIX}").write_bytes(b"")
    stamp = {p.relative_to(root).as_posix(): native._digest(p) for p in native.sources(root)}
    (root / native.STAMP).write_text(json.dumps(stamp))


def test_the_core_and_the_contracts_per_record_modules_are_compiled(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    names = [p.relative_to(root).as_posix() for p in native.sources(root)]
    assert names == [f"{native.KPIS}/engine.py", f"{native.KPIS}/windows.py", *native.CONTRACT_MODULES]


def test_a_tree_without_extensions_runs_as_python(tmp_path: Path) -> None:
    assert native.check_built(_tree(tmp_path)) is False


def test_a_current_build_is_taken(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    assert native.check_built(root) is True


@pytest.mark.parametrize("changed", [f"{native.KPIS}/windows.py", "topics/checks.py"])
def test_a_source_changed_after_the_build_is_named_with_the_fix(tmp_path: Path, changed: str) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    (root / changed).write_text("Y = 3\n")
    with pytest.raises(native.StaleBuild, match=rf"before {changed} changed.*streams\.native build"):
        native.check_built(root)


def test_a_source_added_after_the_build_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    (root / native.KPIS / "merge.py").write_text("Z = 4\n")
    with pytest.raises(native.StaleBuild, match=r"merge\.py"):
        native.check_built(root)


def test_extensions_without_their_stamp_are_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    (root / native.STAMP).unlink()
    with pytest.raises(native.StaleBuild):
        native.check_built(root)


def test_clean_goes_back_to_the_python_modules(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    removed = native.clean(root)
    assert len(removed) == len(native.sources(root)) + 1  # and the stamp
    assert native.check_built(root) is False
    assert not [p for p in root.rglob("*") if p.name.endswith(SUFFIX) or p.name.endswith(".json")]


def test_after_a_stale_build_the_modules_are_found_as_their_sources() -> None:
    finder = native._PythonModules()
    for module, source in (("streams.kpis.engine", "streams/kpis/engine.py"), ("topics.checks", "topics/checks.py")):
        spec = finder.find_spec(module, None)
        assert spec is not None and spec.origin == str(native.ROOT / source)
    for other in ("streams.kpis.no_such_module", "streams.worker.app", "topics.contract"):
        assert finder.find_spec(other, None) is None


def test_the_running_core_is_the_one_the_tree_holds() -> None:
    import streams.kpis
    import streams.kpis.engine
    import topics
    import topics.validation

    try:
        compiled = native.check_built()
    except native.StaleBuild:  # sources changed since the build: the Python modules run
        compiled = False
    assert streams.kpis.COMPILED is compiled and topics.COMPILED is compiled
    for module in (streams.kpis.engine, topics.validation):
        assert module.__file__ is not None and module.__file__.endswith(".py") is not compiled
