"""What differs between what a profile wants and what a target found, and whether it can change in
place: the decision half of a step, written once for every target (as a Pulumi provider's Diff is
separate from its Create/Update). A target reads its resource, puts what it found into the plain
shape these functions take (the profile's own field names), and acts on the Check they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from engine.datafiles import DataFile, HashCache, file_md5, human_bytes
from engine.deployment import APPEND_ROW, DeploymentSettings
from engine.steps import Check, none


@dataclass(frozen=True)
class Change:
    field: str
    have: Any
    want: Any

    def __str__(self) -> str:
        return f"{self.field} {self.have} -> {self.want}"


def _same(have: Any, want: Any) -> bool:
    return str(have) == str(want)


def loose(value: Any) -> str:
    """Azure spells enum values in several ways (Standard_DS3_v2, standard_ds3_v2; low_priority,
    LowPriority): compare them without case, spaces or underscores."""
    return str(value or "").lower().replace("_", "").replace(" ", "")


def changes(want: Mapping[str, Any], have: Mapping[str, Any],
            same: Mapping[str, Callable[[Any, Any], bool]] | None = None) -> list[Change]:
    """The wanted fields whose found value differs. A field the target could not read (absent or
    None) is not a change: nothing says it differs."""
    same = same or {}
    found = []
    for key, value in want.items():
        current = have.get(key)
        if current is not None and not same.get(key, _same)(current, value):
            found.append(Change(key, current, value))
    return found


# ---------------------------------------------------------------------------------- workspace

def workspace_moved(profile: Any, location: str) -> Check | None:
    """A workspace cannot move to another region: the one decision both targets make on it."""
    want = profile.workspace.location
    if location and loose(location) != loose(want):
        return Check("fail", f"workspace '{profile.workspace.name}' is in {location}, the profile says {want}; "
                             f"a workspace cannot move: set workspace.location to '{location}' or use another "
                             "workspace.name")
    return None


# ------------------------------------------------------------------------------------- upload

def upload(ctx: Any, files: list[DataFile], found: Callable[[DataFile], tuple[int, str] | None] | None,
           hashes: HashCache | None = None,
           owner_tags: Callable[[DataFile], Mapping[str, str] | None] | None = None) -> Check:
    """The data files to upload: those whose blob is missing or differs in size or MD5 (hashed
    only when the size matches). `found(file)` -> (size, md5 hex) of its blob, or None when
    missing; `found` None: nothing can exist yet (the container is still to be made). `hashes`
    remembers each file's MD5 with its size and modification time: only changed files are read.
    `owner_tags(file)`: the ownership tags of its existing blob; a blob this profile did not make is
    never overwritten (engine.ownership.refuse_foreign), unless --adopt."""
    if not files:
        return Check("skip", "no data files in the profile (data.files is empty)")
    warn_few_mini_batches(ctx, len(files))
    if found is None:
        return Check("create", f"{len(files)} files ({human_bytes(sum(f.size for f in files))})", files)
    md5_of = hashes.md5 if hashes is not None else (lambda f: file_md5(f.path))
    todo, replaced = [], []
    for index, data_file in enumerate(files):
        ctx.checkpoint()
        have = found(data_file)
        if have is None or have[0] != data_file.size or have[1] != md5_of(data_file):
            todo.append(data_file)
            if have is not None:
                replaced.append(data_file)
        ctx.progress(index + 1, len(files), "files checked")
    if hashes is not None:
        hashes.save()
    refused = _foreign_blobs(ctx, replaced, owner_tags)
    if refused is not None:
        return refused
    if not todo:
        return none(f"{len(files)} files up to date ({human_bytes(sum(f.size for f in files))})")
    return Check("create", f"{len(todo)} of {len(files)} files to upload "
                           f"({human_bytes(sum(f.size for f in todo))})", todo)


def _foreign_blobs(ctx: Any, replaced: list[DataFile],
                   owner_tags: Callable[[DataFile], Mapping[str, str] | None] | None) -> Check | None:
    """A failing Check when an upload would overwrite blobs another profile or a person made."""
    from engine import ownership

    if owner_tags is None:
        return None
    foreign = [(f, owner_tags(f)) for f in replaced]
    foreign = [(f, found) for f, found in foreign if not ownership.made_by(found, ctx.profile)]
    if not foreign:
        return None
    first, found = foreign[0]
    more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
    what = f"blob '{first.blob}' in container '{ctx.profile.storage.input_container}'{more}"
    return ownership.refuse_foreign(what, found, ctx.profile, ctx.options)


def warn_few_mini_batches(ctx: Any, n_files: int) -> None:
    """A job gives each worker whole mini-batches: fewer mini-batches than workers leaves some
    idle, which a smaller mini_batch_size would avoid."""
    try:
        s = DeploymentSettings.from_profile(ctx.profile)
    except (AttributeError, TypeError, ValueError):
        return
    workers = s.instance_count * s.max_concurrency_per_instance
    batches = -(-n_files // max(1, s.mini_batch_size))
    if batches < workers:
        ctx.log(f"{n_files} data files make {batches} mini-batch(es) of up to {s.mini_batch_size} files for "
                f"{workers} workers: {workers - batches} would stay idle; a mini_batch_size of "
                f"{max(1, n_files // workers)} or less keeps them all busy", "warning")


# ------------------------------------------------------------------------------------ compute

COMPUTE_FIXED = ("vm_size", "tier")  # Azure cannot change these on an existing cluster
COMPUTE_IN_PLACE = ("min_nodes", "max_nodes", "idle_seconds")


def compute_label(profile: Any) -> str:
    c = profile.compute
    return f"cluster '{c.name}' {c.vm_size}, {c.min_nodes}-{c.max_nodes} nodes"


def compute(profile: Any, have: Mapping[str, Any] | None, value: Any = None) -> Check:
    """create, fail (a field that cannot change in place differs), update, or none."""
    c = profile.compute
    if have is None:
        return Check("create", compute_label(profile))
    fixed = changes({k: getattr(c, k) for k in COMPUTE_FIXED}, have,
                    {k: lambda a, b: loose(a) == loose(b) for k in COMPUTE_FIXED})
    if fixed:
        first = fixed[0]
        return Check("fail", f"compute.{first.field}: cluster '{c.name}' has {first.have}, the profile asks for "
                             f"{first.want}; this cannot change in place: delete the cluster (amlbatch --teardown "
                             "deletes it if this profile made it) or set compute.name to a new cluster")
    moved = changes({k: getattr(c, k) for k in COMPUTE_IN_PLACE}, have,
                    {k: lambda a, b: int(a) == int(b) for k in COMPUTE_IN_PLACE})
    if moved:
        return Check("update", f"cluster '{c.name}': " + ", ".join(map(str, moved)), value)
    return none(compute_label(profile), value)


# --------------------------------------------------------------------------------- datastores

def datastore_pairs(profile: Any) -> list[tuple[str, str]]:
    """(datastore, container) of the profile's two datastores."""
    s = profile.storage
    return [(s.input_datastore, s.input_container), (s.output_datastore, s.output_container)]


