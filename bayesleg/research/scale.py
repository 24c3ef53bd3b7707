"""Score Dask DataFrames with a model, partition by partition.

:meth:`Model.rank_frame <bayesleg.model.Model.rank_frame>` hands a Dask
DataFrame to :func:`rank_dask_frame`, which returns a lazy Dask DataFrame
scored by the same code as a pandas frame (see :mod:`bayesleg.inference.dask`,
which does the same for an engine's posteriors).  Workers in other processes
get the model's validated file contents and compile it once per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bayesleg.errors import BayeslegError
from bayesleg.inference.dask import Handle, check_columns, empty_like, name_partition

if TYPE_CHECKING:
    import pandas

    from bayesleg.model import Model

__all__ = ["rank_dask_frame"]


def rank_dask_frame(model: Model, frame: Any) -> Any:
    """Return :meth:`Model.rank_frame` of a Dask DataFrame, as a Dask DataFrame.

    Parameters
    ----------
    model : Model
    frame : dask.dataframe.DataFrame
        One case per row, one column per observed node, as for a pandas frame;
        missing values may also be ``pandas.NA``.  Dask turns object columns
        into strings (its ``dataframe.convert-string`` option), so give
        True/False columns with missing values the pandas ``"boolean"`` dtype,
        or use "present"/"absent".

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; the same index, one posterior column per condition, then
        ``top_cause`` and ``triage``, with the dtypes of the pandas result.

    Raises
    ------
    UnknownNodeError
        At once, if a column is not a node of the model.  Bad values are
        reported when the frame is computed, as for a pandas frame.
    """
    import pandas

    check_columns(frame.columns, tuple(node.id for node in model.nodes), "node")
    one_case = model._rank_frame(pandas.DataFrame(index=pandas.RangeIndex(1)))
    meta = one_case.iloc[:0]
    # The model rebuilds from its validated file contents through its own class.
    handle = Handle(("model", model.id, model.version), type(model), (model.spec,), model)
    return frame.map_partitions(_rank_partition, handle, meta, meta=meta, partition_info=True)


def _rank_partition(
    partition: pandas.DataFrame,
    handle: Handle,
    meta: pandas.DataFrame,
    partition_info: dict[str, Any] | None = None,
) -> pandas.DataFrame:
    if len(partition) == 0:
        return empty_like(meta, partition)
    # Missing values may arrive as pandas.NA (boolean and string columns): the
    # frame reader takes them as unobserved, as it does None and NaN.
    try:
        return handle.get()._rank_frame(partition)
    except BayeslegError as error:
        if partition_info is not None:
            name_partition(error, partition_info["number"])
        raise
