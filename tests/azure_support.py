"""Shared pieces of the azure target's tests: the fake cloud with pollers that never sleep, a profile
with its own scorer and data, a target bound to the fake, an event collector.

No tests here; the test_azure_* modules import what they need from this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from engine import run
from engine.profile import load
from tests.fakeazure import FakeAzure
from tests.support import Collector
from tests.fakeazure._core import DEFAULT_SECRET, DEFAULT_SUBSCRIPTION, DEFAULT_TENANT

SUB = DEFAULT_SUBSCRIPTION
TENANT = DEFAULT_TENANT
CLIENT_SECRET = DEFAULT_SECRET
WRITES = ("PUT", "POST", "PATCH", "DELETE")


class _NoSleep:
    @staticmethod
    def sleep(seconds: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzure]:
    """A started FakeAzure; retries, pollers and the SDK's own waits never sleep for real."""
    from azure.ai.ml.constants._common import LROConfigurations
    from azure.core.pipeline.transport import RequestsTransport

    from engine.targets.azure import _jobs, _lro

    from azure.core.pipeline.transport._base import HttpTransport

    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: None)
    monkeypatch.setattr(HttpTransport, "sleep", lambda self, seconds: None)  # storage's retries sleep here
    monkeypatch.setattr(_lro.CLOCK, "scale", 0.0)
    monkeypatch.setattr(_lro.CLOCK, "tick", 0.005)
    monkeypatch.setattr(LROConfigurations, "SLEEP_TIME", 0)
    monkeypatch.setattr(_jobs, "CANCEL_GRACE", 5.0)
    import azure.mgmt.core.policies._base as arm_policies  # provider auto-registration waits 10 s

    monkeypatch.setattr(arm_policies, "time", _NoSleep())
    with FakeAzure() as fake:
        yield fake


def write_scorer(folder: Path) -> Path:
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text("def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n")
    (folder / "environment.yml").write_text(
        "name: scorer\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - azureml-core\n")
    (folder / "model" / "weights.bin").write_bytes(b"\x00\x01\x02\x03")
    return folder


def write_profile(folder: Path, extra: str = "", files: int = 3, name: str = "az",
                  auth: str = "cli") -> Path:
    """An azure-target profile (subscription of the fake) with its own scorer and data files."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (data / f"part-{i}.csv").write_text("id,value\n" + "".join(f"{i}{j},{j * 2}\n" for j in range(4)))
    write_scorer(folder / "scorer")
    path = folder / f"{name}.toml"
    path.write_text(f'schema = 1\ntarget = "azure"\n\n[account]\nsubscription_id = "{SUB}"\nauth = "{auth}"\n\n'
                    f'[data]\nfiles = ["data/*.csv"]\n\n[scorer]\nfolder = "scorer"\n' + extra)
    return path


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    return write_profile(tmp_path / "project")


def target(profile: Any, cloud: FakeAzure, **kwargs: Any) -> Any:
    from engine.targets.azure.target import AzureTarget

    kwargs.setdefault("credential", cloud.credential())
    return AzureTarget(profile, kwargs.pop("emit", lambda e: None), kwargs.pop("cancel", run.CancelToken()), **kwargs)


def provision(profile: Any, cloud: FakeAzure, cancel: Any = None, **kwargs: Any) -> tuple[Any, Collector]:
    sink = Collector()
    summary = run.provision(profile, sink, cancel, target=target(profile, cloud, cancel=cancel or run.CancelToken(),
                                                                 **kwargs))
    return summary, sink


def teardown(profile: Any, cloud: FakeAzure, plan_only: bool = False, purge: bool = False,
             **kwargs: Any) -> tuple[Any, Collector]:
    sink = Collector()
    summary = run.teardown(profile, sink, plan_only=plan_only, purge=purge, target=target(profile, cloud, **kwargs))
    return summary, sink


def writes(cloud: FakeAzure) -> list[Any]:
    """Calls that change something in Azure (token requests to Entra ID excluded)."""
    return [c for c in cloud.calls if c.method in WRITES and "login." not in c.host]


def reload(path: Path, *sets: str) -> Any:
    return load(str(path), list(sets))
