"""Ownership on Azure: the one rule before a step uses or changes what it found (engine.ownership.guard),
taking a resource over with --adopt (re-tagging it), and what tear-down may delete: a resource group
or workspace this profile made is deleted only when it holds nothing anyone else made.

What a group holds is read from ARM's listing of the group (`resources.list_by_resource_group`: the
top-level resources, such as workspaces, storage accounts, key vaults, application insights) and,
for the profile's workspace, from Azure ML's own listings (clusters, batch endpoints, datastores) and
the blob containers of its storage account: Azure ML's child resources are read where Azure ML
shows them, not assumed to be in the group listing. Functions take the Session (no import of it).
"""

from __future__ import annotations

from typing import Any, Callable

from engine import ownership
from engine.steps import Check
from engine.targets.azure import _lro
from engine.targets.azure._base import last_segment, tags_of

# What Azure ML makes in every workspace itself: never "someone else's"
SYSTEM_DATASTORES = ("workspaceblobstore", "workspacefilestore", "workspaceartifactstore",
                     "workspaceworkingdirectory")
SHOWN = 6  # resources named in a sentence before "and N more"


def guard(session: Any, ctx: Any, what: str, resource: Any, check: Check,
          retag: Callable[[], None]) -> Check:
    """`check` after engine.ownership.guard for a resource that exists (None: nothing to decide)."""
    if resource is None:
        return check
    return ownership.guard(what, tags_of(resource), session.profile, ctx.options, check, retag,
                           changing=check.plan == "update")


def retag_tracked(session: Any, ctx: Any, resource: Any, what: str, forget: str) -> Callable[[], None]:
    """Taking over a tracked ARM resource (cluster, endpoint, deployment): merge this profile's
    tags into its tags with ARM's Tags API (TagsOperations.begin_update_at_scope)."""
    def retag() -> None:
        poller = session.rm.tags.begin_update_at_scope(
            resource.id, {"operation": "Merge", "properties": {"tags": session.tags}})
        _lro.wait_poller(ctx, poller, f"taking over {what}")
        session.forget(forget)
    return retag


def retag_entity(session: Any, what: str, read: Callable[[], Any], put: Callable[[Any], Any],
                 forget: str) -> Callable[[], None]:
    """Taking over an Azure ML resource whose tags live in its properties (datastore, asset version,
    schedule): read it again, set this profile's tags (keeping the others) and put it back."""
    def retag() -> None:
        entity = read()
        entity.tags = {**tags_of(entity), **session.tags}
        put(entity)
        session.forget(forget)
    return retag


# ---------------------------------------------------------------------------- tear-down

def _whose(found_tags: dict[str, str]) -> str:
    return ownership.describe_owner(found_tags) if ownership.owner_of(found_tags) else "a person (no amlbatch tags)"


def _shown(items: list[str]) -> str:
    return "; ".join(items[:SHOWN]) + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def workspace_holdings(session: Any) -> tuple[list[str], list[str]]:
    """(this profile's, others') resources in the profile's workspace, from Azure ML's listings and the
    containers of its storage account; only read when the workspace is this profile's."""
    def read() -> tuple[list[str], list[str]]:
        ws = session.workspace()
        if ws is None or not session.ours(ws):
            return [], []
        ml = session.ml
        mine: list[str] = []
        others: list[str] = []

        def sort(kind: str, name: str, found_tags: dict[str, str]) -> None:
            if ownership.made_by(found_tags, session.profile):
                mine.append(f"{kind} '{name}'")
            else:
                others.append(f"{kind} '{name}' of {_whose(found_tags)}")

        computes, endpoints, stores = session.parallel(lambda: list(ml.compute.list()),
                                                       lambda: list(ml.batch_endpoints.list()),
                                                       lambda: datastore_list(session))
        for compute in computes:
            sort("cluster", compute.name, tags_of(compute))
        for endpoint in endpoints:
            sort("endpoint", endpoint.name, tags_of(endpoint))
        for store in stores:
            if store.name not in SYSTEM_DATASTORES:
                sort("datastore", store.name, tags_of(store))
        account = last_segment(ws.storage_account)
        storage = session.profile.storage
        for name, found_tags in _containers(session, account):
            if ownership.owner_of(found_tags):  # Azure ML's own containers carry no amlbatch metadata
                sort("container", name, found_tags)
                if name in (storage.input_container, storage.output_container) and \
                        ownership.made_by(found_tags, session.profile):
                    others += [f"{user} in container '{name}'" for user in container_users(session, account, name)]
        return mine, others
    return session.memo("workspace_holdings", read)


