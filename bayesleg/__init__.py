"""bayesleg: why do legs feel weak, heavy, tingly, numb or crampy after exercise?

A Bayesian network whose numbers are hand-set from five source texts, each
traceable to the passage it came from, and an inference API that returns a
ranked differential with a triage level.

Examples
--------
>>> import bayesleg
>>> model = bayesleg.load()
>>> diagnosis = model.diagnose({"long_session": True, "fasted": True, "heaviness": True})
>>> diagnosis.top.id
'glycogen_depletion'
"""

from bayesleg.diagnosis import Diagnosis, RankedCause
from bayesleg.engine import Engine, compile
from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidStateError,
    ModelFileError,
    UnknownNodeError,
)
from bayesleg.evaluate import evaluate
from bayesleg.model import Model, Node, load
from bayesleg.network import DiscreteNetwork
from bayesleg.sensitivity import sensitivity
from bayesleg.triage import Triage, TriageReason

__all__ = [
    "BayeslegError",
    "Diagnosis",
    "DiscreteNetwork",
    "Engine",
    "ImpossibleEvidenceError",
    "InvalidEvidenceError",
    "InvalidStateError",
    "Model",
    "ModelFileError",
    "Node",
    "RankedCause",
    "Triage",
    "TriageReason",
    "UnknownNodeError",
    "compile",
    "evaluate",
    "load",
    "sensitivity",
]
__version__ = "0.1.0"
