"""Schemathesis against the live app's own OpenAPI schema: generated requests (a few examples per
operation, derandomized so CI is repeatable) never get a 5xx, and every documented response body
matches its schema. All operations run; the failures are reported together."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = 3


def _fuzz(operation) -> None:  # noqa: ANN001 - a schemathesis APIOperation
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case) -> None:  # noqa: ANN001
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=60)

    run()


@pytest.mark.usefixtures("worker_running")
def test_generated_requests_get_no_server_error_and_valid_responses(live_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation)
        except BaseException as exc:  # noqa: BLE001 - hypothesis raises groups; collected and reported below
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
