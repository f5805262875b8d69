"""File ingestion throughput: pages/s for the MemGPT paper (PDF) and chunks/s embedded (prints figures).

    .venv/bin/python -m bench.ingest                          # 4 PDF copies + 4 long texts, offline hash embedder
    .venv/bin/python -m bench.ingest --copies 8 --embedding engram/minilm

Two parts:
  1. in-process, no database: pypdf parse (pages/s), chunking (chunks/s) and embedding (chunks/s) of the
     same files, to show where the time goes;
  2. end to end on an isolated stack (bench/stack.py: `engram up` in a temp dir): a folder with the chosen
     embedder, `--copies` uploads of memgpt_paper.pdf and of long_test.txt through letta-client, all at
     once; each file's time from upload to `completed` (polled every 50 ms) and the batch's aggregate
     pages/s and chunks/s (total pages or chunks / wall time from the first upload to the last completion).
Writes JSON to bench/results/ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engram.config import Settings
from engram.embed.registry import resolve_embedder
from engram.files.chunk import chunk_document
from engram.files.parse import parse_file

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "letta-tests-data"
PDF, TEXT = "memgpt_paper.pdf", "long_test.txt"
RESULTS = Path(__file__).parent / "results"


def in_process(embedding: str, repeats: int) -> dict[str, Any]:
    raw = (DATA / PDF).read_bytes()
    started = time.perf_counter()
    for _ in range(repeats):
        parsed = parse_file(raw, PDF, "application/pdf")
    parse_s = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    chunks = chunk_document(parsed.text, "application/pdf")
    chunk_s = time.perf_counter() - started
    embedder = resolve_embedder(embedding, Settings(_env_file=None))  # type: ignore[call-arg]
    started = time.perf_counter()
    for i in range(0, len(chunks), 32):
        asyncio.run(embedder.embed(chunks[i : i + 32]))
    embed_s = time.perf_counter() - started
    return {
        "pdf_pages": parsed.pages, "pdf_chunks": len(chunks), "parse_pages_per_s": round(parsed.pages / parse_s, 1),
        "chunk_chunks_per_s": round(len(chunks) / chunk_s, 1), "embed_chunks_per_s": round(len(chunks) / embed_s, 1),
    }  # fmt: skip


def end_to_end(embedding: str, copies: int) -> dict[str, Any]:
    from letta_client import Letta

    from bench.stack import BenchStack

    with BenchStack(idle_timeout_s=60) as stack:
        client = Letta(base_url=stack.url, max_retries=0, timeout=120)
        folder = client.folders.create(name="bench-ingest", embedding=embedding)
        started = time.perf_counter()
        uploads = []
        for name in [PDF] * copies + [TEXT] * copies:
            file = client.folders.files.upload(folder.id, file=DATA / name)
            uploads.append((name, file.id, time.perf_counter()))
        done: dict[str, Any] = {}
        deadline = time.monotonic() + 600
        while len(done) < len(uploads) and time.monotonic() < deadline:
            for name, file_id, sent in uploads:
                if file_id not in done:
                    f = client.folders.files.retrieve(file_id, folder_id=folder.id)
                    if f.processing_status in ("completed", "error"):
                        done[file_id] = (name, f, time.perf_counter() - sent)
            time.sleep(0.05)
        wall_s = time.perf_counter() - started
        client.close()
    files = list(done.values())
    failed = [f.error_message for _, f, _ in files if f.processing_status != "completed"]
    chunks = sum(f.total_chunks or 0 for _, f, _ in files)
    pdf_times = [t for name, _, t in files if name == PDF]
    return {
        "files": len(uploads), "completed": len(files) - len(failed), "failed": failed[:3], "wall_s": round(wall_s, 2),
        "pages_per_s": round(13 * len(pdf_times) / wall_s, 2), "chunks_per_s": round(chunks / wall_s, 1),
        "pdf_upload_to_completed_s_p50": round(statistics.median(pdf_times), 2) if pdf_times else None,
        "chunks_total": chunks,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=4, help="uploads of each test file (default 4)")
    parser.add_argument("--embedding", default="engram/hash-embedding", help="folder embedding handle")
    parser.add_argument("--skip-stack", action="store_true", help="only the in-process part")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
        "load_avg": os.getloadavg(), "embedding": args.embedding, "copies": args.copies,
        "in_process": in_process(args.embedding, repeats=3),
    }  # fmt: skip
    if not args.skip_stack:
        report["end_to_end"] = end_to_end(args.embedding, args.copies)
    print(json.dumps(report, indent=2))  # noqa: T201
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
