"""Azurite, the real Blob API emulator, for the azure target's blob code.

`azurite` (session fixture) starts `azurite-blob` on a free loopback port, over HTTPS with a
throw-away self-signed certificate and `--oauth basic`, so both ways our blob code signs in are
real: bearer tokens (Entra ID; Azurite checks issuer, audience and lifetime) and the account key
(SharedKey). The binary comes from $AZURITE_BIN, else PATH, else .ci/node_modules/.bin (what
`.ci/run` installs). Without it the tests skip with the reason, except under CI=true, where they
fail: CI must not go green by skipping them.

Import it into a test module: `from tests.azurite import azurite  # noqa: F401`.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    url: str  # account URL, e.g. https://127.0.0.1:41234/devstoreaccount1
    ca_file: str  # the self-signed certificate to trust
    account: str = ACCOUNT
    key: str = KEY


def find_binary() -> str | None:
    candidates = [os.environ.get("AZURITE_BIN", "")]
    for name in ("azurite-blob", "azurite"):
        candidates.append(shutil.which(name) or "")
        candidates.append(str(ROOT / ".ci" / "node_modules" / ".bin" / name))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _wait_until_up(url: str, ca_file: str, process: subprocess.Popen, seconds: float = 30.0) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}?comp=list", context=context, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered (403 without credentials): it is up
        except OSError as exc:
            last = str(exc)
            time.sleep(0.05)
    raise RuntimeError(f"azurite did not answer within {seconds:.0f} s ({last})")


def _start(binary: str, folder: Path, cert: Path, key: Path, log: Any) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    args = [binary]
    if os.path.basename(binary) == "azurite":
        args = [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--queuePort", str(_free_port()),
                "--tablePort", str(_free_port())]
    else:
        args += ["--blobHost", "127.0.0.1", "--blobPort", str(port)]
    args += ["--inMemoryPersistence", "--skipApiVersionCheck", "--oauth", "basic", "--cert", str(cert),
             "--key", str(key), "--silent"]
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    return process, f"https://127.0.0.1:{port}/{ACCOUNT}"


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    binary = find_binary()
    if binary is None:
        reason = ("Azurite not found: set AZURITE_BIN or run `npm install --prefix .ci --no-audit --no-fund "
                  "azurite@3` (what .ci/run does)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " - required under CI=true")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="azurite-"))
    cert, key = _self_signed(folder)
    log = open(folder / "azurite.log", "wb")
    # Each pytest-xdist worker starts its own. A free port can be taken by another process before
    # Azurite binds it; Azurite then exits at once, and a second port is tried.
    for attempt in range(3):
        process, url = _start(binary, folder, cert, key, log)
        try:
            _wait_until_up(url, str(cert), process)
            break
        except RuntimeError as exc:
            process.kill()
            process.wait()
            if attempt == 2 or process.returncode != 1:  # 1: Azurite's exit when the port is in use
                log.close()
                text = (folder / "azurite.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"{exc}\n{text}")
    try:
        yield Azurite(url=url, ca_file=str(cert))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


class StaticToken:
    """A TokenCredential with an unsigned JWT shaped like Entra ID's (Azurite's `--oauth basic`
    checks issuer, audience and lifetime, not the signature). `audience` picks who it is for."""

    def __init__(self, audience: str = "https://storage.azure.com",
                 tenant: str = "72f988bf-0000-4000-8000-000000000001"):
        self.audience, self.tenant = audience, tenant
        self.requests: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessToken

        self.requests.append(scopes)
        now = int(time.time())

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

        claims = {"aud": self.audience, "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now - 60,
                  "nbf": now - 60, "exp": now + 3600, "oid": "00000000-0000-0000-0000-0000000000aa",
                  "tid": self.tenant}
        return AccessToken(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.", now + 3600)
