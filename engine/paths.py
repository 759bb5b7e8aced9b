"""Where amlbatch keeps profiles (config) and state, run records and local resources (data).

platformdirs gives the per-user folders; AMLBATCH_HOME moves both under one folder, which is how
the tests keep a developer's own profiles out of the way.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "amlbatch"


def _home() -> Path | None:
    home = os.environ.get("AMLBATCH_HOME", "").strip()
    return Path(home).expanduser().resolve() if home else None


def config_dir() -> Path:
    home = _home()
    if home:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    home = _home()
    if home:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def profiles_dir() -> Path:
    return config_dir() / "profiles"


def runs_dir(profile: str) -> Path:
    return data_dir() / "runs" / profile


def local_cloud_dir() -> Path:
    """The local target's stand-in for an Azure subscription."""
    return data_dir() / "local"


def locks_dir() -> Path:
    return data_dir() / "locks"
