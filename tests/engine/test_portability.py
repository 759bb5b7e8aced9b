"""amlbatch runs on Linux, macOS and Windows: no POSIX-only mechanism without a portable path beside it,
worker processes started with "spawn", and file names every platform accepts.

The rule for POSIX-only uses (a module such as fcntl or resource, a call such as os.killpg or
os.sched_getaffinity, signal.SIGKILL, start_new_session, a /proc path) in engine/, tui/ and scorer/:
each one sits inside an `if` (either branch) whose test mentions sys.platform, os.name, hasattr or
getattr, or inside the body of a `try` that catches ImportError, AttributeError or OSError.
"""

from __future__ import annotations

import ast
from pathlib import Path, PureWindowsPath

import pytest

from engine.datafiles import _fixed_root
from engine.validation import portable_file_name, relative_path

ROOT = Path(__file__).resolve().parents[2]
POSIX_MODULES = {"fcntl", "resource", "termios", "tty", "pty", "pwd", "grp", "posix"}
POSIX_ATTRIBUTES = {
    "os": {"fork", "forkpty", "killpg", "setsid", "getpgid", "setpgid", "getuid", "geteuid", "getgid",
           "sched_getaffinity", "sched_setaffinity", "wait3", "wait4", "WNOHANG", "mkfifo"},
    "signal": {"SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGSTOP",
               "SIGCONT", "alarm", "pause", "setitimer", "pthread_kill", "siginterrupt"},
}
POSIX_STRINGS = ("/proc/", "start_new_session", "fork", "forkserver")
GUARD_CALLS = {"hasattr", "getattr"}
GUARD_ATTRIBUTES = {"platform", "name"}  # sys.platform, os.name
GUARD_ERRORS = {"ImportError", "ModuleNotFoundError", "AttributeError", "OSError"}


def _posix_only(node: ast.AST) -> str | None:
    """What POSIX-only thing `node` uses, or None."""
    if isinstance(node, ast.Import):
        hits = [a.name for a in node.names if a.name.split(".")[0] in POSIX_MODULES]
        return f"import {hits[0]}" if hits else None
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in POSIX_MODULES:
        return f"from {node.module} import"
    if isinstance(node, ast.ImportFrom) and node.module in POSIX_ATTRIBUTES:
        hits = [a.name for a in node.names if a.name in POSIX_ATTRIBUTES[node.module]]
        return f"from {node.module} import {hits[0]}" if hits else None
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.attr in POSIX_ATTRIBUTES.get(node.value.id, ())):
        return f"{node.value.id}.{node.attr}"
    if isinstance(node, ast.keyword) and node.arg == "start_new_session":
        return "start_new_session"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value.startswith("/proc/") or node.value in POSIX_STRINGS:
            return repr(node.value)
    return None


def _is_guard(node: ast.AST, child: ast.AST) -> bool:
    if isinstance(node, ast.If):
        return any((isinstance(n, ast.Name) and n.id in GUARD_CALLS)
                   or (isinstance(n, ast.Attribute) and n.attr in GUARD_ATTRIBUTES) for n in ast.walk(node.test))
    if isinstance(node, ast.Try) and child in node.body:
        caught = {n.id for h in node.handlers if h.type for n in ast.walk(h.type) if isinstance(n, ast.Name)}
        return bool(caught & GUARD_ERRORS)
    return False


def unguarded(source: str) -> list[str]:
    """Each POSIX-only use in `source` that breaks the rule, as 'line N: what'."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        what = _posix_only(node)
        if what and not guarded:
            found.append(f"line {getattr(node, 'lineno', '?')}: {what}")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded or _is_guard(node, child))

    visit(ast.parse(source), False)
    return found


def _sources() -> list[Path]:
    return sorted(p for folder in ("engine", "tui", "scorer") for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_no_posix_only_mechanism_without_a_portable_path_beside_it() -> None:
    found = {str(p.relative_to(ROOT)): hits for p in _sources()
             if (hits := unguarded(p.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_scan_catches_a_bare_use_and_accepts_a_guarded_one() -> None:
    assert unguarded("import fcntl\n") == ["line 1: import fcntl"]
    assert unguarded("import os\nos.killpg(1, 9)\n") == ["line 2: os.killpg"]
    assert unguarded("import signal\nx = signal.SIGKILL\n") == ["line 2: signal.SIGKILL"]
    assert unguarded("open(f'/proc/{pid}/stat')\n") == ["line 1: '/proc/'"]
    assert unguarded("import subprocess\nsubprocess.Popen(['x'], start_new_session=True)\n") == [
        "line 2: start_new_session"]
    assert unguarded("import multiprocessing\nmultiprocessing.get_context('fork')\n") == ["line 2: 'fork'"]
    assert unguarded("import sys\nif sys.platform != 'win32':\n    import fcntl\n") == []
    assert unguarded("import os\nif os.name == 'nt':\n    pass\nelse:\n    os.setsid()\n") == []
    assert unguarded("import os\nif hasattr(os, 'killpg'):\n    os.killpg(1, 9)\n") == []
    assert unguarded("try:\n    import resource\nexcept ImportError:\n    resource = None\n") == []
    assert unguarded("import os\ntry:\n    os.sched_getaffinity(0)\nexcept (AttributeError, OSError):\n"
                     "    pass\n") == []
    # a try that catches something else, or the handler itself, is no guard
    assert unguarded("try:\n    import fcntl\nexcept ValueError:\n    pass\n") == ["line 2: import fcntl"]
    assert unguarded("try:\n    pass\nexcept OSError:\n    import fcntl\n") == ["line 4: import fcntl"]


@pytest.mark.parametrize("name", ["predictions.csv", "demo-20260101120000-ab12cd", "part-3.txt",
                                  ".amlbatch-job.parts", "test.lock", "console", "NULL"])
def test_portable_file_names_are_accepted(name: str) -> None:
    assert portable_file_name(name) is None


@pytest.mark.parametrize("name", ["", "..", "a:b", "a*b", "a?b", 'a"b', "a<b", "a>b", "a|b", "a/b", "a\\b",
                                  "tab\tname", "trailing.", "trailing ", "CON", "nul.txt", "Com1.csv",
                                  "LPT9", "aux .x"])
def test_names_windows_refuses_are_refused(name: str) -> None:
    assert portable_file_name(name) is not None


def test_the_names_the_product_writes_are_portable(make_profile) -> None:
    from engine import paths
    from engine.batch.output import _Output
    from engine.jobinfo import new_job_id
    from engine.profile import load
    from engine.record import RunRecord

    profile = load(str(make_profile()))
    job_id = new_job_id(profile)
    record = RunRecord(profile, "0123456789abcdef", "provision")
    record.close()
    output = _Output(paths.data_dir(), profile.endpoint.output_file_name, job_id, 1)
    written = [job_id, record.path.name, f"{profile.name}.lock", f"{profile.name}.holder",
               output.out_path.name, output.partial_path.name, output.parts_dir.name, output.tmp_path.name,
               output.part_path(1).name]
    assert {name: portable_file_name(name) for name in written} == {name: None for name in written}


def test_profile_names_and_output_file_names_must_be_portable() -> None:
    from engine.batch import BatchSettings
    from engine.profile import check_profile_name
    from engine.validation import output_file_name

    assert check_profile_name("demo") is None and output_file_name("predictions.csv") is None
    assert "device name" in check_profile_name("nul")
    assert "end with a dot" in check_profile_name("demo.")
    assert "device name" in output_file_name("con.csv")
    with pytest.raises(ValueError, match="device name"):  # the batch runner checks it too
        BatchSettings(output_file_name="nul").validate()


@pytest.mark.parametrize("value", ["C:\\model", "C:model", "\\\\server\\share\\model", "\\model", "/model",
                                   "~/model", "..\\model", "a/../../b"])
def test_a_path_outside_the_scorer_folder_is_refused_in_windows_form_too(value: str) -> None:
    assert relative_path(value) is not None


@pytest.mark.parametrize("value", ["model", "models\\model.pkl", "models/model.pkl", "env.yml"])
def test_a_relative_path_is_accepted_with_either_separator(value: str) -> None:
    assert relative_path(value) is None


def test_a_windows_glob_is_split_by_windows_rules() -> None:
    assert _fixed_root(PureWindowsPath(r"C:\data\in\**\*.csv")) == PureWindowsPath(r"C:\data\in")
    assert _fixed_root(PureWindowsPath(r"\\server\share\*.csv")) == PureWindowsPath("\\\\server\\share\\")
    assert _fixed_root(PureWindowsPath("D:/mixed\\sep/*.csv")) == PureWindowsPath(r"D:\mixed\sep")
