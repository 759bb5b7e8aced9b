"""Small file helpers that never leave a half-written file behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    A crash at any point leaves either the old file or the new one, never a mix. `durable=False`
    skips the fsync, for files that are cheap to lose and written by the thousand.
    """
    write_atomic_chunks(path, (data,), durable)


def write_atomic_chunks(path: Path, chunks: Iterable[bytes], durable: bool = True) -> None:
    """write_atomic of the bytes `chunks` yields, written as they come (a large file is never
    whole in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for data in chunks:
                handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: Path, data: Any, durable: bool = True) -> None:
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), durable)


def read_json(path: Path) -> Any:
    with open(path, "rb") as handle:
        return json.load(handle)
