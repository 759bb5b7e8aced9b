"""The profile's data files, uploaded to the input container under data.prefix. A blob whose size
and md5 match its file is not uploaded again; uploaded blobs carry the profile in their metadata."""

from __future__ import annotations

from typing import Any

from engine import diff, ownership
from engine.context import StepContext
from engine.datafiles import DataFile, HashCache, human_bytes
from engine.errors import StepError
from engine.steps import Check, Done, delete_uploaded
from engine.targets.azure import _access, _owned
from engine.targets.azure._blob import META_MD5, DataAccessRefused, metadata_tags
from engine.targets.azure.session import AzureStep
from engine.words import counted


def blob_md5(blob: Any) -> str:
    meta = (blob.metadata or {}).get(META_MD5)
    if meta:
        return meta
    settings = getattr(blob, "content_settings", None)
    md5 = getattr(settings, "content_md5", None)
    return bytes(md5).hex() if md5 else ""


class Upload(AzureStep):
    key = "upload"

    def noun(self) -> str:
        return "the data files"

    def _listed_blobs(self, account: str) -> dict[str, Any]:
        prefix = self.profile.data.prefix.strip("/")
        container = self.profile.storage.input_container

        def listing(client: Any) -> dict[str, Any]:
            cc = client.get_container_client(container)
            return {b.name: b for b in cc.list_blobs(name_starts_with=f"{prefix}/" if prefix else None,
                                                   include=["metadata"])}
        return self.session.blobs(account).run(listing)

    def _refused(self, ctx: StepContext, exc: DataAccessRefused) -> StepError:
        """The truth about a 403: the role the signed-in identity lacks and the line to ask for it."""
        me, kind = _access.signed_in(self.session)
        scope = self.session.ws_value(ctx).get("storage_id") or f"<id of storage account {exc.account}>"
        role = _access.NEEDS["upload"][0].role
        return StepError(f"storage account {exc.account} refused the signed-in identity ({exc.code}): uploading needs "
                         f"the '{role}' role on the account. Ask an administrator to run: "
                         + _access.az_line(me or "<your object id>", kind, role, scope))

    def check(self, ctx: StepContext) -> Check:
        try:
            return self._check(ctx)
        except DataAccessRefused as exc:
            raise self._refused(ctx, exc) from None

    def _check(self, ctx: StepContext) -> Check:
        files = self.session.data_files()
        if not files or "create" in (ctx.planned("containers"), ctx.planned("workspace")):
            return diff.upload(ctx, files, None)
        present = self._listed_blobs(self.session.ws_value(ctx)["storage_account"])

        def found(data_file: DataFile) -> tuple[int, str] | None:
            blob = present.get(data_file.blob)
            return None if blob is None else (blob.size, blob_md5(blob))
        def owner_tags(data_file: DataFile) -> dict[str, str]:
            return metadata_tags(present[data_file.blob].metadata)
        return diff.upload(ctx, files, found, HashCache.for_profile(self.profile.name), owner_tags)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        account = self.session.ws_value(ctx)["storage_account"]
        todo: list[DataFile] = check.value
        total = sum(f.size for f in todo)
        hashes = HashCache.for_profile(self.profile.name)  # what the check hashed is not read again
        by_path = {f.path: f for f in todo}
        try:
            self.session.upload_files(account, self.profile.storage.input_container,
                                      [(f.path, f.blob, f.size) for f in todo], ctx.cancel,
                                      lambda done, whole: ctx.progress(done, whole, "bytes"),
                                      lambda path: hashes.md5(by_path[path]))
        except DataAccessRefused as exc:
            raise self._refused(ctx, exc) from None
        finally:
            hashes.save()
        return Done("created", f"uploaded {counted(len(todo), 'file')} ({human_bytes(total)}) to "
                               f"{self.profile.storage.input_container}/{self.profile.data.prefix}")

    def check_delete(self, ctx: StepContext) -> Check:
        going = self.session.storage_going("uploaded data")
        if going:
            return going
        account = self.session.ws_info(self.session.workspace())["storage_account"]
        container = self.session.container_props(account, self.profile.storage.input_container)
        if container is None:
            return Check("skip", "uploaded data already gone")
        if ownership.made_by(metadata_tags(container.metadata), self.profile) and not _owned.container_users(
                self.session, account, self.profile.storage.input_container):
            return Check("skip", "uploaded data goes with its container")
        mine = [name for name, blob in self._listed_blobs(account).items()
                if ownership.made_by(metadata_tags(blob.metadata), self.profile)]
        return delete_uploaded(mine, self.profile.storage.input_container, (account, mine))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        from azure.core.exceptions import ResourceNotFoundError

        account, names = check.value
        container = self.profile.storage.input_container
        for name in names:
            ctx.checkpoint()
            try:
                self.session.blobs(account).run(lambda c: c.get_blob_client(container, name).delete_blob())
            except ResourceNotFoundError:
                pass
        return Done("deleted", check.detail)
