"""The chargeback key (`--sub-account`) and the billing account's name: choices, fallbacks, exact totals."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_cost.cli import app
from llm_cost.focus.columns import columns_for
from llm_cost.focus.dimensions import billing_account_name, parse_sub_account, sub_account_of
from llm_cost.focus.mapping import MappingOptions
from llm_cost.pipeline import write_partitions
from llm_cost.pricing import PriceBook
from llm_cost.records import EXACT, TokenCounts, UsageRecord
from tests.fakes.rows import CollectRows

DAY = datetime(2026, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("team", "team"),
        ("USER", "user"),
        (" org ", "org"),
        ("tag:cost-center", "tag:cost-center"),
        ("tag: a b", "tag:a b"),
    ],
)
def test_sub_account_choices(given_value: str, expected: str) -> None:
    assert parse_sub_account(given_value) == expected


@pytest.mark.parametrize("bad", ["", "teams", "tag:", "tag:   ", "key", "tag"])
def test_a_bad_sub_account_is_refused_with_the_choices(bad: str) -> None:
    with pytest.raises(ValueError, match="team, user, org or tag:KEY"):
        parse_sub_account(bad)


def test_a_bad_sub_account_flag_is_a_one_line_config_error(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["export", "--sub-account", "project"])
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "team, user, org or tag:KEY" in lines[0] and "Traceback" not in result.stderr


def test_each_choice_fills_its_own_key_and_never_another() -> None:
    ids = dict(team=("t1", "Team 1"), user=("u1", "u1@example.com"), org=("o1", "Org 1"), tags={"cc": "cc-42"})
    team = sub_account_of("team", **ids)
    assert (team.id, team.name, team.type) == ("t1", "Team 1", "Team")
    user = sub_account_of("user", **ids)
    assert (user.id, user.name, user.type) == ("u1", "u1@example.com", "User")
    org = sub_account_of("org", **ids)
    assert (org.id, org.name, org.type) == ("o1", "Org 1", "Organization")
    tag = sub_account_of("tag:cc", **ids)
    assert (tag.id, tag.name, tag.type) == ("cc-42", "cc-42", "Tag cc")
    missing = sub_account_of("tag:env", **ids)
    assert (missing.id, missing.name, missing.type) == (None, None, None)
    no_user = sub_account_of("user", team=("t1", "Team 1"), user=(None, None), org=(None, None), tags={})
    assert (no_user.id, no_user.name, no_user.type) == (None, None, None)  # not the team's
    nameless = sub_account_of("org", team=(None, None), user=(None, None), org=("o2", None), tags={})
    assert (nameless.id, nameless.name) == ("o2", "o2")


def test_billing_account_name_is_never_blank() -> None:
    key = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
    assert billing_account_name(key, "prod-key", "sk-...a1b2") == "prod-key"
    assert billing_account_name(key, None, "sk-...a1b2") == "sk-...a1b2"
    assert billing_account_name(key, None, None) == "key 88dc28d0f030"


_maybe = st.one_of(st.none(), st.sampled_from(["a", "b", 'Équipe, "x"\n']))


@st.composite
def _records(draw: st.DrawFn) -> list[UsageRecord]:
    count = draw(st.integers(min_value=1, max_value=12))
    records = []
    for index in range(count):
        tag = draw(_maybe)
        records.append(
            UsageRecord(
                DAY,
                DAY,
                "openai",
                draw(st.sampled_from(["gpt-4o", "gpt-4o-mini"])),
                Decimal(draw(st.integers(min_value=0, max_value=10**9))) / Decimal(10**9),
                tokens=TokenCounts(
                    input=draw(st.integers(0, 5000)),
                    output=draw(st.integers(0, 500)),
                    cache_read=draw(st.integers(0, 50)),
                ),
                api_key_hash=f"k{index % 3}",
                team_id=draw(_maybe),
                team_alias=draw(_maybe),
                user_id=draw(_maybe),
                user_email=draw(_maybe),
                org_id=draw(_maybe),
                org_alias=draw(_maybe),
                tags={"cc": tag} if tag else {},
                source="litellm",
                request_id=str(index),
            )
        )
    return records


@given(_records(), st.sampled_from(["team", "user", "org", "tag:cc"]), st.booleans())
def test_totals_per_sub_account_equal_the_records_exactly(records: list[UsageRecord], choice: str, split: bool) -> None:
    field = {"team": "team_id", "user": "user_id", "org": "org_id"}.get(choice)
    expected: dict[str | None, Decimal] = defaultdict(Decimal)
    for record in records:
        key = record.tags.get("cc") if field is None else getattr(record, field)
        expected[key or None] = EXACT.add(expected[key or None], record.cost)
    sink = CollectRows()
    columns = columns_for("focus")
    write_partitions(
        [lambda: records],
        prices=PriceBook(),
        columns=columns,
        sinks=[sink],
        mapping=MappingOptions(split_tokens=split, sub_account=choice),
    )
    got: dict[str | None, Decimal] = defaultdict(Decimal)
    for row in sink.rows:
        got[row["SubAccountId"]] = EXACT.add(got[row["SubAccountId"]], Decimal(row["BilledCost"] or "0"))
        assert (row["SubAccountId"] is None) == (row["SubAccountType"] is None) == (row["SubAccountName"] is None)
    assert {k: v for k, v in got.items() if v or k} == {k: v for k, v in expected.items() if v or k}
