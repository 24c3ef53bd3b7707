"""Load-test ``bayesleg serve`` on loopback with one and two workers: throughput, latency, statuses.

For each number of workers (1 and 2 by default) the benchmark starts a real
``bayesleg serve --workers N`` on a free loopback port, warms it up, and then,
for each number of requests in flight (1, 8, 32 and 128 by default), keeps
that many requests going for ``--seconds`` and waits for the last answers:

* **diagnose**: ``POST /v1/diagnose``, one case of 0 to 8 random findings over
  the whole vocabulary (a seeded RNG); one request in twenty names an unknown
  node on purpose, so the 4xx count is those;
* **batch**: ``POST /v1/diagnose/batch`` of ``--batch-size`` such cases (100 by
  default), which saturates the workers: each batch is hundreds of
  milliseconds of work, and the requests in flight queue for it.

Meanwhile a separate process probes ``GET /healthz`` every 50 ms, each time on
a new connection as a load balancer does, and the table gives its p50 and p99
for each row: under a batch row, that is ``/healthz`` while the service is
saturated with large batches.  A first row, ``none (idle)``, probes it for as
long with no load at all: the floor the machine itself sets.

The load comes from this process with httpx's ``AsyncClient`` (HTTP/1.1,
keep-alive, one client with one connection for each request in flight), in a
different process from the server's; the prober is a third.  All of them
share the machine's cores, so on a small machine the figures are the whole
system's, the client included (the CPU each used is in the JSON).  Every
answer's body is checked to be a diagnosis or a batch (2xx) or an error
object (4xx).

The server runs with ``--max-concurrency 256``, above the most requests in
flight, so that the rows measure queueing; at the default of 100, a worker
holding more answers the excess with a 503 and ``Retry-After`` at once (see
docs/reliability.md).

Needs the server extra and httpx (``pip install '.[server]' httpx``; the
test extra has both).  Run from the repository root::

    python benchmarks/load_service.py
    python benchmarks/load_service.py --quick          # seconds: a smoke test
    python benchmarks/load_service.py --output benchmarks/results

The table goes to stdout; only with ``--output DIR`` is it also written, to
``DIR/load_service.md``, with the raw numbers in ``DIR/load_service.json``.
Exit code 1 if any request got a 5xx, a malformed answer or no answer, or any
``/healthz`` probe was not a 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import multiprocessing
import os
import platform
import random
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _output import add_output_option, write_results

import bayesleg

HOST = "127.0.0.1"
#: The server's --max-concurrency: above the most requests in flight, so rows measure queueing.
MAX_CONCURRENCY = 256
#: Seconds between two /healthz probes.
PROBE_INTERVAL = 0.05
KINDS = ("diagnose", "batch")
PATHS = {"diagnose": "/v1/diagnose", "batch": "/v1/diagnose/batch"}
ANSWERS = {
    "diagnose": b'{"schema":"bayesleg.diagnosis/1"',
    "batch": b'{"schema":"bayesleg.diagnosis-batch/1"',
}
ERROR = b'{"schema":"bayesleg.error/1"'


# --------------------------------------------------------------------------
# The server and the /healthz prober
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_command(port: int, workers: int, model: str | None) -> list[str]:
    command = ["bayesleg", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--max-concurrency", str(MAX_CONCURRENCY)]
    command += ["--log-level", "warning"]
    return command + (["--model", model] if model else [])


def start_server(command: list[str], log: Any) -> subprocess.Popen:
    """Start the server (``bayesleg`` run as ``python -m bayesleg``); wait for /healthz."""
    server = subprocess.Popen(
        [sys.executable, "-m", *command], stdout=subprocess.DEVNULL, stderr=log
    )
    port = command[command.index("--port") + 1]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server exited:\n{log.read().decode(errors='replace')}")
        try:
            httpx.get(f"http://{HOST}:{port}/healthz", timeout=2).raise_for_status()
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("the server did not answer /healthz within 90 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its descendants so far, from /proc.

    0 where there is no /proc (then the server CPU figures of the JSON are 0).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def probe_health(url: str, stop: Any, results: Any) -> None:
    """Until ``stop`` is set, GET ``url`` on a new connection every 50 ms; send the probes.

    Sends "ready" after the first probe, then, once stopped, the probes: each
    (monotonic start, seconds to answer, status or 0 for no answer).
    """
    probes = []
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
    with httpx.Client(limits=limits, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = client.get(url).status_code
            except httpx.HTTPError:
                status = 0
            probes.append((started, time.monotonic() - started, status))
            if len(probes) == 1:
                results.send("ready")
            stop.wait(PROBE_INTERVAL)
    results.send(probes)


# --------------------------------------------------------------------------
# The requests and the load
# --------------------------------------------------------------------------


def make_cases(model: bayesleg.Model, count: int, rng: random.Random) -> list[dict]:
    nodes = [node.id for node in model.nodes]
    cases = []
    for number in range(count):
        evidence = {node: rng.random() < 0.5 for node in rng.sample(nodes, rng.randint(0, 8))}
        if number % 20 == 19:
            evidence["not_a_node"] = True
        cases.append({"evidence": evidence, "id": number, "top": 5})
    return cases


def make_bodies(model: bayesleg.Model, kind: str, batch_size: int, seed: int) -> list[bytes]:
    """Request bodies, encoded beforehand: 2,000 cases, or 50 batches."""
    rng = random.Random(seed)
    if kind == "diagnose":
        return [json.dumps(case).encode() for case in make_cases(model, 2000, rng)]
    return [json.dumps({"cases": make_cases(model, batch_size, rng)}).encode() for _ in range(50)]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    malformed: int = 0
    no_answer: int = 0


async def run_load(
    url: str, kind: str, bodies: list[bytes], concurrency: int, seconds: float
) -> tuple[Tally, float, float, float]:
    """Keep ``concurrency`` requests in flight for ``seconds``, then wait for the last answers.

    Each request in flight has a client of its own, with one kept-alive
    connection: one client's pool of 128 connections cost the client four
    times the CPU per request that a pool of one does, and the client, not
    the server, set the pace.

    Returns the tally, the monotonic start and end, and the client's CPU seconds.
    """
    tally = Tally()
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(600.0)
    headers = {"content-type": "application/json"}
    answer_start = ANSWERS[kind]
    tls = ssl.create_default_context()  # never used on http://, but made once, not per client

    async def sender(client: httpx.AsyncClient, first: int) -> None:
        number = first
        while time.monotonic() < deadline:
            body = bodies[number % len(bodies)]
            number += concurrency
            sent = time.monotonic()
            try:
                response = await client.post(PATHS[kind], content=body, headers=headers)
            except httpx.HTTPError:
                tally.no_answer += 1
                continue
            tally.latencies.append(time.monotonic() - sent)
            tally.statuses[response.status_code] += 1
            content = response.content
            if response.status_code < 300:
                tally.malformed += not content.startswith(answer_start)
            elif response.status_code < 500:
                tally.malformed += not content.startswith(ERROR)

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=url,
                    transport=httpx.AsyncHTTPTransport(verify=tls, limits=one),
                    timeout=timeout,
                )
            )
            for _ in range(concurrency)
        ]
        cpu = time.process_time()
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(*(sender(client, first) for first, client in enumerate(clients)))
        end = time.monotonic()
        cpu = time.process_time() - cpu
    return tally, start, end, cpu


def percentile_ms(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (seconds), in milliseconds; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[max(0, math.ceil(fraction * len(ordered)) - 1)], 1)


def measure(
    server: subprocess.Popen,
    url: str,
    kind: str,
    bodies: list[bytes],
    concurrency: int,
    seconds: float,
    cases_per_request: int,
    workers: int,
) -> tuple[dict[str, Any], float, float]:
    """Measure one row; return it with the monotonic start and end of its load."""
    server_cpu = cpu_seconds(server.pid)
    tally, start, end, client_cpu = asyncio.run(run_load(url, kind, bodies, concurrency, seconds))
    server_cpu = cpu_seconds(server.pid) - server_cpu
    elapsed = end - start
    answered = len(tally.latencies)
    classes = Counter(f"{status // 100}xx" for status in tally.statuses.elements())
    row = {
        "workers": workers,
        "kind": kind,
        "cases_per_request": cases_per_request,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "answered": answered,
        "requests_per_second": round(answered / elapsed, 1),
        "cases_per_second": round(answered * cases_per_request / elapsed, 1),
        "latency_ms": {
            "p50": percentile_ms(tally.latencies, 0.50),
            "p99": percentile_ms(tally.latencies, 0.99),
            "max": percentile_ms(tally.latencies, 1.0),
        },
        "statuses": {str(status): n for status, n in sorted(tally.statuses.items())},
        "2xx": classes["2xx"],
        "4xx": classes["4xx"],
        "5xx": classes["5xx"],
        "malformed": tally.malformed,
        "no_answer": tally.no_answer,
        "client_cpu_share": round(client_cpu / elapsed, 2),
        "client_cpu_ms_per_request": round(1000 * client_cpu / answered, 2) if answered else None,
        "server_cpu_share": round(server_cpu / elapsed, 2),
        "server_cpu_ms_per_request": round(1000 * server_cpu / answered, 2) if answered else None,
    }
    return row, start, end


def add_health(
    row: dict[str, Any], probes: list[tuple[float, float, int]], start: float, end: float
) -> None:
    """Add the /healthz probes that began while the row's load was on."""
    during = [(latency, status) for began, latency, status in probes if start <= began < end]
    latencies = [latency for latency, status in during if status == 200]
    row["healthz"] = {
        "probes": len(during),
        "not_200": sum(status != 200 for _, status in during),
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "max_ms": percentile_ms(latencies, 1.0),
    }


