"""Shared fixtures: one moto server over HTTP for the whole session, reset between tests."""

from __future__ import annotations

import os

import boto3
import pytest

from auditor.emulator import FAKE_CREDENTIALS, Emulator

for _k, _v in FAKE_CREDENTIALS.items():
    os.environ[_k] = _v
os.environ.pop("AWS_PROFILE", None)


SLOW_FIXTURES = {"moto", "moto_server", "aws"}  # a real server over HTTP


def pytest_collection_modifyitems(config, items):
    """Tests that talk to the moto server or a browser, or start processes, are ``slow``:
    ``python -m pytest -m "not slow"`` runs the fast suite."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or "browser" in item.nodeid \
                or "benchmarks" in item.nodeid:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _history_in_tmp(tmp_path, monkeypatch):
    """Scans record their history; keep it out of the user's data directory."""
    monkeypatch.setenv("AUDITOR_HISTORY", str(tmp_path / "history.sqlite"))


@pytest.fixture(scope="session")
def moto_server():
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def moto(moto_server):
    """The session's moto server, emptied before the test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def aws(moto):
    """boto3 clients pointed at the moto server, for setting up fixtures: aws('s3').put_bucket_policy(...)."""
    cache = {}

    def client(service: str):
        if service not in cache:
            cache[service] = boto3.client(service, endpoint_url=moto.endpoint, region_name="us-east-1")
        return cache[service]

    return client
