"""LiteLLM-shaped usage records for the golden files: what the LiteLLM source yields for one day of requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from llm_cost.records import TokenCounts, TokenType, UsageRecord

DAY = datetime(2026, 10, 5, tzinfo=UTC)


def _at(hour: int, minute: int) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def records() -> list[UsageRecord]:
    """Eight requests: two keys, two teams, three models, cost breakdowns (one that does not add up, two that
    give a used token type nothing), cache tokens, request tags, and one request that runs past midnight."""
    base = dict(source="litellm:/spend/logs/v2", cost_source="reported")
    prod = dict(
        api_key_hash="88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        key_alias="prod-key",
        team_id="team-a",
        team_alias="Team A",
        user_id="user-1",
        user_email="ana@example.com",
        org_id="org-acme",
        org_alias="Acme, Inc.",
    )
    batch = dict(
        api_key_hash="1f2e3d4c5b6a79880011223344556677889900aabbccddeeff00112233445566",
        key_name="sk-...5566",  # no alias: BillingAccountName falls back to LiteLLM's key name
        team_id="team-b",
        team_alias="Team B",
    )
    return [
        UsageRecord(
            _at(9, 0),
            _at(9, 0),
            "openai",
            "gpt-4o",
            Decimal("0.000675"),
            model_group="gpt-4o",
            tokens=TokenCounts(input=60, output=18, cache_read=6),
            provider_name="OpenAI",
            request_id="r1",
            cost_components={
                TokenType.INPUT: Decimal("0.000165"),
                TokenType.CACHE_READ: Decimal("0.0000075"),
                TokenType.OUTPUT: Decimal("0.00018"),
            },
            tags={"feature": "chat"},
            **prod,
            **base,
        ),
        UsageRecord(
            _at(9, 5),
            _at(9, 5),
            "openai",
            "gpt-4o",
            Decimal("0.0125"),
            model_group="gpt-4o",
            tokens=TokenCounts(input=3000, output=500),
            provider_name="OpenAI",
            request_id="r2",
            tags={"feature": "rag"},
            **prod,
            **base,
        ),
        UsageRecord(
            _at(13, 30),
            _at(13, 30),
            "anthropic",
            "claude-sonnet-4-0",
            Decimal("0.021855"),
            model_group="claude-sonnet",
            provider_name="Anthropic",
            request_id="r3",
            tokens=TokenCounts(input=1200, output=900, cache_read=4000, cache_write=1000),
            tags={"feature": "summarise"},
            **prod,
            **base,
        ),
        UsageRecord(
            _at(23, 59),
            _at(23, 59),
            "openai",
            "gpt-4o-mini",
            Decimal("0.00123"),
            model_group="mini",
            tokens=TokenCounts(input=5000, output=800),
            provider_name="OpenAI",
            request_id="r4",
            **batch,
            **base,
        ),
        UsageRecord(
            _at(0, 0),
            _at(0, 0),
            "openai",
            "gpt-4o-mini",
            Decimal("0.00077"),
            model_group="mini",
            tokens=TokenCounts(input=3000, output=500),
            provider_name="OpenAI",
            request_id="r5",
            **batch,
            **base,
        ),
        UsageRecord(
            _at(12, 0),
            _at(12, 0),
            "custom",
            "in-house-llm",
            Decimal("0.5"),
            model_group=None,
            tokens=TokenCounts(input=10000, output=2000),
            request_id="r6",
            **batch,
            **base,
        ),
        # A breakdown that gives a used token type nothing (free output) and adds up to the spend exactly.
        UsageRecord(
            _at(16, 0),
            _at(16, 0),
            "openai",
            "gpt-4o-mini",
            Decimal("0.00015"),
            model_group="mini",
            tokens=TokenCounts(input=1000, output=200),
            provider_name="OpenAI",
            request_id="r7",
            cost_components={TokenType.INPUT: Decimal("0.00015"), TokenType.OUTPUT: Decimal("0")},
            tags={"feature": "free-output"},
            **batch,
            **base,
        ),
        # A request that started before midnight and ended after it: charged to the day it started.
        UsageRecord(
            _at(23, 59).replace(second=59),
            _at(23, 59).replace(second=59) + timedelta(seconds=3),
            "openai",
            "gpt-4o",
            Decimal("0.0035"),
            model_group="gpt-4o",
            provider_name="OpenAI",
            request_id="r8",
            tokens=TokenCounts(input=5, output=100, cache_read=2000),
            cost_components={TokenType.CACHE_READ: Decimal("0.0025"), TokenType.OUTPUT: Decimal("0.001")},
            tags={"feature": "cached"},
            **prod,
            **base,
        ),
    ]
