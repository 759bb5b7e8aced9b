"""The job's output file, assembled from the workers' part files.

A worker appends its rows to its own part file (`_write_at`) and reports only the byte range; the
parent accepts a range when it accepts the mini-batch as done (`_Output.accept`) and copies the
accepted ranges (`_Output.append`: `_copy_range`, sendfile where it works) in mini-batch order
into a hidden temporary file, consecutive ranges of one part file in one copy. `_Output.finish` renames that file into place (Completed), keeps it as
`<output_file_name>.partial` (Failed) or drops it (Canceled); `_Output.cleanup` removes the part
and temporary files whatever happened."""

from __future__ import annotations

import errno
import os
import re
import shutil
from array import array
from pathlib import Path
from typing import Callable

from engine.batch.settings import COMPLETED, FAILED

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation in part and output files


class OutputError(Exception):
    """Writing the output failed: the job fails with this message."""


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "job"


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Write bytes [offset, offset+count) of fd `src` at the current position of fd `dst`:
    in the kernel with sendfile where it works (Linux), else through a buffer."""
    sendfile = getattr(os, "sendfile", None)
    while count > 0:
        if sendfile is not None:
            try:
                sent = sendfile(dst, src, offset, min(count, 1 << 30))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                    raise
                sendfile = None  # e.g. macOS: sendfile only writes to sockets
                continue
            if sent == 0:
                raise OSError(f"part file ends before byte {offset + count}")
        else:
            chunk = _read_at(src, min(count, 1 << 20), offset)
            if not chunk:
                raise OSError(f"part file ends before byte {offset + count}")
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view):]
            sent = len(chunk)
        offset += sent
        count -= sent


def _read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows
    return os.read(fd, size)


def _write_at(fd: int, data: bytes, offset: int) -> int:
    """Write all of `data` at `offset`; returns the offset after it."""
    view = memoryview(data)
    while view:
        if hasattr(os, "pwrite"):
            written = os.pwrite(fd, view, offset)
        else:  # Windows
            os.lseek(fd, offset, os.SEEK_SET)
            written = os.write(fd, view)
        offset += written
        view = view[written:]
    return offset


class _Output:
    """The output of one job in `output_dir`: the part files' folder, the accepted ranges and the
    temporary file they are copied into, in mini-batch order."""

    def __init__(self, output_dir: Path, file_name: str, job_id: str, n_mb: int):
        self.n_mb = n_mb
        # each mini-batch's accepted output: r_part -1 = not finished, 0 = finished without rows,
        # N = rows at [r_start, r_end) of worker N's part file
        self.r_part = array("q", [-1]) * n_mb
        self.r_start = array("q", [0]) * n_mb
        self.r_end = array("q", [0]) * n_mb
        self.out_path = output_dir / file_name
        self.partial_path = output_dir / (file_name + ".partial")
        self.parts_dir = output_dir / f".amlbatch-{_safe_name(job_id)}.parts"
        self.tmp_path = output_dir / f".{file_name}.{_safe_name(job_id)}.tmp"
        self.out_fd: int | None = None  # tmp_path, written in mini-batch order as the prefix completes
        self.merged = 0  # mini-batches before this one are in tmp_path
        self.part_fds: dict[int, int] = {}

    def part_path(self, seq: int) -> Path:
        """Worker `seq`'s part file."""
        return self.parts_dir / f"part-{seq}.txt"

    def open(self) -> None:
        """Create the temporary file (append_row only: without it rows are only counted)."""
        self.out_fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)

    def accept(self, mb: int, seq: int = 0, start: int = 0, end: int = 0) -> None:
        """Mini-batch `mb` is finished: its rows are [start, end) of worker `seq`'s part file (none
        if the range is empty, e.g. it failed). They are copied by the next `append()`: the job
        calls it after each batch of replies, so that ranges that follow each other are copied
        in one go."""
        if end > start:
            self.r_part[mb], self.r_start[mb], self.r_end[mb] = seq, start, end
        else:
            self.r_part[mb] = 0

    def copy_rows(self, mb: int) -> None:
        self.copy_range(self.r_part[mb], self.r_start[mb], self.r_end[mb])

    def copy_range(self, seq: int, start: int, end: int) -> None:
        """Copy bytes [start, end) of worker `seq`'s part file to the output's end."""
        if seq <= 0 or self.out_fd is None or end <= start:
            return
        fd = self.part_fds.get(seq)
        if fd is None:
            fd = self.part_fds[seq] = os.open(self.part_path(seq), os.O_RDONLY | _BINARY)
        _copy_range(fd, self.out_fd, start, end - start)

    def append(self) -> None:
        """Copy the finished mini-batches that follow the output's end, in order (rows of later
        ones wait in the part files): the output file is ready when the last one finishes.
        Consecutive mini-batches that one worker ran one after the other sit end to end in its
        part file: they are copied as one range."""
        part, r_start, r_end = self.r_part, self.r_start, self.r_end
        seq = start = end = 0  # the range gathered so far, not copied yet
        mb = self.merged
        try:
            while mb < self.n_mb and part[mb] >= 0:
                if part[mb] > 0:
                    if part[mb] != seq or r_start[mb] != end:
                        self.copy_range(seq, start, end)
                        self.merged = mb  # every mini-batch before mb is in the output
                        seq, start = part[mb], r_start[mb]
                    end = r_end[mb]
                mb += 1
            self.copy_range(seq, start, end)
            self.merged = mb
        except OSError as exc:
            raise OutputError(f"writing {self.tmp_path} failed: {exc}") from None

    def close(self) -> None:
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None
        for fd in self.part_fds.values():
            os.close(fd)
        self.part_fds.clear()

    def finish(self, status: str, error: str, finalizing: Callable[[], None],
               ) -> tuple[str, str, Path | None, Path | None]:
        """Completed: call `finalizing` (the job's Finalizing status), then rename the output into
        place. Failed: keep the finished mini-batches' rows as <name>.partial. Canceled: keep
        nothing. Returns (status, error, output_file, partial_file): a write that fails turns
        Completed into Failed."""
        output_file = partial_file = None
        if self.out_fd is None:
            return status, error, None, None
        try:
            if status == COMPLETED:
                finalizing()
                self.append()
                if self.merged != self.n_mb:
                    raise OutputError("internal error: output incomplete")
                self.close()
                os.replace(self.tmp_path, self.out_path)
                output_file = self.out_path
            elif status == FAILED:
                for mb in range(self.merged, self.n_mb):  # finished after a gap
                    self.copy_rows(mb)
                rows_kept = os.fstat(self.out_fd).st_size > 0
                self.close()
                if rows_kept:
                    os.replace(self.tmp_path, self.partial_path)
                    partial_file = self.partial_path
        except (OSError, OutputError) as exc:
            status, error, output_file = FAILED, f"writing {self.out_path.name} failed: {exc}", None
        finally:
            self.close()
            self.tmp_path.unlink(missing_ok=True)
        return status, error, output_file, partial_file

    def cleanup(self) -> None:
        """Close and remove the temporary and part files (whatever happened)."""
        self.close()
        self.tmp_path.unlink(missing_ok=True)
        shutil.rmtree(self.parts_dir, ignore_errors=True)
