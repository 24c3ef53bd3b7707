"""Write a model's network in the file formats other tools read.

**XDSL** (GeNIe, SMILE) is written here (:mod:`bayesleg.research._xdsl`):
each leaky noisy-OR node whose terms are single parents and which no
preventer blocks becomes GeNIe's own ``<noisymax>`` element (SMILE's native
parameterisation is Díez's, the model file's), with its states listed
``present`` first, as SMILE wants a noisy-MAX node's distinguished state last;
every other node -- a factor, a node with a joint term ``"a+b"`` or a
preventer, which noisy-MAX cannot express -- is a full ``<cpt>`` table.
``noisy_max=False`` writes every node as a table, for readers that know only
``<cpt>`` (pgmpy's, pyAgrum's).  Nodes are placed on GeNIe's canvas in the
three columns of :func:`bayesleg.research.layout.layered_order`, so the same
model gives the same bytes every time.

Every other format goes through pgmpy's ``readwrite`` writers, with three of their
quirks handled here:

* **NET** (Hugin; GeNIe, pyAgrum): pgmpy's ``NETWriter`` rounds every
  probability to 8 decimals; this module writes each one exactly, as the
  shortest decimal that reads back as the same double.
* **UAI** tables: the format lists each table in the order of its function's
  scope, the child last and varying fastest.  pgmpy 1.1's ``UAIWriter``
  writes them child-first instead (and its ``UAIReader`` reads them so), which
  other UAI tools misread; this module writes the standard layout.  To read
  such a file with pgmpy, re-lay each table (``tests/test_export.py`` shows
  how); pyAgrum reads it as it is.
* **UAI** has no variable or state names, only indices: ``UAIWriter`` numbers
  the variables by (number of states, as text) and then name, and pgmpy's
  ``UAIReader`` calls them ``var_0``, ``var_1``, ... with states ``0``, ``1``,
  ....  :class:`Export` records that mapping and :meth:`Export.restore` puts
  the names back; ``bayesleg export`` writes it beside the file as
  ``FILE.names.json``.
* **BIF**: the network gets the model's id as its name (pgmpy would write
  ``unknown``).

A path ending in ``.gz`` (``leg.bif.gz``) is written gzip-compressed, in the
format the suffix before it names; :func:`bayesleg.inference.formats.read_network`
reads such a file back.  A format given explicitly must agree with the suffix,
so a ``.uai`` file never holds BIF.

XDSL, BIF, XMLBIF and UAI write each number as the shortest decimal that
reads back as the same double; after the fix above, so does NET.  Reading any
of them back gives the model's posteriors to 1e-15 or so
(``tests/test_export.py`` checks 1e-9, ``tests/test_export_xdsl.py`` 1e-12).
Other readers may be less exact: pyAgrum parses BIF and NET numbers in single
precision.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import InvalidArgumentError, UnsupportedSourceError
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge._files import check_file_name, replacing, write_text
from bayesleg.knowledge.modelfile import ModelSpec
from bayesleg.research._xdsl import xdsl_document

if TYPE_CHECKING:
    from pgmpy.models import DiscreteBayesianNetwork

__all__ = [
    "FORMATS",
    "Export",
    "check_format",
    "export_network",
    "format_for_path",
    "uai_order",
    "write_uai_names",
]

#: Export formats and the file suffix each uses.
FORMATS: Mapping[str, str] = MappingProxyType(
    {"bif": ".bif", "xmlbif": ".xmlbif", "xdsl": ".xdsl", "net": ".net", "uai": ".uai"}
)


@dataclass(frozen=True)
class Export:
    """What :func:`export_network` wrote, and how its names map back.

    Attributes
    ----------
    path : pathlib.Path
        The file written.
    format : str
        One of :data:`FORMATS`.
    variables : mapping of str to str
        For each variable as a reader names it (pgmpy's ``UAIReader`` gives
        ``var_0``, ``var_1``, ...; every other format keeps the names), the
        network's variable.
    states : mapping of str to tuple of str
        For each of the network's variables, its states in the file's order
        (an XDSL noisy-MAX node lists ``present`` first).  A UAI reader names
        them ``0``, ``1``, ...
    noisy_max : tuple of str
        The nodes written as XDSL ``<noisymax>`` elements; empty for every
        other format.
    """

    path: Path
    format: str
    variables: Mapping[str, str]
    states: Mapping[str, tuple[str, ...]]
    noisy_max: tuple[str, ...] = ()

    def restore(self, network: DiscreteNetwork) -> DiscreteNetwork:
        """Return a network read back from the file, with the original names.

        Parameters
        ----------
        network : DiscreteNetwork
            The file as read back, for instance
            ``bayesleg.inference.formats.from_pgmpy(UAIReader(path).get_model())``.

        Returns
        -------
        DiscreteNetwork
            The same tables with variables and states named as exported.

        Raises
        ------
        UnsupportedSourceError
            If ``network`` does not have the variables this export wrote.
        """
        if set(network.variables) != set(self.variables):
            raise UnsupportedSourceError(
                f"the network read back has variables {sorted(network.variables)[:3]}..., "
                f"not the {len(self.variables)} this export wrote"
            )
        rename = dict(self.variables)
        return DiscreteNetwork(
            variables=tuple(rename[v] for v in network.variables),
            states={rename[v]: self.states[rename[v]] for v in network.variables},
            parents={
                rename[v]: tuple(rename[p] for p in network.parents[v]) for v in network.variables
            },
            cpts={rename[v]: network.cpts[v] for v in network.variables},
        )


def format_for_path(path: str | os.PathLike[str]) -> str:
    """Return the export format a file's suffix names, looking past a final ``.gz``.

    Raises
    ------
    InvalidArgumentError
        If the suffix is not one of :data:`FORMATS`.

    Examples
    --------
    >>> format_for_path("leg.xdsl"), format_for_path("leg.BIF.gz")
    ('xdsl', 'bif')
    """
    named = _format_named(path)
    if named is None:
        raise InvalidArgumentError(
            f"cannot tell the format of {str(path)!r} from its suffix; expected one of "
            f"{', '.join(FORMATS.values())}, optionally followed by .gz, or an explicit format"
        )
    return named


def _compressed(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ".gz"


def _format_named(path: str | os.PathLike[str]) -> str | None:
    """The format the file's suffix (before any ``.gz``) names, if any."""
    name = Path(path)
    if _compressed(name):
        name = name.with_suffix("")
    suffix = name.suffix.lower()
    return next((format for format, known in FORMATS.items() if suffix == known), None)


