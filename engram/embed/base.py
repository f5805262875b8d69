"""The one interface every embedder implements."""

from __future__ import annotations

from typing import Protocol


class Embedder(Protocol):
    handle: str
    dimension: int

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector of `dimension` floats per text, in input order."""
        ...
