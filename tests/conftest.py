"""Shared fixtures. Every test runs with its own AMLBATCH_HOME, so nothing leaks from (or into) a
developer's own profiles and state, and no AMLBATCH_* override from the shell changes a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import write_scorer

# Fixtures of the Azure tests: the fake cloud (tests/azure_support.py) and Azurite (tests/azurite.py).
pytest_plugins = ["tests.azure_support", "tests.azurite"]


def _real_dirs() -> list[Path]:
    """The user's own config and data folders (platformdirs, as amlbatch uses without AMLBATCH_HOME)."""
    import platformdirs

    return [Path(platformdirs.user_config_dir("amlbatch", appauthor=False)),
            Path(platformdirs.user_data_dir("amlbatch", appauthor=False))]


def _snapshot() -> dict[str, tuple[int, int]]:
    found = {}
    for root in _real_dirs():
        for path in [root, *root.rglob("*")] if root.exists() else []:
            try:
                stat = path.lstat()
            except OSError:
                continue
            found[str(path)] = (stat.st_size if path.is_file() else 0, stat.st_mtime_ns)
    return found


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # pytest-xdist's documented marker of a worker process


def pytest_sessionstart(session: pytest.Session) -> None:
    # Under xdist the controller's session spans every worker's: it alone takes both snapshots.
    if not _is_xdist_worker(session.config):
        session.config.stash[_BEFORE] = _snapshot()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any test wrote into the user's real amlbatch folders: tests must stay in
    their AMLBATCH_HOME sandbox (a leaked profile changes what the user's next run does)."""
    if _is_xdist_worker(session.config):
        return
    before, after = session.config.stash.get(_BEFORE, {}), _snapshot()
    changed = sorted(p for p in after.keys() | before.keys() if before.get(p) != after.get(p))
    if changed:
        shown = "\n  ".join(changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
        session.config.get_terminal_writer().line(
            f"\nThe tests wrote outside their sandbox, into the real amlbatch folders:\n  {shown}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[dict]()


@pytest.fixture(autouse=True)
def amlbatch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("amlbatch-home")
    for name in list(os.environ):
        if name.startswith("AMLBATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AMLBATCH_HOME", str(home))
    monkeypatch.setenv("AMLBATCH_PRICES_URL", "off")  # no test reaches the real prices API (tests/fakeazure/_prices.py)
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
