"""Fuzz the file readers: any file loads, or raises a bayesleg error, in bounded time and memory.

Each example is a file from :mod:`strategies` -- a valid network or model file
mutated token by token, nested thousands deep, declaring tables of up to 2^60
entries, gzipped, corrupt or a decompression bomb -- loaded in a worker process
whose address space is capped (:class:`bounded.Worker`): ``read_network`` then
``compile`` for a network file, ``bayesleg.load`` for a model file.  The
property: it succeeds, or raises a subclass of ``bayesleg.BayeslegError``;
never another exception, never past the time limit, never out of memory.

The seed and the number of examples are fixed, so every run checks the same
files.  ``HYPOTHESIS_PROFILE`` does not change them; run longer by editing
``EXAMPLES``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bounded import Worker
from hypothesis import HealthCheck, given, seed, settings
from strategies import model_files, network_files, network_text, networks

from bayesleg.inference.formats import read_network

pytestmark = pytest.mark.fuzz

#: Examples per test.
EXAMPLES = 150
#: What the worker may read, compile and allocate: small, so that the bombs and the
#: enormous tables of the examples are far beyond it and cheap to make.
MAX_BYTES = 1 << 20
MEMORY_LIMIT = 64 << 20
MEMORY_MIB = 768
#: Seconds one file may take to load.
SECONDS = 30

_FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=False,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.fixture(scope="module")
def worker():
    with Worker(memory_mib=MEMORY_MIB, max_bytes=MAX_BYTES, memory_limit=MEMORY_LIMIT) as worker:
        yield worker


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


_numbers = itertools.count()


def _load(worker, kind, path):
    ended = worker.load(kind, path, seconds=SECONDS)
    assert ended.error is None or ended.bayesleg, (
        f"{path.name}: {ended.error}: {ended.message} (kept in {path.parent})"
    )
    return ended


@seed(20_240_611)
@_FUZZ
@given(file=network_files())
def test_network_files_load_or_raise_a_bayesleg_error(worker, folder, file):
    path = folder / f"network{next(_numbers)}{file.suffix}"
    path.write_bytes(file.data)
    _load(worker, "network", path)
    path.unlink()


@seed(20_240_612)
@_FUZZ
@given(file=model_files())
def test_model_files_load_or_raise_a_bayesleg_error(worker, folder, file):
    path = folder / f"model{next(_numbers)}{file.suffix}"
    path.write_bytes(file.data)
    _load(worker, "model", path)
    path.unlink()


@seed(20_240_613)
@settings(_FUZZ, max_examples=20)
@given(network=networks(max_variables=4, zeros=True))
def test_the_fuzzed_files_start_from_valid_ones(folder, network):
    for suffix in (".bif", ".uai", ".xmlbif", ".xdsl"):
        path = folder / f"valid{suffix}"
        path.write_text(network_text(network, suffix), encoding="utf-8")
        read = read_network(path)
        for i, name in enumerate(network.variables):
            got = read.cpts[f"var_{i}" if suffix == ".uai" else name]
            np.testing.assert_allclose(got, network.cpts[name], atol=1e-12)
