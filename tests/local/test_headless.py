"""The headless command as users and scripts run it: real subprocesses where the process boundary
matters (imports, exit codes, no terminal), in-process elsewhere for speed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import paths
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def amlbatch(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, cwd=ROOT, env=full_env, timeout=timeout)


def test_headless_local_run_imports_neither_textual_nor_azure(make_profile) -> None:
    path = make_profile()
    probe = (
        "import sys\n"
        "from tui.cli import main\n"
        f"code = main(['--profile', {str(path)!r}, '--yes'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich') "
        "or m.startswith('azure'))\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_exit_codes_and_summary_through_a_whole_lifecycle(make_profile) -> None:
    path = str(make_profile())
    first = amlbatch("--profile", path, "--yes")
    assert first.returncode == 0, first.stderr
    assert "10 created, 0 updated, 0 exist, 0 failed in" in first.stdout
    assert "Resource group" in first.stdout and "\x1b[" not in first.stdout  # no colour off a terminal

    again = amlbatch("--profile", path, "--yes")
    assert again.returncode == 0 and "created" not in again.stdout.replace("0 created", "")

    assert amlbatch("--profile", path, "--plan").returncode == 0

    gone = amlbatch("--profile", path, "--teardown", "--yes")
    assert gone.returncode == 0 and "9 deleted" in gone.stdout
    plan = amlbatch("--profile", path, "--plan")
    assert plan.returncode == 3 and "would create" in plan.stdout


@pytest.mark.parametrize(("content", "field"), [
    ('schema = 1\n[workspace]\nname = "a"\n', "workspace.name"),
    ('schema = 1\n[compute]\nmax_nodes = "two"\n', "compute.max_nodes"),
    ('schema = 1\n[compute]\nmax_nodez = 2\n', "compute.max_nodez"),
    ('schema = 1\n[compute\n', "line 2"),
])
def test_invalid_profile_exits_2_with_one_line_and_file_untouched(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    result = amlbatch("--profile", str(path), "--yes")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and lines[0].startswith("amlbatch: bad.toml: ")
    assert "Traceback" not in result.stderr
    assert path.read_text() == content
    assert not paths.local_cloud_dir().exists()


def test_without_yes_and_without_a_terminal_it_refuses(make_profile) -> None:
    path = str(make_profile())
    result = amlbatch("--profile", path)
    assert result.returncode == 2 and "needs a terminal" in result.stderr
    result = amlbatch("--profile", path, "--submit")
    assert result.returncode == 2 and "pass --yes" in result.stderr
    assert "would create" in result.stdout  # it showed the plan before refusing
    assert not [p for p in paths.local_cloud_dir().rglob("*") if p.is_file()]


def test_missing_data_files_are_reported_before_anything_is_created(make_profile, tmp_path: Path) -> None:
    path = make_profile()
    for data_file in (tmp_path / "data").iterdir():
        data_file.unlink()
    result = amlbatch("--profile", str(path), "--yes")
    assert result.returncode == 2
    assert "data.files[0]: matches no file: data/*.csv" in result.stderr
    assert not paths.local_cloud_dir().exists()


def test_json_output_is_the_versioned_event_stream(make_profile) -> None:
    result = amlbatch("--profile", str(make_profile()), "--yes", "--json")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert all(e["v"] == 1 for e in events)
    finished = [e for e in events if e["type"] == "step_finished"]
    assert len(finished) == 11 and {e["outcome"] for e in finished} == {"created", "skipped"}


def test_colour_only_when_asked_or_on_a_terminal(make_profile, capsys: pytest.CaptureFixture) -> None:
    path = str(make_profile())
    assert main(["--profile", path, "--plan", "--color", "always"]) == 3
    assert "\x1b[" in capsys.readouterr().out
    assert main(["--profile", path, "--plan"]) == 3
    assert "\x1b[" not in capsys.readouterr().out


def test_failed_step_exits_1(make_profile, capsys: pytest.CaptureFixture) -> None:
    path = str(make_profile())
    assert main(["--profile", path, "--yes"]) == 0
    capsys.readouterr()
    assert main(["--profile", path, "--yes", "--set", "compute.vm_size=Standard_F4s_v2"]) == 1
    out = capsys.readouterr().out
    assert "compute.vm_size: cluster 'cpu-cluster' has Standard_DS3_v2" in out
    assert "1 failed" in out


def test_ctrl_c_cancels_cleanly_and_exits_130(make_profile, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    from engine.targets.local.target import LocalTarget
    from engine.targets.local.upload import Upload

    class UploadThenInterrupt(Upload):
        def apply(self, ctx, check):
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl+C now
            return super().apply(ctx, check)

    class InterruptedUpload(LocalTarget):
        steps = {**LocalTarget.steps, "upload": UploadThenInterrupt}

    import engine.targets as targets

    real_build = targets.build
    monkeypatch.setattr(targets, "build", lambda p, e, c: InterruptedUpload(p, e, c))
    path = str(make_profile(files=5))
    assert main(["--profile", path, "--yes"]) == 130
    captured = capsys.readouterr()
    assert "Stopping after the current operation" in captured.err
    assert "canceled" in captured.out and "Run the same command again to resume" in captured.out
    # Put back only the real target: a full monkeypatch.undo() would also undo AMLBATCH_HOME.
    monkeypatch.setattr(targets, "build", real_build)
    assert main(["--profile", path, "--yes"]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_list_profiles_shows_target_and_last_run(make_profile, capsys: pytest.CaptureFixture) -> None:
    from engine import profile as profiles

    saved = profiles.load(str(make_profile()))
    profiles.save(saved, profiles.profile_path("saved"))
    assert main(["--list-profiles"]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "never run" in out
    assert main(["--profile", "saved", "--yes"]) == 0
    capsys.readouterr()
    assert main(["--list-profiles"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("saved"))
    assert "local" in line and "provision succeeded" in line


def test_a_locked_profile_is_refused_with_a_clear_message(make_profile) -> None:
    from filelock import FileLock

    path = make_profile()
    paths.locks_dir().mkdir(parents=True, exist_ok=True)
    with FileLock(paths.locks_dir() / "test.lock"):
        (paths.locks_dir() / "test.holder").write_text("pid 4242, started 10:00:00")
        result = amlbatch("--profile", str(path), "--yes")
    assert result.returncode == 2
    assert "profile 'test' is already being run (pid 4242, started 10:00:00)" in result.stderr


def test_teardown_works_after_the_users_files_are_gone(make_profile, tmp_path: Path) -> None:
    import shutil

    path = str(make_profile())
    assert main(["--profile", path, "--yes"]) == 0
    shutil.rmtree(tmp_path / "data")
    shutil.rmtree(tmp_path / "myscorer")
    assert main(["--profile", path, "--teardown", "--yes"]) == 0
    assert not [p for p in paths.local_cloud_dir().rglob("*") if p.is_file()]
