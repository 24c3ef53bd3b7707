"""Start a real ``bayesleg serve`` on a free loopback port, for the tests that need one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def served(timeout: float = 60) -> Iterator[str]:
    """Run ``bayesleg serve`` of the shipped model until the block ends; yield its ``host:port``.

    Fails the test if the server stops, or does not answer ``/healthz`` within
    ``timeout`` seconds.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bayesleg", "serve", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/healthz", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    assert server.stderr is not None
                    pytest.fail(f"bayesleg serve stopped: {server.stderr.read()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"bayesleg serve did not answer within {timeout:g} s")
                time.sleep(0.2)
        yield address
    finally:
        server.terminate()
        server.communicate(timeout=30)
