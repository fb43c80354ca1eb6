"""Benchmark `llm-cost export --mode spend-logs` against a fast loopback fake LiteLLM 1.109.1 proxy.

    python bench/run.py                        # 100k requests over 7 days (a few minutes)
    python bench/run.py --sizes 100000,1000000 --days 7
    python bench/run.py --profile              # also a cProfile top-15 of the export at each size

Per size: generate the data in a server process (bench/server.py), measure the fetch-and-parse floor, run the real
CLI under /usr/bin/time -v, check its total BilledCost against the generated truth (exact Decimal), and time the
FOCUS mapping + CSV writing alone (`pipeline.write_partitions` into `CsvSink`) in a child process. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from generate import Spec, iter_rows

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ------------------------------------------------------------------------------------------------ server


class Server:
    def __init__(self, spec: Spec, latency_ms: float = 0) -> None:
        self.proc = subprocess.Popen(
            [
                PY,
                str(BENCH / "server.py"),
                "--requests",
                str(spec.requests),
                "--days",
                str(spec.days),
                "--start",
                spec.start.isoformat(),
                "--seed",
                str(spec.seed),
                "--latency-ms",
                str(latency_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench server failed to start")
        self.info = json.loads(line)
        self.url = f"http://127.0.0.1:{self.info['port']}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(10)


# ------------------------------------------------------------------------------------------------ floor


def floor(url: str, spec: Spec) -> dict:
    """The least any client must do: page through each UTC day with page_size 1000 and json-parse each body."""
    import httpx

    pages = rows = 0
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk-bench"}, timeout=60) as client:
        for d in range(spec.days):
            day = spec.start + timedelta(days=d)
            params = {
                "start_date": f"{day} 00:00:00",
                "end_date": f"{day + timedelta(days=1)} 00:00:00",
                "page_size": 1000,
                "sort_by": "startTime",
                "sort_order": "asc",
                "exclude_internal_health_checks": "true",
            }
            page = 1
            while True:
                body = json.loads(client.get("/spend/logs/v2", params={**params, "page": page}).content)
                pages += 1
                data = body["data"]
                rows += len(data)
                if len(data) < 1000:
                    break
                page += 1
    wall = time.perf_counter() - t0
    return {"wall": wall, "pages": pages, "rows": rows}


# ------------------------------------------------------------------------------------------------ export


def _time_v(stderr: str) -> tuple[float | None, float | None]:
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", stderr)
    wall_s = None
    if wall:
        wall_s = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return (int(rss.group(1)) / 1024 if rss else None), wall_s


def export(
    url: str, spec: Spec, out_csv: Path, concurrency: int, profile: Path | None = None, grain: str = "day"
) -> dict:
    env = {**ENV, "LITELLM_BASE_URL": url, "LITELLM_API_KEY": "sk-bench-admin"}
    for name in list(env):
        if name.startswith("LLM_COST_"):
            del env[name]
    args = [
        "-v",
        "export",
        "--mode",
        "spend-logs",
        "--granularity",
        grain,
        "--start",
        spec.start.isoformat(),
        "--end",
        spec.end.isoformat(),
        "--concurrency",
        str(concurrency),
        "-o",
        str(out_csv),
    ]
    runner = [PY, "-m", "cProfile", "-o", str(profile), "-m", "llm_cost"] if profile else [PY, "-m", "llm_cost"]
    timev = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        timev + runner + args, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"llm-cost export failed with exit {proc.returncode}")
    rss, _ = _time_v(proc.stderr)
    if rss is None:
        rss = after.ru_maxrss / 1024  # the largest child so far (an upper bound)
    http = re.search(r"HTTP requests: (\d+)", proc.stderr)
    pages = re.search(r"pages: (\d+)", proc.stderr)
    return {
        "wall": wall,
        "rss_mb": rss,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "http_requests": int(http.group(1)) if http else None,
        "pages": int(pages.group(1)) if pages else None,
        "stats": [ln for ln in proc.stderr.splitlines() if ln.startswith(("source:", "windows", "rows read", "HTTP"))],
    }


def billed_total(path: Path) -> tuple[Decimal, int]:
    total, n = Decimal(0), 0
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            total += Decimal(row["BilledCost"] or "0")
            n += 1
    return total, n


# ------------------------------------------------------------------------------------------------ mapping


def mapping_child(requests: int, days: int, seed: int, grain: str) -> None:
    """In a child process: build the UsageRecords of each slice (a day, an hour at finer grains, as the export
    partitions) and aggregate them (untimed; the records are dropped once aggregated), then time
    `pipeline.write_aggregated` over the slices: drain, map, check every row, write the CSV and the summary, as the
    export runs them. Prints JSON."""
    from llm_cost.aggregate import Aggregator
    from llm_cost.focus.columns import columns_for
    from llm_cost.pipeline import write_aggregated
    from llm_cost.pricing import PriceBook
    from llm_cost.records import exact_money
    from llm_cost.sinks.csv_writer import CsvSink
    from llm_cost.sinks.preview import Summary
    from llm_cost.sources.litellm.wire import (
        PAGE_DECODER,
        RowOptions,
        parse_spend_row,
    )

    exact_money()
    prices = PriceBook()
    options = RowOptions()
    names: dict[str, str] = {}
    rss0 = _current_rss_mb()
    aggregators: list[Aggregator] = []
    current: tuple[str | None, Aggregator | None] = (None, None)
    build = aggregate = 0.0
    t0 = time.perf_counter()
    for _, raw, _ in iter_rows(Spec(requests, days, seed=seed)):  # rows come in time order
        record = parse_spend_row(
            PAGE_DECODER.decode(b'{"data":[' + raw + b"]}").data[0], options, "litellm:/spend/logs/v2"
        )
        if record.provider not in names:
            names[record.provider] = prices.provider_name(record.provider)
        record.provider_name = names[record.provider]
        slice_of = record.period_start.isoformat()[: 10 if grain == "day" else 13]
        t1 = time.perf_counter()
        if slice_of != current[0]:
            current = (slice_of, Aggregator(grain))  # type: ignore[arg-type]
            aggregators.append(current[1])  # type: ignore[arg-type]
        current[1].add(record)  # type: ignore[union-attr]
        aggregate += time.perf_counter() - t1
    build = time.perf_counter() - t0 - aggregate
    rss_groups = _current_rss_mb()
    columns = columns_for("focus", "1.2")
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        with CsvSink(str(Path(tmp) / "out.csv"), columns) as sink:
            result = write_aggregated(_popped(aggregators), prices=prices, columns=columns, sinks=[sink, Summary()])
        write = time.perf_counter() - t1
    print(
        json.dumps(
            {
                "grain": grain,
                "records": result.records,
                "rows": result.rows,
                "groups": result.groups,
                "build_s": build,
                "aggregate_s": aggregate,
                "write_s": write,
                "rss_start_mb": rss0,
                "rss_records_mb": rss_groups,
                "peak_rss_mb": _maxrss_mb(),
                "write_growth_mb": _maxrss_mb() - rss_groups,
            }
        )
    )


def _popped(items: list) -> Iterator:
    """The items in order, each dropped from the list as it is handed out (so written slices are freed)."""
    items.reverse()
    while items:
        yield items.pop()


def mapping(spec: Spec, grain: str) -> dict:
    proc = subprocess.run(
        [
            PY,
            str(BENCH / "run.py"),
            "--mapping-child",
            str(spec.requests),
            "--days",
            str(spec.days),
            "--seed",
            str(spec.seed),
            "--grain",
            grain,
        ],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit("mapping benchmark failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ main


def profile_top(path: Path, n: int = 15) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(n)
    # Cumulative, without the CLI's call chain (typer, cli, runs): where the export's time goes, stage by stage.
    stats.sort_stats("cumulative").print_stats(
        r"llm_cost/(pipeline|aggregate|sources|focus|sinks|pricing|http)|json/(__init__|decoder)", n + 10
    )
    return out.getvalue()


def _median(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle of an even count)."""
    return sorted(runs, key=lambda run: run["wall"])[(len(runs) - 1) // 2]


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def run_size(spec: Spec, args: argparse.Namespace, log) -> list[dict]:
    log(
        f"\n=== {spec.requests:,} requests over {spec.days} days from {spec.start} (seed {spec.seed})"
        + (f", proxy latency {args.latency_ms:g} ms per page" if args.latency_ms else "")
        + " ==="
    )
    t = time.perf_counter()
    server = Server(spec, args.latency_ms)
    info = server.info
    truth = Decimal(info["truth"])
    log(
        f"server: {info['requests']:,} rows generated in {info['generate_seconds']} s "
        f"(server RSS {info['rss_mb']} MB), truth total spend {info['truth']}"
    )
    results = []
    try:
        # On a shared machine one run can be 30 % off the next: with --repeat R the floor and every export run R times
        # in turn, and each figure is the median of its runs (the ratio: median export / median floor).
        floors: list[dict] = []
        runs: dict[tuple[str, int], list[dict]] = {}
        for _ in range(args.repeat):
            fl = floor(server.url, spec)
            floors.append(fl)
            log(
                f"floor : {fl['wall']:.2f} s, {fl['pages']} pages, {fl['rows']:,} rows, "
                f"{fl['rows'] / fl['wall']:,.0f} rows/s"
            )
            if fl["rows"] != spec.requests:
                log(f"  WARNING: floor read {fl['rows']} rows, expected {spec.requests}")
            for grain, concurrency in [(g, c) for g in args.export_grains for c in args.concurrency]:
                with tempfile.TemporaryDirectory() as tmp:
                    out_csv = Path(tmp) / "export.csv"
                    ex = export(server.url, spec, out_csv, concurrency, grain=grain)
                    total, csv_rows = billed_total(out_csv)
                ex["exact"] = total == truth
                ex["csv_rows"] = csv_rows
                ex["total"] = str(total)
                log(
                    f"export --granularity {grain} --concurrency {concurrency}: {ex['wall']:.2f} s wall, "
                    f"{ex['cpu']:.2f} s CPU, peak RSS "
                    f"{ex['rss_mb']:.1f} MB, {spec.requests / ex['wall']:,.0f} requests/s, {ex['http_requests']} HTTP "
                    f"requests, {csv_rows:,} CSV rows"
                )
                for line in ex["stats"]:
                    log(f"        {line}")
                log(
                    f"        BilledCost total {total} vs truth {truth}: "
                    + ("EXACT MATCH" if ex["exact"] else f"MISMATCH (diff {total - truth})")
                )
                runs.setdefault((grain, concurrency), []).append(ex)
        fl = _median(floors)
        for (grain, concurrency), exports in runs.items():
            ex = {**_median(exports), "exact": all(e["exact"] for e in exports), "walls": [e["wall"] for e in exports]}
            results.append(
                {
                    "spec": spec,
                    "grain": grain,
                    "concurrency": concurrency,
                    "floor": {**fl, "walls": [f["wall"] for f in floors]},
                    "export": ex,
                    "truth": info["truth"],
                    "total": ex["total"],
                }
            )
        if args.repeat > 1:
            log(f"floor walls {[round(f['wall'], 2) for f in floors]} -> median {fl['wall']:.2f} s")
            for r in results:
                walls = [round(w, 2) for w in r["export"]["walls"]]
                log(f"export {r['grain']} c{r['concurrency']} walls {walls} -> median {r['export']['wall']:.2f} s")
        if args.profile:
            prof = Path(tempfile.gettempdir()) / f"llm-cost-export-{spec.requests}.prof"
            with tempfile.TemporaryDirectory() as tmp:
                pw = export(server.url, spec, Path(tmp) / "export.csv", args.concurrency[0], profile=prof)
            log(f"profile ({pw['wall']:.2f} s under cProfile, saved to {prof}):")
            log(profile_top(prof))
    finally:
        server.close()
    maps = [] if args.skip_mapping else [mapping(spec, grain) for grain in args.grains]
    for mp in maps:
        log(
            f"mapping+checks+CSV, grain {mp['grain']}: {mp['records']:,} records -> {mp['groups']:,} groups -> "
            f"{mp['rows']:,} FOCUS rows in {mp['write_s']:.2f} s = {mp['rows'] / mp['write_s']:,.0f} rows/s "
            f"(aggregating the records took {mp['aggregate_s']:.2f} s, untimed); RSS {mp['rss_records_mb']:.0f} MB "
            f"with the groups built, +{mp['write_growth_mb']:.0f} MB during write_aggregated (peak "
            f"{mp['peak_rss_mb']:.0f} MB); building the records took {mp['build_s']:.1f} s"
        )
    for result in results:
        result["mapping"] = maps
    log(f"(size done in {time.perf_counter() - t:.0f} s)")
    return results


def table(results: list[dict]) -> str:
    head = (
        "requests",
        "grain",
        "conc",
        "floor s",
        "export s",
        "req/s",
        "ratio",
        "peak RSS MB",
        "HTTP reqs",
        "exact $",
        "map rows/s (grain)",
        "map +MB",
    )
    lines = [head]
    for r in results:
        ex, fl = r["export"], r["floor"]
        maps = r["mapping"]
        lines.append(
            (
                f"{r['spec'].requests:,}",
                r["grain"],
                str(r["concurrency"]),
                f"{fl['wall']:.2f}",
                f"{ex['wall']:.2f}",
                f"{r['spec'].requests / ex['wall']:,.0f}",
                f"{ex['wall'] / fl['wall']:.2f}x",
                f"{ex['rss_mb']:.1f}",
                f"{ex['http_requests']} ({fl['pages']})",
                "yes" if ex["exact"] else "NO",
                ", ".join(f"{m['rows'] / m['write_s']:,.0f} ({m['grain']})" for m in maps) or "-",
                ", ".join(f"{m['write_growth_mb']:.0f}" for m in maps) or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def targets(results: list[dict]) -> list[str]:
    """Issue 15's targets, each with the figure of this run that decides it (where the run measured it)."""
    lines = ["targets (issue 15):"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    default = [r for r in results if r["concurrency"] == 4] or results
    for r in default:
        requests, grain = r["spec"].requests, r["grain"]
        ratio = r["export"]["wall"] / r["floor"]["wall"]
        limit = 2.0 if grain == "request" else 1.0 if requests >= 1_000_000 else 1.5 if requests >= 100_000 else None
        if limit is not None:
            lines.append(
                f"  {requests:,} requests, {grain} grain: export / floor = {ratio:.2f}x (target <= {limit}x): "
                + verdict(ratio <= limit)
            )
        if grain == "day" and requests >= 1_000_000:
            rss = r["export"]["rss_mb"]
            lines.append(f"  peak RSS at {requests:,}: {rss:.0f} MB (target <= 150 MB): {verdict(rss <= 150)}")
    for m in {(m["grain"], m["records"]): m for r in results for m in r["mapping"]}.values():
        speed = m["rows"] / m["write_s"]
        lines.append(
            f"  mapping+checks+CSV, {m['records']:,} records at {m['grain']} grain: {speed:,.0f} FOCUS rows/s "
            f"(target >= 150,000): {verdict(speed >= 150_000)}"
        )
    days = [r for r in default if r["grain"] == "day"]
    if len(days) > 1:
        small, big = days[0], days[-1]
        ratio = big["export"]["rss_mb"] / small["export"]["rss_mb"]
        lines.append(
            f"  RSS at {big['spec'].requests:,} / RSS at {small['spec'].requests:,} = {ratio:.2f}x (target <= 1.2x): "
            + verdict(ratio <= 1.2)
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000", help="comma-separated request counts (default 100000)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="also run the export under cProfile and print top-15")
    parser.add_argument("--skip-mapping", action="store_true", help="skip the mapping+CSV benchmark")
    parser.add_argument(
        "--concurrency", default="4", help="comma-separated --concurrency values to export with (default 4)"
    )
    parser.add_argument(
        "--grains", default="day,request", help="grains of the mapping+CSV benchmark (default day,request)"
    )
    parser.add_argument(
        "--export-grains", default="day", help="comma-separated --granularity values to export with (default day)"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=1, help="run the floor and each export this many times; report medians"
    )
    parser.add_argument("--latency-ms", type=float, default=0, help="delay the server adds to every page (default 0)")
    parser.add_argument("--grain", default="day", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--mapping-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mapping_child:
        return mapping_child(args.mapping_child, args.days, args.seed, args.grain)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.grains = [g for g in args.grains.split(",") if g.strip()]
    args.export_grains = [g for g in args.export_grains.split(",") if g.strip()]

    def log(text: str) -> None:
        print(text, flush=True)

    log(
        f"llm-cost benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc={os.cpu_count()}, "
        f"python {sys.version.split()[0]}"
    )
    results = []
    t = time.perf_counter()
    for size in (int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()):
        results += run_size(Spec(size, args.days, date(2026, 11, 2), args.seed), args, log)
    log("\n" + table(results))
    log(
        "ratio = export wall / floor wall; HTTP reqs = the CLI's (the floor's pages in brackets); exact $ = the CSV's"
        " BilledCost total equals the generated spend exactly; map +MB = RSS growth while mapping and writing"
    )
    for line in targets(results):
        log(line)
    for concurrency in args.concurrency:
        same = [r for r in results if r["concurrency"] == concurrency and r["grain"] == "day"]
        if len(same) > 1:
            small, big = same[0], same[-1]
            log(
                f"--concurrency {concurrency}: RSS at {big['spec'].requests:,} / RSS at {small['spec'].requests:,} = "
                f"{big['export']['rss_mb'] / small['export']['rss_mb']:.2f}x"
            )
    log(f"total bench time {time.perf_counter() - t:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [{**r, "spec": {"requests": r["spec"].requests, "days": r["spec"].days}} for r in results],
                indent=2,
                default=str,
            )
        )
    if not all(r["export"]["exact"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
