"""Which profile made a resource, and the versions of the assets it registers: facts both targets
share (a resource made by the local target and one made in Azure carry the same tags)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.datafiles import file_md5

TAG_CREATOR, TAG_PROFILE, TAG_ID = "created-by", "amlbatch-profile", "amlbatch-profile-id"
CREATOR = "amlbatch"
# Never part of an uploaded scorer or of its content hash.
CODE_IGNORED = ("__pycache__", "*.pyc", ".*")


def tags(profile: Any) -> dict[str, str]:
    """The tags every resource the profile makes carry: its id (what decides) and its readable name."""
    made = {TAG_CREATOR: CREATOR, TAG_PROFILE: profile.name}
    if getattr(profile, "id", ""):
        made[TAG_ID] = profile.id
    return made


def made_by(found_tags: Mapping[str, str] | None, profile: Any) -> bool:
    """Whether `profile` made the resource. The id decides; only a resource made before profiles had
    ids (no id tag at all) falls back to the profile's name."""
    if not found_tags:
        return False
    if TAG_ID in found_tags:
        return bool(getattr(profile, "id", "")) and found_tags[TAG_ID] == profile.id
    return found_tags.get(TAG_PROFILE) == profile.name


def owner_of(found_tags: Mapping[str, str] | None) -> str | None:
    """The readable name of the amlbatch profile that made a resource; None when amlbatch did not."""
    if not found_tags or found_tags.get(TAG_CREATOR) != CREATOR:
        return None
    return found_tags.get(TAG_PROFILE) or "(unnamed)"


def describe_owner(found_tags: Mapping[str, str]) -> str:
    """"profile 'prod' (/home/me/prod/svc.toml)": the owner's file where this machine knows it."""
    from engine import identity

    name = owner_of(found_tags)
    where = identity.file_of(found_tags.get(TAG_ID, ""))
    return f"profile '{name}'" + (f" ({where})" if where else " (its file is not on this machine)")


def refuse_foreign(what: str, found_tags: Mapping[str, str] | None, profile: Any, options: Mapping[str, Any],
                   *, changing: bool = True) -> Any:
    """The one rule before a step changes or uses a resource that exists: a resource another profile
    made is never updated nor taken into use by this one; one a person made (no amlbatch tags) is used
    as it is but never changed. Returns a failing Check saying whose it is and what to do, or None
    to go on. `--adopt` (options["adopt"]) lets this profile take the resource over."""
    from engine.steps import Check

    if made_by(found_tags, profile) or options.get("adopt"):
        return None
    owner = owner_of(found_tags)
    if owner is None and not changing:
        return None
    whose = describe_owner(found_tags or {}) if owner else "someone outside amlbatch (it has no amlbatch tags)"
    rule = "amlbatch changes only what it made" if owner is None else "a profile neither changes nor uses another's"
    return Check("fail", f"{what} belongs to {whose} and {rule}: choose other names in the profile, or run "
                         "with --adopt to take it over")


def guard(what: str, found_tags: Mapping[str, str] | None, profile: Any, options: Mapping[str, Any], check: Any,
          retag: Callable[[], None], *, changing: bool = False) -> Any:
    """`check`, after the ownership rule for a resource that exists: refused when it is another's
    (refuse_foreign); with --adopt, `check` plus taking it over: `retag()` gives it this profile's
    tags after the step's apply, so a later tear-down deletes it."""
    from dataclasses import replace

    if made_by(found_tags, profile) or check.plan == "fail":
        return check
    if not options.get("adopt"):
        return refuse_foreign(what, found_tags, profile, options, changing=changing) or check
    owner = owner_of(found_tags)
    whose = describe_owner(found_tags or {}) if owner else "its maker (no amlbatch tags)"
    detail = f"take over {what} from {whose}" + (f"; {check.detail}" if check.changes and check.detail else "")
    only = not check.changes or check.takeover_only
    return replace(check, plan=check.plan if check.changes else "update", detail=detail,
                   takeover=(*check.takeover, retag), takeover_only=only)


def tree_hash(root: Path, skip: tuple[str, ...] = ()) -> str:
    """A short content hash of a file or folder: the asset version, so unchanged assets keep theirs."""
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        if "__pycache__" in rel or rel.endswith(".pyc") or any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        digest.update(rel.encode() + b"\0" + bytes.fromhex(file_md5(path)) + b"\0")
    return digest.hexdigest()[:12]


def asset_names(profile: Any) -> dict[str, str]:
    s = profile.scorer
    return {"environment": s.environment_name, "model": s.model_name, "code": f"{s.model_name}-code"}


def asset_versions(profile: Any) -> dict[str, tuple[str, str]]:
    """(name, version) of each asset; versions are content hashes so unchanged assets keep theirs.
    Both targets version assets this way (Azure turns the model's into a number, see its assets step)."""
    s, folder = profile.scorer, profile.scorer_dir
    names = asset_names(profile)
    if profile.mlflow_model:  # deployed without code and environment: Azure supplies both
        return {"model": (names["model"], tree_hash(folder / s.model))}
    env_hash = hashlib.sha256((folder / s.environment).read_bytes() + s.image.encode()).hexdigest()[:12]
    return {
        "environment": (names["environment"], env_hash),
        "model": (names["model"], tree_hash(folder / s.model)),
        "code": (names["code"], tree_hash(folder, skip=(Path(s.model).as_posix(),))),
    }
