"""Every hand-set number of a model file, with the range it is varied over.

See :mod:`bayesleg.research.sensitivity` for the rule that sets a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bayesleg.knowledge.modelfile import ANCHORS, ModelSpec, Parameter

__all__ = ["ParameterRange", "parameter_ranges"]

_SCALE = sorted(ANCHORS.values())


@dataclass(frozen=True)
class ParameterRange:
    """One hand-set number and the range it is varied over.

    ``name`` is ``node.field`` (``field`` as :meth:`NodeSpec.parameters
    <bayesleg.knowledge.modelfile.NodeSpec.parameters>` names it: ``prior``, ``leak``,
    ``parents.KEY`` for a term or ``prevented_by.FACTOR`` for a preventer);
    ``basis`` says where the range came from:
    ``"model file"``, ``"verbal scale"`` or ``"model file and verbal scale"``
    (one end each).
    """

    node: str
    field: str
    p: float
    verbal: str
    low: float
    high: float
    basis: str

    @property
    def name(self) -> str:
        """``node.field``, e.g. ``"glycogen_depletion.parents.long_session+fasted"``."""
        return f"{self.node}.{self.field}"

    def to_dict(self) -> dict[str, Any]:
        """Return the range as a JSON-serialisable dict."""
        return {
            "name": self.name,
            "node": self.node,
            "field": self.field,
            "p": self.p,
            "verbal": self.verbal,
            "low": self.low,
            "high": self.high,
            "basis": self.basis,
        }


def parameter_ranges(spec: ModelSpec) -> tuple[ParameterRange, ...]:
    """Return every hand-set number of the model with its plausible range.

    Parameters
    ----------
    spec : ModelSpec
        The validated model file (``model.spec``).

    Returns
    -------
    tuple of ParameterRange
        In file order: node by node, each node's prior or leak, then its
        terms' weights, then its preventers'.  See the module docstring for
        the rule.

    Examples
    --------
    >>> import bayesleg
    >>> from bayesleg.research.sensitivity import parameter_ranges
    >>> ranges = parameter_ranges(bayesleg.load().spec)
    >>> first = ranges[0]
    >>> first.name, first.verbal, first.low, first.high
    ('long_session.prior', 'uncertain', 0.15, 0.5)
    """
    return tuple(
        _range(node.id, field, parameter)
        for node in spec.nodes
        for field, parameter in node.parameters()
    )


def _range(node: str, field: str, parameter: Parameter) -> ParameterRange:
    p = parameter.p
    anchor = ANCHORS[parameter.verbal]
    position = _SCALE.index(anchor)
    below = min(_SCALE[max(position - 1, 0)], p)
    above = max(_SCALE[min(position + 1, len(_SCALE) - 1)], p)
    if below == 0.0 and p > 0.0:
        below = p / 2
    if above == 1.0 and p < 1.0:
        above = (1.0 + p) / 2
    low = parameter.low if parameter.low is not None else below
    high = parameter.high if parameter.high is not None else above
    explicit = (parameter.low is not None) + (parameter.high is not None)
    basis = ("verbal scale", "model file and verbal scale", "model file")[explicit]
    return ParameterRange(node, field, p, parameter.verbal, low, high, basis)
