"""`engram schedule ...`: scheduled messages from the shell, through the REST API (same paths as letta-client).

    engram schedule create AGENT_ID "Summarize yesterday" --cron "0 8 * * *" --timezone Europe/Berlin
    engram schedule create AGENT_ID "Stand-up in 5" --in 300        (or --at 2026-12-01T09:00:00+01:00)
    engram schedule list [AGENT_ID]          (no agent: every schedule of the organization)
    engram schedule show|delete|pause|resume|trigger AGENT_ID SCHEDULED_MESSAGE_ID
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from engram.config import Settings

ACTIONS = ("create", "list", "show", "delete", "pause", "resume", "trigger")


def add_parser(sub: Any, handler: Callable[[argparse.Namespace, Settings], int]) -> None:
    """Register `engram schedule` on the CLI's subparsers."""
    p = sub.add_parser("schedule", help="scheduled messages: create, list, show, delete, pause, resume, trigger")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("agent_id", nargs="?", default=None, help="the agent (optional for list)")
    p.add_argument("target", nargs="?", default=None, help="create: the message text; else the scheduled message id")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--cron", default=None, help='recurring: 5-field cron, e.g. "0 8 * * *"')
    when.add_argument("--at", default=None, help="one-time: ISO 8601 time (UTC when it has no offset)")
    when.add_argument("--in", dest="in_seconds", type=float, default=None, help="one-time: seconds from now")
    p.add_argument("--timezone", default=None, help="IANA zone the cron expression is read in (default UTC)")
    p.add_argument("--callback-url", default=None, help="POSTed the run's result when each firing finishes")
    p.add_argument("--max-steps", type=int, default=None, help="step limit of each firing's turn")
    p.add_argument("--url", default=None, help="API base URL (default: the running stack's)")
    p.set_defaults(func=handler)


def run_schedule_command(args: argparse.Namespace, base_url: str, settings: Settings) -> tuple[int, str]:
    """(exit code, text to print): the API's JSON answer, or its error detail."""
    key = settings.api_key.get_secret_value() if settings.api_key else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        method, path, body = _request(args)
    except ValueError as exc:
        return 2, f"error: {exc}"
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as http:
        try:
            response = http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            return 1, f"error: the API at {base_url} did not answer ({type(exc).__name__})"
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        return 1, f"error: HTTP {response.status_code}: {detail}"
    return 0, json.dumps(response.json(), indent=2)


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.action == "list":
        if args.agent_id:
            return "GET", f"/v1/agents/{args.agent_id}/schedule?limit=1000", None
        return "GET", "/v1/schedules?limit=1000", None
    if not args.agent_id or not args.target:
        what = "a message" if args.action == "create" else "a scheduled message id"
        raise ValueError(f"`engram schedule {args.action}` needs an agent id and {what}")
    base = f"/v1/agents/{args.agent_id}/schedule"
    if args.action == "create":
        return "POST", base, _create_body(args)
    if args.action == "show":
        return "GET", f"{base}/{args.target}", None
    if args.action == "delete":
        return "DELETE", f"{base}/{args.target}", None
    return "POST", f"{base}/{args.target}/{args.action}", None


def _create_body(args: argparse.Namespace) -> dict[str, Any]:
    if args.cron:
        schedule: dict[str, Any] = {"type": "recurring", "cron_expression": args.cron}
        if args.timezone:
            schedule["timezone"] = args.timezone
    elif args.at or args.in_seconds is not None:
        moment = time.time() + args.in_seconds if args.in_seconds is not None else _parse_at(args.at)
        schedule = {"type": "one-time", "scheduled_at": moment * 1000}
    else:
        raise ValueError("say when: --cron EXPR, --at TIME or --in SECONDS")
    body: dict[str, Any] = {"messages": [{"role": "user", "content": args.target}], "schedule": schedule}
    if args.callback_url:
        body["callback_url"] = args.callback_url
    if args.max_steps:
        body["max_steps"] = args.max_steps
    return body


def _parse_at(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO 8601 time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
