"""Profiles: one TOML file per deployment, validated into typed sections before anything runs.

A profile lives at `<config dir>/profiles/<name>.toml` (or anywhere, given as a path). Loading
checks every field with the validators in `engine.validation`; an error names the file, the field
and the rule. Overrides come from `--set section.key=value` and `AMLBATCH_<SECTION>_<KEY>`
environment variables (flag > env > file) and are validated the same way. No secret is ever a
profile field.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from engine import overrides, paths, targets
from engine import validation as v
from engine.errors import ProfileError
from engine.fileio import write_atomic
from engine.overrides import MAX_DEPTH, MAX_OVERRIDE, nesting_depth, parse_value

SCHEMA = 1
AUTH_METHODS = ("cli", "device_code", "browser", "environment", "managed_identity", "default")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _f(default: Any, check: v.Validator, help: str, *, label: str, choices: tuple[str, ...] = ()) -> Any:
    """A profile field: its default, the rule it keeps, and how forms show it (`label`, `help`, and
    the fixed `choices` when it takes one of some values)."""
    metadata = {"check": check, "help": help, "label": label, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _choice(default: str, choices: tuple[str, ...], help: str, *, label: str) -> Any:
    """A field that takes one of fixed `choices`: they are its rule and what forms offer."""
    return _f(default, v.one_of(*choices), help, label=label, choices=choices)


@dataclass
class Account:
    subscription_id: str = _f("", v.optional_guid, "Azure subscription id (azure target)",
                              label="Subscription id")
    tenant_id: str = _f("", v.optional_guid, "Entra tenant id; empty for the identity's home tenant",
                        label="Tenant id")
    auth: str = _choice("cli", AUTH_METHODS, "how to sign in", label="Sign-in method")
    cloud: str = _choice("AzureCloud", ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment"),
                         "the Azure cloud: its sign-in authority and Resource Manager endpoint", label="Azure cloud")


@dataclass
class Workspace:
    resource_group: str = _f("amlbatch-rg", v.resource_group, "resource group", label="Resource group")
    location: str = _f("westeurope", v.location, "Azure region", label="Region")
    name: str = _f("amlbatch-ws", v.workspace, "Azure ML workspace", label="Workspace name")


@dataclass
class Compute:
    name: str = _f("cpu-cluster", v.compute, "AmlCompute cluster", label="Cluster name")
    vm_size: str = _f("Standard_DS3_v2", v.vm_size, "VM size of the nodes", label="VM size")
    min_nodes: int = _f(0, v.int_range(0, 1000), "nodes kept running when idle", label="Min nodes")
    max_nodes: int = _f(2, v.int_range(1, 1000), "most nodes the cluster scales to", label="Max nodes")
    idle_seconds: int = _f(120, v.int_range(0, 7 * 24 * 3600), "idle time before scale-down",
                           label="Idle seconds before scale-down")
    tier: str = _choice("dedicated", ("dedicated", "low_priority"), "VM priority", label="Tier")


@dataclass
class Storage:
    input_container: str = _f("amlbatch-input", v.container, "blob container for input data",
                              label="Input container")
    output_container: str = _f("amlbatch-output", v.container, "blob container for results",
                               label="Output container")
    input_datastore: str = _f("amlbatch_input", v.datastore, "datastore over the input container",
                              label="Input datastore")
    output_datastore: str = _f("amlbatch_output", v.datastore, "datastore over the output container",
                               label="Output datastore")


@dataclass
class Data:
    files: list = _f([], v.path_list, "local files to upload: paths or globs", label="Data files")
    prefix: str = _f("data", v.blob_path, "folder in the input container the files go to",
                     label="Folder in the input container")


@dataclass
class Scorer:
    folder: str = _f("", v.local_path, "scorer folder; empty for the bundled demo scorer", label="Scorer folder")
    script: str = _f("score.py", v.relative_path, "scoring script inside the folder", label="Scoring script")
    model: str = _f("model", v.relative_path, "model file or folder inside the scorer folder",
                    label="Model file or folder")
    model_name: str = _f("amlbatch-model", v.asset, "registered model name", label="Model name")
    environment: str = _f("environment.yml", v.relative_path, "conda file inside the folder",
                          label="Conda file")
    environment_name: str = _f("amlbatch-env", v.asset, "registered environment name",
                               label="Environment name")
    image: str = _f("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest", v.non_empty_text,
                    "base image of the environment", label="Base image")
    columns: list = _f([], v.column_names, "the columns run() writes, in order; empty when unknown",
                       label="Output columns")


@dataclass
class Endpoint:
    name: str = _f("", lambda x: None if x == "" else v.endpoint(x),
                   "batch endpoint; empty for a stable name unique to this subscription",
                   label="Endpoint name")
    deployment: str = _f("default", v.endpoint, "deployment name", label="Deployment name")
    mini_batch_size: int = _f(10, v.int_range(1, 10000), "files per run() call", label="Mini-batch size")
    instance_count: int = _f(1, v.int_range(1, 1000), "nodes a job uses", label="Instance count")
    max_concurrency_per_instance: int = _f(1, v.int_range(1, 256), "worker processes per node",
                                           label="Workers per node")
    output_action: str = _choice("append_row", ("append_row", "summary_only"), "what run() output does",
                                 label="Output action")
    output_file_name: str = _f("predictions.csv", v.output_file_name, "results file name",
                               label="Output file")
    error_threshold: int = _f(-1, v.int_range(-1), "failed files tolerated; -1 never fails",
                              label="Error threshold")
    max_retries: int = _f(3, v.int_range(0, 100), "retries of a failed mini-batch", label="Max retries")
    timeout: int = _f(30, v.int_range(1, 24 * 3600), "seconds per mini-batch", label="Timeout (s)")
    init_timeout: int = _f(600, v.int_range(1, 24 * 3600),
                           "seconds a worker gets to start, import the script and run init() (local target)",
                           label="init() timeout (s)")
    logging_level: str = _choice("info", ("debug", "info", "warning"),
                                 "scorer log level (Azure batch deployments take Debug, Info or Warning)",
                                 label="Log level")


@dataclass
class Schedule:
    frequency: str = _choice("", ("", "minute", "hour", "day", "week", "month"),
                             "recurrence; empty for no schedule", label="Frequency")
    interval: int = _f(1, v.int_range(1, 1000), "every N frequency units", label="Interval")
    name: str = _f("amlbatch-schedule", v.endpoint, "schedule name", label="Schedule name")
    # without an offset it is read in time_zone; empty: when Azure creates the schedule, or --serve starts
    start_time: str = _f("", v.start_time, "first run, ISO 8601; empty: at once", label="Start time")
    time_zone: str = _f("UTC", v.time_zone, "IANA time zone of the runs' wall clock", label="Time zone")


SECTIONS: dict[str, type] = {
    "account": Account, "workspace": Workspace, "compute": Compute, "storage": Storage,
    "data": Data, "scorer": Scorer, "endpoint": Endpoint, "schedule": Schedule,
}
TOP_LEVEL = ("schema", "target", "id")


@dataclass
class Profile:
    name: str
    path: Path | None = None
    target: str = "local"
    id: str = ""  # minted once (engine.identity); what ownership tags name, so a renamed or copied file is not us
    account: Account = field(default_factory=Account)
    workspace: Workspace = field(default_factory=Workspace)
    compute: Compute = field(default_factory=Compute)
    storage: Storage = field(default_factory=Storage)
    data: Data = field(default_factory=Data)
    scorer: Scorer = field(default_factory=Scorer)
    endpoint: Endpoint = field(default_factory=Endpoint)
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the profile are taken from the profile file's folder."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def source(self) -> str:
        """How errors name this profile: its file name."""
        return self.path.name if self.path else f"{self.name}.toml"

    @property
    def endpoint_name(self) -> str:
        """The endpoint name, or a stable default: endpoint names are unique per region across
        all of Azure, so the default carries a suffix from the subscription and resource group."""
        if self.endpoint.name:
            return self.endpoint.name
        seed = f"{self.account.subscription_id}/{self.workspace.resource_group}".lower()
        return f"amlbatch-{hashlib.sha256(seed.encode()).hexdigest()[:6]}"

    @property
    def scorer_dir(self) -> Path:
        if not self.scorer.folder:
            import scorer

            return Path(scorer.__file__).parent
        return self.resolve(self.scorer.folder)

    @property
    def mlflow_model(self) -> bool:
        """Whether scorer.model is an MLflow model folder (it holds an MLmodel file): it needs no
        scoring script and no environment (engine.mlflowmodel)."""
        from engine import mlflowmodel

        return mlflowmodel.is_mlflow(self)

    def resolve(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self.base_dir / path)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": SCHEMA, "target": self.target}
        if self.id:
            data["id"] = self.id
        for section in SECTIONS:
            data[section] = dataclasses.asdict(getattr(self, section))
        return data

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return getattr(getattr(self, section), key)


@dataclass(frozen=True)
class FieldInfo:
    """How forms show a field: its label, a short help, and its fixed choices (empty: free input)."""

    label: str
    help: str
    choices: tuple[str, ...] = ()


def field_info(dotted: str) -> FieldInfo:
    """The FieldInfo of a field named "section.key", or of "target"."""
    if dotted == "target":
        return FieldInfo("Target", "where the service runs", targets.names())
    section, _, key = dotted.partition(".")
    for f in dataclasses.fields(SECTIONS[section]):
        if f.name == key:
            return FieldInfo(f.metadata["label"], f.metadata["help"], f.metadata["choices"])
    raise KeyError(dotted)


def field_help(section: str, key: str) -> str:
    return field_info(f"{section}.{key}").help


def check_field(section: str, key: str, value: Any) -> str | None:
    """The rule `value` breaks for `section.key`, or None. The TUI validates inputs with this."""
    for f in dataclasses.fields(SECTIONS[section]):
        if f.name == key:
            return f.metadata["check"](value)
    raise KeyError(f"{section}.{key}")


def check_profile_name(name: str) -> str | None:
    if not _PROFILE_NAME.match(name):
        return "1-64 characters: letters, digits, '_', '-' or '.', starting with a letter or digit"
    return v.portable_file_name(name)  # it names the profile's files (lock, runs folder)


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_dict(name: str, data: Mapping[str, Any], source: str, path: Path | None = None,
              origins: Mapping[str, str] | None = None) -> Profile:
    """Build and validate a profile from parsed TOML. Raises ProfileError on the first problem.

    `origins` names where an overridden field came from (`--set`, an environment variable), so
    its error points there rather than at the file."""
    origins = origins or {}
    schema = data.get("schema", SCHEMA)
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise ProfileError(source, "schema", f"must be a whole number >= 1 (got {_show(schema)})")
    if schema > SCHEMA:
        raise ProfileError(source, "schema", f"written by a newer amlbatch (schema {schema}); "
                           f"this version reads schema {SCHEMA}: upgrade amlbatch")
    profile = Profile(name=name, path=path)
    for key, value in data.items():
        if key in TOP_LEVEL:
            continue
        if key not in SECTIONS:
            raise ProfileError(source, key, "unknown key" + _did_you_mean(key, [*TOP_LEVEL, *SECTIONS]))
        if not isinstance(value, dict):
            raise ProfileError(source, key, "must be a table ([" + key + "])")
        section = getattr(profile, key)
        known = [f.name for f in dataclasses.fields(section)]
        for sub, sub_value in value.items():
            if sub not in known:
                raise ProfileError(source, f"{key}.{sub}", "unknown key" + _did_you_mean(sub, known))
            rule = check_field(key, sub, sub_value)
            if rule:
                raise ProfileError(origins.get(f"{key}.{sub}", source), f"{key}.{sub}",
                                   f"{rule} (got {_show(sub_value)})")
            setattr(section, sub, list(sub_value) if isinstance(sub_value, list) else sub_value)
    target = data.get("target", "local")
    if target not in targets.names():
        choices = ", ".join(f"'{name}'" for name in targets.names())
        raise ProfileError(origins.get("target", source), "target", f"one of {choices} (got {_show(target)})")
    profile.target = target
    profile_id = data.get("id", "")
    if v.profile_id(profile_id):
        raise ProfileError(source, "id", f"{v.profile_id(profile_id)} (got {_show(profile_id)})")
    profile.id = profile_id
    check_consistency(profile, source)
    return profile


def check_consistency(profile: Profile, source: str) -> None:
    """Rules that tie two fields together."""
    c = profile.compute
    if c.max_nodes < c.min_nodes:
        raise ProfileError(source, "compute.max_nodes",
                           f"must be >= compute.min_nodes ({c.max_nodes} < {c.min_nodes})")
    s = profile.storage
    if s.input_container == s.output_container:
        raise ProfileError(source, "storage.output_container",
                           "must differ from storage.input_container (results would mix with input)")
    if s.input_datastore == s.output_datastore:
        raise ProfileError(source, "storage.output_datastore", "must differ from storage.input_datastore")
    if profile.target == "azure" and not profile.account.subscription_id:
        raise ProfileError(source, "account.subscription_id", "required when target = 'azure'")
    if profile.endpoint.instance_count > c.max_nodes:
        raise ProfileError(source, "endpoint.instance_count",
                           f"must be <= compute.max_nodes ({profile.endpoint.instance_count} > {c.max_nodes})")


# ---------------------------------------------------------------------------------- overrides

def _field_kind(section: str, key: str) -> str:
    return str(next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key).type)


def _apply(data: dict[str, Any], dotted: str, raw: str, source: str, origins: dict[str, str]) -> None:
    if dotted == "target":
        data["target"] = raw
        origins["target"] = source
        return
    section, _, key = dotted.partition(".")
    if section not in SECTIONS or not key:
        raise ProfileError(source, dotted, "expected section.key, e.g. compute.max_nodes=4"
                           + _did_you_mean(section, list(SECTIONS)))
    known = [f.name for f in dataclasses.fields(SECTIONS[section])]
    if key not in known:
        raise ProfileError(source, dotted, "unknown key" + _did_you_mean(key, known))
    if len(raw) > MAX_OVERRIDE:
        raise ProfileError(source, dotted, f"at most {MAX_OVERRIDE} characters (got {len(raw)})")
    data.setdefault(section, {})[key] = parse_value(raw, _field_kind(section, key))
    origins[dotted] = source


def env_overrides(environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(dotted key, raw value, source) for every AMLBATCH_<SECTION>_<KEY> variable; a variable
    naming no field and no setting is refused (engine.overrides)."""
    return overrides.env_overrides(SECTIONS, os.environ if environ is None else environ)