def export_network(
    source: Any,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    noisy_max: bool = True,
) -> Export:
    """Write a network to a file in another tool's format.

    Parameters
    ----------
    source : Model or DiscreteNetwork
        A bayesleg model (its ``discrete_network`` is written) or a network.
    path : str or os.PathLike
        The file to write, whole or not at all (a temporary file beside
        it, then a rename); an existing file is replaced.  Ending in ``.gz``,
        it is written gzip-compressed.
    format : {"bif", "xmlbif", "xdsl", "net", "uai"}, optional
        By default, from the suffix of ``path`` (before any ``.gz``).
    noisy_max : bool, default True
        XDSL only: write each of a model's plain leaky noisy-OR nodes as
        GeNIe's ``<noisymax>``; False writes every node as a ``<cpt>`` table.
        A bare network, and every other format, is all tables.

    Returns
    -------
    Export
        The file written and how a reader's names map back to the network's.

    Raises
    ------
    InvalidArgumentError
        If the format is unknown, not given and the suffix names none, or
        given and the suffix names another.
    UnsupportedSourceError
        If ``source`` is neither a model nor a network.

    Examples
    --------
    >>> import tempfile, bayesleg
    >>> model = bayesleg.load("tests/fixtures/tiny.toml")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = export_network(model, f"{folder}/tiny.uai")
    >>> dict(written.variables)
    {'var_0': 'c', 'var_1': 'd', 'var_2': 'f', 'var_3': 's', 'var_4': 't'}
    """
    network, name, spec = _network_of(source)
    if format is None:
        format = format_for_path(path)
    if format not in FORMATS:
        raise InvalidArgumentError(
            f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}"
        )
    check_format(path, format)
    path = check_file_name(path)
    states: Mapping[str, tuple[str, ...]] = {v: tuple(network.states[v]) for v in network.variables}
    written_noisy: tuple[str, ...] = ()
    writer: Any
    if format == "xdsl":
        document = xdsl_document(network, name, spec, noisy_max=noisy_max)
        writer = _BytesWriter(document.data)
        states, written_noisy = document.states, document.noisy_max
    else:
        writer = _WRITERS[format](_pgmpy_network(network, name), name)
    with replacing(path) as temporary:
        if _compressed(path):
            _write_compressed(writer, temporary, path.with_suffix("").name)
        else:
            writer.write(str(temporary))
    if format == "uai":
        order = uai_order(network)
        variables = {f"var_{i}": variable for i, variable in enumerate(order)}
    else:
        variables = {variable: variable for variable in network.variables}
    return Export(
        path=path,
        format=format,
        variables=MappingProxyType(variables),
        states=MappingProxyType(dict(states)),
        noisy_max=written_noisy,
    )


