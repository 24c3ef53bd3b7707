"""Model files with hand-set numbers moved: for comparing against the model rebuilt."""

from __future__ import annotations

import dataclasses


def _moved(parameter, value):
    return dataclasses.replace(parameter, p=float(value), low=None, high=None)


def with_value(spec, name, value):
    """Return the model file ``spec`` with the number ``node.field`` set to ``value``."""
    node_id, field = name.split(".", 1)
    nodes = []
    for node in spec.nodes:
        if node.id == node_id and field in ("prior", "leak"):
            node = dataclasses.replace(node, **{field: _moved(getattr(node, field), value)})
        elif node.id == node_id and field.startswith("parents."):
            key = field.removeprefix("parents.")
            terms = tuple((k, _moved(w, value) if k == key else w) for k, w in node.parents)
            node = dataclasses.replace(node, parents=terms)
        elif node.id == node_id:
            factor = field.removeprefix("prevented_by.")
            inhibitors = tuple(
                dataclasses.replace(i, parameter=_moved(i.parameter, value))
                if i.factor == factor
                else i
                for i in node.inhibitors
            )
            node = dataclasses.replace(node, inhibitors=inhibitors)
        nodes.append(node)
    return dataclasses.replace(spec, nodes=tuple(nodes))


def with_values(spec, values):
    """Return ``spec`` with every number replaced, in parameter_ranges order."""
    numbers = iter(values)
    nodes = []
    for node in spec.nodes:
        changes = {}
        if node.prior is not None:
            changes["prior"] = _moved(node.prior, next(numbers))
        if node.leak is not None:
            changes["leak"] = _moved(node.leak, next(numbers))
        changes["parents"] = tuple((key, _moved(w, next(numbers))) for key, w in node.parents)
        changes["inhibitors"] = tuple(
            dataclasses.replace(i, parameter=_moved(i.parameter, next(numbers)))
            for i in node.inhibitors
        )
        nodes.append(dataclasses.replace(node, **changes))
    assert next(numbers, None) is None
    return dataclasses.replace(spec, nodes=tuple(nodes))
