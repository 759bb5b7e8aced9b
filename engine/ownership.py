"""Which profile made a resource, and the versions of the assets it registers: facts both targets
share (a resource made by the local target and one made in Azure carry the same tags)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from engine.datafiles import file_md5

TAG_CREATOR, TAG_PROFILE = "created-by", "amlbatch-profile"
CREATOR = "amlbatch"
# Never part of an uploaded scorer or of its content hash.
CODE_IGNORED = ("__pycache__", "*.pyc", ".*")


def tags(profile: Any) -> dict[str, str]:
    """The tags every resource the profile makes carries."""
    return {TAG_CREATOR: CREATOR, TAG_PROFILE: profile.name}


def made_by(found_tags: Mapping[str, str] | None, profile: Any) -> bool:
    return bool(found_tags) and found_tags.get(TAG_PROFILE) == profile.name


def tree_hash(root: Path, skip: tuple[str, ...] = ()) -> str:
    """A short content hash of a file or folder: the asset version, so unchanged assets keep theirs."""
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        if "__pycache__" in rel or rel.endswith(".pyc") or any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        digest.update(rel.encode() + b"\0" + bytes.fromhex(file_md5(path)) + b"\0")
    return digest.hexdigest()[:12]


def asset_names(profile: Any) -> dict[str, str]:
    s = profile.scorer
    return {"environment": s.environment_name, "model": s.model_name, "code": f"{s.model_name}-code"}


def asset_versions(profile: Any) -> dict[str, tuple[str, str]]:
    """(name, version) of each asset; versions are content hashes so unchanged assets keep theirs.
    Both targets version assets this way (Azure turns the model's into a number, see its assets step)."""
    s, folder = profile.scorer, profile.scorer_dir
    env_hash = hashlib.sha256((folder / s.environment).read_bytes() + s.image.encode()).hexdigest()[:12]
    names = asset_names(profile)
    return {
        "environment": (names["environment"], env_hash),
        "model": (names["model"], tree_hash(folder / s.model)),
        "code": (names["code"], tree_hash(folder, skip=(Path(s.model).as_posix(),))),
    }
