"""FakeVantage behaves like the documented Vantage Custom Provider API (/work/shared/docs/vantage-api.md, §1).

Plain httpx against the loopback server; every server is stopped by its context manager or fixture.
"""

import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest

from tests.fakes.vantage import (
    CHARGE_CATEGORIES,
    MAX_BYTES,
    MAX_ROWS,
    FakeVantage,
    fake_vantage_fixture,
    validate_costs_csv,
)

KEY = "vk_test"
INTEGRATION = "accss_crdntl_test"
UPLOAD_PATH = f"/v2/integrations/{INTEGRATION}/costs.csv"
LIST_PATH = f"/v2/integrations/{INTEGRATION}/costs"
HEADER = ["ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost", "ServiceName", "Tags"]
CHARGE_CATEGORY_ERROR = "ChargeCategory must be one of the following: Credit, Discount, Fee, Refund, Tax, or Usage"


def row(**values: str) -> dict[str, str]:
    base = {
        "ChargePeriodStart": "2025-06-14T00:00:00Z",
        "ChargePeriodEnd": "2025-06-15T00:00:00Z",
        "ChargeCategory": "Usage",
        "BilledCost": "1.25",
        "ServiceName": "OpenAI API",
        "Tags": '{"team":"search"}',
    }
    base.update(values)
    return base


def make_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    header = header or HEADER
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(column, "") for column in header])
    return buffer.getvalue().encode("utf-8")


