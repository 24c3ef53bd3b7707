"""Scoring Dask DataFrames: the same answers as pandas, on a distributed cluster too."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayesleg
from bayesleg.errors import InvalidStateError, UnknownNodeError
from bayesleg.inference import dask as engine_dask

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

N_CASES = 120
PARTITIONS = 3
# The engine's batched arithmetic may round a case's posterior differently, in
# the last bit, depending on which other cases share its batch.
LAST_BIT = 1e-15


@pytest.fixture(scope="module")
def model() -> bayesleg.Model:
    return bayesleg.load()


def _cases(model: bayesleg.Model, seed: int) -> pd.DataFrame:
    """Random findings on factors and symptoms, a third of them missing."""
    rng = np.random.default_rng(seed)
    columns = [*model.factors, *model.symptoms]
    present = rng.random((N_CASES, len(columns))) < 0.3
    missing = rng.random((N_CASES, len(columns))) < 0.35
    frame = pd.DataFrame(present, columns=columns).astype("boolean")
    return frame.mask(missing)


def _states(frame: pd.DataFrame) -> pd.DataFrame:
    """The same cases as state names, None for missing (the engine's vocabulary)."""
    named = {}
    for column in frame.columns:
        values = np.where(frame[column].fillna(False).to_numpy(bool), "present", "absent")
        named[column] = pd.Series(values, dtype=object).where(frame[column].notna(), None)
    return pd.DataFrame(named, index=frame.index)


def _per_partition(function, frame) -> pd.DataFrame:
    """Apply ``function`` to each partition of a Dask frame, in pandas, and concatenate."""
    return pd.concat([function(part.compute()) for part in frame.partitions])


@pytest.fixture
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        silence_logs=50,
    )
    with cluster, distributed.Client(cluster) as connected:
        yield connected


def test_rank_frame_on_a_local_cluster_matches_pandas(model, client):
    cases = _cases(model, seed=1)
    frame = dd.from_pandas(cases, npartitions=PARTITIONS)
    lazy = model.rank_frame(frame)
    assert type(lazy).__module__.startswith("dask")
    scored = client.compute(lazy).result()
    whole = model.rank_frame(cases.astype(object).where(cases.notna(), None))
    # Column for column, dtype for dtype, row for row.
    assert list(scored.columns) == list(whole.columns)
    assert dict(scored.dtypes) == dict(whole.dtypes)
    pd.testing.assert_index_equal(scored.index, whole.index)
    pd.testing.assert_series_equal(scored["top_cause"], whole["top_cause"])
    pd.testing.assert_series_equal(scored["triage"], whole["triage"])
    np.testing.assert_allclose(
        scored[list(model.conditions)], whole[list(model.conditions)], rtol=0, atol=LAST_BIT
    )
    # Bit for bit the pandas result of the same partitions: Dask adds nothing.
    same_batches = _per_partition(
        lambda part: model.rank_frame(part.astype(object).where(part.notna(), None)), frame
    )
    pd.testing.assert_frame_equal(scored, same_batches, check_exact=True)


def test_engine_posteriors_on_dask_give_one_column_per_state(model):
    cases = _states(_cases(model, seed=2))
    targets = ["glycogen_depletion", "sciatica", "cramps"]
    lazy = model.engine.posteriors(dd.from_pandas(cases, npartitions=PARTITIONS), targets)
    scored = lazy.compute()  # Dask's local scheduler
    assert list(scored.columns) == [
        "glycogen_depletion=absent",
        "glycogen_depletion=present",
        "sciatica=absent",
        "sciatica=present",
        "cramps=absent",
        "cramps=present",
    ]
    expected = model.engine.posteriors(cases, targets)
    for target in targets:
        for position, state in enumerate(model.engine.states[target]):
            np.testing.assert_allclose(
                scored[f"{target}={state}"], expected[target][:, position], rtol=0, atol=LAST_BIT
            )
    pd.testing.assert_index_equal(scored.index, cases.index)


def test_an_empty_partition_scores_to_an_empty_partition(model):
    cases = _cases(model, seed=3)
    frame = dd.from_pandas(cases, npartitions=PARTITIONS)
    nothing = frame[frame["long_session"].isnull() & frame["long_session"].notnull()]
    scored = model.rank_frame(nothing).compute()
    assert len(scored) == 0
    assert list(scored.columns) == [*model.conditions, "top_cause", "triage"]


def test_unknown_columns_and_targets_are_refused_at_once(model):
    frame = dd.from_pandas(pd.DataFrame({"fasted": ["yes"], "heavyness": ["yes"]}), npartitions=1)
    with pytest.raises(
        UnknownNodeError, match="unknown node 'heavyness'; did you mean 'heaviness'"
    ):
        model.rank_frame(frame)
    states = dd.from_pandas(pd.DataFrame({"fasted": ["present"]}), npartitions=1)
    with pytest.raises(UnknownNodeError, match="unknown variable 'sciatic'"):
        model.engine.posteriors(states, ["sciatic"])


def test_a_bad_row_is_named_by_its_partition_and_its_place_in_it(model):
    # A partition cannot know how many rows come before it, so the error says
    # which partition and where in it, and the frame-wide `case` is None.
    frame = dd.from_pandas(pd.DataFrame({"fasted": ["yes"] * 9 + ["maybe"]}), npartitions=2)
    with dask.config.set(scheduler="synchronous"), pytest.raises(InvalidStateError) as raised:
        model.rank_frame(frame).compute()
    error = raised.value
    assert str(error).startswith("case 4 of partition 1: invalid value 'maybe' in column")
    assert "row 9" in str(error)
    assert (error.case, error.partition, error.partition_case) == (None, 1, 4)
    engine_frame = dd.from_pandas(pd.DataFrame({"fasted": ["present"] * 9 + ["x"]}), npartitions=2)
    with dask.config.set(scheduler="synchronous"), pytest.raises(InvalidStateError) as raised:
        model.engine.posteriors(engine_frame, ["glycogen_depletion"]).compute()
    assert (raised.value.case, raised.value.partition) == (None, 1)


def test_handles_travel_by_pickle_and_compile_once_per_process(model):
    cases = _states(_cases(model, seed=4)).iloc[:10]
    lazy = model.engine.posteriors(dd.from_pandas(cases, npartitions=1), ["sciatica"])
    (handle,) = [a for a in _arguments(lazy) if isinstance(a, engine_dask.Handle)]
    engine_dask._CACHE.clear()
    copy = pickle.loads(pickle.dumps(handle))
    rebuilt = copy.get()
    assert rebuilt is not model.engine
    assert pickle.loads(pickle.dumps(handle)).get() is rebuilt  # cached by content
    np.testing.assert_array_equal(
        rebuilt.posteriors(cases, ["sciatica"])["sciatica"],
        model.engine.posteriors(cases, ["sciatica"])["sciatica"],
    )
    # A model pickles as its file contents and diagnoses alike.
    twin = pickle.loads(pickle.dumps(model))
    assert twin.diagnose({"fasted": True}).to_dict() == model.diagnose({"fasted": True}).to_dict()


def _arguments(lazy) -> list:
    """The arguments map_partitions recorded for the last layer of a Dask frame."""
    graph = dict(lazy.__dask_graph__())
    found = []
    for task in graph.values():
        for argument in getattr(task, "args", ()):
            value = getattr(argument, "value", argument)
            found.append(value)
    return found


def test_import_bayesleg_does_not_import_dask():
    code = "import sys, bayesleg; bayesleg.load(); print('dask' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