def run_workers(
    args: argparse.Namespace, workers: int, bodies: dict[str, list[bytes]]
) -> tuple[list[dict], str, bool]:
    """Measure every row for one number of workers.

    Returns the rows, the server's command and whether the server logged a traceback.
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = server_command(port, workers, args.model)
    context = multiprocessing.get_context("spawn")
    rows = []
    with tempfile.TemporaryFile() as log:
        server = start_server(command, log)
        stop = context.Event()
        receiver, sender = context.Pipe(duplex=False)
        prober = context.Process(target=probe_health, args=(f"{url}/healthz", stop, sender))
        try:
            # Warm up every worker (each compiles its model's caches on first use).
            for kind in KINDS:
                measure(server, url, kind, bodies[kind], 4 * workers, args.warm_up, 1, workers)
            prober.start()
            if not receiver.poll(60):
                raise SystemExit("the /healthz prober did not start within 60 s")
            receiver.recv()
            # The baseline: /healthz with nothing else to do, on this machine as it is.
            start = time.monotonic()
            time.sleep(args.seconds)
            rows.append({"workers": workers, "kind": "idle", "concurrency": 0})
            spans = [(start, time.monotonic())]
            for kind in KINDS:
                size = args.batch_size if kind == "batch" else 1
                for concurrency in args.concurrency:
                    row, start, end = measure(
                        server, url, kind, bodies[kind], concurrency, args.seconds, size, workers
                    )
                    rows.append(row)
                    spans.append((start, end))
                    print(f"  {format_row(row, with_health=False)}", file=sys.stderr)
            stop.set()
            probes = receiver.recv()
            prober.join()
            for row, (start, end) in zip(rows, spans, strict=True):
                add_health(row, probes, start, end)
        finally:
            if prober.is_alive():
                prober.kill()
            stop_server(server)
        log.seek(0)
        traceback = b"Traceback" in log.read()
    return rows, shlex.join(command).replace(f"--port {port}", "--port PORT"), traceback


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

HEADER = (
    "| workers | requests | in flight | requests/s | cases/s | p50 ms | p99 ms "
    "| 2xx | 4xx | 5xx | malformed or none | `/healthz` p50 ms | `/healthz` p99 ms |"
)


def format_row(row: dict[str, Any], *, with_health: bool = True) -> str:
    if row["kind"] == "idle":
        health = row["healthz"]
        cells = [row["workers"], "none (idle)", 0, *[""] * 8, health["p50_ms"], health["p99_ms"]]
        return "| " + " | ".join(str(cell) for cell in cells) + " |"
    kind = "diagnose" if row["kind"] == "diagnose" else f"batch of {row['cases_per_request']}"
    cells = [
        row["workers"],
        kind,
        row["concurrency"],
        f"{row['requests_per_second']:,.1f}",
        f"{row['cases_per_second']:,.0f}",
        row["latency_ms"]["p50"],
        row["latency_ms"]["p99"],
        f"{row['2xx']:,}",
        f"{row['4xx']:,}",
        row["5xx"],
        row["no_answer"] + row["malformed"],
    ]
    if with_health:
        health = row["healthz"]
        cells += [health["p50_ms"], health["p99_ms"]]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], metavar="N")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128], metavar="C")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time of each row")
    parser.add_argument("--batch-size", type=int, default=100, help="cases in a batch")
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds of each kind first")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test in seconds: one worker, 1 and 8 in flight, batches of 20, 1 s a row",
    )
    add_output_option(parser, "load_service")
    args = parser.parse_args()
    if args.quick:
        args.workers, args.concurrency, args.batch_size = [1], [1, 8], 20
        args.seconds, args.warm_up = 1.0, 0.5

    model = bayesleg.load(args.model)
    bodies = {kind: make_bodies(model, kind, args.batch_size, args.seed) for kind in KINDS}
    rows, commands, tracebacks = [], [], False
    for workers in args.workers:
        print(f"{workers} worker(s):", file=sys.stderr)
        worker_rows, command, traceback = run_workers(args, workers, bodies)
        rows += worker_rows
        commands.append(command)
        tracebacks |= traceback

    invocation = shlex.join(["python", "benchmarks/load_service.py", *sys.argv[1:]])
    today = datetime.date.today().isoformat()
    result = {
        "command": invocation,
        "date": today,
        "servers": commands,
        "seconds_per_row": args.seconds,
        "batch_size": args.batch_size,
        "healthz_probe_interval_seconds": PROBE_INTERVAL,
        "rows": rows,
        "server_logged_a_traceback": tracebacks,
        "model": {"id": model.id, "version": model.version},
        "machine": {
            "cores": os.cpu_count(),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    idle_health = max(
        (row["healthz"]["p99_ms"] or 0 for row in rows if row["kind"] == "idle"), default=0
    )
    worst_health = max(
        (row["healthz"]["p99_ms"] or 0 for row in rows if row["kind"] == "batch"), default=0
    )
    loaded = [row for row in rows if row["kind"] != "idle"]
    server_errors = sum(row["5xx"] for row in loaded)
    failures = sum(row["malformed"] + row["no_answer"] for row in loaded)
    health_failures = sum(row["healthz"]["not_200"] for row in rows)
    table = [
        "# `bayesleg serve` under load (loopback)",
        "",
        f"`{invocation}` on {today}: {os.cpu_count()} cores shared by the server, the"
        f" client and the `/healthz` prober (Python {platform.python_version()}); each row"
        f" {args.seconds:g} s of load, then its last answers; batches of"
        f" {args.batch_size} cases. Server: `{commands[0]}`"
        + (" (and `--workers 2`)" if len(commands) > 1 else "")
        + ".",
        "",
        HEADER,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(format_row(row) for row in rows),
        "",
        f"5xx: {server_errors}. Malformed or unanswered: {failures}. `/healthz` probes not"
        f" answered 200: {health_failures}; their p99 under the batch rows at most"
        f" {worst_health} ms, and with no load at all (the rows `none (idle)`, the same"
        f" probes on the machine as it was) at most {idle_health} ms. The 4xx are the"
        " requests that name an unknown node on purpose (one in twenty); in a batch such a"
        " case is an error in its place, and the batch a 200.",
        "",
    ]
    print("\n".join(table))
    write_results(args.output, "load_service", "\n".join(table), result)
    return 1 if server_errors or failures or health_failures or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
