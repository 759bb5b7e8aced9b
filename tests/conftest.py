"""Shared fixtures. Every test runs with its own AMLBATCH_HOME, so nothing leaks from (or into) a
developer's own profiles and state, and no AMLBATCH_* override from the shell changes a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import write_scorer

# Fixtures of the Azure tests: the fake cloud (tests/azure_support.py) and Azurite (tests/azurite.py).
pytest_plugins = ["tests.azure_support", "tests.azurite"]


@pytest.fixture(autouse=True)
def amlbatch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("amlbatch-home")
    for name in list(os.environ):
        if name.startswith("AMLBATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AMLBATCH_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def make_profile(tmp_path: Path):
    """Write a local-target profile file with its own scorer folder and data files; returns its path.

    Extra TOML text is appended, so a test can add sections or override keys."""

    def make(extra: str = "", files: int = 3, name: str = "test") -> Path:
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        for i in range(files):
            (data / f"part-{i}.csv").write_text(f"id,value\n{i},{i * 2}\n")
        write_scorer(tmp_path / "myscorer")
        path = tmp_path / f"{name}.toml"
        text = 'schema = 1\ntarget = "local"\n\n[data]\nfiles = ["data/*.csv"]\n\n[scorer]\nfolder = "myscorer"\n'
        path.write_text(text + extra)
        return path

    return make
