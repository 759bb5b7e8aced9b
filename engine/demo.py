"""The `demo` profile: made from a bundled local-target template the first time it is asked for."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from engine import paths
from engine import profile as profiles

DEMO = "demo"
DEMO_FILES, DEMO_ROWS = 20, 500


def demo_data_dir() -> Path:
    return paths.data_dir() / "demo-data"


def ensure_demo_data() -> Path:
    """Write the demo's input files if they are missing (generated, deterministic)."""
    folder = demo_data_dir()
    if not any(folder.glob("*.csv")):
        from scorer.sample_data import write_sample_files

        write_sample_files(folder, files=DEMO_FILES, rows_per_file=DEMO_ROWS, seed=0)
    return folder


def create_demo_profile() -> profiles.Profile:
    """Save the demo profile from the template; never overwrites an existing one."""
    path = profiles.profile_path(DEMO)
    folder = ensure_demo_data()
    text = resources.files("engine").joinpath("demo.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text.replace("{data}", folder.as_posix()))
    profile = profiles.from_dict(DEMO, data, "demo.toml (template)", path)
    profiles.save(profile, path)
    return profile


def is_missing_demo(name_or_path: str) -> bool:
    return name_or_path == DEMO and not profiles.profile_path(DEMO).exists()
