"""Brute force over the exogenous noise of a noisy-OR structural model.

The reference for the counterfactual scores, explanations and questions: it
shares no code with bayesleg.  A network is written out as a model file for
bayesleg to load (or read from a loaded model file's numbers), and enumerated
here as a structural causal model:

* a factor ``F`` is its own noise, ``F ~ Bernoulli(prior)``;
* a condition or symptom ``Y`` is ``(L_Y or OR_t (all parents of t and U_tY))
  and not OR_j (factor j in its state and V_jY)`` with ``L_Y ~
  Bernoulli(leak)``, ``U_tY ~ Bernoulli(weight_t)`` for each term ``t`` (one
  parent, or a joint cause ``a+b``) and ``V_jY ~ Bernoulli(q_j)`` for each
  preventer ``j``; a preventer of one term ``t`` (``term_of``) blocks that
  term's clause alone instead of ``Y``.

Every assignment of every noise variable is a world with its probability;
the factual world and any counterfactual world are computed from the same
noise, which is the twin network by definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SOURCE = "'001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"


@dataclass
class Node:
    id: str
    kind: str  # "factor", "condition" or "symptom"
    p: float  # prior of a factor, leak of the others
    parents: dict[str, float] = field(default_factory=dict)  # term ("a" or "a+b") -> weight
    prevented_by: dict[str, tuple[str, float]] = field(default_factory=dict)  # factor -> (when, q)
    term_of: dict[str, str] = field(default_factory=dict)  # factor -> the one term it prevents


def random_network(
    rng: np.random.Generator, *, chain: bool = False, practices: bool = False, max_noise: int = 15
) -> list[Node]:
    """Draw a small noisy-OR network: factors, conditions (with factor and
    condition parents), symptoms (with condition and factor parents).
    Weights of exactly one occur, and the noise stays small enough to
    enumerate.  With ``chain``, condition ``c1`` is a child of ``c0`` and
    symptom ``s0`` a child of ``c1``: a chain c0 -> c1 -> s0.  With
    ``practices``, conditions and symptoms may have joint terms and
    conditions preventers (some of one term only); with both, ``c1`` has a
    joint term with ``c0`` and a preventer, and ``s1`` a joint term."""
    values = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, round(float(rng.uniform(0.05, 0.95)), 3)]

    def joint(pool: list[str]) -> str:
        return "+".join(sorted(str(p) for p in rng.choice(pool, size=2, replace=False)))

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
            node = Node(condition, "condition", float(rng.choice([0.05, 0.1, 0.3])), parents)
            if practices and len(pool) >= 2 and rng.random() < 0.5:
                node.parents[joint(pool)] = float(rng.choice(values))
            if practices and rng.random() < 0.6:
                when = str(rng.choice(["absent", "present"]))
                node.prevented_by[str(rng.choice(factors))] = (when, float(rng.choice(values)))
            nodes.append(node)
        for symptom in symptoms:
            pool = conditions + factors
            chosen = rng.choice(pool, size=rng.integers(1, 4), replace=False)
            parents = {str(p): float(rng.choice(values)) for p in chosen}
            if practices and rng.random() < 0.3:
                parents[joint(pool)] = float(rng.choice(values))
            nodes.append(Node(symptom, "symptom", float(rng.choice([0.0, 0.05, 0.2])), parents))
        by_id = {node.id: node for node in nodes}
        if chain:
            by_id["c1"].parents.setdefault("c0", float(rng.choice(values)))
            by_id["s0"].parents.setdefault("c1", float(rng.choice(values)))
        if chain and practices:
            by_id["c1"].parents.setdefault("c0+f0", float(rng.choice(values)))
            when = str(rng.choice(["absent", "present"]))
            by_id["c1"].prevented_by.setdefault("f0", (when, float(rng.choice(values[:5]))))
            by_id["s1"].parents.setdefault("c0+c1", float(rng.choice(values)))
        if practices:
            for node in nodes:
                free = [f for f in factors if f not in node.prevented_by]
                room = noise_count(nodes) < max_noise
                if node.kind == "condition" and node.parents and free and room:
                    factor = str(rng.choice(free))
                    when = str(rng.choice(["absent", "present"]))
                    node.prevented_by[factor] = (when, float(rng.choice(values[:5])))
                    node.term_of[factor] = str(rng.choice(sorted(node.parents)))
        if noise_count(nodes) <= max_noise:
            return nodes


def noise_count(nodes: list[Node]) -> int:
    return sum(
        1 if node.kind == "factor" else 1 + len(node.parents) + len(node.prevented_by)
        for node in nodes
    )


def nodes_from_spec(spec, keep: set[str] | None = None) -> list[Node]:
    """Return a loaded model file's nodes (those in ``keep``, by default all)."""
    nodes = []
    for node in spec.nodes:
        if keep is not None and node.id not in keep:
            continue
        p = node.prior.p if node.kind == "factor" else node.leak.p
        parents = {key: weight.p for key, weight in node.parents}
        prevented_by = {i.factor: (i.when, i.parameter.p) for i in node.inhibitors}
        term_of = {i.factor: i.term for i in node.inhibitors if i.term is not None}
        nodes.append(Node(node.id, node.kind, p, parents, prevented_by, term_of))
    return nodes


