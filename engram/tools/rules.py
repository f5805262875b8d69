"""Tool rules solver (reference B.5): which tools the model may call next, and whether the loop goes on.

Pure functions over the agent's rule dicts and the names of tools called so far in this run, so the
same answer comes out of every retry. Rule dicts use Letta's JSON shape: {"type", "tool_name", ...}.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

Rule = dict[str, Any]

TERMINAL = "exit_loop"
CONTINUE = "continue_loop"
RUN_FIRST = "run_first"
CHILDREN = "constrain_child_tools"
PARENT = "parent_last_tool"
CONDITIONAL = "conditional"
MAX_COUNT = "max_count_per_step"
REQUIRED_BEFORE_EXIT = "required_before_exit"
REQUIRES_APPROVAL = "requires_approval"


@dataclass(frozen=True)
class Allowed:
    names: tuple[str, ...]  # tools the model may call now, in attach order
    is_forced: bool  # the model must call one of them (tool_choice "required" / that tool)


def _of(rules: list[Rule], kind: str) -> list[Rule]:
    return [r for r in rules if r.get("type") == kind]


def allowed_tools(rules: list[Rule], attached: list[str], history: list[str], last_output: str | None = None) -> Allowed:
    """The allowed set for the next call; an empty intersection falls back to all tools, as Letta does."""
    init = [r["tool_name"] for r in _of(rules, RUN_FIRST) if r.get("tool_name") in attached]
    if not history and init:
        return Allowed(tuple(init), True)
    allowed = set(attached)
    is_forced = False
    last = history[-1] if history else None
    for rule in _of(rules, CHILDREN):
        if rule.get("tool_name") == last:
            allowed &= set(rule.get("children", []))
            is_forced = True
    for rule in _of(rules, CONDITIONAL):
        if rule.get("tool_name") == last:
            child = _conditional_child(rule, last_output)
            if child is not None:
                allowed &= {child}
                is_forced = True
            elif rule.get("require_output_mapping"):
                allowed = set()
    gated = {c for r in _of(rules, PARENT) for c in r.get("children", []) if r.get("tool_name") != last}
    allowed -= gated
    counts = Counter(history)
    for rule in _of(rules, MAX_COUNT):
        if counts[rule.get("tool_name")] >= int(rule.get("max_count_limit", 1)):
            allowed.discard(rule.get("tool_name"))
    if not allowed:
        return Allowed(tuple(attached), False)
    return Allowed(tuple(n for n in attached if n in allowed), is_forced)


def _conditional_child(rule: Rule, output: str | None) -> str | None:
    mapping: dict[str, str] = rule.get("child_output_mapping") or {}
    for key, child in mapping.items():
        if output is not None and str(output).strip().lower() == str(key).strip().lower():
            return child
    return rule.get("default_child")


def is_terminal(rules: list[Rule], name: str) -> bool:
    return any(r.get("tool_name") == name for r in _of(rules, TERMINAL))


def is_continue(rules: list[Rule], name: str) -> bool:
    return any(r.get("tool_name") == name for r in _of(rules, CONTINUE))


def has_children(rules: list[Rule], name: str) -> bool:
    return any(r.get("tool_name") == name for r in _of(rules, CHILDREN) + _of(rules, CONDITIONAL))


def uncalled_required(rules: list[Rule], history: list[str]) -> list[str]:
    """Tools that must be called at least once before the loop may end."""
    called = set(history)
    return [r["tool_name"] for r in _of(rules, REQUIRED_BEFORE_EXIT) if r.get("tool_name") not in called]


def requires_approval(rules: list[Rule], name: str) -> bool:
    return any(r.get("tool_name") == name for r in _of(rules, REQUIRES_APPROVAL))


def rule_sentence(rule: Rule) -> str | None:
    """The `<tool_rule>` line shown in the system prompt (Letta's default wording)."""
    name = rule.get("tool_name")
    kind = rule.get("type")
    if kind == TERMINAL:
        return f"{name} ends your response (yields control) when called"
    if kind == CONTINUE:
        return f"{name} requires continuing your response when called"
    if kind == RUN_FIRST:
        return f"{name} must be called first, before any other tool"
    if kind == CHILDREN:
        return f"After using {name}, you must use one of these tools: {', '.join(rule.get('children', []))}"
    if kind == PARENT:
        return f"{', '.join(rule.get('children', []))} may only be used right after {name}"
    if kind == MAX_COUNT:
        return f"{name}: at most {rule.get('max_count_limit')} use(s) per response"
    if kind == REQUIRED_BEFORE_EXIT:
        return f"{name} must be called at least once before you end your response"
    if kind == CONDITIONAL:
        return f"After using {name}, the next tool depends on its result"
    return None
