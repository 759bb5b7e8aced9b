"""The headless command on the azure target, in-process with the fake cloud active: the same kind of
output as the local target, nothing from the SDKs on the terminal, no secret in any file written or
any line printed, and the cost it prints before you pay (over tests/fakeazure/_prices.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.azure_support import write_profile
from tests.fakeazure._prices import FakePrices
from tui.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

CLIENT_ID = "11111111-0000-4000-8000-0000000000c1"
CLIENT_SECRET = "planted-client-secret-Zq8v3nX0"
STEP_LINE = re.compile(r"^  \S \S.{10,}\s+(created|exists|updated|skipped|failed|deleted)\s+\d+\.\d s")


@pytest.fixture
def signed_in(cloud, monkeypatch):
    """Sign-in the way a CI pipeline does it: a service principal in AZURE_* variables."""
    cloud.service_principals = {CLIENT_ID: CLIENT_SECRET}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return cloud


def run_cli(capfd, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capfd.readouterr()
    return code, out, err


def test_headless_lifecycle_on_azure(signed_in, capfd, tmp_path, amlbatch_home):
    cloud = signed_in
    path = str(write_profile(tmp_path / "p", auth="environment"))

    code, out, err = run_cli(capfd, "--profile", path, "--yes")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("amlbatch · profile az · target azure · provisioning")
    assert sum(1 for line in lines if STEP_LINE.match(line)) == 11, out
    assert re.search(r"^10 created, 0 updated, 0 exist, 0 failed in ", out, re.M), out
    assert err == ""  # the SDKs printed nothing (their dots, log lines and warnings are captured)

    code, out, err = run_cli(capfd, "--profile", path, "--yes")
    assert code == 0 and re.search(r"^0 created, 0 updated, 10 exist, 0 failed in ", out, re.M), out
    assert err == ""

    code, out, err = run_cli(capfd, "--profile", path, "--plan")
    assert code == 0 and "0 to create, 0 to update, 10 unchanged" in out

    code, out, err = run_cli(capfd, "--profile", path, "--submit", "--yes")
    assert code == 0, out + err
    assert re.search(r"^Completed: job amlbatch-\w+-\d{14}-[0-9a-f]{6}$", out, re.M), out
    assert "15 rows scored" in out and "first rows" in out and "results: azureml://datastores/" in out
    job_id = re.search(r"^Completed: job (\S+)$", out, re.M).group(1)

    code, out, err = run_cli(capfd, "--profile", path, "--jobs")
    assert code == 0 and job_id in out and "Completed" in out

    code, out, err = run_cli(capfd, "--profile", path, "--results", job_id, "--out", str(tmp_path / "res"))
    assert code == 0 and (tmp_path / "res" / "predictions.csv").is_file()

    code, out, err = run_cli(capfd, "--profile", path, "--teardown", "--yes", "--purge")
    assert code == 0, out + err
    assert re.search(r"^2 deleted, 9 kept or gone, 0 failed in ", out, re.M), out
    assert err == ""
    assert not cloud.resource_groups


def test_json_stream_is_only_json(signed_in, capfd, tmp_path):
    path = str(write_profile(tmp_path / "p", auth="environment"))
    code, out, err = run_cli(capfd, "--profile", path, "--yes", "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]  # every line parses
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert err == ""


def test_no_secret_in_any_file_or_output(signed_in, capfd, tmp_path, amlbatch_home, monkeypatch):
    """Plant secrets (service principal secret; the storage account key, fetched by us when the
    identity has no data rights; SAS tokens the SDK gets for uploads) and look for them everywhere."""
    cloud = signed_in
    import logging

    from azure.identity import ClientSecretCredential

    issued: list[str] = []

    def logging_it(real):
        def get(self, *scopes, **kwargs):  # the identity service logs the token it issued, at DEBUG
            token = real(self, *scopes, **kwargs)
            issued.append(token.token)
            logging.getLogger("azure.identity").debug("issued access token %s", token.token)
            return token
        return get

    identity_logger = logging.getLogger("azure.identity")
    monkeypatch.setattr(identity_logger, "level", identity_logger.level)  # put back afterwards
    identity_logger.setLevel(logging.DEBUG)  # as with DEBUG logging configured
    for method in ("get_token", "get_token_info"):  # azure-core asks for either
        monkeypatch.setattr(ClientSecretCredential, method, logging_it(getattr(ClientSecretCredential, method)))
    path = str(write_profile(tmp_path / "p", auth="environment"))
    outputs = []
    code, out, err = run_cli(capfd, "--profile", path, "--yes", "--verbose")
    outputs.append(out + err)
    assert code == 0

    # the identity loses its data rights: the run fails naming the role (no fall-back to the account key)
    account = next(iter(cloud.workspaces.values())).storage_account
    cloud.blob_rbac_denied.add(account)
    (tmp_path / "p" / "data" / "part-0.csv").write_text("id,value\n1,1\n")
    code, out, err = run_cli(capfd, "--profile", path, "--yes", "--verbose")
    outputs.append(out + err)
    assert code == 1 and "'Storage Blob Data Contributor' role" in out, out + err
    cloud.blob_rbac_denied.discard(account)
    code, out, err = run_cli(capfd, "--profile", path, "--yes", "--verbose")
    outputs.append(out + err)
    assert code == 0, out + err
    code, out, err = run_cli(capfd, "--profile", path, "--submit", "--yes", "--json")
    outputs.append(out + err)
    assert code == 0

    secrets = {"client secret": CLIENT_SECRET, "account key": cloud.account_key(account)}
    for call in cloud.calls:
        if call.query.get("sig"):
            secrets[f"SAS of {call.path}"] = call.query["sig"]
    assert len(secrets) > 2  # SAS tokens were handed out and used
    assert issued and issued[0].startswith("eyJ")  # the identity issued JWTs and logged them
    secrets.update({f"access token {i}": token for i, token in enumerate(issued)})
    assert cloud.calls_matching("POST", "/listSecrets")

    files = [p for p in Path(amlbatch_home).rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files)  # the run records are among them
    stored = "".join(p.read_text(errors="replace") for p in files if p.suffix == ".jsonl")
    assert "issued access token ***" in stored  # the identity's log line was kept, masked
    for name, value in secrets.items():
        for text in outputs:
            assert value not in text, f"{name} printed"
        for file in files:
            assert value not in file.read_text(errors="replace"), f"{name} in {file}"


def test_headless_submit_shows_the_files_azure_could_not_score(signed_in, capfd, tmp_path, amlbatch_home):
    cloud = signed_in
    path = str(write_profile(tmp_path / "p", auth="environment"))
    code, out, err = run_cli(capfd, "--profile", path, "--yes")
    assert code == 0, out + err
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    first = cloud.list_blobs(ws.storage_account, "amlbatch-input", "data/")[0].rsplit("/", 1)[-1]
    cloud.file_errors = {first: "KeyError: 'amount'"}  # the scorer skips it; the batch job logs it

    code, out, err = run_cli(capfd, "--profile", path, "--submit", "--yes")
    assert f"failed: {first}: KeyError: 'amount'" in out, out
    assert "10 rows scored" in out and "1 failed" in out, out
    assert err == ""


def test_plan_and_run_on_azure_say_what_they_cost(signed_in, capfd, tmp_path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = signed_in
    path = str(write_profile(tmp_path / "p", auth="environment"))
    with FakePrices() as prices:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", prices.url)
        code, out, err = run_cli(capfd, "--profile", path, "--plan")
        assert code == 3, out + err
        assert not cloud.resource_groups  # priced before anything is created
        assert re.search(r"^Cost on Azure \(retail prices, westeurope, USD, read ", out, re.M), out
        assert "Standard_DS3_v2 dedicated: $0.293 per node-hour" in out

        code, out, err = run_cli(capfd, "--profile", path, "--submit", "--yes")
        assert code == 0, out + err
        line = re.search(r"^.*cost: about \$[\d.]+: 1 node x [\d.]+ s at \$0\.293 per node-hour.*$", out, re.M)
        assert line and "idle time before the cluster scales down" in line.group(0), out
        assert "would have cost" not in out  # that is the local target's wording
