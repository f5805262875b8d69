"""Errors every LLM provider raises, so callers catch by meaning, never by SDK class or message text.

EngramError
 └── LlmError                    base; `retryable` says whether the same call may succeed later
      ├── ProviderRejected       4xx the caller must fix: auth, bad request, unknown model (not retryable)
      │    └── UnknownModel      handle names no provider we know (also InvalidInput/ValueError -> HTTP 422)
      ├── ContextWindowExceeded  the prompt is longer than the model accepts (not retryable: compact first)
      ├── RateLimited            HTTP 429 (retryable)
      ├── ProviderUnavailable    5xx, overload, timeout, connection error (retryable)
      └── InvalidLlmResponse     the provider answered but the answer is unusable (retryable: a new sample differs)

`activities/errors.py` maps these to Temporal `ApplicationError(type=<class name>,
non_retryable=not retryable)` in one place; provider SDKs never retry on their own.
"""

from __future__ import annotations

from engram.errors import EngramError, InvalidInput


class LlmError(EngramError):
    """Base of all provider failures. `status_code` is the provider's HTTP status when there was one."""

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.provider = provider


class ProviderRejected(LlmError):
    """The provider refused the request (401/403 auth, 400 bad request, 404 model): retrying cannot help."""

    retryable = False


class UnknownModel(ProviderRejected, InvalidInput, ValueError):
    """A model handle we cannot resolve (`provider/model` with an unknown provider, or no slash)."""


class ContextWindowExceeded(LlmError):
    """The prompt does not fit the model's context window; the caller must summarize or evict first."""

    retryable = False


class RateLimited(LlmError):
    """HTTP 429: too many requests or tokens per minute; the retry policy should back off."""

    retryable = True


class ProviderUnavailable(LlmError):
    """5xx, overload (529), timeout or a dropped connection: transient, so retryable."""

    retryable = True


class InvalidLlmResponse(LlmError):
    """The response arrived but cannot be used (no choices, unparseable stream)."""

    retryable = True


_CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "input is too long",
    "reduce the length",
)


def mentions_context_overflow(*texts: object) -> bool:
    """True when an error code or message says the prompt is too long (OpenAI, Anthropic, vLLM, Ollama wording)."""
    joined = " ".join(str(t) for t in texts if t).lower()
    return any(phrase in joined for phrase in _CONTEXT_PHRASES)


def transport_error_types() -> tuple[type[BaseException], ...]:
    """httpx transport errors (timeouts, resets) that can escape an SDK while a stream is being read.

    The SDKs wrap them on request, not always mid-stream; recent SDKs ship `httpx2`, older ones `httpx`.
    """
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        found.append(module.TransportError)
        found.append(module.StreamError)
    return tuple(found)


def error_for_status(status: int, message: str, *, provider: str, code: object = None) -> LlmError:
    """The one status table shared by the HTTP providers (context detection first, then status class)."""
    if mentions_context_overflow(code, message) or status == 413:
        return ContextWindowExceeded(message, status_code=status, provider=provider)
    if status == 429:
        if str(code) == "insufficient_quota":  # OpenAI: out of credit, waiting will not help
            return ProviderRejected(message, status_code=status, provider=provider)
        return RateLimited(message, status_code=status, provider=provider)
    if status >= 500 or status in (408, 409):  # the SDKs' own retry set: timeouts, conflicts, 5xx
        return ProviderUnavailable(message, status_code=status, provider=provider)
    return ProviderRejected(message, status_code=status, provider=provider)