def apply_overrides(data: dict[str, Any], sets: list[str], environ: Mapping[str, str] | None = None,
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """Layer env variables, then --set flags, over parsed TOML (flag > env > file).

    Returns the merged data and, per overridden field, where its value came from."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    origins: dict[str, str] = {}
    for dotted, raw, source in env_overrides(environ):
        _apply(data, dotted, raw, source, origins)
    for item in sets:
        dotted, sep, raw = item.partition("=")
        if not sep:
            raise ProfileError("--set", item, "expected section.key=value")
        _apply(data, dotted.strip(), raw.strip(), "--set", origins)
    return data, origins


# ------------------------------------------------------------------------------ load and save

def profile_path(name: str) -> Path:
    return paths.profiles_dir() / f"{name}.toml"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(path.name, "", f"no such profile file: {path}") from None
    except OSError as exc:
        raise ProfileError(path.name, "", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(path.name, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(path.name, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        data = None
    if data is None or nesting_depth(data) > MAX_DEPTH:
        raise ProfileError(path.name, "", f"arrays or tables nested more than {MAX_DEPTH} deep")
    return data


def locate(name_or_path: str) -> tuple[str, Path]:
    """A profile name (looked up in the profiles folder) or a path to a .toml file."""
    if name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path:
        path = Path(name_or_path).expanduser().resolve()
        return path.stem, path
    rule = check_profile_name(name_or_path)
    if rule:
        raise ProfileError("--profile", name_or_path, rule)
    return name_or_path, profile_path(name_or_path)


def load(name_or_path: str, sets: list[str] = (), environ: Mapping[str, str] | None = None) -> Profile:
    name, path = locate(name_or_path)
    if path == profile_path(name) and not path.exists():
        saved = [p.stem for p in list_profiles()] + ["demo"]
        raise ProfileError("--profile", "", f"no saved profile '{name}'{_did_you_mean(name, saved)}; "
                           "amlbatch --list-profiles shows them")
    data = read_toml(path)
    merged, origins = apply_overrides(data, list(sets), environ)
    source = f"{path.name} (with overrides)" if origins else path.name
    return from_dict(name, merged, source, path, origins)


def dumps(profile: Profile) -> str:
    import tomli_w

    return tomli_w.dumps(profile.to_dict())


def save(profile: Profile, path: Path | None = None) -> Path:
    """Write atomically; the previous file stays whole until the new one is complete."""
    path = path or profile.path or profile_path(profile.name)
    if profile.base_dir.resolve() != path.parent.resolve():
        _make_paths_absolute(profile)
    text = "# amlbatch profile - see `amlbatch --help`. No secrets belong here.\n" + dumps(profile)
    # Validate what we are about to write by reading it back first: never save a file we would refuse.
    from_dict(profile.name, tomllib.loads(text), path.name, path)
    write_atomic(path, text.encode())
    profile.path = path
    return path


def _make_paths_absolute(profile: Profile) -> None:
    """Relative paths are read from the profile's folder: keep them pointing at the same files
    when the profile is saved somewhere else."""
    if profile.scorer.folder:
        profile.scorer.folder = str(profile.resolve(profile.scorer.folder))
    profile.data.files = [str(profile.resolve(entry)) for entry in profile.data.files]


def list_profiles() -> list[Path]:
    folder = paths.profiles_dir()
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []
