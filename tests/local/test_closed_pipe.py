"""A closed stdout (`amlbatch ... | head -2`) ends the output quietly: exit 141, no traceback, and the
run record does not call the reader going away a failed step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine import paths, run
from engine import profile as profiles

ROOT = Path(__file__).resolve().parents[2]


def _records(name: str) -> list[dict]:
    events = []
    for path in sorted(paths.runs_dir(name).glob("*.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines()]
    return events


def test_a_closed_stdout_exits_141_quietly_and_the_record_stays_true(make_profile) -> None:
    path = make_profile()
    for args in (["--plan"], ["--yes"], ["--plan", "--json"]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first line
        try:
            result = subprocess.run([sys.executable, "-m", "tui.cli", "--profile", str(path), *args],
                                    stdout=write, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                    cwd=ROOT, timeout=120)
        finally:
            os.close(write)
        assert result.returncode == 141, result.stderr
        assert result.stderr == ""
    events = _records(path.stem)
    finished = [e for e in events if e["type"] == "run_finished"]
    assert sorted(e["outcome"] for e in finished) == ["changes", "succeeded", "succeeded"]  # last plan: no change
    assert not [e for e in events if e["type"] == "step_finished" and e["outcome"] == "failed"]
    assert "BrokenPipe" not in json.dumps(events)


def test_a_consumer_whose_output_breaks_does_not_fail_a_step(make_profile) -> None:
    profile = profiles.load(str(make_profile()))
    calls = []

    def consumer(event) -> None:
        calls.append(event)
        raise BrokenPipeError(32, "Broken pipe")

    summary = run.provision(profile, consumer)
    assert summary.outcome == "succeeded" and len(calls) == 1  # told once, then left alone
    assert run.provision(profile, lambda e: None).counts.get("exists")
