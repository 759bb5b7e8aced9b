"""Bad input never reaches a traceback: every profile and override is valid, or refused with one line
naming the field and the rule (exit 2). Overrides are read by the field's type, and a mistyped
AMLBATCH_ variable is an error, never silently ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import datafiles
from engine import profile as profiles
from engine.errors import ProfileError

ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 600


def _plain(tmp_path: Path, text: str = "schema = 1\n") -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_text_overrides_keep_what_was_typed(tmp_path: Path) -> None:
    path = _plain(tmp_path)
    loaded = profiles.load(str(path), ["storage.input_container=0x10ab", "workspace.name=1e400x",
                                       "compute.max_nodes=1_0"], environ={"AMLBATCH_WORKSPACE_LOCATION": "eastus2"})
    assert loaded.storage.input_container == "0x10ab"  # not 4267
    assert loaded.workspace.name == "1e400x"
    assert loaded.compute.max_nodes == 10 and loaded.workspace.location == "eastus2"
    with pytest.raises(ProfileError, match=r"^--set: endpoint.name: 3-32 characters.*\(got '1e400'\)$"):
        profiles.load(str(path), ["endpoint.name=1e400"], environ={})  # not inf
    with pytest.raises(ProfileError, match=r"^--set: compute.max_nodes: must be a whole number \(got '4.0'\)$"):
        profiles.load(str(path), ["compute.max_nodes=4.0"], environ={})
    with pytest.raises(ProfileError, match=r"^--set: compute.max_nodes: must be a whole number \(got 'true'\)$"):
        profiles.load(str(path), ["compute.max_nodes=true"], environ={})


def test_a_mistyped_variable_is_an_error_with_the_closest_name(tmp_path: Path) -> None:
    path = _plain(tmp_path)
    with pytest.raises(ProfileError) as err:
        profiles.load(str(path), environ={"AMLBATCH_COMPUTER_MAX_NODES": "3"})
    assert str(err.value) == ("AMLBATCH_COMPUTER_MAX_NODES: names no profile field and no amlbatch setting "
                              "(did you mean AMLBATCH_COMPUTE_MAX_NODES?)")
    settings_only = {"AMLBATCH_HOME": "/x", "AMLBATCH_TEST_BLOB_ENDPOINT": "http://x",
                     "AMLBATCH_TEST_BLOB_CA": "/ca.pem", "AMLBATCH_OUTPUT_ACTION": "append_row"}
    assert profiles.load(str(path), environ=settings_only).compute.max_nodes == 2


@pytest.mark.parametrize(("sets", "text", "words"), [
    ([f"endpoint.timeout={DEEP}"], "schema = 1\n", "endpoint.timeout: must be a whole number"),
    ([f"data.files={DEEP}"], "schema = 1\n", "data.files: must be a list of non-empty strings"),
    ([], "a = " + DEEP + "]" * 600 + "\n", "p.toml: arrays or tables nested more than 16 deep"),
    ([], "[x]\ny = " + "{z = " * 40 + "1" + "}" * 40 + "\n", "nested more than 16 deep"),
    ([], f'schema = 1\n[scorer]\nfolder = "{"a" * 5000}"\n', "scorer.folder: at most 1024 characters"),
    ([], f'schema = 1\n[data]\nfiles = ["{"b" * 300}/x.csv"]\n', "data.files: entry 0: at most 255 characters"),
    (["compute.name=" + "x" * 5000], "schema = 1\n", "compute.name: at most 4096 characters"),
    (["compute.a\nb=1"], "schema = 1\n", "compute.a\\nb: unknown key"),
])
def test_deep_long_and_odd_input_is_one_line_naming_the_field(tmp_path: Path, sets, text, words) -> None:
    path = _plain(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        profiles.load(str(path), sets, environ={})
    assert words in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 2500


def test_data_paths_that_would_walk_the_whole_file_system_are_refused(tmp_path: Path) -> None:
    for entry in ("/", "/**/*.csv", "~", str(Path.home()) + "/**"):
        profile = profiles.Profile(name="p", path=tmp_path / "p.toml")
        profile.data.files = [entry]
        with pytest.raises(ProfileError, match=r"data.files\[0\]: .* would read the whole file system"):
            datafiles.expand(profile, "p.toml")


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs an unreadable folder (POSIX, not root)")
def test_an_unreadable_data_folder_is_the_entry_s_error(tmp_path: Path) -> None:
    locked = tmp_path / "data" / "locked"
    locked.mkdir(parents=True)
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    locked.chmod(0)
    try:
        profile = profiles.Profile(name="p", path=tmp_path / "p.toml")
        profile.data.files = ["data"]
        with pytest.raises(ProfileError, match=r"data.files\[0\]: cannot read .*locked: Permission denied"):
            datafiles.expand(profile, "p.toml")
    finally:
        locked.chmod(0o700)


# ------------------------------------------------------------------------ the property test

FIELDS = [(s, f) for s, cls in profiles.SECTIONS.items() for f in cls.__dataclass_fields__]
scalars = st.one_of(st.text(max_size=40), st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1),
                    st.booleans(), st.floats(allow_nan=False), st.sampled_from(["", "local", "a-b", "0x10", "1e400"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=2), max_leaves=8)
keys = st.one_of(st.sampled_from(FIELDS), st.tuples(st.sampled_from(list(profiles.SECTIONS) + ["x"]),
                                                    st.text(min_size=1, max_size=12)))
documents = st.dictionaries(keys, values, max_size=6)
override_text = st.one_of(st.text(max_size=30), st.sampled_from(["[", "[[[[[", '["a"]', "0x10ab", "1e400",
                                                                 "-1", "true", "a,b", "{a=1}", "9" * 40]))
sets = st.lists(st.tuples(st.sampled_from([f"{s}.{f}" for s, f in FIELDS] + ["target", "x.y", "compute"]),
                          override_text), max_size=3)
env = st.dictionaries(st.sampled_from(["AMLBATCH_COMPUTE_MAX_NODES", "AMLBATCH_STORAGE_INPUT_CONTAINER",
                                       "AMLBATCH_DATA_FILES", "AMLBATCH_ENDPOINT_NAME", "AMLBATCH_TARGET",
                                       "AMLBATCH_COMPUTER_MAX_NODES", "AMLBATCH_X"]), override_text, max_size=2)


def _as_toml(document: dict) -> dict:
    data: dict = {"schema": 1}
    for (section, key), value in document.items():
        data.setdefault(section, {})[key] = value
    return data


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=documents, overrides=sets, environ=env)
def test_any_profile_and_override_is_valid_or_one_line_naming_a_field(tmp_path_factory, document, overrides,
                                                                       environ) -> None:
    folder = tmp_path_factory.getbasetemp() / "property"
    folder.mkdir(exist_ok=True)
    path = folder / "gen.toml"
    path.write_text(tomli_w.dumps(_as_toml(document)))
    home = Path(os.environ["AMLBATCH_HOME"])
    before = sorted(home.rglob("*"))
    try:
        loaded = profiles.load(str(path), [f"{k}={v}" for k, v in overrides], environ=environ)
    except ProfileError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message
        assert err.field or err.source.startswith(("AMLBATCH_", "--set")), message
    else:
        assert isinstance(loaded, profiles.Profile)
        profiles.dumps(loaded)  # what loaded can be shown and saved
    assert sorted(home.rglob("*")) == before and sorted(folder.iterdir()) == [path]


def test_the_command_exits_2_with_one_line_for_a_sample_of_bad_input(tmp_path: Path) -> None:
    profile = _plain(tmp_path, "schema = 1\n[data]\nfiles = [\"/\"]\n")
    cases = [
        (["--set", f"endpoint.timeout={DEEP}"], {}, "endpoint.timeout"),
        (["--yes", "--submit", "--input", "i" * 5000], {}, "--input: at most 1024 characters"),
        ([], {"AMLBATCH_COMPUTER_MAX_NODES": "3"}, "AMLBATCH_COMPUTE_MAX_NODES"),
        ([], {}, "data.files[0]"),
    ]
    for extra, variables, field in cases:
        env = {**os.environ, **variables}
        action = [] if "--submit" in extra else ["--plan"]
        result = subprocess.run([sys.executable, "-m", "tui.cli", "--profile", str(profile), *action, *extra],
                                capture_output=True, text=True, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                timeout=120)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1 and field in result.stderr
