"""The profile's data files, uploaded to the input container; unchanged files (same size and MD5)
are not uploaded again."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

from engine import diff, ownership
from engine.context import StepContext
from engine.datafiles import DataFile, HashCache, copy_with_md5, human_bytes
from engine.steps import Check, Done, delete_uploaded
from engine.targets.local.blobindex import BlobIndex, blob_owners
from engine.targets.local.state import LocalStep, confined, read
from engine.words import counted


THREADS = 4
WINDOW = 2 * THREADS  # chunks of files queued for the copy threads at a time
CHUNK = 64  # files per chunk at most


class _SourceHashes:
    """The MD5 of each data file: the container index's, while the file keeps the size and mtime
    it had when uploaded; else the profile's hash cache (which hashes and remembers it)."""

    def __init__(self, index: BlobIndex, cache: HashCache):
        self.index, self.cache = index, cache

    def md5(self, data_file: DataFile) -> str:
        return self.index.source_md5(data_file.blob, data_file.size, data_file.mtime_ns) \
            or self.cache.md5(data_file)

    def save(self) -> None:
        self.cache.save()


class Upload(LocalStep):
    key = "upload"

    def _container(self, account: str) -> Path:
        return self.target.container_dir(account, self.profile.storage.input_container)

    def check(self, ctx: StepContext) -> Check:
        files = self.target.data_files()
        if not files or "create" in (ctx.planned("containers"), ctx.planned("workspace")):
            return diff.upload(ctx, files, None)
        index = BlobIndex(self._container(self.target.storage_account()))
        return diff.upload(ctx, files, lambda f: index.found(f.blob),
                           _SourceHashes(index, HashCache.for_profile(self.profile.name)),
                           lambda f: index.tags(f.blob))

    def apply(self, ctx: StepContext, check: Check) -> Done:
        container = self._container(self.target.storage_account())
        todo: list[DataFile] = check.value
        total = sum(f.size for f in todo)
        done_bytes = 0
        tags = ownership.tags(self.profile)
        index = BlobIndex(container)
        made_dirs: set[str] = set()

        def upload(chunk: list[DataFile]) -> list[tuple[str, int]]:
            copied = []
            for data_file in chunk:
                blob_path = confined(container / "blobs" / data_file.blob)
                folder = os.path.dirname(blob_path)
                if folder not in made_dirs:
                    os.makedirs(folder, exist_ok=True)
                    made_dirs.add(folder)
                # written in place, no fsync (creating files is most of the cost): a blob cut short by
                # a crash no longer has its index entry's size and mtime, so the next check uploads it
                copied.append(copy_with_md5(data_file.source, blob_path))
            return copied

        # files go to the threads in chunks (fewer hand-offs), at most WINDOW chunks in flight:
        # memory flat in the file count; a cancel lets what is in flight finish and be recorded
        size = max(1, min(CHUNK, len(todo) // (THREADS * WINDOW)))
        chunks = (todo[i:i + size] for i in range(0, len(todo), size))
        window: deque = deque()
        try:
            with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="upload") as pool:
                window.extend((chunk, pool.submit(upload, chunk)) for chunk in islice(chunks, WINDOW))
                while window:
                    chunk, future = window.popleft()
                    for data_file, (md5, mtime_ns) in zip(chunk, future.result()):
                        index.put(data_file.blob, data_file.size, md5, mtime_ns, data_file.mtime_ns, tags)
                        done_bytes += data_file.size
                    ctx.progress(done_bytes, total, "bytes")
                    if not ctx.cancel.canceled:
                        window.extend((chunk, pool.submit(upload, chunk)) for chunk in islice(chunks, 1))
            ctx.checkpoint()
        finally:  # what did get uploaded is not hashed or copied again on the next run
            index.save()
        return Done("created", f"uploaded {counted(len(todo), 'file')} ({human_bytes(total)}) to "
                               f"{self.profile.storage.input_container}/{self.profile.data.prefix}")

    def check_delete(self, ctx: StepContext) -> Check:
        ws = self.target.workspace()
        if ws is None:
            return Check("skip", "uploaded data already gone")
        container = self.target.container_dir(ws["storage_account"], self.profile.storage.input_container)
        if self.target.ours(read(container / "container.json")) and not self.target.inside(container)[1]:
            return Check("skip", "uploaded data goes with its container")
        blobs = [blob for blob, owner in blob_owners(container) if ownership.made_by(owner, self.profile)]
        return delete_uploaded(blobs, self.profile.storage.input_container, (container, blobs))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        container, blobs = check.value
        index = BlobIndex(container)
        try:
            for blob in blobs:
                confined(container / "blobs" / blob).unlink(missing_ok=True)
                index.drop(blob)
        finally:
            index.save()
        return Done("deleted", check.detail)
