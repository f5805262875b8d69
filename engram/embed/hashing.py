"""`engram/hash-embedding`: a deterministic, dependency-free embedder for offline use and tests.

Feature hashing of lowercased content-word unigrams and bigrams into 384 signed buckets, L2-normalised.
It captures word overlap, not meaning, but it makes archival search behave sensibly (texts sharing
words rank first) with no model download, and the same text always maps to the same vector.
"""

from __future__ import annotations

import hashlib
import math
import re

HASH_EMBEDDING_HANDLE = "engram/hash-embedding"
HASH_EMBEDDING_DIM = 384
_WORD = re.compile(r"[0-9a-z]+")
# Function words carry no topic; without dropping them "what is the cat" matches any sentence with "the".
STOPWORDS = frozenset(
    "a an and are as at be but by did do does for from had has have he her his i in is it its me my no not of on "
    "or our s she so t that the their them they this to was we were what when where which who why will with you "
    "your".split()
)


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if (value >> 63) & 1 else -1.0)


def hash_embed(text: str, dimension: int = HASH_EMBEDDING_DIM) -> list[float]:
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    features = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    vector = [0.0] * dimension
    for feature in features:
        index, sign = _bucket(feature, dimension)
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0  # empty text: any fixed unit vector keeps cosine distance defined
        return vector
    return [v / norm for v in vector]


class HashEmbedder:
    handle = HASH_EMBEDDING_HANDLE
    dimension = HASH_EMBEDDING_DIM

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [hash_embed(t, self.dimension) for t in texts]
