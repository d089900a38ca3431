"""What every local chain node of the tests shares: one node per test session, started
on first use (so collecting a module starts nothing) and stopped when the session's
fixture ends or, failing that, at exit."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


N = TypeVar("N", bound=Stoppable)


class SessionNode(Generic[N]):
    def __init__(self, start: Callable[[], N]) -> None:
        self._start = start
        self._node: N | None = None

    def node(self) -> N:
        if self._node is None:
            self._node = self._start()
            atexit.register(self.shutdown)
        return self._node

    def shutdown(self) -> None:
        if self._node is not None:
            self._node.stop()
            self._node = None


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a node started in a process group of its own (npx -> node, or a node host),
    the group by its id: the launcher's children go with it."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
