"""Would a columnar engine write the FOCUS CSV faster? `CsvSink` against polars on the same rows.

    pip install polars          # not a dependency of llm-cost; this script only measures it
    python bench/columnar.py                      # 100k requests over 7 days, day grain
    python bench/columnar.py --requests 300000 --repeat 5

The groups are built as `run.py`'s mapping child builds them and mapped by the CLI's own `RowMapper` (untimed).
Then, in turn: `CsvSink.write_group` over every group; and polars: the rows' VARYING values gathered into Python
lists, a frame of them joined to a frame of the distinct shapes, `write_csv`. Both files must be the same bytes.
Prints the best of `--repeat` runs of each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import Spec, iter_rows


def build_row_sets(requests: int, days: int, seed: int) -> list:
    """The RowSets of every day-grain group of the generated data, in export order."""
    from llm_cost.aggregate import Aggregator
    from llm_cost.focus.mapping import RowMapper
    from llm_cost.pricing import PriceBook
    from llm_cost.records import exact_money
    from llm_cost.sources.litellm.wire import PAGE_DECODER, RowOptions, parse_spend_row

    exact_money()
    prices, options, mapper = PriceBook(), RowOptions(), RowMapper()
    by_day: dict[str, Aggregator] = {}
    for _, raw, _ in iter_rows(Spec(requests, days, seed=seed)):
        row = PAGE_DECODER.decode(b'{"data":[' + raw + b"]}").data[0]
        record = parse_spend_row(row, options, "litellm:/spend/logs/v2")
        record.provider_name = prices.provider_name(record.provider)
        by_day.setdefault(record.period_start.date().isoformat(), Aggregator("day")).add(record)
    sets = []
    for day in sorted(by_day):
        for group in by_day.pop(day).drain():
            pricing = prices.pricing(group.model, group.provider, group.period_start, until=group.period_end)
            sets.append(mapper.rows(group, pricing))
    return sets


def write_ours(sets: list, path: Path, columns: list[str]) -> float:
    from llm_cost.sinks.csv_writer import CsvSink

    start = time.perf_counter()
    with CsvSink(str(path), columns) as sink:
        for row_set in sets:
            sink.write_group(row_set)
    return time.perf_counter() - start


def write_polars(sets: list, path: Path, header: list[str], line_terminator: str) -> tuple[float, float, float]:
    """(gather, frame, write) seconds: the VARYING values into lists, the frames and their join, write_csv."""
    import polars as pl

    from llm_cost.focus.rowset import VARYING

    start = time.perf_counter()
    index: dict[int, int] = {}
    shapes = []
    shape_ids: list[int] = []
    values: list[list[str | None]] = [[] for _ in VARYING]
    for row_set in sets:
        for shape, row in zip(row_set.shapes, row_set.values, strict=True):
            at = index.get(id(shape))
            if at is None:
                at = index[id(shape)] = len(shapes)
                shapes.append(shape)
            shape_ids.append(at)
            for column, value in zip(values, row, strict=True):
                column.append(value)
    gathered = time.perf_counter()
    fixed = [name for name in header if name not in VARYING]
    strings = dict.fromkeys(header, pl.String)
    shape_frame = pl.DataFrame(
        {"_shape": list(range(len(shapes))), **{n: [s.values.get(n) for s in shapes] for n in fixed}},
        schema_overrides=strings,
    )
    value_frame = pl.DataFrame(
        {"_shape": shape_ids, **dict(zip(VARYING, values, strict=True))}, schema_overrides=strings
    )
    frame = value_frame.join(shape_frame, on="_shape", how="left", maintain_order="left").select(header)
    framed = time.perf_counter()
    frame.write_csv(path, null_value="", quote_style="necessary", line_terminator=line_terminator)
    return gathered - start, framed - gathered, time.perf_counter() - framed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import polars as pl
    except ImportError:
        raise SystemExit("bench/columnar.py needs polars: pip install polars") from None
    from llm_cost.focus.columns import columns_for

    started = time.perf_counter()
    sets = build_row_sets(args.requests, args.days, args.seed)
    rows = sum(len(s) for s in sets)
    print(f"{args.requests:,} requests -> {len(sets):,} groups, {rows:,} rows ({time.perf_counter() - started:.1f} s)")
    columns = columns_for("focus", "1.2")
    header = [getattr(c, "name", c) for c in columns]
    with tempfile.TemporaryDirectory() as tmp:
        ours_path, polars_path = Path(tmp) / "ours.csv", Path(tmp) / "polars.csv"
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(write_ours(sets, ours_path, columns))
            terminator = "\r\n" if b"\r\n" in ours_path.open("rb").readline() else "\n"
            theirs.append(write_polars(sets, polars_path, header, terminator))
        same = ours_path.read_bytes() == polars_path.read_bytes()
    best = min(ours)
    gather, frame, write = min(theirs, key=sum)
    total = gather + frame + write
    print(f"CsvSink.write_group       {best:6.3f} s  {rows / best:>9,.0f} rows/s")
    print(
        f"polars {pl.__version__:<10}        {total:6.3f} s  {rows / total:>9,.0f} rows/s"
        f"  (gather lists {gather:.3f}, frames + join {frame:.3f}, write_csv {write:.3f})"
    )
    print(f"same bytes: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
