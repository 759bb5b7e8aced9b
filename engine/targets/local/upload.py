"""The profile's data files, uploaded to the input container; unchanged files (same size and MD5)
are not uploaded again."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine import diff, ownership
from engine.context import StepContext
from engine.datafiles import DataFile, file_md5, human_bytes
from engine.fileio import write_json
from engine.steps import Check, Done
from engine.targets.local.state import LocalStep, read


class Upload(LocalStep):
    key = "upload"

    def _blob_paths(self, account: str, blob: str) -> tuple[Path, Path]:
        container = self.target.container_dir(account, self.profile.storage.input_container)
        return container / "blobs" / blob, container / "meta" / (blob + ".json")

    def check(self, ctx: StepContext) -> Check:
        files = self.target.data_files()
        if not files or "create" in (ctx.planned("containers"), ctx.planned("workspace")):
            return diff.upload(ctx, files, None)
        account = self.target.storage_account()

        def found(data_file: DataFile) -> tuple[int, str] | None:
            meta = read(self._blob_paths(account, data_file.blob)[1])
            return None if not meta else (meta.get("size"), meta.get("content_md5"))
        return diff.upload(ctx, files, found)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        account = self.target.storage_account()
        todo: list[DataFile] = check.value
        total = sum(f.size for f in todo)
        done_bytes = 0
        tags = ownership.tags(self.profile)

        def upload(data_file: DataFile) -> int:
            ctx.checkpoint()
            blob_path, meta_path = self._blob_paths(account, data_file.blob)
            blob_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = blob_path.with_name(blob_path.name + ".uploading")
            shutil.copyfile(data_file.path, tmp)
            tmp.replace(blob_path)
            write_json(meta_path, {"size": data_file.size, "content_md5": file_md5(blob_path), "tags": tags})
            return data_file.size

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload") as pool:
            for size in pool.map(upload, todo):
                done_bytes += size
                ctx.progress(done_bytes, total, "bytes")
        return Done("created", f"uploaded {len(todo)} files ({human_bytes(total)}) to "
                               f"{self.profile.storage.input_container}/{self.profile.data.prefix}")

    def check_delete(self, ctx: StepContext) -> Check:
        ws = self.target.workspace()
        if ws is None:
            return Check("skip", "uploaded data already gone")
        container = self.target.container_dir(ws["storage_account"], self.profile.storage.input_container)
        if self.target.ours(read(container / "container.json")):
            return Check("skip", "uploaded data goes with its container")
        metas = [m for m in sorted((container / "meta").rglob("*.json")) if self.target.ours(read(m))] \
            if (container / "meta").is_dir() else []
        if not metas:
            return Check("skip", "no uploaded data of this profile")
        return Check("delete", f"{len(metas)} uploaded blobs in {self.profile.storage.input_container}",
                     (container, metas))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        container, metas = check.value
        for meta in metas:
            blob = meta.relative_to(container / "meta").as_posix()[: -len(".json")]
            (container / "blobs" / blob).unlink(missing_ok=True)
            meta.unlink()
        return Done("deleted", check.detail)