def post_csv(
    client: httpx.Client,
    data: bytes,
    filename: str = "costs.csv",
    *,
    path: str = UPLOAD_PATH,
    auto_transform: str | None = "false",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    form = {} if auto_transform is None else {"auto_transform": auto_transform}
    return client.post(path, files={"csv": (filename, data, "text/csv")}, data=form, headers=headers)


def http_client(base_url: str = "", **options: object) -> httpx.Client:
    """A plain httpx client. verify=False only skips building an SSL context (~35 ms each); all URLs are http."""
    return httpx.Client(base_url=base_url, verify=False, timeout=5, **options)  # type: ignore[arg-type]


def get(url: str, **options: object) -> httpx.Response:
    with http_client() as one_shot:
        return one_shot.get(url, **options)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeVantage]:
    """A default FakeVantage; the test fails if the fake itself raised anything internally."""
    with FakeVantage(api_key=KEY, integration_token=INTEGRATION, read_only_keys={"vk_read"}) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakeVantage) -> Iterator[httpx.Client]:
    with http_client(fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def assert_rate_headers(response: httpx.Response) -> None:
    for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
        assert response.headers[name].isdigit(), name
    assert int(response.headers["x-rate-limit-reset"]) >= int(time.time())


# ---------------------------------------------------------------------------------------------------- happy path


def test_valid_upload_returns_201_user_costs_upload_with_exact_amount(fake: FakeVantage, client: httpx.Client):
    rows = [
        row(BilledCost="0.1"),
        row(BilledCost="0.2", ChargePeriodStart="2025-06-15T00:00:00Z", ChargePeriodEnd="2025-06-16T00:00:00Z"),
        row(BilledCost="0.000000123", ChargeCategory="Tax"),
        row(BilledCost="-0.05", ChargeCategory="Credit"),
    ]
    response = post_csv(client, make_csv(rows), "llm-cost_2025-06-14_2025-06-16_run1_part001.csv")

    assert response.status_code == 201
    assert_rate_headers(response)
    body = response.json()
    assert set(body) == {
        "token",
        "filename",
        "amount",
        "start_date",
        "end_date",
        "import_status",
        "created_by_token",
        "created_at",
    }
    assert all(isinstance(value, str) for value in body.values())
    assert re.fullmatch(r"usr_csts_upld_[0-9a-f]{16}", body["token"])
    assert body["filename"] == "llm-cost_2025-06-14_2025-06-16_run1_part001.csv"
    assert body["amount"] == "0.250000123"  # exact Decimal sum, no float noise
    assert Decimal(body["amount"]) == Decimal("0.1") + Decimal("0.2") + Decimal("0.000000123") - Decimal("0.05")
    assert body["start_date"] == "2025-06-14"
    assert body["end_date"] == "2025-06-16"  # latest ChargePeriodEnd day, like the docs example
    assert body["import_status"] == "processing"
    assert body["created_by_token"].startswith("usr_")
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None

    assert [u.token for u in fake.uploads] == [body["token"]]
    assert fake.uploads[0].auto_transform is False
    assert fake.total_cost() == Decimal("0.250000123")
    assert fake.total_by_day() == {
        date(2025, 6, 14): Decimal("0.050000123"),
        date(2025, 6, 15): Decimal("0.2"),
    }
    assert [r["BilledCost"] for r in fake.rows()] == ["0.1", "0.2", "0.000000123", "-0.05"]
    assert fake.limit_violations == []
    assert fake.upload_attempts == 1


def test_amount_always_has_a_decimal_point_and_accepts_dollar_signs(client: httpx.Client):
    rows = [row(BilledCost="$1000"), row(BilledCost="-$250.5"), row(BilledCost="1e2")]
    response = post_csv(client, make_csv(rows))
    assert response.status_code == 201
    assert response.json()["amount"] == "849.5"
    response = post_csv(client, make_csv([row(BilledCost="3")]))
    assert response.json()["amount"] == "3.0"


def test_auto_transform_is_optional_and_recorded(fake: FakeVantage, client: httpx.Client):
    assert post_csv(client, make_csv([row()]), auto_transform=None).status_code == 201
    assert post_csv(client, make_csv([row()]), auto_transform="true").status_code == 201
    assert [u.auto_transform for u in fake.uploads] == [False, True]
    response = post_csv(client, make_csv([row()]), auto_transform="maybe")
    assert response.status_code == 400
    assert response.json() == {"errors": ["auto_transform is invalid"]}


def test_list_returns_uploads_and_import_status_completes_after_one_list(fake: FakeVantage, client: httpx.Client):
    token = post_csv(client, make_csv([row()]), "a.csv").json()["token"]

    first = client.get(LIST_PATH)
    assert first.status_code == 200
    assert_rate_headers(first)
    uploads = first.json()["user_costs_uploads"]
    assert [(u["token"], u["filename"], u["amount"]) for u in uploads] == [(token, "a.csv", "1.25")]
    assert uploads[0]["import_status"] == "processing"
    second = client.get(LIST_PATH).json()["user_costs_uploads"]
    assert second[0]["import_status"] == "complete"
    assert fake.upload(token).import_status == "complete"


@pytest.mark.parametrize(("after", "expected"), [(0, ["complete"]), (2, ["processing", "processing", "complete"])])
def test_complete_after_lists_is_configurable(after: int, expected: list[str]):
    with FakeVantage(api_key=KEY, integration_token=INTEGRATION, complete_after_lists=after) as fake:
        with http_client(fake.base_url, headers=fake.auth_headers()) as c:
            post_csv(c, make_csv([row()]))
            seen = [c.get(LIST_PATH).json()["user_costs_uploads"][0]["import_status"] for _ in expected]
    assert seen == expected


def test_set_import_status_and_seeded_uploads(fake: FakeVantage, client: httpx.Client):
    old = fake.add_upload(make_csv([row(BilledCost="9.99")]), "llm-cost_2025-06-14_2025-06-15_old_part001.csv")
    mine = fake.add_upload(make_csv([row(BilledCost="5")]), "my-own.csv", import_status="processing")
    fake.set_import_status(mine.token, "error")
    listed = {u["filename"]: u for u in client.get(LIST_PATH).json()["user_costs_uploads"]}
    assert listed[old.filename]["import_status"] == "complete"
    assert listed[old.filename]["amount"] == "9.99"
    assert listed["my-own.csv"]["import_status"] == "error"
    assert fake.total_cost() == Decimal("14.99")
    assert fake.count() == 1  # seeding is not an HTTP request
    with pytest.raises(ValueError, match="ChargeCategory"):
        fake.add_upload(make_csv([row(ChargeCategory="Purchase")]), "bad.csv")


def test_delete_returns_204_then_404(fake: FakeVantage, client: httpx.Client):
    keep = post_csv(client, make_csv([row(BilledCost="2")]), "keep.csv").json()["token"]
    gone = post_csv(client, make_csv([row(BilledCost="3")]), "gone.csv").json()["token"]

    response = client.delete(f"{LIST_PATH}/{gone}")
    assert response.status_code == 204
    assert response.content == b""
    assert_rate_headers(response)
    again = client.delete(f"{LIST_PATH}/{gone}")
    assert again.status_code == 404
    assert again.json()["errors"]

    assert fake.deleted == [gone]
    assert [u.token for u in fake.uploads] == [keep]
    assert fake.total_cost() == Decimal("2")
    assert [u["token"] for u in client.get(LIST_PATH).json()["user_costs_uploads"]] == [keep]


def test_uploads_are_separate_per_integration(client: httpx.Client, fake: FakeVantage):
    fake.add_integration("accss_crdntl_other")
    other = "/v2/integrations/accss_crdntl_other"
    token = post_csv(client, make_csv([row(BilledCost="7")]), path=f"{other}/costs.csv").json()["token"]
    post_csv(client, make_csv([row(BilledCost="1")]))
    assert [u["token"] for u in client.get(f"{other}/costs").json()["user_costs_uploads"]] == [token]
    assert client.delete(f"{LIST_PATH}/{token}").status_code == 404  # not this integration's upload
    assert fake.total_cost("accss_crdntl_other") == Decimal("7")
    assert fake.total_cost() == Decimal("8")


def test_same_filename_uploads_are_separate_unless_overwrite_is_enabled(fake: FakeVantage, client: httpx.Client):
    post_csv(client, make_csv([row(BilledCost="1")]), "same.csv")
    post_csv(client, make_csv([row(BilledCost="1")]), "same.csv")
    assert fake.total_cost() == Decimal("2")  # double counted, as the contract warns

    with FakeVantage(api_key=KEY, integration_token=INTEGRATION, overwrite_same_filename=True) as other:
        with http_client(other.base_url, headers=other.auth_headers()) as c:
            first = post_csv(c, make_csv([row(BilledCost="1")]), "same.csv").json()["token"]
            post_csv(c, make_csv([row(BilledCost="4")]), "same.csv")
        assert other.total_cost() == Decimal("4")
        assert other.overwritten == [first]
        assert other.deleted == []


def test_ping(fake: FakeVantage, client: httpx.Client):
    response = client.get("/v2/ping")
    assert response.status_code == 200
    assert_rate_headers(response)
    assert get(f"{fake.base_url}/v2/ping").status_code == 401


def test_unknown_routes_are_404_and_wrong_methods_405(fake: FakeVantage, client: httpx.Client):
    assert client.get("/v2/v2/ping").status_code == 404  # a doubled /v2 is a client bug the fake exposes
    assert client.get("/ping").status_code == 404
    assert client.get(UPLOAD_PATH).status_code == 405
    assert client.post(LIST_PATH).status_code == 405


# ---------------------------------------------------------------------------------------------------- 422 validation


@pytest.mark.parametrize("column", ["ChargeCategory", "ChargePeriodStart", "BilledCost", "ServiceName"])
def test_missing_required_column_is_422(fake: FakeVantage, client: httpx.Client, column: str):
    header = [c for c in HEADER if c != column]
    response = post_csv(client, make_csv([row()], header))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(re.search(r"(?i)required column", e) and column in e for e in errors)
    assert fake.uploads == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ChargeCategory": "usage"}, CHARGE_CATEGORY_ERROR),  # case-sensitive
        ({"ChargeCategory": "Purchase"}, CHARGE_CATEGORY_ERROR),  # FOCUS value Vantage does not list
        ({"ChargeCategory": "Adjustment"}, CHARGE_CATEGORY_ERROR),
        ({"ChargeCategory": ""}, CHARGE_CATEGORY_ERROR),
        ({"BilledCost": "abc"}, "BilledCost must be a valid number"),
        ({"BilledCost": ""}, "BilledCost must be a valid number"),
        ({"BilledCost": "1,000.00"}, "BilledCost must be a valid number"),
        ({"BilledCost": "NaN"}, "BilledCost must be a valid number"),
        ({"ChargePeriodStart": "2025-13-01"}, "ChargePeriodStart must be a valid date"),
        ({"ChargePeriodStart": "yesterday"}, "ChargePeriodStart must be a valid date"),
        ({"ChargePeriodStart": ""}, "ChargePeriodStart must be a valid date"),
        ({"ChargePeriodEnd": "2025-06-31"}, "ChargePeriodEnd must be a valid date"),
        ({"Tags": "{not json"}, "Tags must be a valid JSON object"),
        ({"Tags": "[1, 2]"}, "Tags must be a valid JSON object"),
        ({"Tags": '"team"'}, "Tags must be a valid JSON object"),
        ({"ServiceName": ""}, "ServiceName can't be blank"),
    ],
)
def test_invalid_values_are_422_with_the_documented_message(
    fake: FakeVantage, client: httpx.Client, values: dict[str, str], message: str
):
    response = post_csv(client, make_csv([row(), row(**values)]))
    assert response.status_code == 422
    assert_rate_headers(response)
    assert response.json() == {"errors": [f"Row 2: {message}"]}
    assert fake.uploads == []
    assert fake.total_cost() == 0


