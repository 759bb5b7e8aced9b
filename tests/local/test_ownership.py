"""A profile touches only what it made (issue 9), on the local target: identity, refusals, tear-down
that keeps what holds others' resources, no tear-down under a running job, confined paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import identity, paths, run
from engine.profile import load
from tests.engine.test_engine import GUEST_SETS, GUEST_TABLES, Collector, provision
from tui.cli import main


def plan_is_clean(profile) -> bool:
    sink = Collector()
    outcome = run.plan(profile, sink).outcome
    assert outcome == "succeeded", {k: (e.plan, e.detail, e.error) for k, e in sink.finished().items()}
    return True


def test_a_profile_gets_its_id_on_its_first_run_and_says_so(make_profile, capsys) -> None:
    path = make_profile()
    text = path.read_text()
    assert main(["--profile", str(path), "--yes"]) == 0
    profile = load(str(path))
    assert len(profile.id) == 32 and f'id = "{profile.id}"' in path.read_text()
    assert path.read_text().replace(f'id = "{profile.id}"\n', "") == text  # the rest of the file kept as it was
    assert f"now has its own id {profile.id}" in capsys.readouterr().out
    assert main(["--profile", str(path), "--yes"]) == 0
    assert load(str(path)).id == profile.id and "own id" not in capsys.readouterr().out


def test_same_file_name_in_two_folders_is_two_owners(tmp_path: Path, make_profile) -> None:
    """prod/svc.toml and test/svc.toml: tearing down test deletes nothing of prod's."""
    prod_dir, test_dir = tmp_path / "prod", tmp_path / "test"
    prod_dir.mkdir(), test_dir.mkdir()
    source = make_profile(name="svc").read_text().replace('"data/', f'"{tmp_path}/data/')
    source = source.replace('"myscorer"', f'"{tmp_path}/myscorer"')
    (prod_dir / "svc.toml").write_text(source)
    (test_dir / "svc.toml").write_text(source)
    prod = load(str(prod_dir / "svc.toml"))
    assert provision(prod).outcomes()["resource_group"] == "created"
    sink = Collector()
    run.teardown(load(str(test_dir / "svc.toml")), sink)
    assert "deleted" not in sink.outcomes().values()
    assert plan_is_clean(prod)


def test_same_names_are_refused_naming_the_owner(make_profile, tmp_path: Path, capsys) -> None:
    first = load(str(make_profile(name="first")))
    provision(first)
    (tmp_path / "other-scorer").mkdir()
    second_path = make_profile(name="second")
    assert main(["--profile", str(second_path), "--yes"]) == 1
    out = capsys.readouterr().out
    assert f"belongs to profile 'first' ({first.path})" in out and "--adopt" in out
    assert "Deployment" in out and "updated" not in out.replace("0 updated", "")
    assert main(["--profile", str(second_path), "--teardown", "--yes"]) == 0
    assert plan_is_clean(first)


def test_teardown_keeps_a_group_that_holds_another_profiles_resources(make_profile) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    guest = load(str(make_profile(name="guest", extra=GUEST_TABLES)), GUEST_SETS)
    assert "failed" not in provision(guest).outcomes().values()

    preview = Collector()
    run.teardown(owner, preview, plan_only=True)
    sink = Collector()
    run.teardown(owner, sink)
    done = sink.finished()
    assert done["resource_group"].outcome == "skipped" and "holds resources this profile did not make" in \
        done["resource_group"].detail and "profile 'guest'" in done["resource_group"].detail
    assert done["compute"].outcome == "deleted" and done["endpoint"].outcome == "deleted"
    assert plan_is_clean(guest)  # the guest's workspace, cluster, endpoint and data are all still there


def test_teardown_preview_lists_what_a_group_holds(make_profile) -> None:
    profile = load(str(make_profile()))
    provision(profile)
    sink = Collector()
    run.teardown(profile, sink, plan_only=True)
    detail = sink.finished()["resource_group"].detail
    assert "everything in it" in detail and "computes/cpu-cluster.json" in detail


