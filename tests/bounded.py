"""Run Python code in a subprocess under a memory cap and a time limit.

A regression that allocates without bound, or runs for minutes, then fails
its test with ``MemoryError`` or a timeout instead of taking the machine or
hanging CI.  The cap is on address space (``RLIMIT_AS``), set after the
imports, at what they took plus ``memory_mib``; where the platform has no
``/proc/self/status`` only the time limit applies.

* :func:`run_bounded` runs one snippet and reports how it ended.
* :class:`Worker` keeps one such process and loads files in it on request,
  for the many small examples of a fuzz test.
"""

from __future__ import annotations

import collections
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Ended", "Worker", "run_bounded"]

# Set the cap on the process's own address space: what it holds now, plus a budget.
_CAP = """
import re, resource
def _cap(budget_mib):
    try:
        status = open("/proc/self/status").read()
    except OSError:
        return
    held = int(re.search(r"VmSize:\\s+(\\d+)", status).group(1)) * 1024
    limit = held + (budget_mib << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
"""

_SNIPPET = (
    _CAP
    + """
import json, sys, time
import bayesleg
from bayesleg.errors import BayeslegError
namespace = {{"bayesleg": bayesleg}}
exec({setup!r}, namespace)
_cap({memory_mib})
start = time.perf_counter()
try:
    exec({code!r}, namespace)
    ended = {{"error": None, "message": "", "bayesleg": False}}
except BaseException as error:
    ended = {{
        "error": type(error).__name__,
        "message": str(error).split("\\n")[0][:2000],
        "bayesleg": isinstance(error, BayeslegError),
    }}
ended["seconds"] = time.perf_counter() - start
print(json.dumps(ended))
"""
)

_WORKER = (
    _CAP
    + """
import json, sys, time
import bayesleg
from bayesleg.errors import BayeslegError
from bayesleg.inference.engine import compile
from bayesleg.inference.formats import read_network
import pgmpy.readwrite  # imported before the cap, as a reader would have it
_RESULT = sys.argv[4]
_cap(int(sys.argv[1]))
max_bytes, memory_limit = int(sys.argv[2]), int(sys.argv[3])
for line in sys.stdin:
    request = json.loads(line)
    start = time.perf_counter()
    try:
        if request["kind"] == "model":
            bayesleg.load(request["path"])
        else:
            network = read_network(request["path"], max_bytes=max_bytes, memory_limit=memory_limit)
            compile(network, memory_limit=memory_limit)
        ended = {"error": None, "message": "", "bayesleg": False}
    except BaseException as error:
        ended = {
            "error": type(error).__name__,
            "message": str(error).split("\\n")[0][:2000],
            "bayesleg": isinstance(error, BayeslegError),
        }
    ended["seconds"] = time.perf_counter() - start
    print(_RESULT + json.dumps(ended), flush=True)
"""
)


# Starts the worker's line reporting an outcome; anything else it prints is logging.
_RESULT = "outcome: "


def _environment() -> dict[str, str]:
    # One BLAS thread: its buffers would otherwise take a share of the cap that
    # depends on the machine's cores.
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Ended:
    """How a bounded run ended: the exception raised (None if none) and its message."""

    error: str | None
    message: str
    bayesleg: bool
    seconds: float


def run_bounded(code: str, *, setup: str = "", memory_mib: int = 512, seconds: float = 60) -> Ended:
    """Run ``setup`` then ``code`` in a fresh interpreter (``bayesleg`` imported); return how ``code`` ended.

    ``setup`` (preparing inputs) runs before the memory cap; ``code`` runs
    under it, and the whole within ``seconds``.

    Raises
    ------
    AssertionError
        If the process runs out of time or dies without reporting.
    """
    script = _SNIPPET.format(setup=setup, code=code, memory_mib=memory_mib)
    try:
        done = subprocess.run(
            [sys.executable, "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=seconds,
            env=_environment(),
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running after {seconds} s: {code}") from None
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"the process died: {done.stderr[-2000:]}"
    return Ended(**json.loads(lines[-1]))


class Worker:
    """One interpreter, under a memory cap, that loads files and reports each outcome.

    Use it as a context manager; it starts on the first request, and again
    after :meth:`close`.

    A network file is read with ``read_network(path, max_bytes=...,
    memory_limit=...)`` and compiled with the same ``memory_limit``; a
    model file is loaded with ``bayesleg.load``.
    """

    def __init__(self, *, memory_mib: int, max_bytes: int, memory_limit: int) -> None:
        self._arguments = [str(memory_mib), str(max_bytes), str(memory_limit), _RESULT]
        self._process: subprocess.Popen[bytes] | None = None
        self._unread = b""

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _WORKER, *self._arguments],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # One stream, read as it comes: what the readers log can never fill a pipe.
                stderr=subprocess.STDOUT,
                bufsize=0,
                env=_environment(),
            )
            self._unread = b""
        return self._process

    def _line(self, process: subprocess.Popen[bytes], deadline: float) -> str | None:
        """Return the worker's next line, or None if it ended; wait no later than ``deadline``."""
        assert process.stdout is not None
        while b"\n" not in self._unread:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([process.stdout], [], [], max(left, 0))
            if not ready:
                raise TimeoutError
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self._unread += chunk
        line, self._unread = self._unread.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def load(self, kind: str, path: Path, *, seconds: float) -> Ended:
        """Load ``path`` (``kind`` "model" or "network"); fail if it takes over ``seconds``."""
        process = self._start()
        assert process.stdin is not None
        process.stdin.write(json.dumps({"kind": kind, "path": str(path)}).encode() + b"\n")
        process.stdin.flush()
        deadline = time.monotonic() + seconds
        said: collections.deque[str] = collections.deque(maxlen=40)
        while True:
            try:
                line = self._line(process, deadline)
            except TimeoutError:
                self.close()
                raise AssertionError(f"loading {path.name} took over {seconds} s") from None
            if line is None:
                self.close()
                raise AssertionError(f"the worker died loading {path.name}: {' '.join(said)}")
            if line.startswith(_RESULT):
                return Ended(**json.loads(line[len(_RESULT) :]))
            said.append(line)

    def close(self) -> None:
        """End the worker."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