def test_all_row_errors_are_reported_like_the_docs_example(client: httpx.Client):
    rows = [row(ChargeCategory="Purchase"), row(), row(Tags="nope"), row(BilledCost="x", ChargePeriodStart="bad")]
    errors = post_csv(client, make_csv(rows)).json()["errors"]
    assert errors == [
        f"Row 1: {CHARGE_CATEGORY_ERROR}",
        "Row 3: Tags must be a valid JSON object",
        "Row 4: ChargePeriodStart must be a valid date",
        "Row 4: BilledCost must be a valid number",
    ]


def test_row_numbers_count_records_not_lines(client: httpx.Client):
    rows = [row(ServiceName="multi\nline\nname"), row(BilledCost="oops")]
    assert post_csv(client, make_csv(rows)).json()["errors"] == ["Row 2: BilledCost must be a valid number"]


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", r"(?i)empty"),
        (b"\r\n\r\n", r"(?i)empty"),
        (",".join(HEADER).encode() + b"\r\n", r"(?i)no rows"),
        (b"\xff\xfeC\x00h\x00", r"(?i)utf-8"),
        (",".join(HEADER).encode() + b'\r\n2025-06-14,,Usage,1,"unterminated\r\n', r"(?i)could not be parsed"),
        (",".join(HEADER).encode() + b"\r\n2025-06-14,,Usage,1\r\n", r"Row 1: has 4 fields but the header has 6"),
    ],
)
def test_empty_or_unreadable_files_are_422(fake: FakeVantage, client: httpx.Client, data: bytes, pattern: str):
    response = post_csv(client, data)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(re.search(pattern, e) for e in errors), errors
    assert fake.uploads == []


