"""Which JSON decoder for `/spend/logs/v2` pages? Times each candidate on the same generated pages and checks
that it keeps `spend` exact (the text as sent, as a Decimal).

    python bench/decode.py                    # 10 pages of 1000 rows (~2.4 MB each), best of 5
    python bench/decode.py --pages 20 --repeat 7

Candidates: the stdlib `json` (with and without `parse_float=Decimal`), orjson, msgspec (untyped, and typed with
the row fields llm-cost reads), and pydantic's `TypeAdapter.validate_json` with the same fields. "exact" means
every row's spend, as decoded, equals `Decimal(<the JSON number's text>)`, including a 34-digit spend that a
binary float cannot hold.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
from generate import Spec, iter_rows

from llm_cost.sources.litellm.wire import PAGE_DECODER, read_metadata

LONG_SPEND = b"0.1000000000000000055511151231257827"


def pages(count: int) -> tuple[list[bytes], list[Decimal]]:
    """`count` pages of 1000 generated rows; one row's spend is replaced by a 34-digit number."""
    spec = Spec(requests=count * 1000, days=1, start=date(2026, 11, 2), seed=7)
    rows = [row for _, row, _ in iter_rows(spec)]
    first = json.loads(rows[0])
    spend = b'"spend":' + json.dumps(first["spend"]).encode()
    assert spend in rows[0], "the generator's spend spelling changed"
    rows[0] = rows[0].replace(spend, b'"spend":' + LONG_SPEND, 1)
    truth = [json.loads(r, parse_float=Decimal)["spend"] for r in rows]
    bodies = [
        b'{"data":['
        + b",".join(rows[i : i + 1000])
        + b'],"total":%d,"page":%d,"page_size":1000,"total_pages":%d}' % (len(rows), i // 1000 + 1, count)
        for i in range(0, len(rows), 1000)
    ]
    return bodies, truth


def _stdlib(body: bytes) -> list[Any]:
    return [r["spend"] for r in json.loads(body)["data"]]


def _stdlib_decimal(body: bytes) -> list[Any]:
    return [r["spend"] for r in json.loads(body, parse_float=Decimal)["data"]]


def _candidates() -> dict[str, Callable[[bytes], list[Any]]]:
    found: dict[str, Callable[[bytes], list[Any]]] = {
        "json.loads (floats)": _stdlib,
        "json.loads(parse_float=Decimal)": _stdlib_decimal,
    }
    try:
        import orjson

        found["orjson.loads (floats)"] = lambda body: [r["spend"] for r in orjson.loads(body)["data"]]
    except ImportError:
        pass
    untyped = msgspec.json.Decoder(float_hook=Decimal)
    found["msgspec untyped (float_hook=Decimal)"] = lambda body: [r["spend"] for r in untyped.decode(body)["data"]]

    def typed(body: bytes) -> list[Any]:
        return [row.spend for row in PAGE_DECODER.decode(body).data]

    def typed_with_metadata(body: bytes) -> list[Any]:
        rows = PAGE_DECODER.decode(body).data
        for row in rows:
            read_metadata(row.metadata)
        return [row.spend for row in rows]

    found["msgspec typed rows (llm-cost)"] = typed
    found["msgspec typed rows + metadata"] = typed_with_metadata
    try:
        import pydantic

        class Row(pydantic.BaseModel):
            request_id: str
            startTime: str
            endTime: str | None = None
            spend: Decimal | None = None
            api_key: str | None = None
            prompt_tokens: int | None = None
            completion_tokens: int | None = None
            model: str | None = None
            model_group: str | None = None
            custom_llm_provider: str | None = None
            user: str | None = None
            team_id: str | None = None
            organization_id: str | None = None
            end_user: str | None = None
            cache_hit: str | bool | None = None
            request_tags: Any = None
            metadata: dict[str, Any] | str | None = None

        class Page(pydantic.BaseModel):
            data: list[Row]
            total: int | None = None

        adapter = pydantic.TypeAdapter(Page)
        found[f"pydantic {pydantic.VERSION} validate_json"] = lambda body: [
            r.spend for r in adapter.validate_json(body).data
        ]
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bodies, truth = pages(args.pages)
    megabytes = sum(map(len, bodies)) / 1e6
    print(
        f"decode benchmark: {args.pages} pages x 1000 rows, {megabytes:.1f} MB, best of {args.repeat}, "
        f"python {platform.python_version()}, msgspec {msgspec.__version__}"
    )
    print(f"{'decoder':<40} | {'ms/page':>8} | {'rows/s':>9} | {'MB/s':>6} | exact spend")
    print(f"{'-' * 40}-+-{'-' * 8}-+-{'-' * 9}-+-{'-' * 6}-+------------")
    for name, decode in _candidates().items():
        best = float("inf")
        for _ in range(args.repeat):
            began = time.perf_counter()
            spends = [s for body in bodies for s in decode(body)]
            best = min(best, time.perf_counter() - began)
        exact = all(isinstance(s, Decimal) and s == t for s, t in zip(spends, truth, strict=True))
        wrong = sum(1 for s, t in zip(spends, truth, strict=True) if Decimal(str(s)) != t)
        verdict = "yes" if exact else f"no ({wrong} of {len(truth)} differ)" if wrong else "no (floats)"
        print(
            f"{name:<40} | {best / len(bodies) * 1000:8.2f} | {len(truth) / best:9,.0f} | "
            f"{megabytes / best:6.0f} | {verdict}"
        )


if __name__ == "__main__":
    main()
