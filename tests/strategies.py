"""Hypothesis strategies for networks, evidence and cases.

* :func:`networks` -- small random :class:`DiscreteNetwork` s, 2 to 4 states
  per variable, optionally with some zero (deterministic) table entries.
* :func:`noisy_or_networks` -- small random leaky noisy-OR networks with
  binary ``("absent", "present")`` variables, shaped like the leg model
  (roots, then layers of noisy-OR children).
* :func:`evidence` and :func:`cases` -- random observed subsets of a given
  network, with hard and, optionally, soft evidence.
* :func:`model_text` -- the text of a model file of given nodes.
* :func:`unicode_text` -- strings of any code point, lone surrogates
  included, weighted towards those that break encoders and line readers.

Tables come from a numpy generator seeded by Hypothesis, so examples shrink
by structure and seed rather than entry by entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from bayesleg.inference.network import DiscreteNetwork

__all__ = ["ODD_CHARACTERS", "cases", "evidence", "networks", "noisy_or_networks", "unicode_text"]

STATES = ("absent", "present")


def _random_table(rng: np.random.Generator, shape: tuple[int, ...], zeros: bool) -> np.ndarray:
    table = rng.gamma(0.7, size=shape) + 1e-3
    if zeros:
        # Knock out some entries, keeping at least one per column.
        mask = rng.random(shape) < 0.25
        keep = rng.integers(shape[0], size=shape[1:])
        np.put_along_axis(mask, keep[None, ...], False, axis=0)
        table = np.where(mask, 0.0, table)
    return table / table.sum(axis=0, keepdims=True)


@st.composite
def networks(
    draw: st.DrawFn,
    *,
    min_variables: int = 1,
    max_variables: int = 6,
    max_parents: int = 3,
    zeros: bool = False,
) -> DiscreteNetwork:
    """Draw a random network in topological order ``v0, v1, ...``.

    Parameters
    ----------
    min_variables, max_variables : int
        Bounds on the number of variables.
    max_parents : int, default 3
        Most parents of any variable.
    zeros : bool, default False
        Whether some table entries may be zero.
    """
    n = draw(st.integers(min_variables, max_variables))
    names = [f"v{i}" for i in range(n)]
    cards = [draw(st.integers(2, 4)) for _ in range(n)]
    parents: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(names):
        chosen = draw(
            st.lists(st.integers(0, i - 1), max_size=min(i, max_parents), unique=True)
            if i
            else st.just([])
        )
        parents[name] = tuple(names[j] for j in sorted(chosen))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    states = {
        name: tuple(f"s{k}" for k in range(card)) for name, card in zip(names, cards, strict=True)
    }
    cpts = {
        name: _random_table(
            rng,
            (cards[i], *(cards[names.index(p)] for p in parents[name])),
            zeros and draw(st.booleans()),
        )
        for i, name in enumerate(names)
    }
    return DiscreteNetwork(variables=tuple(names), states=states, parents=parents, cpts=cpts)


def noisy_or_table(leak: float, weights: list[float]) -> np.ndarray:
    """Return a leaky noisy-OR table (Díez's parameterisation), child axis first."""
    k = len(weights)
    absent = np.full((2,) * k, 1.0 - leak)
    for axis, weight in enumerate(weights):
        factor = np.array([1.0, 1.0 - weight]).reshape((1,) * axis + (2,) + (1,) * (k - axis - 1))
        absent = absent * factor
    return np.stack([absent, 1.0 - absent])


@st.composite
def noisy_or_networks(
    draw: st.DrawFn,
    *,
    roots: tuple[int, int] = (1, 4),
    layers: tuple[int, int] = (1, 2),
    width: tuple[int, int] = (1, 4),
    max_parents: int = 5,
) -> DiscreteNetwork:
    """Draw a random leaky noisy-OR network with binary variables.

    Roots ``r0, r1, ...`` have random priors; each layer's nodes are noisy-ORs
    of 1 to ``max_parents`` nodes from the roots and earlier layers.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    names = [f"r{i}" for i in range(draw(st.integers(*roots)))]
    parents: dict[str, tuple[str, ...]] = {name: () for name in names}
    cpts = {}
    for name in names:
        prior = rng.uniform(0.05, 0.6)
        cpts[name] = np.array([1.0 - prior, prior])
    for layer in range(draw(st.integers(*layers))):
        for i in range(draw(st.integers(*width))):
            name = f"n{layer}_{i}"
            pool = list(names)
            k = draw(st.integers(1, min(max_parents, len(pool))))
            chosen = sorted(rng.choice(len(pool), size=k, replace=False))
            parents[name] = tuple(pool[j] for j in chosen)
            leak = draw(st.sampled_from([0.0, 0.01, 0.05, 0.2]))
            weights = [float(w) for w in rng.uniform(0.05, 0.95, size=k)]
            cpts[name] = noisy_or_table(leak, weights)
            names.append(name)
    return DiscreteNetwork(
        variables=tuple(names),
        states={name: STATES for name in names},
        parents=parents,
        cpts=cpts,
    )


@st.composite
def evidence(draw: st.DrawFn, network: DiscreteNetwork, *, soft: bool = True) -> dict[str, Any]:
    """Draw one case: a random subset of variables, each with a state or soft evidence.

    Soft evidence is a ``{state: weight}`` dict with at least one positive
    weight; states left out weigh zero.
    """
    observed = draw(st.lists(st.sampled_from(network.variables), unique=True))
    case: dict[str, Any] = {}
    for name in observed:
        states = network.states[name]
        if soft and draw(st.booleans()):
            weights = draw(
                st.lists(
                    st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False),
                    min_size=len(states),
                    max_size=len(states),
                ).filter(lambda w: max(w) > 1e-3)
            )
            case[name] = {
                state: weight
                for state, weight in zip(states, weights, strict=True)
                if weight > 0 or draw(st.booleans())
            }
        else:
            case[name] = draw(st.sampled_from(states))
    return case


def cases(
    network: DiscreteNetwork, *, soft: bool = True, min_size: int = 1, max_size: int = 6
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Draw a batch of cases for ``network`` (see :func:`evidence`)."""
    return st.lists(evidence(network, soft=soft), min_size=min_size, max_size=max_size)


#: Characters that trip up encoders, JSON and line readers: lone surrogates (high,
#: low, at the ends of their ranges), NUL, line and paragraph separators and NEL,
#: a byte-order mark, a right-to-left override, a combining accent, a
#: noncharacter, the replacement character and one beyond the BMP.
ODD_CHARACTERS = (
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\x00",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u202e",
    "\u0301",
    "\uffff",
    "\ufffd",
    "\U0001f9b5",
    "\r",
    "\n",
)


def unicode_text(*, max_size: int = 20) -> st.SearchStrategy[str]:
    """Draw strings of any code point, lone surrogates included, often :data:`ODD_CHARACTERS`."""
    alphabet = st.sampled_from(ODD_CHARACTERS) | st.characters(exclude_categories=())
    # A list joined, not st.text: st.text of this alphabet draws no surrogate at all.
    return st.lists(alphabet, max_size=max_size).map("".join)


_SOURCE = "source = '001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"


def _number(p: float | str) -> str:
    return f'{{ p = {p}, verbal = "fifty-fifty", note = "a test value", {_SOURCE} }}'


def model_text(
    factors: list[str],
    conditions: list[tuple[str, list[str]]],
    symptoms: list[tuple[str, list[str]]],
    *,
    p: float | str = 0.5,
) -> str:
    """Return a model file with these nodes, every number ``p``.

    ``conditions`` and ``symptoms`` list each node's id and its parents' ids,
    in file order.
    """
    lines = ['[model]\nid = "m"\ntitle = "M"\nparameterisation = "diez"\n']
    for factor in factors:
        lines.append(f'[[factor]]\nid = "{factor}"\nlabel = "F"\nprior = {_number(p)}\n')
    for kind, nodes in (("condition", conditions), ("symptom", symptoms)):
        for node, parents in nodes:
            care = (
                f'care = "self_care"\nadvice = {{ text = "Rest.", {_SOURCE} }}\n'
                if kind == "condition"
                else ""
            )
            lines.append(f'[[{kind}]]\nid = "{node}"\nlabel = "N"\n{care}leak = {_number(p)}\n')
            if parents:
                weights = "".join(f"{parent} = {_number(p)}\n" for parent in parents)
                lines.append(f"[{kind}.parents]\n{weights}")
    lines.append(f"[triage]\ncondition_threshold = {_number(0.2)}\n")
    return "".join(lines)