def check_format(path: str | os.PathLike[str], format: str) -> None:
    """Refuse a format that contradicts the file's suffix, such as BIF into ``leg.uai``.

    A suffix that names no export format (``.txt``) contradicts none.

    Raises
    ------
    InvalidArgumentError
        Naming the format given and the one the suffix names.

    Examples
    --------
    >>> check_format("leg.txt", "bif")
    >>> check_format("leg.uai", "bif")
    Traceback (most recent call last):
    ...
    bayesleg.errors.InvalidArgumentError: cannot write bif into 'leg.uai': its suffix names uai; name the file leg.bif or ask for format uai
    """  # noqa: E501
    named = _format_named(path)
    if named is not None and named != format:
        right = Path(path).with_suffix("")
        if _compressed(path):
            right = right.with_suffix(FORMATS[format] + ".gz")
        else:
            right = right.with_suffix(FORMATS[format])
        raise InvalidArgumentError(
            f"cannot write {format} into {str(path)!r}: its suffix names {named}; "
            f"name the file {right.name} or ask for format {named}"
        )


def _write_compressed(writer: Any, temporary: Path, inner_name: str) -> None:
    """Write ``writer``'s file, gzip-compressed, to ``temporary``.

    pgmpy's writers write to a named file; that file goes to a private folder
    and is compressed from there.  The gzip header keeps no time stamp, so the
    same network gives the same bytes.
    """
    with tempfile.TemporaryDirectory(prefix="bayesleg-export-") as folder:
        plain = Path(folder) / inner_name
        writer.write(str(plain))
        with (
            open(plain, "rb") as source,
            open(temporary, "wb") as target,
            gzip.GzipFile(filename=inner_name, mode="wb", fileobj=target, mtime=0) as packed,
        ):
            shutil.copyfileobj(source, packed)


def uai_order(network: DiscreteNetwork) -> tuple[str, ...]:
    """Return the network's variables in the order pgmpy's ``UAIWriter`` numbers them.

    ``UAIWriter`` sorts by the number of states *as text*, then by name, so a
    variable with 10 states comes before one with 2.

    Examples
    --------
    >>> from bayesleg.inference.network import DiscreteNetwork
    >>> network = DiscreteNetwork(
    ...     variables=("b", "a"),
    ...     states={"b": tuple("0123456789"), "a": ("no", "yes")},
    ...     parents={"b": (), "a": ()},
    ...     cpts={"b": [0.1] * 10, "a": [0.5, 0.5]},
    ... )
    >>> uai_order(network)
    ('b', 'a')
    """
    return tuple(sorted(network.variables, key=lambda v: (str(network.cardinality(v)), v)))


