"""Domain errors raised by the core library; the API and activities map them to HTTP / Temporal failures.

EngramError
 ├── NotFound            unknown id (HTTP 404)
 ├── InvalidInput        malformed request or value (HTTP 422)
 ├── Conflict            state forbids the request, e.g. label taken, agent busy (HTTP 409)
 ├── PayloadTooLarge     request or payload over a configured limit (HTTP 413)
 └── VectorExtensionMissing  the database lacks pgvector and we may not create it (start-up failure)
"""

from __future__ import annotations


class EngramError(Exception):
    """Base of every error the core raises on purpose."""


class NotFound(EngramError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class InvalidInput(EngramError):
    pass


class Conflict(EngramError):
    pass


class PayloadTooLarge(EngramError):
    pass


class VectorExtensionMissing(EngramError):
    pass
