"""One record per container of what its blobs are and whose they are: `index.jsonl` beside
container.json, written once per upload (not one metadata file per blob). JSON lines, so it is
read and written a line at a time:

    {"owners": [tags, ...]}
    ["blob name", "size md5hex blob-mtime_ns source-mtime_ns owner"]
    ...

each entry one string (a third of the memory of a list of five values, at tens of thousands of
blobs); `owner` is a position in `owners` (each profile's ownership tags, kept once). A blob's size and
mtime say whether the blob file is still the one the entry describes (a blob cut short by a crash
is not, so it is uploaded again); the source's mtime with the size says whether the data file is
still the one that was hashed. Containers written by earlier versions, with one meta/<blob>.json
per blob, are read as such; the next save folds them in and removes meta/."""

from __future__ import annotations

import json
import os
import shutil
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from engine.fileio import read_json, write_atomic_chunks

INDEX = "index.jsonl"
LEGACY = "meta"


class BlobIndex:
    def __init__(self, container: Path):
        self.container = container
        self.path = container / INDEX
        self._blobs = str(container / "blobs")
        self.owners: list[dict[str, str]] = []
        self.blobs: dict[str, str] = {}
        try:
            with open(self.path, "rb") as handle:  # line by line: never the whole file in memory
                self.owners = list(json.loads(handle.readline()).get("owners") or [])
                for line in handle:
                    blob, text = json.loads(line)
                    if isinstance(blob, str) and isinstance(text, str):
                        self.blobs[blob] = text
        except (OSError, ValueError, TypeError, AttributeError):
            pass  # a lost or damaged index: what it listed is uploaded again
        self._legacy()

    def _legacy(self) -> None:
        """meta/<blob>.json records of an earlier version: their size, MD5 and owner (no mtime, so
        the blob's size decides until the next upload rewrites the entry)."""
        meta = self.container / LEGACY
        if not meta.is_dir():
            return
        for path in sorted(meta.rglob("*.json")):
            try:
                record = read_json(path)
            except (OSError, ValueError):
                continue
            blob = path.relative_to(meta).as_posix()[: -len(".json")]
            if isinstance(record, dict) and blob not in self.blobs:
                self.blobs[blob] = _entry(int(record.get("size") or 0), str(record.get("content_md5")), 0, 0,
                                          self._owner(record.get("tags") or {}))

    def _owner(self, tags: dict[str, str]) -> int:
        try:
            return self.owners.index(tags)
        except ValueError:
            self.owners.append(dict(tags))
            return len(self.owners) - 1

    def blob_path(self, blob: str) -> str:
        return f"{self._blobs}/{blob}"  # a str: no Path built per blob (checks pass thousands)

    def _get(self, blob: str) -> list[Any] | None:
        """[size, md5, blob mtime_ns, source mtime_ns, owner] of a blob, or None."""
        text = self.blobs.get(blob)
        if not isinstance(text, str):
            return None
        try:
            size, md5, blob_mtime, source_mtime, owner = text.split(" ")
            return [int(size), md5, int(blob_mtime), int(source_mtime), int(owner)]
        except ValueError:
            return None

    def found(self, blob: str) -> tuple[int, str] | None:
        """(size, md5) of the blob when its file is the one its entry describes, else None."""
        entry = self._get(blob)
        if not entry:
            return None
        try:
            st = os.stat(self.blob_path(blob))
        except OSError:
            return None
        if st.st_size != entry[0] or (entry[2] and st.st_mtime_ns != entry[2]):
            return None
        return entry[0], entry[1]

    def source_md5(self, blob: str, size: int, mtime_ns: int) -> str | None:
        """The MD5 recorded for the blob's source file while that file keeps its size and mtime."""
        entry = self._get(blob)
        if entry and mtime_ns and entry[3] == mtime_ns and entry[0] == size:
            return entry[1]
        return None

    def tags(self, blob: str) -> dict[str, str] | None:
        entry = self._get(blob)
        return self.owners[entry[4]] if entry and 0 <= entry[4] < len(self.owners) else None

    def put(self, blob: str, size: int, md5: str, blob_mtime_ns: int, source_mtime_ns: int,
            tags: dict[str, str]) -> None:
        self.blobs[blob] = _entry(size, md5, blob_mtime_ns, source_mtime_ns, self._owner(tags))

    def drop(self, blob: str) -> None:
        self.blobs.pop(blob, None)

    def owned(self) -> Iterator[tuple[str, dict[str, str]]]:
        """(blob, its owner's tags) of every blob recorded."""
        for blob in self.blobs:
            entry = self._get(blob)
            yield blob, self.owners[entry[4]] if entry and 0 <= entry[4] < len(self.owners) else {}

    def save(self) -> None:
        """Written entry by entry (no second copy of the whole index in memory), without fsync: a
        lost index costs uploading again, never a wrong skip (each entry is checked against its blob
        file's size and mtime)."""
        used = sorted({int(text.rsplit(" ", 1)[1]) for text in self.blobs.values()})
        if used != list(range(len(self.owners))):  # owners no blob has any more are dropped
            moved = {old: new for new, old in enumerate(used)}
            for blob, text in self.blobs.items():
                head, owner = text.rsplit(" ", 1)
                self.blobs[blob] = f"{head} {moved[int(owner)]}"
            self.owners = [self.owners[old] for old in used]

        def chunks() -> Iterator[bytes]:
            yield json.dumps({"owners": self.owners}, separators=(",", ":")).encode() + b"\n"
            items = iter(self.blobs.items())
            while batch := list(islice(items, 1024)):
                yield "".join(f'[{json.dumps(blob)},"{text}"]\n' for blob, text in batch).encode()
        write_atomic_chunks(self.path, chunks(), durable=False)
        shutil.rmtree(self.container / LEGACY, ignore_errors=True)


def _entry(size: int, md5: str, blob_mtime_ns: int, source_mtime_ns: int, owner: int) -> str:
    return f"{size} {md5} {blob_mtime_ns} {source_mtime_ns} {owner}"


def blob_owners(container: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(blob, owner tags) of every blob of a container, as its index records them."""
    if (container / INDEX).is_file() or (container / LEGACY).is_dir():
        yield from BlobIndex(container).owned()
