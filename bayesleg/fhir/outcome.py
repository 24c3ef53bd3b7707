"""FHIR ``OperationOutcome``: how the FHIR and CDS Hooks routes of the service report errors."""

from __future__ import annotations

from typing import Any

__all__ = ["ISSUE_CODES", "operation_outcome"]

#: The OperationOutcome ``issue.code`` (value set issue-type) of each HTTP status.
ISSUE_CODES = {
    400: "invalid",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    412: "incomplete",
    413: "too-long",
    415: "not-supported",
    422: "processing",
}


def operation_outcome(
    status: int, message: str, *, error_type: str | None = None
) -> dict[str, Any]:
    """Return an ``OperationOutcome`` with one error issue saying ``message``.

    ``error_type`` (the bayesleg error's class name) goes in ``issue.details.text``.

    Examples
    --------
    >>> operation_outcome(404, "no such service")["issue"][0]["code"]
    'not-found'
    """
    issue: dict[str, Any] = {
        "severity": "error",
        "code": ISSUE_CODES.get(status, "processing"),
        "diagnostics": message,
    }
    if error_type is not None:
        issue["details"] = {"text": error_type}
    return {"resourceType": "OperationOutcome", "issue": [issue]}
