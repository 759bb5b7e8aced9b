"""One redactor for every line amlbatch stores or shows: secrets a scorer prints, logs or raises
reach no job event, overview, worker log, job.json, run record nor the terminal; worker logs are
capped per worker with a note where they were cut."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine import run
from engine import profile as profiles
from engine.batch import workerlog
from engine.secrets import redact
from tui.cli import main

JWT = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3N0b3JhZ2UuYXp1cmUuY29tIiwib2lkIjoiMSJ9."
       "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")
ACCOUNT_KEY = base64.b64encode(bytes(range(7, 71))).decode()  # 64 bytes, as Azure makes them
SAS_SIG = "planted0SAS0sig0Zz9%2B"
SAS_ENCODED_SIG = "planted0encoded0sig0Qq7"
CLIENT_SECRET = "abc8Q~planted0client0secret0value0000XY"
CONN_KEY = "planted0conn0string0key0Kk3=="
SECRETS = {
    "JWT": JWT, "account key": ACCOUNT_KEY, "SAS sig": SAS_SIG, "URL-encoded SAS sig": SAS_ENCODED_SIG,
    "client secret": CLIENT_SECRET, "connection string key": CONN_KEY,
}
LINES = [
    f"identity issued {JWT}",
    f"key {ACCOUNT_KEY}",
    f"https://acct.blob.core.windows.net/c/x.csv?sv=2024-05-04&se=2030&sp=r&sig={SAS_SIG}",
    f"https%3A%2F%2Facct.blob.core.windows.net%2Fc%3Fsv%3D2024%26sig%3D{SAS_ENCODED_SIG}%26se%3D1",
    f"AZURE_CLIENT_SECRET={CLIENT_SECRET}",
    f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CONN_KEY};EndpointSuffix=core.windows.net",
]

LEAKY = '''
import logging, os, sys

LINES = {lines!r}


def init():
    print(LINES[0])


def run(mini_batch):
    for line in LINES:
        print(line)
        os.write(2, (line + "\\n").encode())
        logging.getLogger("scorer").warning(line)
    if any(p.endswith("part-0.csv") for p in mini_batch):
        raise RuntimeError("cannot read with " + LINES[5] + " " + LINES[0])
    return [os.path.basename(p) for p in mini_batch]
'''


@pytest.mark.parametrize(("line", "name"), [(line, name) for line, name in zip(LINES, SECRETS)])
def test_the_redactor_masks_each_kind_wherever_it_stands(line: str, name: str) -> None:
    assert SECRETS[name] not in redact(line) and "***" in redact(line)
    assert SECRETS[name] not in redact(f'{{"message": "{line}"}}')


def test_nothing_a_scorer_prints_logs_or_raises_is_stored_or_shown(make_profile, capfd, amlbatch_home) -> None:
    path = make_profile(files=3, extra="[endpoint]\nmini_batch_size = 1\nmax_retries = 0\n")
    (path.parent / "myscorer" / "score.py").write_text(LEAKY.format(lines=LINES))
    code = main(["--profile", str(path), "--yes", "--submit", "--verbose"])
    out, err = capfd.readouterr()
    assert code == 0, out + err  # two of three files scored: a partial failure, not a failed run
    files = [p for p in [*Path(amlbatch_home).rglob("*"), *path.parent.rglob("*")]
             if p.is_file() and p.suffix in (".jsonl", ".json", ".txt", ".csv", "")]
    names = {p.name for p in files}
    assert {"events.jsonl", "overview.txt", "worker-1.txt", "job.json"} <= names, names
    worker_logs = "".join(p.read_text() for p in files if p.name.startswith("worker-"))
    assert "***" in worker_logs and "RuntimeError" in worker_logs  # the lines and the traceback are there
    for name, value in SECRETS.items():
        assert value not in out + err, f"{name} shown"
        for file in files:
            assert value not in file.read_text(errors="replace"), f"{name} in {file}"


def test_a_worker_log_is_capped_with_a_note_where_it_was_cut(tmp_path: Path, monkeypatch) -> None:
    from engine.batch import BatchSettings, run_batch
    from tests.local.test_batchrun import echo_files, write_script

    monkeypatch.setattr(workerlog, "LOG_CAP", 20_000)
    folder = write_script(tmp_path / "s", '''
        def run(mini_batch):
            for _ in range(100):
                print("y" * 999)
            return mini_batch
    ''')
    result = run_batch("j", echo_files(tmp_path / "data", 4), folder, "score.py", folder / "model",
                       BatchSettings(mini_batch_size=1), tmp_path / "out", tmp_path / "logs", lambda e: None,
                       max_workers=1)
    assert result.status == "Completed" and result.rows == 4
    log = (tmp_path / "logs" / "worker-1.txt").read_bytes()
    assert 20_000 < len(log) < 21_000  # 400 KB printed
    assert b"this log was cut here at 20,000 bytes" in log and b"more bytes of output were not kept" in log


def test_secrets_in_step_logs_never_reach_the_record(make_profile) -> None:
    profile = profiles.load(str(make_profile()))
    events = []
    from engine.targets.local.compute import Compute
    from engine.targets.local.target import LocalTarget

    class LeakyCompute(Compute):
        def check(self, ctx):
            for line in LINES:
                ctx.log(line)
            return super().check(ctx)

    class LeakyTarget(LocalTarget):
        steps = {**LocalTarget.steps, "compute": LeakyCompute}

    run.provision(profile, events.append, target=LeakyTarget(profile, events.append, run.CancelToken()))
    from engine import paths

    record = "".join(p.read_text() for p in paths.runs_dir(profile.name).glob("*.jsonl"))
    shown = json.dumps([e.to_dict() for e in events])
    assert "***" in record
    for name, value in SECRETS.items():
        assert value not in record and value not in shown, name
