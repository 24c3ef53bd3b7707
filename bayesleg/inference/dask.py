"""Score Dask DataFrames with an engine, partition by partition.

:meth:`Engine.posteriors <bayesleg.inference.engine.Engine.posteriors>` hands a
Dask DataFrame to :func:`posteriors_frame`, which returns a lazy Dask DataFrame
built with ``map_partitions`` and an explicit ``meta``, so nothing runs until it
is computed, and then it runs wherever Dask runs it: on Dask's local scheduler
by default, or on a ``distributed`` cluster when a client is active.

Workers in other processes get a small picklable :class:`Handle` -- the
engine's tables, or (for :mod:`bayesleg.research.scale`) a model's validated
file contents -- and compile it once per process; partitions that arrive later
reuse it.  Every partition is scored by exactly the code that scores a pandas
DataFrame, so the results are the same to the last bit.

Neither this module nor the methods that call it import Dask until a Dask
DataFrame arrives.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import BayeslegError, UnknownNodeError
from bayesleg.inference.network import DiscreteNetwork

if TYPE_CHECKING:
    import pandas

    from bayesleg.inference.engine import Engine

__all__ = [
    "Handle",
    "check_columns",
    "empty_like",
    "is_dask_frame",
    "name_partition",
    "posteriors_frame",
]

# Compiled models and engines, per process, keyed by content.
_CACHE: OrderedDict[tuple[str, ...], Any] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def is_dask_frame(value: Any) -> bool:
    """Return whether ``value`` is a Dask DataFrame, without importing Dask."""
    return type(value).__module__.startswith("dask") and hasattr(value, "map_partitions")


def posteriors_frame(
    engine: Engine,
    frame: Any,
    targets: Iterable[str] | None,
    *,
    network: DiscreteNetwork,
    memory_limit: int,
    noisy_or: bool | None = None,
) -> Any:
    """Return :meth:`Engine.posteriors` of a Dask DataFrame, as a Dask DataFrame.

    Parameters
    ----------
    engine : Engine
    frame : dask.dataframe.DataFrame
        One case per row, one column per observed variable; values as for a
        pandas frame.
    targets : iterable of str, optional
        The variables wanted; by default every variable.
    network : DiscreteNetwork
        The network ``engine`` was compiled from, shipped to other processes.
    memory_limit : int
        The engine's memory limit, kept by the copies compiled there.
    noisy_or : bool, optional
        The engine's ``noisy_or`` compile option, likewise.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; the same index and one float column per target and state,
        named ``"{target}={state}"``, targets in the order given and states
        in ``engine.states`` order.  For a pandas frame the same numbers come
        as ``posteriors(...)[target][:, i]``.

    Raises
    ------
    UnknownNodeError
        At once, if a column or a target is not a variable of the network.
    """
    import pandas

    wanted = tuple(engine.variables if targets is None else targets)
    check_columns(wanted, engine.variables, "variable")
    check_columns(frame.columns, engine.variables, "variable")
    columns = [f"{target}={state}" for target in wanted for state in engine.states[target]]
    meta = pandas.DataFrame({column: pandas.Series(dtype="float64") for column in columns})
    handle = Handle(
        ("engine", _network_digest(network), str(memory_limit), str(noisy_or)),
        _engine_from_parts,
        (*_network_parts(network), memory_limit, noisy_or),
        engine,
    )
    return frame.map_partitions(
        _posteriors_partition, handle, wanted, meta, meta=meta, partition_info=True
    )


def name_partition(error: BaseException, number: int) -> None:
    """Say in ``error`` which partition its ``case N`` counts in.

    A partition does not know how many rows come before it, so the case's
    position in the whole frame is unknown there: ``case`` becomes None, and
    the error's ``partition`` and ``partition_case`` attributes hold the
    partition's number and the case's position in it (both from 0).
    """
    case = getattr(error, "case", None)
    if not isinstance(case, int) or isinstance(case, bool):
        return
    text = re.sub(rf"\bcase {case}\b", f"case {case} of partition {number}", str(error), count=1)
    error.case = None  # type: ignore[attr-defined]
    error.partition = number  # type: ignore[attr-defined]
    error.partition_case = case  # type: ignore[attr-defined]
    if isinstance(error, UnknownNodeError):
        error.message = text
    error.args = (text, *error.args[1:])


def check_columns(names: Iterable[Any], known: Sequence[str], what: str) -> None:
    allowed = set(known)
    for name in names:
        if name not in allowed:
            raise UnknownNodeError(str(name), known, what=what)


def empty_like(meta: pandas.DataFrame, partition: pandas.DataFrame) -> pandas.DataFrame:
    empty = meta.iloc[:0].copy()
    empty.index = partition.index
    return empty


def _posteriors_partition(
    partition: pandas.DataFrame,
    handle: Handle,
    targets: tuple[str, ...],
    meta: pandas.DataFrame,
    partition_info: Mapping[str, Any] | None = None,
) -> pandas.DataFrame:
    import pandas

    if len(partition) == 0:
        return empty_like(meta, partition)
    engine = handle.get()
    try:
        marginals = engine.posteriors(partition, targets)
    except BayeslegError as error:
        if partition_info is not None:
            name_partition(error, partition_info["number"])
        raise
    columns = {
        f"{target}={state}": marginals[target][:, position]
        for target in targets
        for position, state in enumerate(engine.states[target])
    }
    return pandas.DataFrame(columns, index=partition.index)


class Handle:
    """A picklable stand-in for a model or engine, compiled once per process.

    In the process that made it, it holds the live object; a pickled copy
    holds only what rebuilds it, and rebuilds it on first use from a
    per-process cache keyed by content.
    """

    def __init__(
        self,
        key: tuple[str, ...],
        rebuild: Callable[..., Any],
        arguments: tuple[Any, ...],
        live: Any = None,
    ) -> None:
        self._key = key
        self._rebuild = rebuild
        self._arguments = arguments
        self._live = live

    def __reduce__(self) -> tuple[Any, ...]:
        return (Handle, (self._key, self._rebuild, self._arguments))

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return self._key

    def get(self) -> Any:
        if self._live is None:
            with _CACHE_LOCK:
                cached = _CACHE.get(self._key)
                if cached is None:
                    cached = self._rebuild(*self._arguments)
                    _CACHE[self._key] = cached
                    while len(_CACHE) > _CACHE_SIZE:
                        _CACHE.popitem(last=False)
            self._live = cached
        return self._live


def _network_parts(network: DiscreteNetwork) -> tuple[Any, ...]:
    """The network as plain picklable containers."""
    return (
        tuple(network.variables),
        {name: tuple(network.states[name]) for name in network.variables},
        {name: tuple(network.parents[name]) for name in network.variables},
        {name: np.asarray(network.cpts[name]) for name in network.variables},
    )


def _network_digest(network: DiscreteNetwork) -> str:
    digest = hashlib.sha256()
    for name in network.variables:
        digest.update(repr((name, network.states[name], network.parents[name])).encode())
        digest.update(np.ascontiguousarray(network.cpts[name], dtype=np.float64).tobytes())
    return digest.hexdigest()


def _engine_from_parts(
    variables: tuple[str, ...],
    states: dict[str, tuple[str, ...]],
    parents: dict[str, tuple[str, ...]],
    cpts: dict[str, np.ndarray],
    memory_limit: int,
    noisy_or: bool | None,
) -> Engine:
    from bayesleg.inference.engine import compile as compile_engine

    network = DiscreteNetwork(variables=variables, states=states, parents=parents, cpts=cpts)
    return compile_engine(network, memory_limit=memory_limit, noisy_or=noisy_or)
