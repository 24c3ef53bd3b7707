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

from bayesleg._version import __version__
from bayesleg.errors import (
    BayeslegError,
    ConditionColumnWarning,
    FhirResourceError,
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    InvalidRequestError,
    InvalidStateError,
    ModelFileError,
    NetworkTooLargeError,
    UnknownNodeError,
    UnsupportedSourceError,
    VignetteFileError,
)
from bayesleg.inference.engine import Engine, compile
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.model import Model, Node, load
from bayesleg.reasoning.diagnosis import CauseAdvice, Diagnosis, RankedCause
from bayesleg.reasoning.explain import Contribution, Explanation, Lowering
from bayesleg.reasoning.interview import Interview
from bayesleg.reasoning.questions import Question
from bayesleg.reasoning.triage import Triage, TriageReason
from bayesleg.research.evaluate import evaluate
from bayesleg.research.sensitivity import sensitivity

__all__ = [
    "BayeslegError",
    "CauseAdvice",
    "ConditionColumnWarning",
    "Contribution",
    "Diagnosis",
    "DiscreteNetwork",
    "Engine",
    "Explanation",
    "FhirResourceError",
    "ImpossibleEvidenceError",
    "Interview",
    "InvalidArgumentError",
    "InvalidEvidenceError",
    "InvalidRequestError",
    "InvalidStateError",
    "Lowering",
    "Model",
    "ModelFileError",
    "NetworkTooLargeError",
    "Node",
    "Question",
    "RankedCause",
    "Triage",
    "TriageReason",
    "UnknownNodeError",
    "UnsupportedSourceError",
    "VignetteFileError",
    "__version__",
    "compile",
    "evaluate",
    "load",
    "sensitivity",
]