def test_accepted_variants(fake: FakeVantage, client: httpx.Client):
    rows = [row(ChargeCategory=category) for category in CHARGE_CATEGORIES]
    rows += [
        row(ChargePeriodStart="2025-06-14", ChargePeriodEnd="", Tags=""),  # plain dates, no end, no tags
        row(ChargePeriodStart="2025-06-14T23:30:00-02:00"),  # an offset: 2025-06-15 in UTC
        row(ChargePeriodStart="2025-06-14T10:00:00.123456+00:00", Tags="{}"),
    ]
    data = b"\xef\xbb\xbf" + make_csv(rows, HEADER + ["x_Extra", "BillingCurrency"])  # BOM and extra columns
    response = post_csv(client, data)
    assert response.status_code == 201, response.text
    assert date(2025, 6, 15) in fake.total_by_day()


def test_optional_documented_columns_are_checked(client: httpx.Client):
    header = HEADER + ["BillingCurrency", "ConsumedQuantity", "ConsumedUnit"]
    good = row(BillingCurrency="USD", ConsumedQuantity="1250000.0", ConsumedUnit="Tokens")
    assert post_csv(client, make_csv([good], header)).status_code == 201
    bad = [row(BillingCurrency="usd"), row(ConsumedQuantity="many", ConsumedUnit="Tokens"), row(ConsumedQuantity="5")]
    assert post_csv(client, make_csv(bad, header)).json()["errors"] == [
        "Row 1: BillingCurrency must be a valid ISO 4217 currency code",
        "Row 2: ConsumedQuantity must be a valid number",
        "Row 3: ConsumedUnit is required when ConsumedQuantity is present",
    ]


def test_validate_costs_csv_works_offline():
    result = validate_costs_csv(make_csv([row(), row(BilledCost="2")]))
    assert result.ok
    assert result.amount == Decimal("3.25")
    assert (result.start_date, result.end_date) == (date(2025, 6, 14), date(2025, 6, 15))
    assert not validate_costs_csv(make_csv([row(Tags="[]")])).ok


# ---------------------------------------------------------------------------------------------------- bad requests


