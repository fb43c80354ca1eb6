"""PURE: provider slugs and model names -> the FOCUS names of who sells, who invoices and who made the model.

LiteLLM names a provider by its routing slug (`bedrock`, `vertex_ai`, `azure`, `cohere_chat`); genai-prices by its
own id (`aws`, `google`, `openai`). FOCUS wants the seller (`ProviderName`), the invoice issuer
(`InvoiceIssuerName`), the maker of what is sold (`PublisherName`: the model's developer) and the service offering
(`ServiceName`). With one name per seller, "cost by provider" gives one row per provider whatever the slug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Offering:
    """A seller and its service offering: ProviderName (= InvoiceIssuerName) and ServiceName."""

    provider: str
    service: str
    developer: str | None = None  # the publisher when the seller only sells its own models


_OPENAI = Offering("OpenAI", "OpenAI API", "OpenAI")
_AZURE = Offering("Microsoft", "Azure OpenAI")
_AZURE_AI = Offering("Microsoft", "Azure AI Foundry")
_BEDROCK = Offering("Amazon Web Services", "Amazon Bedrock")
_SAGEMAKER = Offering("Amazon Web Services", "Amazon SageMaker")
_VERTEX = Offering("Google Cloud", "Vertex AI")
_GEMINI = Offering("Google", "Gemini API", "Google")
_ANTHROPIC = Offering("Anthropic", "Anthropic API", "Anthropic")
_COHERE = Offering("Cohere", "Cohere API", "Cohere")
_MISTRAL = Offering("Mistral AI", "Mistral AI API", "Mistral AI")
_DEEPSEEK = Offering("DeepSeek", "DeepSeek API", "DeepSeek")
_XAI = Offering("xAI", "xAI API", "xAI")

# Routing slugs (LiteLLM) and price-list ids (genai-prices) of the same sellers.
OFFERINGS: dict[str, Offering] = {
    "openai": _OPENAI,
    "text-completion-openai": _OPENAI,
    "azure": _AZURE,
    "azure_text": _AZURE,
    "azure_ai": _AZURE_AI,
    "bedrock": _BEDROCK,
    "bedrock_converse": _BEDROCK,
    "aws": _BEDROCK,
    "sagemaker": _SAGEMAKER,
    "sagemaker_chat": _SAGEMAKER,
    "vertex_ai": _VERTEX,
    "vertex_ai_beta": _VERTEX,
    "google-vertex": _VERTEX,
    "gemini": _GEMINI,
    "google": _GEMINI,
    "anthropic": _ANTHROPIC,
    "anthropic_text": _ANTHROPIC,
    "cohere": _COHERE,
    "cohere_chat": _COHERE,
    "mistral": _MISTRAL,
    "codestral": _MISTRAL,
    "deepseek": _DEEPSEEK,
    "xai": _XAI,
    "x-ai": _XAI,
    "groq": Offering("Groq", "GroqCloud"),
    "together_ai": Offering("Together AI", "Together AI API"),
    "together": Offering("Together AI", "Together AI API"),
    "fireworks_ai": Offering("Fireworks AI", "Fireworks AI API"),
    "fireworks": Offering("Fireworks AI", "Fireworks AI API"),
    "openrouter": Offering("OpenRouter", "OpenRouter API"),
    "perplexity": Offering("Perplexity", "Perplexity API", "Perplexity"),
    "databricks": Offering("Databricks", "Databricks Model Serving"),
    "watsonx": Offering("IBM", "IBM watsonx.ai"),
    "cerebras": Offering("Cerebras", "Cerebras Inference"),
    "deepinfra": Offering("DeepInfra", "DeepInfra API"),
    "nvidia_nim": Offering("NVIDIA", "NVIDIA NIM"),
}

# Model-name patterns -> the model's developer (PublisherName), tried in order on the bare model name.
_DEVELOPERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), developer)
    for pattern, developer in (
        (r"claude", "Anthropic"),
        (r"^(gpt|o\d|chatgpt|text-embedding|davinci|babbage|whisper|tts|dall-e|omni-moderation|codex)", "OpenAI"),
        (r"gpt-oss", "OpenAI"),
        (r"gemini|gemma|palm|text-bison|chat-bison|imagen", "Google"),
        (r"llama|meta", "Meta"),
        (r"mistral|mixtral|codestral|pixtral|ministral|magistral|devstral", "Mistral AI"),
        (r"command|embed-(english|multilingual)|rerank|aya", "Cohere"),
        (r"deepseek", "DeepSeek"),
        (r"grok", "xAI"),
        (r"titan|nova", "Amazon"),
        (r"qwen|qwq", "Alibaba"),
        (r"jamba|j2-", "AI21 Labs"),
        (r"phi-", "Microsoft"),
        (r"kimi|moonshot", "Moonshot AI"),
        (r"sonar", "Perplexity"),
        (r"granite", "IBM"),
    )
)


@dataclass(frozen=True, slots=True)
class ProviderNames:
    """The FOCUS provider columns of one (provider slug, model)."""

    provider: str  # ProviderName
    publisher: str  # PublisherName: the model's developer, else the provider
    invoice_issuer: str  # InvoiceIssuerName
    service: str  # ServiceName: the service offering
    developer: str | None  # the model's developer when known (SkuPriceDetails' ModelDeveloper)


@lru_cache(maxsize=4096)
def provider_names(slug: str, model: str, display_name: str | None = None) -> ProviderNames:
    """The FOCUS names for a provider slug and a model. An unknown slug keeps its display name (genai-prices'),
    as provider, issuer and service."""
    offering = OFFERINGS.get(slug.lower())
    developer = model_developer(model) or (offering.developer if offering else None)
    if offering is None:
        name = display_name or slug
        return ProviderNames(name, developer or name, name, name, developer)
    return ProviderNames(
        offering.provider, developer or offering.provider, offering.provider, offering.service, developer
    )


def model_developer(model: str) -> str | None:
    """Who made a model, from its name (`bedrock/anthropic.claude-3-5-sonnet` -> Anthropic), or None."""
    name = model.lower().rsplit("/", 1)[-1]  # Bedrock's `[region.]<developer>.<model>` ids match as they are
    for pattern, developer in _DEVELOPERS:
        if pattern.search(name):
            return developer
    return None


_VERSION_RE = re.compile(r"(?:-|@)(\d{4}-?\d{2}-?\d{2}|\d{8}|\d{3,4}|latest|v\d+(?::\d+)?|preview(?:-\d{2}-\d{2})?)$")


def model_identity(model: str, developer: str | None) -> dict[str, str]:
    """The model-identity keys of SkuPriceDetails (the accepted FOCUS AI proposal): ModelId (the model name as
    billed), ModelDeveloper, and ModelFamily / ModelVersion where the name carries a dated or numbered version
    suffix (`gpt-4o-2024-08-06` -> family `gpt-4o`, version `2024-08-06`)."""
    identity = {"ModelId": model}
    if developer:
        identity["ModelDeveloper"] = developer
    bare = model.rsplit("/", 1)[-1]
    if match := _VERSION_RE.search(bare):
        family = bare[: match.start()]
        if family:
            identity["ModelFamily"] = family
            identity["ModelVersion"] = match.group(1)
    return identity
