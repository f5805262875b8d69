"""Model handles resolve to shared providers; unknown handles and missing keys fail clearly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from engram.config import Settings
from engram.errors import InvalidInput
from engram.llm.base import ChatMessage, LlmRequest
from engram.llm.errors import ProviderRejected, UnknownModel
from engram.llm.offline import OfflineProvider
from engram.llm.registry import close_providers, discover_models, list_models, model_info, resolve
from tests.fake_llm import FakeLlmServer, FakeReply


@pytest.fixture(scope="session")
def fake_llm() -> FakeLlmServer:
    return FakeLlmServer.shared()


@pytest.fixture(autouse=True)
async def fresh_providers() -> AsyncIterator[None]:
    yield
    await close_providers()


def _settings(**kw: object) -> Settings:
    values: dict[str, object] = {
        "openai_api_key": None,
        "openai_base_url": None,
        "anthropic_api_key": None,
        "anthropic_base_url": None,
    }
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _hello(model: str) -> LlmRequest:
    return LlmRequest(model, [ChatMessage("user", "hello")])


async def test_offline_handle_needs_no_key() -> None:
    provider, model = resolve("engram/offline", _settings())
    assert isinstance(provider, OfflineProvider) and model == "offline"
    assert (await provider.complete(_hello(model))).content


async def test_openai_compatible_server_works_through_its_base_url_without_a_key(
    fake_llm: FakeLlmServer,
) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(name, [FakeReply.text("served locally")])
    provider, model = resolve(f"openai/{name}", _settings(openai_base_url=fake_llm.url))

    assert model == name
    assert (await provider.complete(_hello(model))).content == "served locally"
    assert fake_llm.requests(name)[0]["messages"] == [{"role": "user", "content": "hello"}]


async def test_anthropic_handle_reaches_the_messages_api(fake_llm: FakeLlmServer) -> None:
    name = f"claude-t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(name, [FakeReply.text("hi from claude")])
    settings = _settings(anthropic_api_key="sk-ant-test", anthropic_base_url=fake_llm.anthropic_url)
    provider, model = resolve(f"anthropic/{name}", settings)
    assert (await provider.complete(_hello(model))).content == "hi from claude"


async def test_ollama_handle_uses_the_ollama_base_url(
    fake_llm: FakeLlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_llm.base_url)  # Letta's convention: no /v1 suffix
    name = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(name, [FakeReply.text("llama says hi")])
    provider, model = resolve(f"ollama/{name}", _settings())
    assert (await provider.complete(_hello(model))).content == "llama says hi"
    assert model_info(f"ollama/{name}").model_endpoint_type == "ollama"


def test_providers_are_built_once_per_endpoint() -> None:
    settings = _settings(openai_api_key="sk-a")
    first, _ = resolve("openai/gpt-4o-mini", settings)
    again, _ = resolve("openai/gpt-4.1", settings)
    other_key, _ = resolve("openai/gpt-4o-mini", _settings(openai_api_key="sk-b"))
    assert first is again
    assert other_key is not first


@pytest.mark.parametrize("handle", ["gpt-4o-mini", "openai/", "/gpt-4o", "mystery/model-1", "engram/other"])
def test_unknown_handles_are_rejected_with_a_clear_message(handle: str) -> None:
    with pytest.raises(UnknownModel) as caught:
        resolve(handle, _settings())
    assert handle in str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(
        caught.value, InvalidInput
    )  # HTTP 422 at the API
    assert not caught.value.retryable


async def test_missing_key_fails_at_call_time_and_is_not_retryable() -> None:
    provider, model = resolve("openai/gpt-4o-mini", _settings())  # creating an agent must still work
    with pytest.raises(ProviderRejected) as caught:
        await provider.complete(_hello(model))
    assert "OPENAI_API_KEY" in str(caught.value) and not caught.value.retryable


@pytest.mark.parametrize(
    ("handle", "window", "endpoint"),
    [
        ("openai/gpt-4o-mini", 128_000, "openai"),
        ("openai/gpt-4.1", 1_047_576, "openai"),
        ("openai/gpt-4.1-mini", 1_047_576, "openai"),
        ("anthropic/claude-sonnet-4-5", 200_000, "anthropic"),
        ("openai/some-local-model", 128_000, "openai"),
        ("vllm/meta-llama/Llama-3.1-8B", 128_000, "vllm"),
        ("engram/offline", 32_000, "openai"),
    ],
)
def test_model_info_knows_context_windows_and_letta_endpoint_types(
    handle: str, window: int, endpoint: str
) -> None:
    info = model_info(handle)
    assert (info.handle, info.context_window, info.model_endpoint_type) == (handle, window, endpoint)
    assert f"{info.provider}/{info.model}" == handle


def test_listed_models_are_offline_plus_providers_with_keys() -> None:
    assert [m.handle for m in list_models(_settings())] == ["engram/offline"]
    handles = {m.handle for m in list_models(_settings(openai_api_key="sk-a", anthropic_api_key="sk-b"))}
    assert {"engram/offline", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"} <= handles


async def test_models_of_a_local_server_are_discovered(fake_llm: FakeLlmServer) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(name, [FakeReply.text("unused")])
    handles = {m.handle for m in await discover_models(_settings(openai_base_url=fake_llm.url))}
    assert {"engram/offline", f"openai/{name}"} <= handles


async def test_key_set_by_model_copy_as_plain_text_is_used(fake_llm: FakeLlmServer) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(name, [FakeReply.text("ok")])
    settings = _settings(openai_base_url=fake_llm.url).model_copy(update={"openai_api_key": "sk-plain"})
    provider, model = resolve(f"openai/{name}", settings)
    assert (await provider.complete(_hello(model))).content == "ok"
