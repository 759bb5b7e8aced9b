"""engine.cloud: sign-in and the listings the wizard offers, against the fake cloud; and the azure
target keeping the SDKs' printing and logging off the terminal."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import cloud as azcloud
from engine import events as ev
from engine.run import CancelToken
from tests.azure_support import SUB, reload, write_profile

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "11111111-0000-4000-8000-0000000000c2"


@pytest.fixture
def credential(cloud, monkeypatch):
    cloud.service_principals = {CLIENT_ID: "right-secret-value"}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "right-secret-value")
    return azcloud.sign_in("environment")


def test_importing_engine_cloud_loads_no_azure_sdk():
    probe = "import sys, engine.cloud; print(sorted(m for m in sys.modules if m.startswith('azure')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_subscriptions_regions_and_vm_sizes_with_quota(cloud, credential):
    subs = azcloud.list_subscriptions(credential)
    assert subs == [azcloud.Subscription(SUB, "Fake Subscription", cloud.default_tenant, "Enabled")]

    regions = azcloud.list_regions(credential, SUB)
    assert azcloud.Region("westeurope", "West Europe") in regions
    assert [r.display_name for r in regions] == sorted(r.display_name for r in regions)

    cloud.quota[(None, "standardDSv2Family")] = 6
    sizes = {s.name: s for s in azcloud.list_vm_sizes(credential, SUB, "westeurope")}
    ds3, ds4 = sizes["Standard_DS3_v2"], sizes["Standard_DS4_v2"]
    assert (ds3.family, ds3.cores, ds3.memory_gb) == ("standardDSv2Family", 4, 14.0)
    assert ds3.quota_left == 6 and ds3.fits
    assert ds4.cores == 8 and not ds4.fits  # the wizard can say: no quota left for this size


def test_wrong_secret_is_a_sentence_with_the_fix(cloud, monkeypatch):
    cloud.service_principals = {CLIENT_ID: "right-secret-value"}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong")
    with pytest.raises(azcloud.SignInError) as err:
        azcloud.sign_in("environment")
    assert "sign-in (environment) failed" in str(err.value) and "AZURE_CLIENT_SECRET" in str(err.value)
    with pytest.raises(azcloud.SignInError, match="unknown sign-in method"):
        azcloud.sign_in("telepathy")


def test_device_code_goes_out_as_an_event_not_a_print(capsys):
    events = []
    credential = azcloud.sign_in("device_code", emit=events.append, verify=False)
    credential._prompt_callback("https://microsoft.com/devicelogin", "ABCD-1234", None)
    assert events == [ev.SignInPrompt("To sign in, open https://microsoft.com/devicelogin and enter the code "
                                      "ABCD-1234", url="https://microsoft.com/devicelogin", code="ABCD-1234",
                                      ts=events[0].ts)]
    assert capsys.readouterr() == ("", "")


def _bound_call(call, events):
    from engine.targets.azure import _capture

    with _capture.bound(lambda message, level: events.append(ev.StepLog("compute", message, level))):
        call()


def test_the_target_keeps_sdk_output_off_the_terminal(cloud, tmp_path, capsys):
    from engine.targets.azure.target import AzureTarget

    real_out, real_err = sys.stdout, sys.stderr
    sdk_logger = logging.getLogger("azure.ai.ml.some_module")
    stream_handler = logging.StreamHandler(io.StringIO())
    sdk_logger.addHandler(stream_handler)
    sdk_logger.propagate = False
    events = []
    profile = reload(write_profile(tmp_path / "p"))
    target = AzureTarget(profile, events.append, CancelToken(), credential=cloud.credential())
    try:
        # SDK code printing from its own thread (as azure-core's pollers do) and from a step's thread
        def chatter():
            print('.', end='', flush=True)
            print('Uploading x')
            sys.stderr.write('a warning\n')

        poller = threading.Thread(target=chatter)
        poller.start()
        poller.join()
        step = threading.Thread(target=lambda: _bound_call(chatter, events))
        step.start()
        step.join()
        sdk_logger.warning("Delete request initiated")
        print("our own line")  # not the SDK's: goes through
    finally:
        target.close()
    out, err = capsys.readouterr()
    assert out == "our own line\n" and err == ""
    messages = [e.message for e in events if isinstance(e, ev.StepLog)]
    assert ". " not in messages and "Uploading x" in " ".join(messages) and "a warning" in messages
    assert sum("a warning" == m for m in messages) == 2
    assert any("Delete request initiated" in m for m in messages)
    assert all(e.level == "debug" for e in events if isinstance(e, ev.StepLog))
    assert stream_handler.stream.getvalue() == ""
    # everything restored
    assert sys.stdout is real_out and sys.stderr is real_err
    assert stream_handler in sdk_logger.handlers
    sdk_logger.removeHandler(stream_handler)
    sdk_logger.propagate = True