def test_upload_form_errors_are_400(fake: FakeVantage, client: httpx.Client):
    missing = client.post(UPLOAD_PATH, files={"file": ("costs.csv", make_csv([row()]), "text/csv")})
    assert missing.status_code == 400
    assert missing.json() == {"errors": ["csv is missing"]}
    not_a_file = client.post(UPLOAD_PATH, files={"csv": (None, make_csv([row()]))})
    assert not_a_file.status_code == 400
    not_multipart = client.post(UPLOAD_PATH, content=make_csv([row()]), headers={"Content-Type": "text/csv"})
    assert not_multipart.status_code == 400
    assert fake.uploads == []
    assert fake.upload_attempts == 3


# ---------------------------------------------------------------------------------------------------- auth and 404


def test_missing_or_wrong_key_is_401(fake: FakeVantage):
    data = make_csv([row()])
    with http_client(fake.base_url) as anonymous:
        for headers in ({}, {"Authorization": "Bearer vk_wrong"}, {"Authorization": f"Token {KEY}"}):
            for response in (post_csv(anonymous, data, headers=headers), anonymous.get(LIST_PATH, headers=headers)):
                assert response.status_code == 401
                assert isinstance(response.json()["errors"], list) and response.json()["errors"]
                assert_rate_headers(response)
    assert fake.uploads == []


