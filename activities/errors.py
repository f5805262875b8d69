"""Domain errors -> Temporal `ApplicationError`, in one place.

The `type` is the domain class name so the workflow can branch on meaning; `non_retryable` follows
the error's own `retryable` flag (4xx, auth and context overflow are final; 429/5xx go to the retry
policy). Anything else propagates unchanged and is retried by the activity's policy.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from activities.contracts import NOT_FOUND, PAYLOAD_TOO_LARGE
from engram.errors import NotFound, PayloadTooLarge
from engram.llm.errors import LlmError


def to_application_error(exc: BaseException) -> BaseException:
    """The error to raise for `exc`: a typed ApplicationError (cause chained) or `exc` itself."""
    mapped: ApplicationError | None = None
    if isinstance(exc, LlmError):
        mapped = ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable)
    elif isinstance(exc, NotFound):
        mapped = ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True)
    elif isinstance(exc, PayloadTooLarge):
        mapped = ApplicationError(str(exc), type=PAYLOAD_TOO_LARGE, non_retryable=True)
    if mapped is None:
        return exc
    mapped.__cause__ = exc
    return mapped


MAX_PAYLOAD_BYTES = 64 * 1024


def guard_payload_size(value: object, limit: int = MAX_PAYLOAD_BYTES) -> None:
    """Fail the activity (not the workflow task) when a result would be an oversized payload."""
    import dataclasses
    import json

    size = len(json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value, default=str))
    if size > limit:
        raise ApplicationError(f"activity result is {size} bytes (limit {limit})", type=PAYLOAD_TOO_LARGE, non_retryable=True)
