"""The KPI core as Python and compiled, side by side: `python -m bench.core --compare`.

Both run from copies of the tree made for the run (`streams`, `topics`, `bench`), one of them
built with mypyc (`streams.native`), so neither depends on whether this tree is built, and
each round is a fresh process on the same records (pickled once, read before any clock starts).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.batches import Record
from bench.subset import Subset

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("streams", "topics", "bench")
BUILDS = ("python", "compiled")
_LEFT_OUT = shutil.ignore_patterns("*.so", "compiled-core.json", "__pycache__", "results", "*.png")


def _env(root: Path) -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(root)}


def make_copies(dest: Path, log: Path) -> dict[str, Path]:
    """The two trees: `python` as the sources are, `compiled` built (its mypyc output in `log`)."""
    roots = {}
    for build in BUILDS:
        root = roots[build] = dest / build
        for package in PACKAGES:
            shutil.copytree(REPO / package, root / package, ignore=_LEFT_OUT)
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "streams.native", "build"],
            cwd=roots["compiled"],
            env=_env(roots["compiled"]),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode:
        raise RuntimeError(f"the compiled core did not build (exit {done.returncode}); see {log}")
    return roots


def save_records(records: list[Record], path: Path) -> None:
    with path.open("wb") as out:
        pickle.dump(records, out, protocol=pickle.HIGHEST_PROTOCOL)


def load_records(path: Path) -> list[Record]:
    with path.open("rb") as data:
        records: list[Record] = pickle.load(data)
    return records


def save_subset(windows: Subset, path: Path) -> None:
    with path.open("wb") as out:
        pickle.dump(windows, out, protocol=pickle.HIGHEST_PROTOCOL)


def load_subset(path: Path) -> Subset:
    with path.open("rb") as data:
        windows: Subset = pickle.load(data)
    return windows


def run_round(root: Path, data: Path, subset_out: Path | None = None) -> dict[str, Any]:
    """One timed round of `bench.core` in the tree at `root` over the pickled records (its
    common subset pickled to `subset_out`, when given)."""
    extra = ["--subset-out", str(subset_out)] if subset_out else []
    done = subprocess.run(
        [sys.executable, "-m", "bench.core", "--data", str(data), "--rounds", "1", "--digest", *extra],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"bench.core in {root} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report
