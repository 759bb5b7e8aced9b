"""The local data files a profile uploads: paths, folders or globs, each mapped to a blob name."""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePath

from engine.errors import ProfileError

CHUNK = 1 << 20


@dataclass(frozen=True)
class DataFile:
    path: Path
    blob: str  # name inside the input container, under the profile's data.prefix
    size: int


def _fixed_root(pattern: PurePath) -> PurePath:
    """The part of a glob before its first wildcard: blob names are relative to it. The path keeps
    its flavour, so a Windows pattern (C:\\data\\*.csv) splits by Windows rules."""
    parts = pattern.parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return type(pattern)(*fixed) if fixed else type(pattern)(".")


def expand(profile, source: str) -> list[DataFile]:
    """Every file the profile names, with its blob name; errors name the entry that is wrong."""
    found: dict[str, DataFile] = {}
    prefix = profile.data.prefix.strip("/")
    for index, entry in enumerate(profile.data.files):
        field = f"data.files[{index}]"
        target = profile.resolve(entry)
        if glob.has_magic(entry):
            root = _fixed_root(target)
            matches = [Path(p) for p in sorted(glob.glob(str(target), recursive=True)) if os.path.isfile(p)]
            pairs = [(p, p.relative_to(root).as_posix()) for p in matches]
        elif target.is_dir():
            pairs = [(p, p.relative_to(target).as_posix()) for p in sorted(target.rglob("*")) if p.is_file()]
        elif target.is_file():
            pairs = [(target, target.name)]
        else:
            raise ProfileError(source, field, f"no such file or folder: {target}")
        if not pairs:
            raise ProfileError(source, field, f"matches no file: {entry}")
        for path, name in pairs:
            blob = f"{prefix}/{name}" if prefix else name
            if blob in found and found[blob].path != path:
                raise ProfileError(source, field, f"two files would upload to the same blob '{blob}': "
                                   f"{found[blob].path} and {path}")
            found[blob] = DataFile(path, blob, path.stat().st_size)
    return list(found.values())


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB': sizes as people read them, in step details and on screens."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in chunks (Azure keeps MD5 as a blob's Content-MD5)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
