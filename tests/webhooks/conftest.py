"""Fixtures of the webhook tests: a harness that may reach loopback, a verifying receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import Harness
from tests.webhooks.receiver import Receiver, open_harness, running


@pytest.fixture
async def h(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(database_url, tmp_path) as harness:
        yield harness


@pytest.fixture
async def rx() -> AsyncIterator[Receiver]:
    async with running() as receiver:
        yield receiver
        # whatever a test did, nothing reached the receiver unsigned or badly signed
        assert receiver.unverified == []