def ancestral(nodes: list[Node], ids: set[str]) -> set[str]:
    """Return ``ids`` and every node they descend from."""
    by_id = {node.id: node for node in nodes}
    found: set[str] = set()
    stack = list(ids)
    while stack:
        node = by_id[stack.pop()]
        if node.id in found:
            continue
        found.add(node.id)
        stack.extend(m for key in node.parents for m in key.split("+"))
        stack.extend(node.prevented_by)
    return found


def model_text(nodes: list[Node]) -> str:
    """Return the network as a bayesleg model file."""

    def number(p: float, extra: str = "") -> str:
        return f'{{ {extra}p = {p}, verbal = "fifty-fifty", note = "random", source = {SOURCE} }}'

    lines = ['[model]\nid = "random"\ntitle = "Random"\nparameterisation = "diez"\n']
    for node in nodes:
        lines.append(f'[[{node.kind}]]\nid = "{node.id}"\nlabel = "Node {node.id}"')
        if node.kind == "factor":
            lines.append(f"prior = {number(node.p)}\n")
            continue
        if node.kind == "condition":
            lines.append(f'care = "see_doctor"\nadvice = {{ text = "Rest.", source = {SOURCE} }}')
        lines.append(f"leak = {number(node.p)}")
        lines.extend(f'parents."{key}" = {number(w)}' for key, w in node.parents.items())
        for factor, (when, q) in node.prevented_by.items():
            when_field = f'when = "{when}", '
            if factor in node.term_of:
                when_field += f'term = "{node.term_of[factor]}", '
            lines.append(f"prevented_by.{factor} = {number(q, when_field)}")
        lines.append("")
    lines.append(f"[triage]\ncondition_threshold = {number(0.2)}\n")
    return "\n".join(lines)


class Worlds:
    """Every assignment of the noise, its probability, and the factual world."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        # (node, None for the leak or prior, a term's key, or "!factor" for a preventer)
        names: list[tuple[str, str | None]] = []
        probabilities = []
        for node in nodes:
            names.append((node.id, None))
            probabilities.append(node.p)
            for key, weight in node.parents.items():
                names.append((node.id, key))
                probabilities.append(weight)
            for factor, (_, q) in node.prevented_by.items():
                names.append((node.id, "!" + factor))
                probabilities.append(q)
        # World w sets noise variable i on when bit i of w is one.
        worlds = np.arange(2 ** len(names))
        self.noise = {name: ((worlds >> i) & 1).astype(bool) for i, name in enumerate(names)}
        self.weight = np.ones(len(worlds))
        for name, p in zip(names, probabilities, strict=True):
            self.weight *= np.where(self.noise[name], p, 1.0 - p)
        self.ids = {node.id for node in nodes}
        self._worlds: dict[tuple, dict[str, np.ndarray]] = {}
        self._counts: dict[tuple, float] = {}
        self.factual = self.world({})

    def world(self, do: dict[str, bool | str]) -> dict[str, np.ndarray]:
        """Compute every node in every noise assignment under an intervention.

        ``do`` maps a node to False/True (set it), or to ``"factual"`` (hold
        it at its factual value).
        """
        # An intervention on a node outside the network changes nothing.
        intervention = tuple(sorted((n, v) for n, v in do.items() if n in self.ids))
        if intervention in self._worlds:
            return self._worlds[intervention]
        values: dict[str, np.ndarray] = {}
        for node in self.nodes:
            setting = do.get(node.id)
            if setting == "factual":
                values[node.id] = self.factual[node.id]
            elif setting is not None:
                values[node.id] = np.full(len(self.weight), bool(setting))
            else:
                on = self.noise[node.id, None].copy()

                def blocked(factor: str, node: Node = node) -> np.ndarray:
                    when = node.prevented_by[factor][0]
                    return (values[factor] == (when == "present")) & self.noise[
                        node.id, "!" + factor
                    ]

                for term in node.parents:
                    fired = self.noise[node.id, term].copy()
                    for member in term.split("+"):
                        fired &= values[member]
                    for factor, scoped in node.term_of.items():
                        if scoped == term:
                            fired &= ~blocked(factor)
                    on |= fired
                for factor in node.prevented_by:
                    if factor not in node.term_of:
                        on &= ~blocked(factor)
                values[node.id] = on
        self._worlds[intervention] = values
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
        key = (tuple(sorted(evidence.items())), id(counterfactual), value)
        if key not in self._counts:
            self._counts[key] = self._count(evidence, counterfactual, value)
        return self._counts[key]

    def _count(
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
            n.id: "factual" if n.id == condition else False
            for n in self.nodes
            if n.kind == "condition"
        }
        return self._expected_count(evidence, self.world(do), True)
