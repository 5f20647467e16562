"""The KPI core (`streams/kpis/`) imports nothing of Kafka, Faust, Prometheus or the worker.

It runs in process (tests, the benchmark's core figure, `LocalPipeline`) exactly as inside the
worker; an import of the runtime would tie the two together again."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "streams" / "kpis"
ALLOWED_PREFIXES = ("streams.kpis", "topics.", "streams.native")
"""The core, the contract, and the compiled core's build check (the standard library only)."""
RUNTIME = ("faust", "mode", "kafka", "aiokafka", "prometheus_client", "rocksdict", "confluent_kafka")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_modules_import_only_the_core_the_contract_and_plain_libraries() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in sorted(CORE.glob("*.py"))
        for name in imported_modules(path)
        if (name.startswith("streams") and not name.startswith(ALLOWED_PREFIXES)) or name.split(".")[0] in RUNTIME
    }
    assert not offending, sorted(offending)


def test_importing_the_core_loads_no_runtime_package() -> None:
    modules = ", ".join(f"streams.kpis.{path.stem}" for path in sorted(CORE.glob("*.py")) if path.stem != "__init__")
    probe = f"import importlib, sys\nfor m in '{modules}'.split(', '): importlib.import_module(m)\n" + (
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in " + repr(RUNTIME) + ")))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
