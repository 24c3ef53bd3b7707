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

from bayesleg.contract import InvalidRequestError
from bayesleg.diagnosis import CauseAdvice, Diagnosis, RankedCause
from bayesleg.engine import Engine, compile
from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    InvalidStateError,
    ModelFileError,
    UnknownNodeError,
)
from bayesleg.evaluate import evaluate
from bayesleg.explain import Contribution, Explanation, Lowering
from bayesleg.interview import Interview
from bayesleg.model import Model, Node, load
from bayesleg.network import DiscreteNetwork
from bayesleg.questions import Question
from bayesleg.sensitivity import sensitivity
from bayesleg.triage import Triage, TriageReason

__all__ = [
    "BayeslegError",
    "CauseAdvice",
    "Contribution",
    "Diagnosis",
    "DiscreteNetwork",
    "Engine",
    "Explanation",
    "ImpossibleEvidenceError",
    "Interview",
    "InvalidArgumentError",
    "InvalidEvidenceError",
    "InvalidRequestError",
    "InvalidStateError",
    "Lowering",
    "Model",
    "ModelFileError",
    "Node",
    "Question",
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