def datastores(profile: Any, account: str, found: Mapping[str, tuple[str, str] | None], value: Any = None) -> Check:
    """`found`: datastore name -> (account, container) it points at, or None when missing.
    A datastore pointing elsewhere is repointed in place."""
    todo, moved = [], []
    for name, container in datastore_pairs(profile):
        have = found.get(name)
        if have is None:
            todo.append(name)
        elif tuple(have) != (account, container):
            moved.append(f"{name} -> {account}/{container}")
    if todo or moved:
        detail = ", ".join([f"create {n}" for n in todo] + [f"repoint {m}" for m in moved])
        return Check("create" if todo else "update", "datastores: " + detail, value)
    return none("datastores " + ", ".join(n for n, _ in datastore_pairs(profile)), value)


# --------------------------------------------------------------------------------- deployment

REFS = ("model", "environment", "code")


def deployment_wanted(profile: Any, versions: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """What the deployment should be: asset references as "name:version", the script, the
    cluster, and every batch setting (engine.deployment.DeploymentSettings). An MLflow model has
    no code nor environment version: its deployment has neither, nor a script ("")."""
    from pathlib import PurePath

    return {
        **{kind: "{}:{}".format(*versions[kind]) if kind in versions else "" for kind in REFS},
        "scoring_script": PurePath(profile.scorer.script).as_posix() if "code" in versions else "",
        "compute": profile.compute.name,
        **DeploymentSettings.from_profile(profile).to_dict(),
    }


def deployment_changes(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """Every difference, as "field have -> want"; a deployment changes all of these in place."""
    same = {"compute": lambda a, b: loose(a) == loose(b), "output_action": lambda a, b: loose(a) == loose(b),
            "logging_level": lambda a, b: loose(a) == loose(b),
            **{kind: lambda a, b: str(a).lower() == str(b).lower() for kind in REFS}}
    wanted = dict(want)
    if wanted.get("output_action") != APPEND_ROW:
        wanted.pop("output_file_name", None)  # summary_only writes no results file
    return [str(c) for c in changes(wanted, have, same)]
