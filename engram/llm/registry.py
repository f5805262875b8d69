"""Model handles (`provider/model`, Letta's format) -> a provider instance and its local model name.

  openai/<model>     OpenAI, or any OpenAI-compatible server named by OPENAI_BASE_URL
  anthropic/<model>  Anthropic (ANTHROPIC_BASE_URL for a proxy)
  ollama/<model>     Ollama's OpenAI-compatible endpoint   (OLLAMA_BASE_URL, default localhost:11434)
  vllm/<model>       vLLM's OpenAI-compatible server       (VLLM_BASE_URL, default localhost:8000)
  llamacpp/<model>   llama.cpp server                      (LLAMACPP_BASE_URL, default localhost:8080)
  engram/offline     the built-in deterministic demo model (no key, no network)

Providers are built once per (provider, base URL, key) and shared, so each SDK client and its
connection pool exists once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from engram.config import Settings
from engram.llm.base import LlmProvider, LlmRequest, LlmResponse, OnDelta
from engram.llm.errors import LlmError, ProviderRejected, UnknownModel
from engram.llm.offline import OFFLINE_HANDLE, OfflineProvider

DEFAULT_CONTEXT_WINDOW = 128_000
OFFLINE_CONTEXT_WINDOW = 32_000
_LOCAL_SERVER_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key, but the SDK wants one
# Longest matching prefix wins; numbers from the providers' model pages.
_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude-": 200_000,
}
_STATIC_MODELS = {
    "openai": ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini"),
    "anthropic": ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
}


@dataclass(frozen=True)
class ModelInfo:
    handle: str  # "openai/gpt-4o-mini"
    provider: str  # "openai"
    model: str  # provider-local name, "gpt-4o-mini"
    context_window: int
    model_endpoint_type: str  # one of Letta's LLMConfig.model_endpoint_type values


@dataclass(frozen=True)
class _Backend:
    kind: Literal["openai", "anthropic", "offline"]
    endpoint_type: str
    default_base_url: str | None = None
    base_url_env: str | None = None  # conventional variable for servers Settings has no field for


_BACKENDS: dict[str, _Backend] = {
    "openai": _Backend("openai", "openai"),
    "anthropic": _Backend("anthropic", "anthropic"),
    "ollama": _Backend("openai", "ollama", "http://localhost:11434/v1", "OLLAMA_BASE_URL"),
    "vllm": _Backend("openai", "vllm", "http://localhost:8000/v1", "VLLM_BASE_URL"),
    "llamacpp": _Backend("openai", "llamacpp", "http://localhost:8080/v1", "LLAMACPP_BASE_URL"),
    "engram": _Backend("offline", "openai"),  # Letta has no enum value for a built-in model
}
_providers: dict[tuple[str, str | None, str | None], LlmProvider] = {}
_offline = OfflineProvider()


class _MissingCredentials:
    """Stands in for a provider whose key is not configured; fails clearly when actually called."""

    def __init__(self, provider: str, variable: str) -> None:
        self._message = (
            f"{provider}: no API key configured; set {variable} (or a base URL for a local server)"
        )
        self._provider = provider

    async def complete(self, request: LlmRequest, on_delta: OnDelta | None = None) -> LlmResponse:
        raise ProviderRejected(self._message, status_code=401, provider=self._provider)


def split_handle(handle: str) -> tuple[str, str]:
    """("openai", "gpt-4o-mini") from "openai/gpt-4o-mini"; the model part may itself contain slashes."""
    provider, sep, model = handle.partition("/")
    if not sep or not provider or not model:
        raise UnknownModel(
            f"model handle {handle!r} must look like 'provider/model', e.g. 'openai/gpt-4o-mini'"
        )
    if provider not in _BACKENDS:
        known = ", ".join(sorted(_BACKENDS))
        raise UnknownModel(f"unknown model provider {provider!r} in {handle!r}; known providers: {known}")
    if provider == "engram" and handle != OFFLINE_HANDLE:
        raise UnknownModel(f"unknown built-in model {handle!r}; the built-in model is {OFFLINE_HANDLE!r}")
    return provider, model


def context_window_for(model: str) -> int:
    matches = [prefix for prefix in _CONTEXT_WINDOWS if model.startswith(prefix)]
    return _CONTEXT_WINDOWS[max(matches, key=len)] if matches else DEFAULT_CONTEXT_WINDOW


def model_info(handle: str) -> ModelInfo:
    """Static facts about a handle (no network): raises UnknownModel for an unknown provider."""
    provider, model = split_handle(handle)
    backend = _BACKENDS[provider]
    window = OFFLINE_CONTEXT_WINDOW if backend.kind == "offline" else context_window_for(model)
    return ModelInfo(handle, provider, model, window, backend.endpoint_type)


def resolve(handle: str, settings: Settings) -> tuple[LlmProvider, str]:
    """The shared provider for `handle` and the model name to put in `LlmRequest.model`.

    A missing key is not an error here: the returned provider raises ProviderRejected when called,
    so an agent can be created before its key is configured.
    """
    provider, model = split_handle(handle)
    if _BACKENDS[provider].kind == "offline":
        return _offline, model
    return _shared_provider(provider, settings), model


def list_models(settings: Settings) -> list[ModelInfo]:
    """Handles worth offering without network calls: the offline model always, hosted models with a key.

    A base URL alone usually means a local server whose models only it knows; see `discover_models`.
    """
    models = [model_info(OFFLINE_HANDLE)]
    for provider, names in _STATIC_MODELS.items():
        if _configured_key(provider, settings):
            models.extend(model_info(f"{provider}/{name}") for name in names)
    return models


async def discover_models(settings: Settings) -> list[ModelInfo]:
    """`list_models` plus what configured OpenAI-compatible servers advertise on `GET /models`.

    Unreachable servers are skipped: model listing must not fail because a local server is down.
    """
    models = list_models(settings)
    seen = {m.handle for m in models}
    for provider, backend in _BACKENDS.items():
        if backend.kind != "openai" or not _has_explicit_base_url(provider, settings):
            continue
        try:
            names = await _shared_provider(provider, settings).list_model_names()
        except LlmError:
            continue
        for name in names:
            if f"{provider}/{name}" not in seen:
                seen.add(f"{provider}/{name}")
                models.append(model_info(f"{provider}/{name}"))
    return models


async def close_providers() -> None:
    """Close and forget every built client (worker shutdown; tests that switch event loops)."""
    providers = list(_providers.values())
    _providers.clear()
    for provider in providers:
        if hasattr(provider, "aclose"):
            await provider.aclose()


def _shared_provider(provider: str, settings: Settings) -> Any:
    base_url, key = _endpoint(provider, settings)
    cache_key = (provider, base_url, key)
    if cache_key not in _providers:
        _providers[cache_key] = _build(provider, _BACKENDS[provider], base_url, key)
    return _providers[cache_key]


def _configured_key(provider: str, settings: Settings) -> str | None:
    secret = getattr(settings, f"{provider}_api_key", None)
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret or None  # a plain str too: `settings.model_copy(update=...)` skips validation


def _has_explicit_base_url(provider: str, settings: Settings) -> bool:
    backend = _BACKENDS[provider]
    env = os.environ.get(backend.base_url_env) if backend.base_url_env else None
    return bool(getattr(settings, f"{provider}_base_url", None) or env)


def _endpoint(provider: str, settings: Settings) -> tuple[str | None, str | None]:
    """(base URL, API key); local servers get a placeholder key, hosted ones without a key get None."""
    backend = _BACKENDS[provider]
    base_url = getattr(settings, f"{provider}_base_url", None)
    if base_url is None and backend.base_url_env:
        base_url = os.environ.get(backend.base_url_env)
        if base_url and not base_url.rstrip("/").endswith("/v1"):  # Letta's OLLAMA_BASE_URL has no /v1
            base_url = base_url.rstrip("/") + "/v1"
    base_url = base_url or backend.default_base_url
    key = _configured_key(provider, settings)
    if key is None and base_url is not None:
        key = _LOCAL_SERVER_KEY
    return base_url, key


def _build(provider: str, backend: _Backend, base_url: str | None, key: str | None) -> Any:
    if key is None:
        return _MissingCredentials(provider, f"{provider.upper()}_API_KEY")
    if backend.kind == "anthropic":
        from engram.llm.anthropic_provider import AnthropicProvider  # SDKs import slowly; load on first use

        return AnthropicProvider(api_key=key, base_url=base_url, name=provider)
    from engram.llm.openai_provider import OpenAIProvider

    return OpenAIProvider(api_key=key, base_url=base_url, name=provider)
