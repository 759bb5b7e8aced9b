"""Sign-in failures are told by their cause, each with what fixes it: no network, no Azure CLI,
an expired device code, a wrong tenant, no subscriptions. Real azure-identity credentials and
exception types; headless, a failed sign-in is its own line before any step."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import AzureCliCredential

from engine import cloud as azcloud
from tests.azure_support import write_profile
from tui.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
CLIENT_ID = "11111111-0000-4000-8000-0000000000c3"


class Failing:
    """A credential whose token request fails with `error` (as azure-identity raises it)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_token(self, *scopes: str, **kwargs) -> None:
        raise self.error


def sign_in_error(credential, method: str, tenant: str = "") -> str:
    with pytest.raises(azcloud.SignInError) as caught:
        azcloud.check_credential(credential, method, tenant)
    return str(caught.value)


def test_no_network_says_so_not_to_finish_the_device_code() -> None:
    # what DeviceCodeCredential raises when login.microsoftonline.com does not resolve
    try:
        try:
            raise ServiceRequestError("HTTPSConnection(host='login.microsoftonline.com', port=443): Failed to "
                                      "resolve 'login.microsoftonline.com' ([Errno -2] Name or service not known)")
        except ServiceRequestError as dns:
            raise ClientAuthenticationError(message=f"Authentication failed: {dns}") from dns
    except ClientAuthenticationError as exc:
        error = exc
    text = sign_in_error(Failing(error), "device_code")
    assert "cannot reach Azure's sign-in service (no network" in text and "internet connection" in text
    assert "device-code" not in text and "expires" not in text


def test_no_azure_cli_says_install_it_not_az_login(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without `az`
    text = sign_in_error(AzureCliCredential(), "cli")
    assert "the Azure CLI (`az`) is not installed or not on PATH" in text and "install it" in text


def test_expired_device_code() -> None:
    text = sign_in_error(Failing(ClientAuthenticationError(
        message="Timed out waiting for user to authenticate")), "device_code")
    assert "the device code expired before the sign-in was finished" in text and "sign in again" in text


def test_wrong_tenant_names_the_tenant_and_the_field() -> None:
    tenant = "cccccccc-cccc-cccc-cccc-cccccccccccc"
    text = sign_in_error(Failing(ClientAuthenticationError(
        message=f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID")),
        "device_code", tenant)
    assert f"the tenant '{tenant}' does not exist or the account is not a member of it" in text
    assert "account.tenant_id" in text


def test_no_subscriptions(cloud, monkeypatch) -> None:
    cloud.service_principals = {CLIENT_ID: "right-secret-value"}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "right-secret-value")
    credential = azcloud.sign_in("environment")
    cloud.subscriptions.clear()  # signed in, but no role on any subscription
    with pytest.raises(azcloud.SignInError, match="signed in, but this identity sees no subscriptions"):
        azcloud.list_subscriptions(credential)


def test_other_failures_keep_the_sdk_sentence_without_a_double_full_stop() -> None:
    text = sign_in_error(Failing(ClientAuthenticationError(
        message="EnvironmentCredential authentication unavailable. Environment variables are not fully "
                "configured.")), "environment")
    assert "not fully configured. To fix: set AZURE_TENANT_ID" in text and ".." not in text


def test_headless_sign_in_failure_is_its_own_line_before_any_step(tmp_path: Path, monkeypatch, capfd) -> None:
    path = write_profile(tmp_path / "project", auth="cli")
    monkeypatch.setenv("PATH", str(tmp_path))  # no Azure CLI
    assert main(["--profile", str(path), "--yes"]) == 1
    out, err = capfd.readouterr()
    assert "amlbatch: sign-in (cli) failed: the Azure CLI (`az`) is not installed" in err
    assert "Resource group" not in out and "failed" not in out
