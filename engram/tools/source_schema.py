"""Derive a tool's JSON schema from Python source: the function signature plus its Google-style docstring.

This is how Letta builds `json_schema` when a tool is created from `source_code` alone. The tool is
the last top-level function in the source (helpers usually come first). Type hints map to JSON types;
parameters without defaults are required; `Args:` lines give the parameter descriptions, and the
docstring text before the first section is the tool description.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from engram.errors import InvalidInput

MAX_TOOL_NAME_LENGTH = 48
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$"
)
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SIMPLE_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object",
                 "list": "array", "tuple": "array", "set": "array", "Any": None, "object": None}  # fmt: skip


def _json_type(node: ast.expr | None) -> dict[str, Any]:
    """JSON schema for an annotation; unknown or absent annotations allow anything (string by convention)."""
    if node is None:
        return {"type": "string"}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _json_type(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return {"type": "string"}
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        json_type = _SIMPLE_TYPES.get(name, "string")
        return {"type": json_type} if json_type else {}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right])
    if isinstance(node, ast.Subscript):
        outer = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer == "Optional":
            return _union([*args, ast.Constant(None)])
        if outer == "Union":
            return _union(args)
        if outer in ("list", "List", "Sequence", "set", "Set", "tuple", "Tuple"):
            return {"type": "array", "items": _json_type(args[0])}
        if outer in ("dict", "Dict", "Mapping"):
            return {"type": "object"}
        if outer == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            return (
                {"type": "string", "enum": values}
                if all(isinstance(v, str) for v in values)
                else {"enum": values}
            )
    return {"type": "string"}


def _union(members: list[ast.expr]) -> dict[str, Any]:
    """`X | None` -> X's schema (optional-ness is expressed by `required`); other unions -> anyOf."""
    schemas = [s for s in (_json_type(m) for m in members) if s != {"type": "null"}]
    if len(schemas) == 1:
        return schemas[0]
    return {"anyOf": schemas}


def parse_google_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {arg name: description}) from a Google-style docstring."""
    description_lines: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    indent = 0
    for line in doc.splitlines():
        match = _SECTION.match(line)
        if match:
            section, current = match.group(1), None
            continue
        if section is None:
            description_lines.append(line.strip())
        elif section in ("Args", "Arguments", "Parameters"):
            arg = _ARG_LINE.match(line)
            if arg and (current is None or len(line) - len(line.lstrip()) <= indent):
                current = arg.group(1).lstrip("*")
                indent = len(line) - len(line.lstrip())
                args[current] = arg.group(3).strip()
            elif current is not None and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
    description = " ".join(part for part in "\n".join(description_lines).strip().split("\n\n")[0].split())
    return description, args


def function_schema(source_code: str) -> dict[str, Any]:
    """`{"name", "description", "parameters": {...}}` for the last top-level function in `source_code`."""
    try:
        module = ast.parse(source_code)
    except SyntaxError as exc:
        raise InvalidInput(f"tool source_code does not parse: {exc.msg} (line {exc.lineno})") from exc
    functions = [n for n in module.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not functions:
        raise InvalidInput("tool source_code must define a function")
    fn = functions[-1]
    if len(fn.name) > MAX_TOOL_NAME_LENGTH:
        raise InvalidInput(f"tool name {fn.name!r} is longer than {MAX_TOOL_NAME_LENGTH} characters")
    description, arg_docs = parse_google_docstring(ast.get_docstring(fn) or "")
    positional = [*fn.args.posonlyargs, *fn.args.args]
    defaults_start = len(positional) - len(fn.args.defaults)
    properties: dict[str, Any] = {}
    required: list[str] = []
    params = [(a, i >= defaults_start) for i, a in enumerate(positional)]
    params += [(a, d is not None) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True)]
    for arg, has_default in params:
        if arg.arg in ("self", "agent_state"):  # Letta injects agent_state; it is not an LLM argument
            continue
        schema = _json_type(arg.annotation)
        if arg.arg in arg_docs:
            schema["description"] = arg_docs[arg.arg]
        properties[arg.arg] = schema
        if not has_default:
            required.append(arg.arg)
    return {
        "name": fn.name,
        "description": description or fn.name,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }
