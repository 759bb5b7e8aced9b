"""A profile's identity: a uuid4 hex minted once and kept in its file (`id = "..."`), so ownership
follows the profile, not its file name. Files saved before ids existed get theirs on their next run,
written in place atomically (comments and layout kept). A small registry under the data folder maps
each id to the file that first carried it: a copied file (same id, another path) is noticed and
told how to get its own id, instead of acting as the same owner."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import ProfileError
from engine.fileio import read_json, write_atomic, write_json

_ID_LINE = re.compile(r'^id\s*=.*$', re.MULTILINE)


def mint() -> str:
    return uuid.uuid4().hex


def _registry_path() -> Path:
    return paths.data_dir() / "profile-ids.json"


def _registry() -> dict[str, str]:
    try:
        found = read_json(_registry_path())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def id_in_file(path: Path) -> str:
    """The id a profile file carries ("" when none or unreadable)."""
    try:
        match = re.search(r'^id\s*=\s*"([0-9a-f]{32})"\s*$', path.read_text(encoding="utf-8"), re.MULTILINE)
    except OSError:
        return ""
    return match.group(1) if match else ""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def file_of(profile_id: str) -> Path | None:
    """The file on this machine that carries `profile_id`: the registered one, else a saved profile."""
    if not profile_id:
        return None
    registered = _registry().get(profile_id)
    if registered and id_in_file(Path(registered)) == profile_id:
        return Path(registered)
    return next((p for p in paths.profiles_dir().glob("*.toml") if id_in_file(p) == profile_id), None) \
        if paths.profiles_dir().is_dir() else None


def write_id(path: Path, profile_id: str) -> None:
    """Put `id = "..."` into the file, replacing an id line or going at the top of its settings."""
    text = path.read_text(encoding="utf-8")
    line = f'id = "{profile_id}"'
    if _ID_LINE.search(text):
        text = _ID_LINE.sub(line, text, count=1)
    else:
        lines = text.splitlines(keepends=True)
        at = 0  # after leading comments and the schema/target lines, before the first table
        while at < len(lines) and not lines[at].lstrip().startswith("[") and (
                lines[at].lstrip().startswith(("#", "schema", "target")) or not lines[at].strip()):
            at += 1
        lines.insert(at, line + "\n")
        text = "".join(lines)
    write_atomic(path, text.encode("utf-8"))


def ensure(profile: Any) -> str | None:
    """Give a profile without an id its id, saved in its file; then check no other file claims it.
    Returns a sentence to tell the user when an id was written, else None."""
    said = None
    if not profile.id:
        profile.id = mint()
        if profile.path is not None and profile.path.is_file():
            write_id(profile.path, profile.id)
            said = f"profile '{profile.name}' now has its own id {profile.id} (written to {profile.path})"
    if profile.path is not None:
        claim(profile)
    return said


def claim(profile: Any) -> None:
    """Register the profile's file as the one carrying its id; refuse a second file with the same id."""
    registry = _registry()
    here = profile.path
    other = registry.get(profile.id)
    if other and not _same(Path(other), here) and id_in_file(Path(other)) == profile.id:
        raise ProfileError(profile.source, "id",
                           f"{other} carries the same id: this file looks like a copy of it, and two files "
                           "with one id would act as one owner of the same resources; give this one its own "
                           f"id with: amlbatch --profile {here} --new-id")
    if other is None or not _same(Path(other), here):
        registry[profile.id] = str(here)
        write_json(_registry_path(), registry)


def new_id(profile: Any) -> str:
    """Give the profile (a copy) a fresh id, written to its file; it then owns nothing until it runs."""
    if profile.path is None or not profile.path.is_file():
        raise ProfileError(profile.source, "id", "--new-id needs a saved profile file")
    profile.id = mint()
    write_id(profile.path, profile.id)
    claim(profile)
    return profile.id
