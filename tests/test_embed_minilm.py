"""The offline MiniLM embedder ranks related text above unrelated text, with no network."""

from __future__ import annotations

import math

import pytest

from engram.embed.minilm import DIMENSION, MiniLmEmbedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder()


async def test_vectors_are_normalised_and_384_dimensional(embedder: MiniLmEmbedder) -> None:
    [vec] = await embedder.embed(["hello world"])
    assert len(vec) == DIMENSION
    assert math.isclose(math.sqrt(sum(x * x for x in vec)), 1.0, rel_tol=1e-4)


async def test_related_sentences_are_closer_than_unrelated(embedder: MiniLmEmbedder) -> None:
    anchor, related, unrelated = await embedder.embed(
        ["My favourite game is chess.", "I love playing chess with friends.", "The invoice is due next Tuesday."]
    )
    assert _cos(anchor, related) > _cos(anchor, unrelated) + 0.2


async def test_batches_larger_than_one_batch_keep_order(embedder: MiniLmEmbedder) -> None:
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(70)]
    batched = await embedder.embed(texts)
    single = await embedder.embed([texts[65]])
    assert len(batched) == 70
    assert _cos(batched[65], single[0]) > 0.999