def test_a_copied_profile_is_noticed_and_given_its_own_id(make_profile, tmp_path: Path, capsys) -> None:
    original = make_profile(name="original")
    assert main(["--profile", str(original), "--yes"]) == 0
    copy = tmp_path / "copy.toml"
    copy.write_text(original.read_text())
    capsys.readouterr()
    assert main(["--profile", str(copy), "--teardown", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "copy.toml: id:" in err and "--new-id" in err
    assert main(["--profile", str(copy), "--new-id"]) == 0
    assert identity.id_in_file(copy) not in ("", identity.id_in_file(original))
    assert main(["--profile", str(copy), "--teardown", "--yes"]) == 0
    assert plan_is_clean(load(str(original)))


def test_teardown_is_refused_while_a_job_runs_unless_cancel_jobs(make_profile, capsys) -> None:
    path = str(make_profile(extra='[endpoint]\nmini_batch_size = 1\n', files=3))
    assert main(["--profile", path, "--yes", "--submit", "--no-wait"]) == 0
    capsys.readouterr()
    from engine import jobs

    profile = load(path)
    if all(job.finished for job in jobs.list_jobs(profile)):
        pytest.skip("the scoring run finished before the tear-down could be tried")
    assert main(["--profile", path, "--teardown", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "has scoring runs not finished" in err and "--cancel-jobs" in err
    assert paths.local_cloud_dir().exists()
    assert main(["--profile", path, "--teardown", "--yes", "--cancel-jobs"]) == 0
    assert not [p for p in paths.local_cloud_dir().rglob("*") if p.is_file()]


@pytest.mark.parametrize("value", ["../../../x", "/etc", "a\\\\b", "a/../b", "C:/x"])
def test_a_data_prefix_climbing_out_is_refused(make_profile, value: str, capsys) -> None:
    path = str(make_profile())
    assert main(["--profile", path, "--plan", "--set", f"data.prefix={value}"]) == 2
    err = capsys.readouterr().err
    assert "data.prefix" in err and "Traceback" not in err
    assert not paths.local_cloud_dir().exists()


def test_a_results_job_id_with_a_path_is_refused(make_profile, capsys) -> None:
    path = str(make_profile())
    assert main(["--profile", path, "--results", "../../x"]) == 2
    assert "--results" in capsys.readouterr().err


def test_adopt_takes_over_and_a_later_teardown_deletes_it(make_profile) -> None:
    first = load(str(make_profile(name="first")))
    provision(first)
    second = load(str(make_profile(name="second")))
    identity.ensure(second)
    sink = Collector()
    assert run.provision(second, sink, adopt=True).outcome == "succeeded", sink.finished()
    assert "take over cluster 'cpu-cluster' from profile 'first'" in sink.finished()["compute"].detail
    records = [p for p in paths.local_cloud_dir().rglob("*.json")
               if "computes" in p.parts or "batchEndpoints" in p.parts]
    from engine.fileio import read_json

    assert records and all(read_json(p)["tags"]["amlbatch-profile-id"] == second.id for p in records)
    assert plan_is_clean(second)
    sink = Collector()
    run.teardown(second, sink)
    assert sink.outcomes()["resource_group"] == "skipped"  # first's group: used, never deleted
    assert sink.outcomes()["compute"] == "deleted" and sink.outcomes()["endpoint"] == "deleted", sink.finished()


def test_a_crafted_name_cannot_write_outside_the_state_root(make_profile, tmp_path: Path) -> None:
    """Validation refuses such names first; the local target's one write gate refuses them again."""
    from engine.errors import StepError
    from engine.targets.local.state import confined

    root = paths.local_cloud_dir()
    assert confined(root / "a" / "b.json") == root / "a" / "b.json"
    for crafted in (root / ".." / "escaped.json", root / "a" / ".." / ".." / "x", tmp_path / "elsewhere"):
        with pytest.raises(StepError, match="outside amlbatch's local state folder"):
            confined(crafted)
    profile = load(str(make_profile()))
    profile.compute.name = "../" * 12 + "escaped"  # past validation, as a bug or a hand-made object would
    sink = Collector()
    run.provision(profile, sink)
    assert "outside amlbatch's local state folder" in sink.finished()["compute"].error
    assert not [p for p in Path(tmp_path.anchor).glob("escaped*")] and not list(tmp_path.rglob("escaped*"))


def test_an_upload_never_overwrites_another_profiles_blobs(make_profile, tmp_path: Path) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    guest = load(str(make_profile(name="guest", extra=GUEST_TABLES)))  # same container and data prefix
    (tmp_path / "data" / "part-0.csv").write_text("id,value\n0,999\n")
    sink = Collector()
    run.provision(guest, sink, only={"resource_group", "workspace", "compute", "access", "containers", "upload"})
    upload = sink.finished()["upload"]
    assert upload.outcome == "failed"
    assert "blob 'data/part-0.csv' in container 'amlbatch-input' belongs to profile 'owner'" in upload.error
    blob = next(paths.local_cloud_dir().rglob("amlbatch-input/blobs/data/part-0.csv"))
    assert blob.read_text() == "id,value\n0,0\n"  # the owner's file, as uploaded
    (tmp_path / "data" / "part-0.csv").write_text("id,value\n0,0\n")
    assert plan_is_clean(owner)
