"""Uploaded bytes -> text: plain text, markdown, JSON, CSV, code and PDF (pypdf); images have no text.

Every refusal is a `FileRejected` whose message is what the user reads in the file's `error_message`,
so a bad upload ends in status `error` with a reason instead of a stuck status or a crash.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from pathlib import PurePath

from engram.errors import EngramError

# Letta's registry (services/file_processor/file_types.py), by extension: everything but PDF is "simple text".
TEXT_EXTENSIONS = frozenset(
    ".txt .text .md .markdown .json .jsonl .csv .tsv .py .js .ts .tsx .jsx .java .c .h .cpp .hpp .cc .cs .go .rs "
    ".rb .php .swift .kt .scala .sh .bash .sql .r .lua .pl .html .htm .css .scss .vue .xml .yaml .yml .toml .ini "
    ".cfg .conf .log .rst .tex".split()
)
CODE_EXTENSIONS = frozenset(
    ".py .js .ts .tsx .jsx .java .c .h .cpp .hpp .cc .cs .go .rs .rb .php .swift .kt .scala .sh .bash .sql .r .lua "
    ".pl".split()
)
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})
TEXT_MEDIA_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/jsonl", "application/xml", "application/x-yaml",
     "application/yaml", "application/toml", "application/javascript", "application/x-sh", "application/sql"}
)  # fmt: skip
SUPPORTED = "PDF, text files (.txt, .md), JSON, CSV and code files (.py, .js, .java, etc.)"
BINARY_SNIFF_BYTES = 8192


class FileRejected(EngramError):
    """The file cannot become text: unsupported type, unreadable bytes, or no text in it (e.g. an image)."""


@dataclass(frozen=True)
class ParsedFile:
    text: str
    pages: int = 1  # PDF pages; 1 for anything else


def extension(file_name: str) -> str:
    return PurePath(file_name).suffix.lower()


def media_type_of(file_name: str, declared: str | None) -> str:
    """The upload's MIME type: the part's Content-Type (parameters stripped) unless it is generic, else guessed
    from the name (Letta's order)."""
    declared = (declared or "").split(";", 1)[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    ext = extension(file_name)
    if ext in MARKDOWN_EXTENSIONS:
        return "text/markdown"
    if ext in (".jsonl",):
        return "application/jsonl"
    guessed = mimetypes.guess_type(file_name)[0]
    if guessed:
        return guessed
    if ext in TEXT_EXTENSIONS:
        return "text/plain"
    return declared or "application/octet-stream"


def is_text_type(file_name: str, media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in TEXT_MEDIA_TYPES
        or extension(file_name) in TEXT_EXTENSIONS
    )


def parse_file(raw: bytes, file_name: str, media_type: str) -> ParsedFile:
    """The file's text; raises FileRejected with a user-facing reason."""
    if media_type == "application/pdf" or extension(file_name) == ".pdf":
        return _parse_pdf(raw, file_name)
    if media_type.startswith("image/"):
        raise FileRejected(
            f"No text extracted from image '{file_name}' ({media_type}): image files need a vision model, and none "
            "is configured on this Engram server"
        )
    if not is_text_type(file_name, media_type):
        raise FileRejected(
            f"Unsupported file type: {media_type} (filename: {file_name}). Supported types: {SUPPORTED}."
        )
    if b"\x00" in raw[:BINARY_SNIFF_BYTES]:
        raise FileRejected(f"File '{file_name}' is not readable as text: it contains binary data")
    text = raw.decode("utf-8", errors="replace")  # Letta decodes simple text as UTF-8 with replacement
    if not text.strip():
        raise FileRejected(f"File '{file_name}' is empty: no text to index")
    return ParsedFile(text)


def _parse_pdf(raw: bytes, file_name: str) -> ParsedFile:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise FileRejected(f"File '{file_name}' is not a readable PDF: {exc}") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise FileRejected(
            f"No text extracted from PDF '{file_name}' ({len(pages)} pages; scanned pages need OCR)"
        )
    return ParsedFile(text, pages=len(pages))
