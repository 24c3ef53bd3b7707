"""The exceptions bayesleg raises.

Every error derives from :class:`BayeslegError` and also from the built-in
exception that fits it, so callers may catch either.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

__all__ = [
    "BayeslegError",
    "ConditionColumnWarning",
    "FhirResourceError",
    "ImpossibleEvidenceError",
    "InvalidArgumentError",
    "InvalidEvidenceError",
    "InvalidRequestError",
    "InvalidStateError",
    "ModelFileError",
    "NetworkTooLargeError",
    "UnknownNodeError",
    "UnsupportedSourceError",
    "VignetteFileError",
    "close_matches",
    "json_quoted",
    "name_case",
    "quoted",
]

#: Longest text compared for a did-you-mean, and quoted whole in a message.  No id
#: of a model comes near it; a longer one is a mistake or an attack, and comparing
#: it against every id would cost time for nothing.
MAX_SUGGESTED_LENGTH = 200


def close_matches(word: str, known: Iterable[str], *, n: int = 3) -> tuple[str, ...]:
    """Return up to ``n`` of ``known`` close to ``word``, best first, for a did-you-mean.

    Parameters
    ----------
    word : str
        What was given.
    known : iterable of str
        What was expected.
    n : int, default 3
        Most suggestions returned.

    Returns
    -------
    tuple of str
        Empty if none is close, or if ``word`` is longer than
        :data:`MAX_SUGGESTED_LENGTH` characters, which is not compared at all.

    Examples
    --------
    >>> close_matches("numbnes", ["numbness", "weakness"])
    ('numbness',)
    >>> close_matches("numbnes" * 100, ["numbness", "weakness"])
    ()
    """
    if len(word) > MAX_SUGGESTED_LENGTH:
        return ()
    return tuple(difflib.get_close_matches(word, list(known), n=n, cutoff=0.6))


def quoted(value: object) -> str:
    """Return ``repr(value)`` for a message, its start only if it is over-long.

    Examples
    --------
    >>> quoted("fever")
    "'fever'"
    >>> quoted("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (1000 characters)"
    """
    if isinstance(value, str) and len(value) > MAX_SUGGESTED_LENGTH:
        return f"{value[:40]!r}... ({len(value)} characters)"
    try:
        return repr(value)
    except ValueError:  # an integer beyond Python's digit limit for conversion to text
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else "a value"


def json_quoted(value: object) -> str:
    """Name a value read from JSON, for a message, in JSON's words.

    ``null``, ``true``, ``false`` and numbers as JSON writes them; a string as
    :func:`quoted` gives it; an object or an array by its kind.

    Examples
    --------
    >>> [json_quoted(v) for v in (None, True, 1, 2.5, "yes", [1], {})]
    ['null', 'true', '1', '2.5', "'yes'", 'an array', 'an object']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if abs(value) < 1e20 else "a number too large"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class BayeslegError(Exception):
    """Root of every error raised by bayesleg.

    ``case`` is the position of the case at fault when the error is about one
    case of a batch (see :func:`name_case`), else None.
    """

    case: int | None = None


class ConditionColumnWarning(UserWarning):
    """A frame of cases observes a condition, which is usually what was to be found.

    A cohort drawn by ``Model.simulate`` holds every node, conditions
    included; scoring it as it is ranks conditions that are already known.
    """


class UnknownNodeError(BayeslegError, KeyError):
    """An evidence or query id that the model does not have.

    Parameters
    ----------
    node : str
        The id given.
    known : iterable of str
        The ids the model has, used for did-you-mean suggestions.
    what : str, default "node"
        What kind of id was expected ("node", "condition", ...).
    """

    def __init__(self, node: str, known: Iterable[str], *, what: str = "node") -> None:
        self.node = node
        self.suggestions = close_matches(node, known) if isinstance(node, str) else ()
        hint = (
            f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        )
        self.message = f"unknown {what} {quoted(node)}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class InvalidStateError(BayeslegError, ValueError):
    """A value that is not one of a node's states."""


class InvalidEvidenceError(BayeslegError, TypeError):
    """Evidence of the wrong type, such as a list where a mapping is expected."""


class ImpossibleEvidenceError(BayeslegError, ValueError):
    """Evidence whose probability under the model is zero.

    ``observed`` names the observed nodes that together are impossible, where
    the engine found them, else it is empty.  ``evidence`` is the impossible
    case's normalised evidence (id to ``"present"`` or ``"absent"``) where the
    message shows it, so that a front end can show it in its own words; the
    message then ends with ``": "`` and the evidence as a Python dict.
    """

    observed: tuple[str, ...] = ()
    evidence: Mapping[str, str] | None = None


class InvalidArgumentError(BayeslegError, ValueError):
    """An option outside its allowed values, such as an unknown ranking or ``k < 1``."""


class UnsupportedSourceError(BayeslegError, TypeError):
    """Something that cannot be compiled into an inference engine."""


class NetworkTooLargeError(BayeslegError, MemoryError):
    """A network whose tables, or compiled tables, would exceed the memory limit.

    The message names the largest table or clique and its size in bytes.  It
    is raised before the tables are allocated: from the sizes a file
    declares, or as triangulation forms the cliques.
    """


class ModelFileError(BayeslegError, ValueError):
    """A model file that cannot be read or fails validation.

    The message names the file, the node and the field at fault.
    """

    def __init__(
        self, path: object, message: str, *, node: str | None = None, field: str | None = None
    ) -> None:
        self.path = str(path)
        self.node = node
        self.field = field
        where = self.path
        if node is not None:
            where += f": node {node!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class InvalidRequestError(BayeslegError, ValueError):
    """A request that breaks the contract: not JSON, not an object, a missing or unknown field."""


class FhirResourceError(BayeslegError, ValueError):
    """A FHIR resource that cannot be read as evidence.

    The message names the resource (its type, id or place in a Bundle), the
    code or value at fault and what was expected.  ``resource`` holds that
    name; ``code`` the code at fault, or None.
    """

    def __init__(self, resource: str, message: str, *, code: str | None = None) -> None:
        self.resource = resource
        self.code = code
        super().__init__(f"{resource}: {message}")


class VignetteFileError(BayeslegError, ValueError):
    """A vignette that cannot be read or does not fit the model.

    The message names the file (or the case's position), the line and the
    field at fault.
    """

    def __init__(self, where: str, message: str, *, field: str | None = None) -> None:
        self.where = where
        self.field = field
        prefix = f"{where}, field {field!r}" if field else where
        super().__init__(f"{prefix}: {message}")


def name_case(error: BayeslegError, case: int) -> None:
    """Prefix ``error``'s message with ``case N:`` and set its ``case`` attribute.

    For errors about one case of a batch, so the caller learns which case it was.
    """
    error.case = case
    prefix = f"case {case}: "
    if isinstance(error, UnknownNodeError):
        error.message = prefix + error.message
    if error.args:
        error.args = (prefix + str(error.args[0]), *error.args[1:])
