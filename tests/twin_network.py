"""Brute force over the exogenous noise of a noisy-OR structural model.

The reference for the counterfactual scores, explanations and questions: it
shares no code with bayesleg.  A network is written out as a model file for
bayesleg to load, and enumerated here as a structural causal model:

* a factor ``F`` is its own noise, ``F ~ Bernoulli(prior)``;
* a condition or symptom ``Y`` is ``L_Y or OR_i (X_i and U_iY)`` with
  ``L_Y ~ Bernoulli(leak)`` and ``U_iY ~ Bernoulli(weight_i)``.

Every assignment of every noise variable is a world with its probability;
the factual world and any counterfactual world are computed from the same
noise, which is the twin network by definition.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

SOURCE = "'001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"


@dataclass
class Node:
    id: str
    kind: str  # "factor", "condition" or "symptom"
    p: float  # prior of a factor, leak of the others
    parents: dict[str, float] = field(default_factory=dict)


def random_network(
    rng: np.random.Generator, *, chain: bool = False, max_noise: int = 15
) -> list[Node]:
    """Draw a small noisy-OR network: factors, conditions (with factor and
    condition parents), symptoms (with condition and factor parents).
    Weights of exactly one occur, and the noise stays small enough to
    enumerate.  With ``chain``, condition ``c1`` is a child of ``c0`` and
    symptom ``s0`` a child of ``c1``: a chain c0 -> c1 -> s0."""
    values = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, round(float(rng.uniform(0.05, 0.95)), 3)]
    while True:
        nodes: list[Node] = []
        factors = [f"f{i}" for i in range(rng.integers(1, 3))]
        conditions = [f"c{i}" for i in range(rng.integers(2, 4))]
        symptoms = [f"s{i}" for i in range(rng.integers(2, 4))]
        for factor in factors:
            nodes.append(Node(factor, "factor", float(rng.choice(values[:5]))))
        for index, condition in enumerate(conditions):
            pool = factors + conditions[:index]
            chosen = rng.choice(pool, size=rng.integers(0, min(2, len(pool)) + 1), replace=False)
            parents = {str(p): float(rng.choice(values)) for p in chosen}
            nodes.append(Node(condition, "condition", float(rng.choice([0.05, 0.1, 0.3])), parents))
        for symptom in symptoms:
            pool = conditions + factors
            chosen = rng.choice(pool, size=rng.integers(1, 4), replace=False)
            parents = {str(p): float(rng.choice(values)) for p in chosen}
            nodes.append(Node(symptom, "symptom", float(rng.choice([0.0, 0.05, 0.2])), parents))
        if chain:
            by_id = {node.id: node for node in nodes}
            by_id["c1"].parents.setdefault("c0", float(rng.choice(values)))
            by_id["s0"].parents.setdefault("c1", float(rng.choice(values)))
        if noise_count(nodes) <= max_noise:
            return nodes


def noise_count(nodes: list[Node]) -> int:
    return sum(1 if node.kind == "factor" else 1 + len(node.parents) for node in nodes)


def model_text(nodes: list[Node]) -> str:
    """Return the network as a bayesleg model file."""

    def number(p: float) -> str:
        return f'{{ p = {p}, verbal = "fifty-fifty", note = "random", source = {SOURCE} }}'

    lines = ['[model]\nid = "random"\ntitle = "Random"\nparameterisation = "diez"\n']
    for node in nodes:
        lines.append(f'[[{node.kind}]]\nid = "{node.id}"\nlabel = "Node {node.id}"')
        if node.kind == "factor":
            lines.append(f"prior = {number(node.p)}\n")
            continue
        if node.kind == "condition":
            lines.append(f'care = "see_doctor"\nadvice = {{ text = "Rest.", source = {SOURCE} }}')
        lines.append(f"leak = {number(node.p)}")
        lines.extend(f"parents.{parent} = {number(w)}" for parent, w in node.parents.items())
        lines.append("")
    lines.append(f"[triage]\ncondition_threshold = {number(0.2)}\n")
    return "\n".join(lines)


class Worlds:
    """Every assignment of the noise, its probability, and the factual world."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        names: list[tuple[str, str | None]] = []  # (node, parent or None for leak/prior)
        probabilities = []
        for node in nodes:
            names.append((node.id, None))
            probabilities.append(node.p)
            for parent, weight in node.parents.items():
                names.append((node.id, parent))
                probabilities.append(weight)
        table = np.array(list(itertools.product((False, True), repeat=len(names))))
        p = np.array(probabilities)
        self.weight = np.prod(np.where(table, p, 1.0 - p), axis=1)
        self.noise = {name: table[:, i] for i, name in enumerate(names)}
        self.factual = self.world({})

    def world(self, do: dict[str, bool | str]) -> dict[str, np.ndarray]:
        """Compute every node in every noise assignment under an intervention.

        ``do`` maps a node to False/True (set it), or to ``"factual"`` (hold
        it at its factual value).
        """
        values: dict[str, np.ndarray] = {}
        for node in self.nodes:
            setting = do.get(node.id)
            if setting == "factual":
                values[node.id] = self.factual[node.id]
            elif setting is not None:
                values[node.id] = np.full(len(self.weight), bool(setting))
            else:
                on = self.noise[node.id, None].copy()
                for parent in node.parents:
                    on |= values[parent] & self.noise[node.id, parent]
                values[node.id] = on
        return values

    def mask(self, evidence: dict[str, bool]) -> np.ndarray:
        keep = np.ones(len(self.weight), dtype=bool)
        for node, value in evidence.items():
            keep &= self.factual[node] == value
        return keep

    def probability(self, evidence: dict[str, bool]) -> float:
        return float(self.weight[self.mask(evidence)].sum())

    def posterior(self, node: str, evidence: dict[str, bool]) -> float:
        keep = self.mask(evidence)
        return float(self.weight[keep & self.factual[node]].sum() / self.weight[keep].sum())

    def _expected_count(
        self, evidence: dict[str, bool], counterfactual: dict[str, np.ndarray], value: bool
    ) -> float:
        keep = self.mask(evidence)
        positives = [n.id for n in self.nodes if n.kind == "symptom" and evidence.get(n.id) is True]
        count = np.zeros(len(self.weight))
        for s in positives:
            count += counterfactual[s] == value
        return float(np.sum(self.weight[keep] * count[keep]) / self.weight[keep].sum())

    def expected_disablement(self, evidence: dict[str, bool], condition: str) -> float:
        """E[# positive findings that are off in the world do(condition = absent) | e]."""
        return self._expected_count(evidence, self.world({condition: False}), False)

    def expected_sufficiency(self, evidence: dict[str, bool], condition: str) -> float:
        """E[# positive findings still on when every other condition is switched off | e]."""
        do: dict[str, bool | str] = {
            n.id: False for n in self.nodes if n.kind == "condition" and n.id != condition
        }
        do[condition] = "factual"
        return self._expected_count(evidence, self.world(do), True)