def test_invalid_key_status_can_be_403_like_the_swagger():
    with FakeVantage(api_key=KEY, integration_token=INTEGRATION, invalid_key_status=403) as fake:
        response = get(f"{fake.base_url}{LIST_PATH}", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 403


def test_read_only_key_can_read_but_not_write(fake: FakeVantage, client: httpx.Client):
    token = post_csv(client, make_csv([row()])).json()["token"]
    read_only = {"Authorization": "Bearer vk_read"}
    assert client.get(LIST_PATH, headers=read_only).status_code == 200
    assert client.get("/v2/ping", headers=read_only).status_code == 200
    post = post_csv(client, make_csv([row()]), headers=read_only)
    assert post.status_code == 403
    assert post.json()["errors"]
    assert client.delete(f"{LIST_PATH}/{token}", headers=read_only).status_code == 403
    assert [u.token for u in fake.uploads] == [token]
    assert fake.deleted == []


def test_unknown_integration_token_is_404(fake: FakeVantage, client: httpx.Client):
    base = "/v2/integrations/accss_crdntl_nope"
    for response in (
        post_csv(client, make_csv([row()]), path=f"{base}/costs.csv"),
        client.get(f"{base}/costs"),
        client.delete(f"{base}/costs/usr_csts_upld_0000000000000000"),
    ):
        assert response.status_code == 404
        assert response.json() == {"errors": ["Integration not found"]}
    assert fake.uploads == []


# ---------------------------------------------------------------------------------------------------- limits


def padded_rows(count: int, pad: int = 0) -> list[dict[str, str]]:
    return [row(BilledCost="0.01", Tags="", ServiceName="S" + "x" * pad) for _ in range(count)]


def test_row_limit(fake: FakeVantage, client: httpx.Client):
    assert post_csv(client, make_csv(padded_rows(MAX_ROWS))).status_code == 201
    assert fake.limit_violations == []

    response = post_csv(client, make_csv(padded_rows(MAX_ROWS + 1)), "too-many.csv")
    assert response.status_code == 422
    assert any("10,000 rows" in e for e in response.json()["errors"])
    [violation] = fake.limit_violations
    assert (violation.kind, violation.actual, violation.limit, violation.filename) == (
        "rows",
        MAX_ROWS + 1,
        MAX_ROWS,
        "too-many.csv",
    )
    assert len(fake.uploads) == 1
    assert fake.total_cost() == Decimal("100.00")


def exact_size_csv(size: int) -> bytes:
    """A valid CSV of exactly ``size`` bytes (rows of about 650 bytes, the last one padded to fit)."""
    header_len = len(make_csv([]))
    bare_row_len = len(make_csv(padded_rows(1))) - header_len
    data = make_csv(padded_rows((size - header_len) // (bare_row_len + 600) - 1, pad=600))
    data += make_csv(padded_rows(1, pad=size - len(data) - bare_row_len))[header_len:]
    assert len(data) == size
    return data


def test_byte_limit(fake: FakeVantage, client: httpx.Client):
    assert post_csv(client, exact_size_csv(MAX_BYTES)).status_code == 201
    assert fake.limit_violations == []

    response = post_csv(client, exact_size_csv(MAX_BYTES + 1), "too-big.csv")
    assert response.status_code == 422
    assert any("2 MB" in e and "2,000,001 bytes" in e for e in response.json()["errors"])
    [violation] = fake.limit_violations
    assert (violation.kind, violation.actual, violation.limit, violation.filename) == (
        "bytes",
        MAX_BYTES + 1,
        MAX_BYTES,
        "too-big.csv",
    )
    assert len(fake.uploads) == 1


# ---------------------------------------------------------------------------------------------------- rate limit


def test_rate_limit_headers_and_429():
    now = [1_800_000_000.0]
    options = {"rate_limit": 3, "rate_window": 60, "clock": lambda: now[0]}
    with FakeVantage(api_key=KEY, integration_token=INTEGRATION, **options) as fake:
        with http_client(fake.base_url, headers=fake.auth_headers()) as c:
            responses = [c.get(LIST_PATH) for _ in range(3)]
            assert [r.status_code for r in responses] == [200, 200, 200]
            assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["2", "1", "0"]
            assert {r.headers["x-rate-limit-limit"] for r in responses} == {"3"}
            assert {r.headers["x-rate-limit-reset"] for r in responses} == {"1800000060"}

            now[0] += 20
            limited = post_csv(c, make_csv([row()]))
            assert limited.status_code == 429
            assert limited.headers["Retry-After"] == "40"
            assert limited.headers["x-rate-limit-remaining"] == "0"
            assert limited.headers["x-rate-limit-reset"] == "1800000060"
            assert limited.json()["errors"]
            assert fake.uploads == []

            now[0] += 40  # the window is over
            fresh = post_csv(c, make_csv([row()]))
            assert fresh.status_code == 201
            assert fresh.headers["x-rate-limit-remaining"] == "2"
            assert fresh.headers["x-rate-limit-reset"] == "1800000120"
    assert [r.status for r in fake.requests] == [200, 200, 200, 429, 201]


# ---------------------------------------------------------------------------------------------------- faults


def test_fail_next_post_503_twice_then_success(fake: FakeVantage, client: httpx.Client):
    fake.fail_next("POST", status=503, times=2)
    statuses = [post_csv(client, make_csv([row()])).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert client.get(LIST_PATH).status_code == 200
    assert fake.count("POST", path_contains="costs.csv") == 3
    assert fake.count("POST", status=503) == 2
    assert [r.injected for r in fake.requests] == [True, True, False, False]
    assert len(fake.uploads) == 1


def test_fail_next_does_not_touch_other_methods(fake: FakeVantage, client: httpx.Client):
    fake.fail_next("DELETE", status=500)
    assert client.get(LIST_PATH).status_code == 200
    assert post_csv(client, make_csv([row()])).status_code == 201
    assert client.delete(f"{LIST_PATH}/usr_csts_upld_x").status_code == 500
    assert client.delete(f"{LIST_PATH}/usr_csts_upld_x").status_code == 404


def test_fail_next_429_with_retry_after(fake: FakeVantage, client: httpx.Client):
    fake.fail_next("POST", status=429, retry_after=1, times=1)
    before = int(time.time())
    limited = post_csv(client, make_csv([row()]))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert before + 1 <= int(limited.headers["x-rate-limit-reset"]) <= int(time.time()) + 2
    assert limited.json()["errors"]
    assert post_csv(client, make_csv([row()])).status_code == 201


def test_fail_on_upload_number(fake: FakeVantage, client: httpx.Client):
    fake.fail_on_upload_number(3, status=500, times=2)
    assert client.get(LIST_PATH).status_code == 200  # not an upload attempt
    statuses = [post_csv(client, make_csv([row()]), f"part{i}.csv").status_code for i in range(1, 6)]
    assert statuses == [201, 201, 500, 500, 201]
    assert [r.upload_number for r in fake.requests if r.method == "POST"] == [1, 2, 3, 4, 5]
    assert [u.filename for u in fake.uploads] == ["part1.csv", "part2.csv", "part5.csv"]


def test_drop_next_closes_the_connection_without_a_response(fake: FakeVantage, client: httpx.Client):
    fake.drop_next("POST")
    with pytest.raises(httpx.RemoteProtocolError):
        post_csv(client, make_csv([row()]))
    assert fake.uploads == []
    fake.drop_next("GET", reset=True)
    with pytest.raises(httpx.ReadError):
        client.get(LIST_PATH)
    assert client.get(LIST_PATH).status_code == 200  # the client reconnects
    assert [(r.method, r.status, r.dropped) for r in fake.requests] == [
        ("POST", None, True),
        ("GET", None, True),
        ("GET", 200, False),
    ]


def test_faults_after_processing_store_the_upload_but_fail_the_response(fake: FakeVantage, client: httpx.Client):
    fake.drop_next("POST", after_processing=True)
    with pytest.raises(httpx.TransportError):
        post_csv(client, make_csv([row()]), "lost-response.csv")
    fake.fail_next("POST", status=504, after_processing=True)
    assert post_csv(client, make_csv([row()]), "gateway-timeout.csv").status_code == 504
    assert [u.filename for u in fake.uploads] == ["lost-response.csv", "gateway-timeout.csv"]


def test_drop_on_upload_number(fake: FakeVantage, client: httpx.Client):
    fake.drop_on_upload_number(2)
    assert post_csv(client, make_csv([row()])).status_code == 201
    with pytest.raises(httpx.TransportError):
        post_csv(client, make_csv([row()]))
    assert post_csv(client, make_csv([row()])).status_code == 201
    assert fake.upload_attempts == 3
    assert len(fake.uploads) == 2


def test_delays_trip_a_client_read_timeout(fake: FakeVantage, client: httpx.Client):
    fake.delay_next("GET", 0.3, path_contains="/costs")
    assert client.get("/v2/ping").status_code == 200  # path does not match
    with pytest.raises(httpx.ReadTimeout):
        client.get(LIST_PATH, timeout=0.05)
    fake.delay_next("POST", 0.05)
    assert post_csv(client, make_csv([row()])).status_code == 201  # a delay alone answers normally
    fake.fail_next("POST", status=502, delay=0.05)
    assert post_csv(client, make_csv([row()])).status_code == 502
    assert len(fake.uploads) == 1


def test_stopped_server_gives_a_connect_error():
    fake = FakeVantage(api_key=KEY, integration_token=INTEGRATION).start()
    url = f"{fake.base_url}/v2/ping"
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        get(url, headers={"Authorization": f"Bearer {KEY}"})


# ---------------------------------------------------------------------------------------------------- CSV fidelity


def test_quoted_commas_newlines_and_non_ascii_survive(fake: FakeVantage, client: httpx.Client):
    tricky = row(
        ServiceName='Azure "OpenAI", Sweden\nCentral',
        Tags='{"team": "recherche, développement", "emoji": "✓🚀", "quote": "say \\"hi\\""}',
        BilledCost="0.3",
    )
    crlf = row(ServiceName="line\r\nbreak ünïcödé 日本語", BilledCost="0.7")
    response = post_csv(client, make_csv([tricky, crlf]), "naïve-日本.csv")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "naïve-日本.csv"
    assert response.json()["amount"] == "1.0"
    assert fake.rows() == [tricky, crlf]


# ---------------------------------------------------------------------------------------------------- lifecycle


def test_stop_closes_idle_keep_alive_connections_and_joins_threads():
    before = set(threading.enumerate())
    with FakeVantage(api_key=KEY, integration_token=INTEGRATION) as fake:
        client = http_client(fake.base_url, headers=fake.auth_headers())
        assert client.get("/v2/ping").status_code == 200  # leaves a pooled keep-alive connection open
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert not fake.running
    assert set(threading.enumerate()) <= before
    client.close()


def test_fake_vantage_fixture_generator_stops_the_server():
    generator = fake_vantage_fixture(rate_limit=7)
    server = next(generator)
    with http_client(server.base_url, headers=server.auth_headers()) as c:
        assert c.get("/v2/ping").headers["x-rate-limit-limit"] == "7"
    with pytest.raises(StopIteration):
        next(generator)
    assert not server.running


def test_conftest_fixture(fake_vantage: FakeVantage):
    assert (fake_vantage.api_key, fake_vantage.integration_token) == ("vk_test", "accss_crdntl_test")
    assert fake_vantage.base_url.startswith("http://127.0.0.1:")
    assert fake_vantage.api_url == fake_vantage.base_url + "/v2"
    response = get(fake_vantage.list_url(), headers=fake_vantage.auth_headers())
    assert response.json()["user_costs_uploads"] == []