def write_uai_names(export: Export, path: str | os.PathLike[str]) -> Path:
    """Write a UAI export's names as JSON: variables in index order, and their states.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    order = [export.variables[f"var_{i}"] for i in range(len(export.variables))]
    payload = {
        "file": export.path.name,
        "variables": order,
        "states": {variable: list(export.states[variable]) for variable in order},
    }
    return write_text(path, json.dumps(payload, indent=2) + "\n")


def _network_of(source: Any) -> tuple[DiscreteNetwork, str, ModelSpec | None]:
    if isinstance(source, DiscreteNetwork):
        return source, "network", None
    inner = getattr(source, "discrete_network", None)
    if isinstance(inner, DiscreteNetwork):
        spec = getattr(source, "spec", None)
        if not isinstance(spec, ModelSpec):
            spec = None
        return inner, str(getattr(source, "id", "network")), spec
    raise UnsupportedSourceError(
        f"cannot export a {type(source).__name__}; expected a bayesleg Model or a DiscreteNetwork"
    )


def _pgmpy_network(network: DiscreteNetwork, name: str) -> DiscreteBayesianNetwork:
    from bayesleg.inference.formats import to_pgmpy

    converted = to_pgmpy(network)  # a fresh copy: naming it touches no shared object
    converted.name = name
    return converted


# Each returns a pgmpy writer; its ``write(filename)`` writes the file.


def _bif(network: DiscreteBayesianNetwork, name: str) -> Any:
    from pgmpy.readwrite import BIFWriter

    return BIFWriter(network)


def _xmlbif(network: DiscreteBayesianNetwork, name: str) -> Any:
    from pgmpy.readwrite import XMLBIFWriter

    return XMLBIFWriter(network)


class _BytesWriter:
    """Writes bytes made beforehand, as pgmpy's writers write their files."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def write(self, filename: str) -> None:
        Path(filename).write_bytes(self.data)


def _uai(network: DiscreteBayesianNetwork, name: str) -> Any:
    from pgmpy.readwrite import UAIWriter

    class _StandardUAIWriter(UAIWriter):
        def get_tables(self) -> list[list[str]]:
            # pgmpy writes each table child-first; the UAI format wants it in
            # the order of the function's scope, which UAIWriter.get_functions
            # gives as the parents reversed and then the child, so the child
            # varies fastest.
            tables = []
            for cpd in sorted(self.model.get_cpds(), key=lambda cpd: cpd.variable):
                values = np.asarray(cpd.values, dtype=np.float64)
                parents = values.ndim - 1
                scoped = np.transpose(values, (*range(parents, 0, -1), 0))
                tables.append([repr(float(value)) for value in scoped.ravel()])
            return tables

    return _StandardUAIWriter(network)


def _net(network: DiscreteBayesianNetwork, name: str) -> Any:
    from pgmpy.readwrite import NETWriter

    class _ExactNETWriter(NETWriter):
        def net_cpd(self, var_name: str) -> str:
            # pgmpy rounds to 8 decimals here; repr keeps every double exact.
            table = np.moveaxis(np.asarray(self.tables[var_name], dtype=np.float64), 0, -1)
            text = np.array2string(
                table,
                threshold=sys.maxsize,
                max_line_width=sys.maxsize,
                separator=" ",
                formatter={"float_kind": lambda value: repr(float(value))},
            )
            return text.replace("[", "(").replace("]", ")")

    return _ExactNETWriter(network)


_WRITERS = {"bif": _bif, "xmlbif": _xmlbif, "net": _net, "uai": _uai}
