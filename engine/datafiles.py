"""The local data files a profile uploads: paths, folders or globs, each mapped to a blob name."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Iterator

from engine.errors import ProfileError
from engine.fileio import write_atomic

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)  # slots: one per data file, tens of thousands at a time
class DataFile:
    source: str  # the file's path; a str, as a Path per file costs ~400 bytes more
    blob: str  # name inside the input container, under the profile's data.prefix
    size: int
    mtime_ns: int = 0  # with size, says whether a remembered hash still holds

    @property
    def path(self) -> Path:
        return Path(self.source)


def _walk(folder: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every file under `folder` (its path as a str) with its stat, in sorted order; scandir stats
    once per file."""
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir():
            yield from _walk(entry.path)
        elif entry.is_file():
            yield entry.path, entry.stat()


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
        if _too_wide(Path(_fixed_root(target)) if glob.has_magic(entry) else target):
            raise ProfileError(source, field, f"'{entry}' would read the whole file system or your whole "
                               "home folder: name the folder that holds the data")
        if glob.has_magic(entry):
            root = _fixed_root(target)
            matches = [Path(p) for p in sorted(glob.glob(str(target), recursive=True)) if os.path.isfile(p)]
            pairs: Iterator[tuple[str, str, os.stat_result]] = \
                ((str(p), p.relative_to(root).as_posix(), p.stat()) for p in matches)
        elif target.is_dir():
            cut = len(str(target)) + 1  # a generator: no second list of every file and its stat
            pairs = ((p, p[cut:].replace(os.sep, "/"), st) for p, st in _walk(str(target)))
        elif target.is_file():
            pairs = iter([(str(target), target.name, target.stat())])
        else:
            raise ProfileError(source, field, f"no such file or folder: {target}")
        count = 0
        for path, name, st in _readable(pairs, source, field):
            count += 1
            blob = f"{prefix}/{name}" if prefix else name
            if blob in found and found[blob].source != path:
                raise ProfileError(source, field, f"two files would upload to the same blob '{blob}': "
                                   f"{found[blob].source} and {path}")
            found[blob] = DataFile(path, blob, st.st_size, st.st_mtime_ns)
        if not count:
            raise ProfileError(source, field, f"matches no file: {entry}")
    return list(found.values())


def _too_wide(root: Path) -> bool:
    """A folder whose walk would read the whole file system (a root such as / or C:\\) or the
    user's whole home folder: refused before it is walked."""
    try:
        resolved = root.resolve()
        return resolved == Path(resolved.anchor) or resolved == Path.home().resolve()
    except (OSError, RuntimeError):
        return False


def _readable(pairs: Iterator, source: str, field: str) -> Iterator:
    """The entry's files; a folder or file that cannot be read is the entry's error, not a traceback."""
    try:
        yield from pairs
    except OSError as exc:
        raise ProfileError(source, field, f"cannot read {exc.filename or 'a file'}: "
                           f"{exc.strerror or type(exc).__name__}") from None


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB': sizes as people read them, in step details and on screens."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def file_md5(path: Path | str) -> str:
    """Hex MD5 of a file, read in chunks (Azure keeps MD5 as a blob's Content-MD5)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_with_md5(source: Path | str, dest: Path | str) -> tuple[str, int]:
    """Copy `source` to `dest`; (MD5 of the bytes copied, dest's mtime_ns): one read serves both,
    and the copy's own handle gives its time (no second stat by name)."""
    digest = hashlib.md5()
    with open(source, "rb", buffering=0) as src, open(dest, "wb", buffering=0) as out:
        step = min(CHUNK, os.fstat(src.fileno()).st_size + 1)  # a small file: no 1 MB buffer per read
        for chunk in iter(lambda: src.read(step), b""):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[out.write(view):]
        return digest.hexdigest(), os.fstat(out.fileno()).st_mtime_ns


class HashCache:
    """MD5s of the data files remembered with their size and modification time, so a re-run
    hashes only the files that changed since. Stored per profile; a lost or stale cache only
    costs hashing again."""

    def __init__(self, path: Path):
        self.path = path
        self.changed = False
        try:
            with open(path, "rb") as handle:
                self.entries: dict[str, list] = json.load(handle)
        except (OSError, ValueError):
            self.entries = {}

    @classmethod
    def for_profile(cls, name: str) -> "HashCache":
        from engine import paths

        return cls(paths.data_dir() / "hashes" / f"{name}.json")

    def md5(self, data_file: DataFile) -> str:
        key = data_file.source
        entry = self.entries.get(key)
        if entry and entry[0] == data_file.size and entry[1] == data_file.mtime_ns and data_file.mtime_ns:
            return entry[2]
        md5 = file_md5(data_file.source)
        self.remember(data_file, md5)
        return md5

    def remember(self, data_file: DataFile, md5: str) -> None:
        self.entries[data_file.source] = [data_file.size, data_file.mtime_ns, md5]
        self.changed = True

    def save(self) -> None:
        if self.changed:
            write_atomic(self.path, json.dumps(self.entries, separators=(",", ":")).encode())
            self.changed = False
