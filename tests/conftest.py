"""Shared fixtures. Every test runs with its own AMLBATCH_HOME, so nothing leaks from (or into) a
developer's own profiles and state, and no AMLBATCH_* override from the shell changes a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def amlbatch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("amlbatch-home")
    for name in list(os.environ):
        if name.startswith("AMLBATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AMLBATCH_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home
