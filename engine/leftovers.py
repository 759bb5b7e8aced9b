"""What a killed process leaves behind, removed by the profile's next run or job.

`write_atomic` writes `.<name>.<random>.tmp` beside its file and renames it; a kill between the two
leaves the temp file. A killed scoring run leaves `.amlbatch-<job>.parts/` and
`.<output file>.<job>.tmp` in its output folder. Normal failures remove their own (write_atomic and
engine.batch.output clean up in `finally`); these sweeps catch what a kill -9, a crash or a power cut
left. Only files older than `STALE` seconds are removed: a live atomic write takes milliseconds.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterable

STALE = 60.0
_ATOMIC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")  # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")


def _temps_under(folders: Iterable[Path]) -> Iterable[Path]:
    for folder in folders:
        if folder.is_dir():
            for dirpath, _dirnames, filenames in os.walk(folder):
                yield from (Path(dirpath) / name for name in filenames if _ATOMIC_TEMP.match(name))


def sweep_atomic_temps(folders: Iterable[Path], stale: float = STALE, extra: Iterable[Path] = ()) -> list[Path]:
    """Remove write_atomic's temp files older than `stale` seconds under `folders` (and the `extra`
    files named); the paths removed."""
    removed, cutoff = [], time.time() - stale
    for path in [*_temps_under(folders), *extra]:
        try:
            if _ATOMIC_TEMP.match(path.name) and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


def sweep_job_output(output_dir: Path) -> list[Path]:
    """Remove the parts folder and the temp results file a killed job left in its output folder
    (call it only for a job that has ended)."""
    removed: list[Path] = []
    if not output_dir.is_dir():
        return removed
    for path in output_dir.iterdir():
        try:
            if path.name.startswith(".amlbatch-") and path.name.endswith(".parts") and path.is_dir():
                shutil.rmtree(path)
                removed.append(path)
            elif path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file():
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed
