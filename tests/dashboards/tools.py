"""Finding the Prometheus tools that `make tools` installs (Debian names first)."""

from __future__ import annotations

import shutil

import pytest


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"none of {names} is installed: run `make tools` (Debian packages prometheus, prometheus-alertmanager)")


def promtool() -> str:
    return binary("promtool")


def prometheus() -> str:
    return binary("prometheus")


def alertmanager() -> str:
    return binary("prometheus-alertmanager", "alertmanager")


def amtool() -> str:
    return binary("amtool")