def datastore_list(session: Any) -> list[Any]:
    return session.memo("datastore_list", lambda: list(session.ml.datastores.list()))


def container_users(session: Any, account: str, container: str) -> list[str]:
    """Why a container of this profile must stay: blobs another profile uploaded into it, or another
    profile's datastore pointing at it (blobs without amlbatch metadata, such as job outputs, are
    whoever's container holds them)."""
    from engine.targets.azure._blob import metadata_tags

    def read() -> list[str]:
        users = [f"datastore '{s.name}' of {_whose(tags_of(s))}" for s in datastore_list(session)
                 if getattr(s, "container_name", None) == container and getattr(s, "account_name", None) == account
                 and s.name not in SYSTEM_DATASTORES and ownership.owner_of(tags_of(s))
                 and not ownership.made_by(tags_of(s), session.profile)]
        owners: dict[str, int] = {}
        listed = session.blobs(account).run(
            lambda c: list(c.get_container_client(container).list_blobs(include=["metadata"])))
        for blob in listed:
            found_tags = metadata_tags(blob.metadata)
            if ownership.owner_of(found_tags) and not ownership.made_by(found_tags, session.profile):
                whose = _whose(found_tags)
                owners[whose] = owners.get(whose, 0) + 1
        users += [f"{n} blob(s) of {whose}" for whose, n in owners.items()]
        return users
    return session.memo(f"container_users:{account}/{container}", read)


def _containers(session: Any, account: str) -> list[tuple[str, dict[str, str]]]:
    from engine.targets.azure._blob import metadata_tags

    listed = session.blobs(account).run(lambda c: list(c.list_containers(include_metadata=True)))
    return [(c.name, metadata_tags(c.metadata)) for c in listed]


def group_holdings(session: Any) -> tuple[list[str], list[str]]:
    """(this profile's, others') resources in the profile's resource group: ARM's listing of the group
    (the workspace's storage account, key vault, application insights and registry count as the
    workspace's) and what the profile's workspace holds."""
    def read() -> tuple[list[str], list[str]]:
        rg = session.profile.workspace.resource_group
        ws = session.workspace()
        ws_parts = set()
        if ws is not None and session.ours(ws):
            ws_parts = {str(getattr(ws, key, "") or "").lower() for key in
                        ("storage_account", "key_vault", "application_insights", "container_registry")} - {""}
        mine: list[str] = []
        others: list[str] = []
        for res in session.rm.resources.list_by_resource_group(rg):
            kind = str(res.type or "").rsplit("/", 1)[-1]
            label = f"{kind} '{res.name}'"
            if ownership.made_by(res.tags, session.profile) or str(res.id or "").lower() in ws_parts:
                mine.append(label)
            else:
                others.append(f"{label} of {_whose(dict(res.tags or {}))}")
        in_ws_mine, in_ws_others = workspace_holdings(session)
        return mine + in_ws_mine, others + in_ws_others
    return session.memo("group_holdings", read)


def group_going(session: Any) -> bool:
    """Tear-down deletes the whole group: this profile made it and nothing of others' is in it."""
    return session.rg_is_ours() and not group_holdings(session)[1]


def workspace_going(session: Any) -> bool:
    """The workspace goes (itself, or with the group): it is ours and holds nothing of others'."""
    if group_going(session):
        return True
    ws = session.workspace()
    return ws is not None and session.ours(ws) and not workspace_holdings(session)[1]


def kept(what: str, others: list[str]) -> Check:
    return Check("skip", f"kept {what}: it holds resources this profile did not make ({_shown(others)}); "
                         "only this profile's resources inside are deleted")


def everything_in(mine: list[str]) -> str:
    return ", ".join(mine) if mine else "nothing else"
