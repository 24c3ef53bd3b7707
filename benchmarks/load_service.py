"""Load-test the HTTP service on loopback: throughput, p50/p99 latency, and the count of 5xx.

Starts ``bayesleg serve`` itself on 127.0.0.1 on a free port, sends a bounded
number of requests (10,000 by default, at most 32 in flight, stopping early
after ``--max-seconds``), stops the server, and prints the table to stdout.
Only with ``--output DIR`` is it also written, to ``DIR/load_service.md`` with
the raw numbers in ``DIR/load_service.json`` (``--output benchmarks/results``
refreshes the committed results).  Traffic goes to loopback only.

Requests are ``POST /v1/diagnose`` with random evidence from a seeded RNG
(0 to 8 findings over the whole vocabulary); one in twenty names an unknown
node, to check that bad input is answered with a 4xx under load too.  Every
answer's body is checked to be a diagnosis (200) or an error object (4xx).

The client is a minimal keep-alive HTTP/1.1 client on asyncio streams, one
connection per worker, with the request bodies encoded beforehand: a
general-purpose client such as httpx spends more CPU per request than the
server does, and on a small machine it would measure itself.

Needs the server extra (``pip install '.[server]'``).  Run from the
repository root::

    python benchmarks/load_service.py
    python benchmarks/load_service.py --requests 2000 --concurrency 8
    python benchmarks/load_service.py --output benchmarks/results

Exit code 1 if any request got a 5xx, a malformed answer, or no answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _output import add_output_option, write_results

import bayesleg

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(port: int, model: str | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "bayesleg", "serve", "--host", HOST]
    command += ["--port", str(port), "--log-level", "warning"]
    if model:
        command += ["--model", model]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_requests(model: bayesleg.Model, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    nodes = [node.id for node in model.nodes]
    requests = []
    for number in range(count):
        evidence = {node: rng.random() < 0.5 for node in rng.sample(nodes, rng.randint(0, 8))}
        if number % 20 == 19:
            evidence["not_a_node"] = True
        requests.append({"evidence": evidence, "id": number, "top": 5})
    return requests


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    malformed: int = 0
    no_answer: int = 0


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one prepared request on a kept-alive connection; return status and body."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readuntil(b"\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


async def run_load(
    port: int, bodies: list[bytes], concurrency: int, max_seconds: float
) -> tuple[Tally, float]:
    """Send every body from ``concurrency`` workers, one connection each."""
    tally = Tally()
    queue = iter(bodies)
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for body in queue:
                if time.perf_counter() > deadline:
                    return
                request = (
                    f"POST /v1/diagnose HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                sent = time.perf_counter()
                try:
                    status, answer = await asyncio.wait_for(post(reader, writer, request), 30)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    tally.no_answer += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                tally.latencies.append(time.perf_counter() - sent)
                tally.statuses[status] += 1
                expected = (
                    b'{"schema":"bayesleg.diagnosis/1"'
                    if status == 200
                    else b'{"schema":"bayesleg.error/1"'
                )
                tally.malformed += not answer.startswith(expected)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally, time.perf_counter() - start


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop sending after this")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    add_output_option(parser, "load_service")
    args = parser.parse_args()

    model = bayesleg.load(args.model)
    bodies = [json.dumps(r).encode() for r in make_requests(model, args.requests, args.seed)]
    port = free_port()
    server = start_server(port, args.model)
    try:
        cpu_before = cpu_seconds(server.pid)
        tally, elapsed = asyncio.run(run_load(port, bodies, args.concurrency, args.max_seconds))
        cpu_after = cpu_seconds(server.pid)
    finally:
        stop_server(server)

    answered = len(tally.latencies)
    ordered = sorted(tally.latencies)
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    server_cpu_ms = (
        round(1000 * (cpu_after - cpu_before) / answered, 2)
        if cpu_before is not None and cpu_after is not None and answered
        else None
    )
    result = {
        "requests_planned": args.requests,
        "requests_answered": answered,
        "no_answer": tally.no_answer,
        "malformed_answers": tally.malformed,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 3),
        "throughput_per_second": round(answered / elapsed, 1),
        "latency_ms": {
            "p50": round(1000 * percentile(ordered, 0.50), 2),
            "p90": round(1000 * percentile(ordered, 0.90), 2),
            "p99": round(1000 * percentile(ordered, 0.99), 2),
            "max": round(1000 * ordered[-1], 2) if ordered else None,
        },
        "server_cpu_ms_per_request": server_cpu_ms,
        "statuses": {str(status): n for status, n in sorted(tally.statuses.items())},
        "server_errors_5xx": server_errors,
        "model": {"id": model.id, "version": model.version},
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "note": "client and server share the machine's cores",
    }
    latency = result["latency_ms"]
    statuses = ", ".join(f"{n} x {status}" for status, n in result["statuses"].items())
    table = [
        "# HTTP service under load (loopback)",
        "",
        f"`POST /v1/diagnose`: {answered} of {args.requests} requests answered in"
        f" {result['seconds']} s, at most {args.concurrency} in flight, on"
        f" {os.cpu_count()} cores shared by client and server (Python"
        f" {platform.python_version()}, uvicorn, one process).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| throughput | {result['throughput_per_second']} requests/s |",
        f"| latency p50 | {latency['p50']} ms |",
        f"| latency p90 | {latency['p90']} ms |",
        f"| latency p99 | {latency['p99']} ms |",
        f"| latency max | {latency['max']} ms |",
        f"| server CPU per request | {server_cpu_ms} ms |",
        f"| statuses | {statuses} |",
        f"| 5xx | {server_errors} |",
        f"| malformed answers | {tally.malformed} |",
        f"| no answer | {tally.no_answer} |",
        "",
        "One request in twenty names an unknown node on purpose: those are the 422s.",
        "",
    ]
    print("\n".join(table))
    write_results(args.output, "load_service", "\n".join(table), result)
    return 1 if server_errors or tally.malformed or tally.no_answer else 0


if __name__ == "__main__":
    sys.exit(main())
