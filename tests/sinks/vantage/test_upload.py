"""Vantage replace upload (respx): traceable file names, rollback of a failed part, replacing only the period's
earlier uploads, and the exact comparison of Vantage's amount."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from llm_cost.errors import DestinationError
from llm_cost.sinks.vantage.batching import build_batches
from llm_cost.sinks.vantage.client import VantageClient
from llm_cost.sinks.vantage.upload import (
    PeriodUpload,
    part_filename,
    period_prefix,
    unlabelled_period,
    upload_batches,
    upload_together,
)
from tests.fakes.vantage import vantage_row

KEY, TOKEN = "vk_secret_key_123", "accss_crdntl_secret_456"
BASE = "https://vantage.test"
UPLOADS = f"{BASE}/v2/integrations/{TOKEN}/costs"


def _client(**kwargs: object) -> VantageClient:
    return VantageClient(api_key=KEY, integration_token=TOKEN, base_url=BASE, sleep=lambda s: None, **kwargs)  # type: ignore[arg-type]


def test_filename_is_traceable() -> None:
    assert (
        part_filename(date(2026, 10, 5), date(2026, 10, 6), "RUN", 7)
        == "llm-cost_2026-10-05_2026-10-06_RUN_part007.csv"
    )


@respx.mock
def test_failed_part_rolls_back_and_keeps_earlier_uploads() -> None:
    earlier = {"token": "old1", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"}
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": [earlier]}))
    respx.post(f"{UPLOADS}.csv").mock(
        side_effect=[
            httpx.Response(201, json={"token": "new1", "amount": "1"}),
            httpx.Response(422, json={"errors": ["Row 1: nope"]}),
        ]
    )
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    batches = build_batches([vantage_row(i) for i in range(4)], max_rows=2)
    with pytest.raises(DestinationError, match="HTTP 422"):
        upload_batches(_client(), batches, run_id="RUN")
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["new1"]


@respx.mock
def test_replace_deletes_only_earlier_uploads_of_the_same_period_after_success() -> None:
    listing = [
        {"token": "old1", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"},
        {"token": "other-day", "filename": "llm-cost_2026-10-04_2026-10-05_OLD_part001.csv"},
        {"token": "users-own", "filename": "costs.csv"},
    ]
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": listing}))
    respx.post(f"{UPLOADS}.csv").mock(return_value=httpx.Response(201, json={"token": "new1", "amount": "3.0"}))
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    result = upload_batches(_client(), build_batches([vantage_row(1), vantage_row(2)]), run_id="RUN")
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["old1"]
    assert [u["token"] for u in result.replaced or []] == ["old1"]


@respx.mock
@pytest.mark.parametrize(("amount", "warned"), [("1234.567890123456789", False), ("1234.5678901234567", True)])
def test_a_numeric_amount_in_the_upload_answer_is_compared_exactly(amount: str, warned: bool) -> None:
    """Vantage documents `amount` as a string; a number must not lose digits through a float on the way."""
    batches = build_batches([vantage_row(cost="1234.567890123456789")])
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": []}))
    body = '{"token": "usr_csts_upld_1", "filename": "f.csv", "amount": ' + amount + "}"
    respx.post(f"{UPLOADS}.csv").mock(
        return_value=httpx.Response(201, content=body.encode(), headers={"content-type": "application/json"})
    )
    warnings: list[str] = []
    try:
        upload_batches(_client(), batches, run_id="RUN", warn=warnings.append)
    finally:
        batches.cleanup()
    assert any("Vantage reports" in w for w in warnings) is warned


@respx.mock
def test_each_uploaded_part_is_reported_for_progress() -> None:
    batches = build_batches([vantage_row(n) for n in range(7)], max_rows=3)
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": []}))
    tokens = iter(range(100))
    respx.post(f"{UPLOADS}.csv").mock(
        side_effect=lambda request: httpx.Response(201, json={"token": f"usr_csts_upld_{next(tokens)}", "amount": "0"})
    )
    seen: list[int] = []
    try:
        upload_batches(_client(), batches, run_id="RUN", on_part=lambda part: seen.append(part.number))
    finally:
        batches.cleanup()
    assert seen == [1, 2, 3]


def test_a_labelled_name_carries_the_label_and_is_never_read_as_unlabelled() -> None:
    labelled = part_filename(date(2026, 10, 5), date(2026, 10, 6), "RUN", 1, "prod")
    assert labelled == "llm-cost_prod_2026-10-05_2026-10-06_RUN_part001.csv"
    assert unlabelled_period(labelled) is None
    assert period_prefix(date(2026, 10, 5), date(2026, 10, 6), "prod") == "llm-cost_prod_2026-10-05_2026-10-06_"
    plain = part_filename(date(2026, 10, 5), date(2026, 10, 6), "RUN", 1)
    assert unlabelled_period(plain) == (date(2026, 10, 5), date(2026, 10, 6))
    assert unlabelled_period("llm-cost_2026-13-45_2026-10-06_RUN_part001.csv") is None  # not a date
    assert unlabelled_period("costs.csv") is None


@respx.mock
def test_a_labelled_upload_replaces_only_its_own_label_of_the_period() -> None:
    listing = [
        {"token": "prod-old", "filename": "llm-cost_prod_2026-10-05_2026-10-06_OLD_part001.csv"},
        {"token": "prod-eu", "filename": "llm-cost_prod-eu_2026-10-05_2026-10-06_OLD_part001.csv"},
        {"token": "staging", "filename": "llm-cost_staging_2026-10-05_2026-10-06_OLD_part001.csv"},
        {"token": "unlabelled", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"},
    ]
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": listing}))
    sent = respx.post(f"{UPLOADS}.csv").mock(return_value=httpx.Response(201, json={"token": "new", "amount": "3.0"}))
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    period = (date(2026, 10, 5), date(2026, 10, 6))
    upload_batches(_client(), build_batches([vantage_row(1)]), run_id="RUN", period=period, label="prod")
    assert b"llm-cost_prod_2026-10-05_2026-10-06_RUN_part001.csv" in sent.calls[0].request.content
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["prod-old"]


@respx.mock
def test_a_take_over_sends_every_source_before_it_deletes_and_rolls_them_all_back_on_a_failure() -> None:
    unlabelled = {"token": "unlabelled", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"}
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": [unlabelled]}))
    respx.post(f"{UPLOADS}.csv").mock(
        side_effect=[
            httpx.Response(201, json={"token": "prod-1", "amount": "1"}),
            httpx.Response(422, json={"errors": ["Row 1: nope"]}),
        ]
    )
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    period = (date(2026, 10, 5), date(2026, 10, 6))
    uploads = [
        PeriodUpload(build_batches([vantage_row(1)]), period, "prod"),
        PeriodUpload(build_batches([vantage_row(2)]), period, "staging"),
    ]
    with pytest.raises(DestinationError, match="HTTP 422"):
        upload_together(_client(), uploads, run_id="RUN", also_replace=[unlabelled])
    # prod's part, sent before staging's failed, is rolled back; the unlabelled upload stays.
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["prod-1"]


@respx.mock
def test_a_take_over_deletes_the_unlabelled_upload_once_every_source_landed() -> None:
    unlabelled = {"token": "unlabelled", "filename": "llm-cost_2026-10-05_2026-10-06_OLD_part001.csv"}
    respx.get(UPLOADS).mock(return_value=httpx.Response(200, json={"user_costs_uploads": [unlabelled]}))
    respx.post(f"{UPLOADS}.csv").mock(
        side_effect=[
            httpx.Response(201, json={"token": "prod-1", "amount": "3.0"}),
            httpx.Response(201, json={"token": "staging-1", "amount": "3.0"}),
        ]
    )
    deleted = respx.delete(url__regex=rf"{UPLOADS}/.*").mock(return_value=httpx.Response(204))
    period = (date(2026, 10, 5), date(2026, 10, 6))
    uploads = [
        PeriodUpload(build_batches([vantage_row(1)]), period, "prod"),
        PeriodUpload(build_batches([vantage_row(2)]), period, "staging"),
    ]
    first, second = upload_together(_client(), uploads, run_id="RUN", also_replace=[unlabelled])
    assert [c.request.url.path.rsplit("/", 1)[-1] for c in deleted.calls] == ["unlabelled"]
    assert [u["token"] for u in first.replaced or []] == ["unlabelled"] and second.replaced == []
