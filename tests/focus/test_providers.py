"""Provider slugs and model names -> FOCUS provider, publisher, invoice issuer, service and model identity."""

from __future__ import annotations

import pytest

from llm_cost.focus.providers import model_developer, model_identity, provider_names


@pytest.mark.parametrize(
    ("slug", "model", "provider", "publisher", "service"),
    [
        (
            "bedrock",
            "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
            "Amazon Web Services",
            "Anthropic",
            "Amazon Bedrock",
        ),
        ("bedrock", "us.meta.llama3-1-70b-instruct-v1:0", "Amazon Web Services", "Meta", "Amazon Bedrock"),
        ("bedrock", "amazon.nova-pro-v1:0", "Amazon Web Services", "Amazon", "Amazon Bedrock"),
        ("vertex_ai", "vertex_ai/gemini-1.5-pro", "Google Cloud", "Google", "Vertex AI"),
        ("vertex_ai", "claude-3-5-sonnet@20240620", "Google Cloud", "Anthropic", "Vertex AI"),
        ("azure", "azure/gpt-4o-prod", "Microsoft", "OpenAI", "Azure OpenAI"),
        ("cohere_chat", "command-r-plus", "Cohere", "Cohere", "Cohere API"),
        ("openai", "gpt-4o-mini", "OpenAI", "OpenAI", "OpenAI API"),
        ("openai", "my-fine-tune", "OpenAI", "OpenAI", "OpenAI API"),  # OpenAI sells only its own models
        ("anthropic", "claude-sonnet-4-0", "Anthropic", "Anthropic", "Anthropic API"),
        ("gemini", "gemini/gemini-2.0-flash", "Google", "Google", "Gemini API"),
        ("groq", "llama-3.1-8b-instant", "Groq", "Meta", "GroqCloud"),
        ("aws", "claude-3-haiku", "Amazon Web Services", "Anthropic", "Amazon Bedrock"),  # genai-prices' id
    ],
)
def test_slugs_map_to_focus_names(slug: str, model: str, provider: str, publisher: str, service: str) -> None:
    names = provider_names(slug, model)
    assert (names.provider, names.publisher, names.invoice_issuer, names.service) == (
        provider,
        publisher,
        provider,
        service,
    )


def test_an_unknown_slug_keeps_its_display_name() -> None:
    names = provider_names("my_gateway", "house-model", "My Gateway")
    assert (names.provider, names.publisher, names.service, names.developer) == (
        "My Gateway",
        "My Gateway",
        "My Gateway",
        None,
    )
    assert provider_names("unknown", "mystery").provider == "unknown"


def test_model_identity_splits_dated_versions() -> None:
    assert model_identity("gpt-4o-2024-08-06", "OpenAI") == {
        "ModelId": "gpt-4o-2024-08-06",
        "ModelDeveloper": "OpenAI",
        "ModelFamily": "gpt-4o",
        "ModelVersion": "2024-08-06",
    }
    assert model_identity("claude-3-5-sonnet-20240620", None) == {
        "ModelId": "claude-3-5-sonnet-20240620",
        "ModelFamily": "claude-3-5-sonnet",
        "ModelVersion": "20240620",
    }
    assert model_identity("gpt-4o-mini", "OpenAI") == {"ModelId": "gpt-4o-mini", "ModelDeveloper": "OpenAI"}
    assert model_developer("deepseek-chat") == "DeepSeek" and model_developer("house-model") is None
