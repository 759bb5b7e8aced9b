"""Fixtures for the FakeAzure self-tests: a fresh fake cloud per test and real SDK clients bound to it."""

from __future__ import annotations

import pytest

from tests.fakeazure import FakeAzure

SUB = "00000000-0000-4000-8000-00000000a001"
SUB2 = "00000000-0000-4000-8000-00000000a002"
OTHER_SUB = "00000000-0000-4000-8000-00000000b001"
TENANT = "72f988bf-0000-4000-8000-00000000c001"
OTHER_TENANT = "72f988bf-0000-4000-8000-00000000c002"


@pytest.fixture
def cloud():
    subs = [{"id": SUB, "name": "Dev", "tenant": TENANT}, {"id": SUB2, "name": "Prod", "tenant": TENANT},
            {"id": OTHER_SUB, "name": "Elsewhere", "tenant": OTHER_TENANT}]
    with FakeAzure(subscriptions=subs) as fake:
        yield fake


@pytest.fixture
def cred(cloud):
    return cloud.credential()


@pytest.fixture
def ws(cloud):
    """A workspace placed directly in the fake (no SDK calls): rg1/ws1 in eastus."""
    return cloud.add_workspace("ws1", "rg1", "eastus")


@pytest.fixture
def ml(cloud, cred, ws):
    from azure.ai.ml import MLClient

    return MLClient(cred, SUB, "rg1", "ws1", show_progress=False)
