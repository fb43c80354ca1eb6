"""Deterministic generator of realistic LiteLLM 1.109 `/spend/logs/v2` rows, at any scale.

Rows come out **sorted by startTime**, one UTC day at a time, already serialised as the JSON bytes a 1.109 proxy
would send (metadata as an object, `request_tags` as a JSON *string*, `cache_hit` as a string, `spend` as a JSON
number). Nothing but one day's timestamps is held in memory by the generator itself.

    from bench.generate import Spec, iter_rows
    for epoch_ms, row_bytes, spend_text in iter_rows(Spec(requests=100_000, days=7, seed=1)):
        ...

`spend_text` is the exact text of the row's `spend` number: the truth total is `sum(Decimal(spend_text))`.

Run it directly to print a sample or write JSON lines:

    python bench/generate.py --requests 1000 --days 1 --sample 2
    python bench/generate.py --requests 100000 --days 7 --jsonl rows.jsonl
    python bench/generate.py --requests 100000 --days 7 --daily-activity   # one /user/daily/activity page per day
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, getcontext

DAY_MS = 86_400_000
D = Decimal
getcontext().prec = (
    200  # the truth must not round (Decimal keeps 28 digits by default); run.py and server.py import this
)


@dataclass(frozen=True)
class Spec:
    requests: int = 100_000
    days: int = 7
    start: date = date(2026, 11, 2)  # a Monday
    seed: int = 42

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True)
class Deployment:
    model_group: str
    model: str
    provider: str
    model_id: str
    api_base: str
    input_cost: Decimal  # USD per token
    output_cost: Decimal
    cache_read_cost: Decimal = Decimal(0)
    cache_creation_cost: Decimal = Decimal(0)
    embedding: bool = False
    weight: int = 10


# Eight deployments (seven public model names; gpt-4o is load-balanced over OpenAI and Azure).
DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment(
        "gpt-4o",
        "gpt-4o",
        "openai",
        "0b9c6a57-5c3e-4e1f-9d53-2f4b0a6e1c01",
        "https://api.openai.com/v1",
        D("0.0000025"),
        D("0.00001"),
        D("0.00000125"),
        weight=16,
    ),
    Deployment(
        "gpt-4o",
        "gpt-4o",
        "azure",
        "7d3e2f10-8a41-4c55-b0e2-9c6d5f4a3b02",
        "https://acme-eastus.openai.azure.com/",
        D("0.0000025"),
        D("0.00001"),
        D("0.00000125"),
        weight=8,
    ),
    Deployment(
        "gpt-4o-mini",
        "gpt-4o-mini",
        "openai",
        "3a1f9e84-2b6c-4d7a-8e15-6f0c2d9b4a03",
        "https://api.openai.com/v1",
        D("0.00000015"),
        D("0.0000006"),
        D("0.000000075"),
        weight=26,
    ),
    Deployment(
        "o3-mini",
        "o3-mini",
        "openai",
        "5b2c7d91-0e4f-4a3b-8c6d-1e9f2a7b3c07",
        "https://api.openai.com/v1",
        D("0.0000011"),
        D("0.0000044"),
        D("0.00000055"),
        weight=5,
    ),
    Deployment(
        "claude-sonnet-4-0",
        "claude-sonnet-4-20250514",
        "anthropic",
        "c4e8b2d6-1f3a-4b9c-a7d5-0e2f6b8c1d04",
        "https://api.anthropic.com",
        D("0.000003"),
        D("0.000015"),
        D("0.0000003"),
        D("0.00000375"),
        weight=16,
    ),
    Deployment(
        "claude-3-5-haiku",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "bedrock",
        "e6a0c3f2-9d8b-4e7a-b1c4-5d2e7f9a0b05",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        D("0.0000008"),
        D("0.000004"),
        D("0.00000008"),
        D("0.000001"),
        weight=10,
    ),
    Deployment(
        "gemini-2.0-flash",
        "gemini-2.0-flash",
        "vertex_ai",
        "9a8b7c6d-5e4f-4321-8765-0fedcba98708",
        "https://us-central1-aiplatform.googleapis.com",
        D("0.0000001"),
        D("0.0000004"),
        D("0.000000025"),
        weight=9,
    ),
    Deployment(
        "text-embedding-3-small",
        "text-embedding-3-small",
        "openai",
        "f1b7d9e3-6c2a-4f8d-9e0b-3a5c7e1d2f06",
        "https://api.openai.com/v1",
        D("0.00000002"),
        D(0),
        embedding=True,
        weight=10,
    ),
)

TEAMS: tuple[tuple[str, str], ...] = tuple(
    (f"team-{i:02d}-{hashlib.md5(name.encode()).hexdigest()[:12]}", name)
    for i, name in enumerate(
        [
            "Search",
            "Support Bot",
            "Data Science",
            "Platform",
            "Growth",
            "Mobile",
            "Finance Ops",
            "Legal AI",
            "Research",
            "Sales Assist",
        ]
    )
)
ORGS = ("org-acme-main", "org-acme-labs")
USER_AGENTS = (
    ("OpenAI/Python", "1.82.0"),
    ("AsyncOpenAI/Python", "1.99.1"),
    ("litellm", "1.74.3"),
    ("curl", "8.5.0"),
    ("Anthropic/Python", "0.40.0"),
)
FEATURES = ("chat", "summarize", "rag", "classify", "extract", "translate", "agent")
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 5, 9, 12, 13, 13, 11, 12, 13, 13, 12, 10, 7, 5, 4, 3, 3, 2)
WEEKDAY_WEIGHTS = (10, 10, 10, 10, 9, 3, 2)  # Mon..Sun


@dataclass(frozen=True)
class Key:
    api_key: str  # sha256 hash as stored
    alias: str
    team_id: str
    team_alias: str | None
    org_id: str
    user_id: str
    user_email: str | None
    env: str
    weight: int


def build_keys(seed: int, count: int = 36) -> tuple[Key, ...]:
    """A few dozen virtual keys over ~10 teams, plus the master key; deterministic from the seed."""
    rng = random.Random(seed * 7919 + 1)
    keys = []
    for i in range(count):
        team_id, team_alias = TEAMS[i % len(TEAMS)] if i < count - 3 else ("", None)
        env = ("prod", "prod", "staging", "dev")[i % 4]
        slug = (team_alias or "personal").lower().replace(" ", "-")
        user = f"user-{i % 23:03d}"
        keys.append(
            Key(
                hashlib.sha256(f"sk-bench-{seed}-{i}".encode()).hexdigest(),
                f"{slug}-{env}-{i:02d}",
                team_id,
                team_alias,
                ORGS[i % 2] if team_id else "",
                user,
                f"{user}@acme.example" if i % 5 else None,
                env,
                rng.randint(1, 30),
            )
        )
    keys.append(Key("litellm_proxy_master_key", "", "", None, "", "default_user_id", None, "prod", 2))
    return tuple(keys)


def _cumulative(weights) -> list[int]:
    out, acc = [], 0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def day_counts(spec: Spec) -> list[int]:
    """Requests per day, weighted by weekday, summing exactly to spec.requests."""
    weights = [WEEKDAY_WEIGHTS[(spec.start + timedelta(days=d)).weekday()] for d in range(spec.days)]
    total = sum(weights)
    counts = [spec.requests * w // total for w in weights]
    for i in range(spec.requests - sum(counts)):
        counts[i % spec.days] += 1
    return counts


def _iso(day_prefix: str, ms_of_day: int) -> str:
    s, ms = divmod(ms_of_day, 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{day_prefix}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}+00:00"


def _num(value: Decimal) -> str:
    """A cost as a JSON number, the way the proxy (Python floats) prints it."""
    return repr(float(value))


def _uuid(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:32]}"


def iter_rows(spec: Spec) -> Iterator[tuple[int, bytes, str]]:
    """(startTime epoch ms, row JSON bytes, spend text) for every request, ascending by startTime."""
    keys = build_keys(spec.seed)
    key_cum = _cumulative(k.weight for k in keys)
    dep_cum = _cumulative(d.weight for d in DEPLOYMENTS)
    hour_cum = _cumulative(HOUR_WEIGHTS)
    key_total, dep_total, hour_total = key_cum[-1], dep_cum[-1], hour_cum[-1]
    # Pre-rendered JSON fragments per key and per deployment.
    key_parts = []
    for k in keys:
        ident = (
            f'"user_api_key":"{k.api_key}","user_api_key_alias":{json.dumps(k.alias or None)},'
            f'"user_api_key_team_id":{json.dumps(k.team_id or None)},'
            f'"user_api_key_team_alias":{json.dumps(k.team_alias)},'
            f'"user_api_key_org_id":{json.dumps(k.org_id or None)},"user_api_key_user_id":"{k.user_id}",'
            f'"user_api_key_user_email":{json.dumps(k.user_email)}'
        )
        users = f'"user":"{k.user_id}","team_id":"{k.team_id}","organization_id":"{k.org_id}"'
        key_parts.append((f'"api_key":"{k.api_key}"', users, ident))
    dep_parts = [
        (
            (
                f'"model":"{d.model}","model_id":"{d.model_id}","model_group":"{d.model_group}",'
                f'"custom_llm_provider":"{d.provider}","api_base":"{d.api_base}"'
            ),
            '"aembedding"' if d.embedding else '"acompletion"',
        )
        for d in DEPLOYMENTS
    ]
    tag_cache: dict[tuple, str] = {}

    for day_index, count in enumerate(day_counts(spec)):
        day = spec.start + timedelta(days=day_index)
        day_prefix = day.isoformat()
        day_ms0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        rng = random.Random(f"{spec.seed}:{day_prefix}")
        rnd, randint, getrandbits = rng.random, rng.randint, rng.getrandbits
        offsets = sorted(
            (bisect.bisect_right(hour_cum, rnd() * hour_total)) * 3_600_000 + int(rnd() * 3_600_000)
            for _ in range(count)
        )
        for off in offsets:
            k_index = bisect.bisect_right(key_cum, rnd() * key_total)
            key, (kpart, upart, ident) = keys[k_index], key_parts[k_index]
            d_index = bisect.bisect_right(dep_cum, rnd() * dep_total)
            dep, (dpart, call_type) = DEPLOYMENTS[d_index], dep_parts[d_index]
            r = rnd()
            failed = r < 0.02
            cache_hit = not failed and r < 0.05
            if dep.embedding:
                prompt, completion = randint(8, 2000), 0
            else:
                prompt, completion = randint(40, 6000), randint(1, 1500)
            cache_read = cache_creation = 0
            if not dep.embedding:
                if rnd() < 0.35:
                    cache_read = randint(1, prompt // 2)
                if dep.provider in ("anthropic", "bedrock") and rnd() < 0.2:
                    cache_creation = randint(0, (prompt - cache_read) // 2)
            status = "success"
            error = "null"
            if failed:
                status = "failure"
                error = (
                    '{"error_code":"429","error_class":"RateLimitError","llm_provider":"'
                    + dep.provider
                    + '","error_message":"litellm.RateLimitError: rate limit reached","traceback":""}'
                )
                prompt = completion = cache_read = cache_creation = 0
            breakdown = ""
            if failed or cache_hit:
                spend_text = "0.0"
            else:
                ic = (prompt - cache_read - cache_creation) * dep.input_cost
                oc = completion * dep.output_cost
                crc = cache_read * dep.cache_read_cost
                ccc = cache_creation * dep.cache_creation_cost
                spend_text = _num(ic + oc + crc + ccc)
                if rnd() < 0.8:
                    breakdown = (
                        f',"cost_breakdown":{{"input_cost":{_num(ic)},"output_cost":{_num(oc)},'
                        f'"cache_read_cost":{_num(crc)},"cache_creation_cost":{_num(ccc)},'
                        f'"reasoning_cost":0.0,"tool_usage_cost":0.0,"total_cost":{spend_text},'
                        f'"discount_percent":0.0,"discount_amount":0.0,"margin_percent":0.0,'
                        f'"margin_total_amount":0.0,"additional_costs":{{}}}}'
                    )
            duration = randint(50, 600) if dep.embedding else randint(180, 25_000)
            start_ms = day_ms0 + off
            start_iso = _iso(day_prefix, off)
            end_off = off + duration
            end_iso = _iso(day_prefix, end_off) if end_off < DAY_MS else _iso_ms(start_ms + duration)
            streamed = not dep.embedding and rnd() < 0.5
            cst = off + randint(80, max(81, duration // 3)) if streamed else end_off
            cst_iso = _iso(day_prefix, cst) if cst < DAY_MS else _iso_ms(day_ms0 + cst)
            call_id = _uuid(getrandbits(128))
            request_id = call_id if dep.embedding else "chatcmpl-" + _uuid(getrandbits(128))
            if cache_hit:
                request_id += f"_cache_hit{start_ms // 1000}"
            ua = USER_AGENTS[int(rnd() * len(USER_AGENTS))]
            with_ua = rnd() < 0.9
            feature = FEATURES[int(rnd() * len(FEATURES))] if rnd() < 0.7 else None
            batch = rnd() < 0.1
            tag_key = (ua if with_ua else None, key.env, feature, batch)
            tags = tag_cache.get(tag_key)
            if tags is None:
                items = [f"User-Agent: {ua[0]}", f"User-Agent: {ua[0]} {ua[1]}"] if with_ua else []
                items.append(f"env:{key.env}")
                if feature:
                    items.append(f"feature:{feature}")
                if batch:
                    items.append("batch")
                tags = tag_cache[tag_key] = json.dumps(json.dumps(items))
            ip = f"10.0.{int(rnd() * 4)}.{randint(2, 249)}"
            end_user = f"customer-{randint(1, 11):02d}" if rnd() < 0.15 else ""
            total_tokens = prompt + completion
            if dep.embedding or failed:
                additional = "{}"
                usage = f'{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{total_tokens}}}'
            else:
                additional = (
                    f'{{"prompt_tokens_details":{{"cached_tokens":{cache_read},"audio_tokens":null}},'
                    f'"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":null}},'
                    f'"cache_read_input_tokens":{cache_read},"cache_creation_input_tokens":{cache_creation}}}'
                )
                usage = (
                    f'{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{total_tokens},'
                    + additional[1:]
                )
            row = (
                f'{{"request_id":"{request_id}","call_type":{call_type},{kpart},"spend":{spend_text},'
                f'"total_tokens":{total_tokens},"prompt_tokens":{prompt},"completion_tokens":{completion},'
                f'"startTime":"{start_iso}","endTime":"{end_iso}","completionStartTime":"{cst_iso}",'
                f'{dpart},{upart},"end_user":"{end_user}",'
                f'"metadata":{{{ident},"user_api_key_end_user_id":{json.dumps(end_user or None)},'
                f'"spend_logs_metadata":null,"requester_ip_address":"{ip}","user_agent":"{ua[0]} {ua[1]}",'
                f'"litellm_call_id":"{call_id}","status":"{status}","error_information":{error},'
                f'"additional_usage_values":{additional},"usage_object":{usage},'
                f'"model_map_information":{{"model_map_key":"{dep.model}","model_map_value":null}}{breakdown}}},'
                f'"cache_hit":"{"True" if cache_hit else "False"}",'
                f'"cache_key":"{f"{getrandbits(256):064x}" if cache_hit else "Cache OFF"}",'
                f'"request_tags":{tags},"requester_ip_address":"{ip}","session_id":null,"status":"{status}",'
                f'"mcp_namespaced_tool_name":null,"agent_id":null,"litellm_call_id":"{call_id}",'
                f'"request_duration_ms":{duration}}}'
            )
            yield start_ms, row.encode(), spend_text


def _iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}+00:00"


def truth_total(spec: Spec) -> Decimal:
    """The exact total spend of the data set (what the export's BilledCost must sum to)."""
    return sum((Decimal(s) for _, _, s in iter_rows(spec)), Decimal(0))


def daily_activity_pages(spec: Spec) -> Iterator[tuple[date, dict]]:
    """One `/user/daily/activity` 1.109 page per day (model x key cells), aggregated from the same rows.
    Not used by run.py (which benchmarks spend-logs); provided for daily-activity benchmarks."""
    current: date | None = None
    cells: dict = defaultdict(lambda: defaultdict(lambda: [D(0), 0, 0, 0, 0, 0, 0, 0]))
    for start_ms, raw, spend in iter_rows(spec):
        day = datetime.fromtimestamp(start_ms / 1000, UTC).date()
        if current is not None and day != current:
            yield current, _activity_page(current, cells)
            cells.clear()
        current = day
        row = json.loads(raw)
        c = cells[(row["model"], row["custom_llm_provider"])][(row["api_key"], row["metadata"]["user_api_key_alias"])]
        u = row["metadata"]["additional_usage_values"]
        c[0] += Decimal(spend)
        c[1] += row["prompt_tokens"]
        c[2] += row["completion_tokens"]
        c[3] += u.get("cache_read_input_tokens", 0)
        c[4] += u.get("cache_creation_input_tokens", 0)
        c[5] += 1
        c[6 if row["status"] == "success" else 7] += 1
    if current is not None:
        yield current, _activity_page(current, cells)


def _metrics(c) -> dict:
    return {
        "spend": float(c[0]),
        "prompt_tokens": c[1],
        "completion_tokens": c[2],
        "cache_read_input_tokens": c[3],
        "cache_creation_input_tokens": c[4],
        "total_tokens": c[1] + c[2],
        "api_requests": c[5],
        "successful_requests": c[6],
        "failed_requests": c[7],
    }


def _activity_page(day: date, cells) -> dict:
    models: dict = {}
    total = [D(0), 0, 0, 0, 0, 0, 0, 0]
    for (model, provider), by_key in cells.items():
        m = [D(0), 0, 0, 0, 0, 0, 0, 0]
        keys = {}
        for (api_key, alias), c in by_key.items():
            keys[api_key] = {"metrics": _metrics(c), "metadata": {"key_alias": alias, "team_id": None}}
            m = [a + b for a, b in zip(m, c)]
        models[model] = {"metrics": _metrics(m), "metadata": {}, "api_key_breakdown": keys}
        total = [a + b for a, b in zip(total, m)]
    return {
        "results": [
            {
                "date": day.isoformat(),
                "metrics": _metrics(total),
                "breakdown": {"models": models, "api_keys": {}, "providers": {}, "model_groups": {}},
            }
        ],
        "metadata": {**_metrics(total), "total_spend": float(total[0]), "page": 1, "total_pages": 1, "has_more": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--start", type=date.fromisoformat, default=Spec.start)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sample", type=int, default=0, help="pretty-print the first N rows")
    parser.add_argument("--jsonl", help="write every row as a JSON line to this file")
    parser.add_argument("--daily-activity", action="store_true", help="print one /user/daily/activity page per day")
    args = parser.parse_args()
    spec = Spec(args.requests, args.days, args.start, args.seed)
    if args.daily_activity:
        for _, page in daily_activity_pages(spec):
            print(json.dumps(page))
        return
    total, n = Decimal(0), 0
    out = open(args.jsonl, "wb") if args.jsonl else None
    try:
        for _, raw, spend in iter_rows(spec):
            if n < args.sample:
                print(json.dumps(json.loads(raw), indent=2))
            if out:
                out.write(raw + b"\n")
            total += Decimal(spend)
            n += 1
    finally:
        if out:
            out.close()
    print(f"{n} rows, total spend {total}", file=sys.stderr)


if __name__ == "__main__":
    main()
