"""Input checks of scheduled messages: what Temporal would refuse or misread is a 422 with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram.errors import InvalidInput
from engram.schedules import check_cron, check_timezone, moment_from_unix_ms


@pytest.mark.parametrize(
    "expression",
    ["0 8 * * *", "*/15 9-17 * * MON-FRI", "0 0 1,15 * *", "30  7 * jan-mar 0", "0 12 * * 7", "5-55/10 * * * *"],
)
def test_common_cron_expressions_are_accepted(expression: str) -> None:
    assert check_cron(expression) == " ".join(expression.split())


@pytest.mark.parametrize(
    ("expression", "words"),
    [("0 8 * *", "5 fields"), ("0 0 8 * * *", "5 fields"), ("0 24 * * *", "hour value '24'"),
     ("0 8 32 * *", "day of month"), ("0 8 * FOO *", "month value 'FOO'"), ("*/0 * * * *", "step"),
     ("0 8 * * MON-", "not valid cron syntax"), ("@daily", "5 fields")],
)  # fmt: skip
def test_bad_cron_expressions_say_what_is_wrong(expression: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        check_cron(expression)


def test_time_zones_and_moments() -> None:
    assert check_timezone(None) == "UTC" and check_timezone("Asia/Kolkata") == "Asia/Kolkata"
    with pytest.raises(InvalidInput, match="IANA"):
        check_timezone("Europe/Atlantis")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert moment_from_unix_ms(now.timestamp() * 1000 + 1500, now=now) == datetime(2030, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="in the past"):
        moment_from_unix_ms(now.timestamp() * 1000, now=now)
