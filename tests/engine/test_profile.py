"""Profiles: every field's rule, unknown keys, broken TOML, schema versions, overrides, atomic save."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import profile as profiles
from engine.errors import ProfileError

# (field, a value that breaks its rule, words the error must contain)
BAD_VALUES = [
    ("account.subscription_id", "not-a-guid", "GUID"),
    ("account.tenant_id", "1234", "GUID"),
    ("account.auth", "password", "one of 'cli'"),
    ("account.cloud", "AzureGermanCloud", "one of 'AzureCloud'"),
    ("workspace.resource_group", "a" * 91, "1-90 characters"),
    ("workspace.resource_group", "my-rg.", "must not end with '.'"),
    ("workspace.resource_group", "rg with space", "1-90 characters"),
    ("workspace.location", "West Europe", "region name"),
    ("workspace.name", "ws", "3-33 characters"),
    ("workspace.name", "-workspace", "starting with a letter or digit"),
    ("workspace.name", "w" * 34, "3-33 characters"),
    ("compute.name", "1cluster", "starting with a letter"),
    ("compute.name", "c" * 25, "3-24 characters"),
    ("compute.name", "cluster-", "must not end with '-'"),
    ("compute.vm_size", "DS3_v2", "VM size"),
    ("compute.min_nodes", -1, ">= 0"),
    ("compute.max_nodes", 0, ">= 1"),
    ("compute.max_nodes", "four", "whole number"),
    ("compute.max_nodes", True, "whole number"),
    ("compute.idle_seconds", 1.5, "whole number"),
    ("compute.tier", "spot", "one of 'dedicated', 'low_priority'"),
    ("storage.input_container", "Input", "lowercase"),
    ("storage.input_container", "in--put", "no '--'"),
    ("storage.output_container", "output-", "trailing '-'"),
    ("storage.output_container", "ab", "3-63 characters"),
    ("storage.input_datastore", "Input-Store", "lowercase letters, digits or '_'"),
    ("storage.output_datastore", "", "1-255 characters"),
    ("data.files", "data/*.csv", "list of non-empty strings"),
    ("data.files", ["ok.csv", ""], "list of non-empty strings"),
    ("data.prefix", 3, "must be a string"),
    ("scorer.folder", 7, "must be a string"),
    ("scorer.script", "", "must not be empty"),
    ("scorer.model", " ", "must not be empty"),
    ("scorer.model", "../elsewhere", "inside the scorer folder"),
    ("scorer.environment", "/etc/conda.yml", "inside the scorer folder"),
    ("scorer.image", "", "must not be empty"),
    ("scorer.model_name", "-model", "starting with a letter or digit"),
    ("scorer.environment_name", "env/1", "letters, digits"),
    ("scorer.columns", "file,score", "must be a list of column names"),
    ("scorer.columns", ["file", "a,b"], "column 'a,b': 1-64 characters"),
    ("scorer.columns", ["score", "score"], "each column name once"),
    ("endpoint.name", "1endpoint", "starting with a letter"),
    ("endpoint.name", "endpoint-", "ending with a letter or digit"),
    ("endpoint.name", "e" * 33, "3-32 characters"),
    ("endpoint.deployment", "ab", "3-32 characters"),
    ("endpoint.mini_batch_size", 0, ">= 1"),
    ("endpoint.instance_count", 0, ">= 1"),
    ("endpoint.max_concurrency_per_instance", 0, ">= 1"),
    ("endpoint.output_action", "append", "one of 'append_row', 'summary_only'"),
    ("endpoint.output_file_name", "out/predictions.csv", "plain file name"),
    ("endpoint.error_threshold", -2, ">= -1"),
    ("endpoint.max_retries", -1, ">= 0"),
    ("endpoint.timeout", 0, ">= 1"),
    ("endpoint.init_timeout", 0, ">= 1"),
    ("endpoint.init_timeout", "60", "must be a whole number"),
    ("scorer.folder", "a" * 1025, "at most 1024 characters"),
    ("data.files", ["/x/" + "b" * 256], "entry 0: at most 255 characters"),
    ("endpoint.logging_level", "verbose", "one of 'debug'"),
    ("schedule.frequency", "hourly", "one of ''"),
    ("schedule.interval", 0, ">= 1"),
    ("schedule.name", "s", "3-32 characters"),
    ("schedule.start_time", "tomorrow 9am", "ISO 8601 date and time"),
    ("schedule.time_zone", "CET+1", "IANA time zone name"),
]


def toml_value(value: object) -> str:
    import tomli_w

    return tomli_w.dumps({"v": value})[4:].strip()


def test_every_field_is_covered_by_a_bad_value() -> None:
    covered = {field for field, _, _ in BAD_VALUES}
    every = {f"{section}.{f}" for section, cls in profiles.SECTIONS.items()
             for f in cls.__dataclass_fields__}
    assert every - covered == set()


@pytest.mark.parametrize(("field", "value", "words"), BAD_VALUES,
                         ids=[f"{f}={v!r}"[:50] for f, v, _ in BAD_VALUES])
def test_bad_value_names_file_field_and_rule(tmp_path: Path, field: str, value: object, words: str) -> None:
    section, key = field.split(".")
    path = tmp_path / "bad.toml"
    path.write_text(f"schema = 1\n[{section}]\n{key} = {toml_value(value)}\n")
    before = path.read_bytes()
    with pytest.raises(ProfileError) as err:
        profiles.load(str(path))
    message = str(err.value)
    assert message.startswith(f"bad.toml: {field}: ")
    assert words in message
    assert "\n" not in message
    assert path.read_bytes() == before


def test_defaults_are_valid_and_round_trip(tmp_path: Path) -> None:
    original = profiles.Profile(name="roundtrip")
    original.compute.max_nodes = 5
    original.data.files = ["/data/a.csv", "/data/b/*.csv"]
    path = profiles.save(original, tmp_path / "roundtrip.toml")
    loaded = profiles.load(str(path))
    assert loaded.to_dict() == original.to_dict()
    assert 'schema = 1' in path.read_text()


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("schema = 1\n[compute]\nmax_node = 3\n")
    with pytest.raises(ProfileError, match=r"p.toml: compute.max_node: unknown key \(did you mean 'max_nodes'\?\)"):
        profiles.load(str(path))
    path.write_text("schema = 1\n[computer]\nname = 'x'\n")
    with pytest.raises(ProfileError, match=r"computer: unknown key \(did you mean 'compute'\?\)"):
        profiles.load(str(path))


def test_broken_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("schema = 1\n[compute]\nmax_nodes = \n")
    with pytest.raises(ProfileError) as err:
        profiles.load(str(path))
    assert str(err.value).startswith("broken.toml: not valid TOML:")
    assert "line 3" in str(err.value) and "column" in str(err.value)


def test_newer_schema_is_refused_and_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "future.toml"
    path.write_text("schema = 2\n[compute]\nshiny = true\n")
    before = path.read_bytes()
    with pytest.raises(ProfileError, match="schema: written by a newer amlbatch"):
        profiles.load(str(path))
    assert path.read_bytes() == before


@pytest.mark.parametrize(("text", "field", "words"), [
    ("[compute]\nmin_nodes = 3\nmax_nodes = 2\n", "compute.max_nodes", "must be >= compute.min_nodes (2 < 3)"),
    ("[storage]\ninput_container = 'same'\noutput_container = 'same'\n", "storage.output_container", "must differ"),
    ("[storage]\ninput_datastore = 'ds'\noutput_datastore = 'ds'\n", "storage.output_datastore", "must differ"),
    ("target = 'azure'\n", "account.subscription_id", "required when target = 'azure'"),
    ("[endpoint]\ninstance_count = 3\n", "endpoint.instance_count", "must be <= compute.max_nodes"),
    ("target = 'cloud'\n", "target", "one of 'local', 'azure'"),
])
def test_rules_between_fields(tmp_path: Path, text: str, field: str, words: str) -> None:
    path = tmp_path / "x.toml"
    top, _, rest = text.partition("[")
    path.write_text(f"schema = 1\n{top}" + (f"[{rest}" if rest else ""))
    with pytest.raises(ProfileError) as err:
        profiles.load(str(path))
    assert str(err.value).startswith(f"x.toml: {field}: ")
    assert words in str(err.value)


def test_override_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("schema = 1\n[compute]\nmax_nodes = 2\nmin_nodes = 0\n")
    env = {"AMLBATCH_COMPUTE_MAX_NODES": "4", "AMLBATCH_COMPUTE_MIN_NODES": "1", "AMLBATCH_HOME": "/x"}
    assert profiles.load(str(path), environ={}).compute.max_nodes == 2
    loaded = profiles.load(str(path), environ=env)
    assert (loaded.compute.max_nodes, loaded.compute.min_nodes) == (4, 1)
    loaded = profiles.load(str(path), ["compute.max_nodes=6"], environ=env)
    assert (loaded.compute.max_nodes, loaded.compute.min_nodes) == (6, 1)
    assert path.read_text() == "schema = 1\n[compute]\nmax_nodes = 2\nmin_nodes = 0\n"


def test_overrides_are_validated_and_named(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("schema = 1\n")
    with pytest.raises(ProfileError, match=r"^--set: compute.max_nodes: must be >= 1 \(got 0\)"):
        profiles.load(str(path), ["compute.max_nodes=0"], environ={})
    with pytest.raises(ProfileError, match=r"^--set: compute.max_node: unknown key \(did you mean 'max_nodes'\?\)"):
        profiles.load(str(path), ["compute.max_node=3"], environ={})
    with pytest.raises(ProfileError, match=r"^AMLBATCH_COMPUTE_VMSIZE: compute.vmsize: unknown key"):
        profiles.load(str(path), environ={"AMLBATCH_COMPUTE_VMSIZE": "Standard_D2_v2"})
    with pytest.raises(ProfileError, match="expected section.key=value"):
        profiles.load(str(path), ["compute.max_nodes"], environ={})
    with pytest.raises(ProfileError, match=r"^AMLBATCH_STORAGE_INPUT_CONTAINER: storage.input_container: .*lowercase"):
        profiles.load(str(path), environ={"AMLBATCH_STORAGE_INPUT_CONTAINER": "Input"})


def test_override_value_types(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("schema = 1\n")
    loaded = profiles.load(str(path), ["data.files=a.csv, b/*.csv", "workspace.name=123", "target=local"],
                           environ={})
    assert loaded.data.files == ["a.csv", "b/*.csv"]
    assert loaded.workspace.name == "123"
    loaded = profiles.load(str(path), ['data.files=["x.csv"]'], environ={})
    assert loaded.data.files == ["x.csv"]


def test_save_is_atomic_and_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.toml"
    first = profiles.Profile(name="keep")
    profiles.save(first, path)
    before = path.read_bytes()
    second = profiles.Profile(name="keep")
    second.compute.max_nodes = 9

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    real_replace = os.replace
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        profiles.save(second, path)
    monkeypatch.setattr(os, "replace", real_replace)  # not undo(): that would drop AMLBATCH_HOME too
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.toml"]


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    bad = profiles.Profile(name="bad")
    bad.compute.min_nodes, bad.compute.max_nodes = 5, 2
    with pytest.raises(ProfileError, match="compute.max_nodes"):
        profiles.save(bad, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()


def test_profile_names_and_paths(tmp_path: Path) -> None:
    name, path = profiles.locate("prod")
    assert name == "prod" and path == profiles.profile_path("prod")
    with pytest.raises(ProfileError, match="--profile: -bad: 1-64 characters"):
        profiles.locate("-bad")
    with pytest.raises(ProfileError, match="no saved profile 'missing'"):
        profiles.load("missing")


def test_no_secret_fields_exist() -> None:
    names = {f for cls in profiles.SECTIONS.values() for f in cls.__dataclass_fields__}
    assert not {n for n in names if any(w in n for w in ("key", "secret", "password", "token", "sas"))}


def test_endpoint_default_name_is_stable_and_valid() -> None:
    a = profiles.Profile(name="a")
    a.account.subscription_id = "00000000-0000-0000-0000-000000000001"
    b = profiles.Profile(name="b")
    b.account.subscription_id = "00000000-0000-0000-0000-000000000002"
    assert a.endpoint_name == profiles.Profile(name="a", account=a.account).endpoint_name
    assert a.endpoint_name != b.endpoint_name
    from engine import validation

    assert validation.endpoint(a.endpoint_name) is None


def test_saving_elsewhere_keeps_relative_paths_pointing_at_the_same_files(make_profile, tmp_path: Path) -> None:
    original = profiles.load(str(make_profile()))
    moved = profiles.save(original, tmp_path / "elsewhere" / "moved.toml")
    reloaded = profiles.load(str(moved))
    assert reloaded.scorer_dir == tmp_path / "myscorer"
    assert reloaded.data.files == [str(tmp_path / "data" / "*.csv")]
