"""Replay benchmark: N AzureActivity rows x the 35 SigmaHQ activitylogs rules.

Rows are synthesised in-process (deterministic seed) from the rows of the real training-lab
export, with varied ids, operations, callers, addresses, statuses and times, and written once to a
Log Analytics CSV export in a temporary folder (outside the timing). Every route starts from that
file and is timed from reading it to having each rule's hits:

1. replay: ``Engine.scan_export``, one pass over the file running every rule (what
   ``sigma-azure-aks replay`` runs on an export); also the engine loaded with ``load_export`` and
   then queried, which must give the same hits;
2. the bare engine: DuckDB reading the CSV itself into duckdb-kql's typed table, then each query
   it accepts (it refuses `* contains`) translated and run;
3. where pySigma-backend-sqlite is importable (pySigma 2): the file read with Python's csv module,
   the rows inserted into SQLite, and that backend's SQL run.

4. the baseline: the one-pass scan of the engine as it was at commit ``BASELINE`` (before the
   bounded-memory work; "today's" in the targets), extracted from git and run in a fresh process
   of its own on the same file and rules, its address space capped (``--baseline-max-memory``)
   so that it fails rather than exhaust the machine; when it fails, it runs on consecutive slices
   of the rows (``--baseline-slice-rows``, each slice an export of its own) and the slices'
   summed times stand for its time; it must give the same hits.

The ratios the issue sets are printed on the lines starting with RATIO (replay's wall time over
the baseline's, with both peak RSS figures, in MiB: 1 GiB = 1,024 MiB). ``--python-load`` also
times loading the rows from Python values. Every route but that one runs in a fresh process of
its own and reports its peak RSS beside its time; the engine runs with ``--memory-limit``
(default 1GB, as ``sigma-azure-aks replay``), and ``--unlimited`` also runs the one-pass scan with
DuckDB's default limit (most of the machine's memory), asserting the same hits. ``--own-rules``
adds this repository's rules (rules/) to the SigmaHQ ones.

    python benchmarks/replay_benchmark.py [--rows N] [--shared PATH] [--python-load] [--narrow]
        [--memory-limit SIZE] [--unlimited] [--own-rules] [--skip-bare] [--skip-sqlite]
        [--skip-baseline] [--baseline-max-memory GIB] [--baseline-slice-rows N]
        [--baseline-in-slices] [--skip-loaded] [--scan-speed] [--scan-speed-csv] [--repeat N]

``--scan-speed`` measures instead the scan of one base rule (failed sign-ins) against DuckDB's own
read of the same file: it writes ``--rows`` SigninLogs rows as JSON lines (ordinary sign-ins over
one day, columns and types as the SigninLogs source declares them) and the same rows' first 1,000,
runs ``sigma-azure-aks replay --format json`` on each in a fresh process (the 1,000-row run stands
for start-up), loads the large file into a DuckDB table itself (``read_json`` with the file's
columns declared in their DuckDB types), and prints replay's time beyond start-up, DuckDB's load
and their ratio (RATIO line; target <= 3): ``--repeat`` rounds (default 3) of the three timings,
interleaved, each round printed, the ratio that of the medians. ``--scan-speed-csv`` does the same
on the AzureActivity CSV export with one SigmaHQ rule, against DuckDB's ``read_csv`` of the same file.

``--narrow`` writes rows of only the columns the rules read plus the id and summary columns (with
``Properties_d`` reduced to its ``message``): not what an export holds, but a measure of the
engines without the 7 KB of JSON a real AzureActivity row carries.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import warnings
from itertools import repeat
from pathlib import Path

warnings.simplefilter("ignore")

REPO = Path(__file__).resolve().parent.parent
# "Today's" engine of the bounded-memory targets: the commit before that work began (issue 11).
BASELINE = "2f0f4e9"


def shared_dir(given: str | None) -> Path:
    path = Path(given or os.environ.get("SIGMA_AZURE_AKS_SHARED") or REPO.parent / "shared")
    if not path.is_dir():
        sys.exit(f"shared data not found at {path}; pass --shared")
    return path


def synthesise(base: list[dict], rules_ops: list[str], n: int, seed: int) -> dict[str, list]:
    """Column-wise rows: each a lab row with varied values."""
    from sigma_azure_aks.sources import TABLES

    rng = random.Random(seed)
    names = list(TABLES["AzureActivity"])
    picks = [rng.randrange(len(base)) for _ in range(n)]
    columns = {name: [base[i].get(name) for i in picks] for name in names}
    ops = [r.get("OperationNameValue", "") for r in base] + rules_ops
    statuses = ["Success", "Succeeded", "Start", "Failure", "Accept"]
    callers = [
        "AdeleV@M365x816222.OnMicrosoft.com",
        "bob@contoso.com",
        "4b3c1b1e-0f7d-4a9a-9d1c-1f2e3d4c5b6a",
    ]
    columns["EventDataId"] = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    columns["OperationNameValue"] = [
        rng.choice(ops) if rng.random() < 0.3 else columns["OperationNameValue"][i] for i in range(n)
    ]
    columns["ActivityStatusValue"] = [rng.choice(statuses) for _ in range(n)]
    columns["Caller"] = [rng.choice(callers) for _ in range(n)]
    columns["CallerIpAddress"] = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1" for _ in range(n)
    ]
    columns["TimeGenerated"] = [
        f"2021-04-{1 + i % 28:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z" for i in range(n)
    ]
    return columns


def write_export(columns: dict[str, list], n: int, folder: Path) -> Path:
    """The rows as a Log Analytics CSV export: every column as text, dynamic columns as JSON."""
    from sigma_azure_aks.sources import TABLES

    schema = TABLES["AzureActivity"]
    names = [c for c in schema if c in columns]
    texts = []
    for name in names:
        memo: dict[int, str] = {}
        values = columns[name]
        if schema[name] == "dynamic":
            values = [
                "" if v is None else memo[id(v)] if id(v) in memo else memo.setdefault(id(v), json.dumps(v))
                for v in values
            ]
        else:
            values = ["" if v is None else v for v in values]
        texts.append(values)
    path = folder / "AzureActivity.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["$table", *(f"{c} [UTC]" if schema[c] == "datetime" else c for c in names)])
        writer.writerows(zip(repeat("AzureActivity", n), *texts, strict=True))
        handle.flush()
        os.fsync(handle.fileno())  # written back before any timing, and read once: in the page cache
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass
    return path


def measured(function, *args):
    """(what `function(*args)` returns, its process's peak RSS in MiB), run in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_with_peak_rss, (function, *args))


def _with_peak_rss(function, *args):
    value = function(*args)
    return value, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux: MiB


def baseline_tree(folder: Path) -> Path | None:
    """The package as it was at :data:`BASELINE`, extracted under `folder`; None without git."""
    target = folder / "baseline"
    target.mkdir()
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", BASELINE, "sigma_azure_aks"], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def baseline_route(tree: str, export: Path, queries: list[str], max_memory: int):
    """The one-pass scan of the engine at :data:`BASELINE` (its own package first on the path of
    this fresh process), its address space capped at `max_memory` bytes so that it fails rather
    than exhausting the machine: (matches, seconds), or (None, why it failed)."""
    if max_memory:
        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
    sys.path.insert(0, tree)
    import sigma_azure_aks
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import kept_columns

    assert Path(sigma_azure_aks.__file__).is_relative_to(tree), sigma_azure_aks.__file__
    try:
        scan, elapsed = timed_scan(Engine, export, queries, kept_columns)
    except Exception as error:  # DuckDB's out-of-memory error under the cap, or MemoryError
        return None, f"{type(error).__name__}: {(str(error).splitlines() or ['-'])[0]}"
    return scan.matches, elapsed


def scan_route(export: Path, queries: list[str], memory_limit: str | None):
    """The one-pass scan: (matches, seconds)."""
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import kept_columns

    scan, elapsed = timed_scan(lambda: Engine(memory_limit), export, queries, kept_columns)
    return scan.matches, elapsed


def loaded_route(export: Path, queries: list[str], memory_limit: str | None):
    """The export loaded into the engine, then every query in one statement:
    (rows loaded, load seconds, matches, evaluate seconds)."""
    from sigma_azure_aks.replay.engine import Engine

    engine = Engine(memory_limit)
    t = time.perf_counter()
    loaded = engine.load_export(export)
    load = time.perf_counter() - t
    t = time.perf_counter()
    matches = engine.matches_many(queries)
    evaluate = time.perf_counter() - t
    engine.close()
    return loaded, load, matches, evaluate


def bare_engine(path: Path, queries: list[str]):
    """duckdb-kql as it comes: DuckDB reads the CSV itself into a typed table (strings absent as "",
    dynamic text cast to JSON, datetime text cast by DuckDB), then each query translated and run.
    Returns (load s, evaluate s, EventDataIds per query)."""
    import duckdb_kql

    from sigma_azure_aks.replay.sql import SQL_TYPES
    from sigma_azure_aks.sources import TABLES

    schema = TABLES["AzureActivity"]
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    present = {h.split(" [")[0]: h for h in header}
    t = time.perf_counter()
    con = duckdb_kql.connect()
    select = []
    for name, kind in schema.items():
        column = present.get(name)
        if column is None:
            empty = "''" if kind == "string" else "NULL"
            select.append(f'{empty}::{SQL_TYPES[kind]} AS "{name}"')
        elif kind == "string":
            select.append(f'coalesce("{column}", \'\') AS "{name}"')
        else:
            select.append(f'CAST("{column}" AS {SQL_TYPES[kind]}) AS "{name}"')
    con.execute(
        f"CREATE TABLE \"AzureActivity\" AS SELECT {', '.join(select)} FROM read_csv('{path}', "
        "header = true, all_varchar = true, quote = '\"', escape = '\"')"
    )
    load = time.perf_counter() - t
    t = time.perf_counter()
    results = [
        sorted(r[0] for r in con.execute(f"SELECT EventDataId FROM ({duckdb_kql.to_sql(q)})").fetchall())
        for q in queries
    ]
    evaluate = time.perf_counter() - t
    con.close()
    return load, evaluate, results


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        return run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shared", default=None)
    parser.add_argument("--python-load", action="store_true", help="also time loading from Python values")
    parser.add_argument("--per-rule", action="store_true", help="also time one query per rule")
    parser.add_argument("--memory-limit", default="1GB", help="the engine's memory limit (default 1GB)")
    parser.add_argument(
        "--unlimited", action="store_true", help="also scan with DuckDB's default memory limit"
    )
    parser.add_argument(
        "--own-rules",
        action="store_true",
        help="add this repository's AzureActivity rules (rules/azure_activity)",
    )
    parser.add_argument(
        "--skip-baseline", action="store_true", help=f"leave out the engine of commit {BASELINE} (today's)"
    )
    parser.add_argument(
        "--baseline-max-memory",
        type=float,
        default=16.0,
        help="address space cap of the baseline's process, GiB (it fails rather than exhaust the machine); 0: none",
    )
    parser.add_argument("--skip-bare", action="store_true", help="leave out the bare duckdb-kql route")
    parser.add_argument(
        "--baseline-slice-rows",
        type=int,
        default=200_000,
        help="when the baseline cannot hold the whole file, run it on slices of this many rows (0: not)",
    )
    parser.add_argument(
        "--baseline-in-slices",
        action="store_true",
        help="run the baseline on slices only (where it is known not to hold the whole file)",
    )
    parser.add_argument(
        "--skip-loaded",
        action="store_true",
        help="leave out the load-then-evaluate route (and the bare and SQLite routes after it)",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="leave out the SQLite route")
    parser.add_argument(
        "--narrow",
        action="store_true",
        help="rows of only the columns the rules read, the id and the summary columns (not a real export)",
    )
    parser.add_argument(
        "--scan-speed",
        action="store_true",
        help="time the replay command on SigninLogs JSON lines against DuckDB's own load of the file",
    )
    parser.add_argument(
        "--scan-speed-csv",
        action="store_true",
        help="with --scan-speed: also the AzureActivity CSV export against DuckDB's own read_csv",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="with --scan-speed: rounds of the three timings, interleaved; their medians are compared (default 3)",
    )
    args = parser.parse_args()
    shared = shared_dir(args.shared)
    if args.scan_speed:
        return scan_speed(folder, args, shared)

    import duckdb_kql

    from sigma_azure_aks.replay.api import convert
    from sigma_azure_aks.replay.engine import Engine, ReplayQueryError
    from sigma_azure_aks.replay.loaders import read_events

    corpus = shared / "corpus" / "sigmahq" / "activitylogs"
    converted, failures = convert([corpus, REPO / "rules" / "azure_activity"] if args.own_rules else corpus)
    assert not failures, failures
    queries = [c.query for c in converted]
    base = [e.row for e in read_events([shared / "samples" / "azureactivity_training_lab.jsonl"])]
    rule_ops = [
        "MICROSOFT.KEYVAULT/VAULTS/DELETE",
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
        "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
        "MICROSOFT.PORTAL/CONSOLES/WRITE",
        "MICROSOFT.NETWORK/DNSZONES/A/WRITE",
        "Microsoft.Network/azureFirewalls/delete",
    ]
    print(f"rows: {args.rows:,}  rules: {len(queries)}  cpus: {os.cpu_count()}  {load_average()}")

    t = time.perf_counter()
    columns = synthesise(base, rule_ops, args.rows, args.seed)
    if args.narrow:
        from sigma_azure_aks.replay.loaders import kept_columns

        read = {"CategoryValue", "OperationNameValue", "_ResourceId", "ResourceProviderValue", "Properties_d"}
        keep = read | set(kept_columns("AzureActivity"))
        columns = {name: values for name, values in columns.items() if name in keep}
        columns["Properties_d"] = [
            {"message": p["message"]} if isinstance(p, dict) and "message" in p else None
            for p in columns["Properties_d"]
        ]
        print(f"narrow rows: {', '.join(sorted(columns))}")
    print(f"synthesise rows: {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    export = write_export(columns, args.rows, folder)
    print(f"write the CSV export: {time.perf_counter() - t:.1f} s, {export.stat().st_size / 1e9:.2f} GB")

    if args.python_load:
        engine = Engine()
        t = time.perf_counter()
        engine.load_columns("AzureActivity", columns, args.rows)
        python_load = time.perf_counter() - t
        t = time.perf_counter()
        python_all = engine.matches_many(queries)
        python_eval = time.perf_counter() - t
        engine.close()
        del engine
        print(
            f"replay from Python values (load_columns): load {python_load:.2f} s, evaluate {python_eval:.2f} s"
        )

    # ---- ours: the one-pass scan (what `sigma-azure-aks replay` runs on an export) ----
    from sigma_azure_aks.replay.loaders import kept_columns

    bare_ok = []
    for q in queries:
        try:
            duckdb_kql.to_sql(q)
            bare_ok.append(q)
        except duckdb_kql.KqlError:
            pass
    subset = [queries.index(q) for q in bare_ok]
    limit = args.memory_limit
    (scan_all, scan_all_s), scan_rss = measured(scan_route, export, queries, limit)
    refused = [r for r in scan_all if isinstance(r, ReplayQueryError)]
    assert not refused, refused
    ids = columns["EventDataId"]
    hits = sum(len(r) for r in scan_all)  # type: ignore[arg-type]
    print(
        f"replay, one pass over the export (memory limit {limit}): all {len(queries)} rules "
        f"{scan_all_s:.2f} s, peak RSS {scan_rss:,.0f} MiB, {hits:,} hits  ({load_average()})"
    )
    if not args.skip_baseline:
        tree = baseline_tree(folder)
        if tree is None:
            print(f"baseline: the engine of commit {BASELINE} cannot be extracted (no git history); skipped")
        else:
            cap = int(args.baseline_max_memory * 2**30)
            label = "in one pass"
            if args.baseline_in_slices:
                base_all, base_s, base_rss = None, "not tried: --baseline-in-slices", 0.0
            else:
                (base_all, base_s), base_rss = measured(baseline_route, str(tree), export, queries, cap)
            if base_all is None and not args.baseline_in_slices:
                print(
                    f"baseline, the engine of commit {BASELINE} (today's), one pass: failed under its "
                    f"{args.baseline_max_memory:g} GiB address-space cap ({base_s}); peak RSS {base_rss:,.0f} MiB  "
                    f"({load_average()})"
                )
            if base_all is None:
                if 0 < args.baseline_slice_rows < args.rows:
                    label = f"on slices of {args.baseline_slice_rows:,} rows"
                    (base_all, base_s), base_rss = baseline_in_slices(
                        folder, tree, columns, args, queries, cap
                    )
                    if base_all is None:
                        print(f"baseline {label}: failed too ({base_s})")
            if base_all is not None:
                assert base_all == scan_all, "the baseline engine and replay disagree"
                print(
                    f"baseline, the engine of commit {BASELINE} (today's), {label}: all {len(queries)} rules "
                    f"{base_s:.2f} s, peak RSS {base_rss:,.0f} MiB, same hits  ({load_average()})"
                )
                print(
                    f"RATIO replay/baseline ({label}) wall time, all {len(queries)} rules on the same rows "
                    f"(target <= 1.1): {scan_all_s / base_s:.2f}x; peak RSS {scan_rss:,.0f} MiB "
                    f"(memory limit {limit}; target <= 1,024 MiB at 200,000 rows, <= 2,048 MiB at 1,000,000) "
                    f"vs {base_rss:,.0f} MiB"
                )
    if args.unlimited:
        (unlimited, unlimited_s), unlimited_rss = measured(scan_route, export, queries, None)
        assert unlimited == scan_all, "the scan with and without a memory limit disagree"
        print(
            f"replay, one pass, DuckDB's default memory limit: all {len(queries)} rules {unlimited_s:.2f} s, "
            f"peak RSS {unlimited_rss:,.0f} MiB, same hits"
        )

    if args.skip_loaded:
        return 0

    # ---- ours: load the export into the engine, then evaluate (the Python API's engine) ----
    (loaded, ours_load, ours_all, ours_eval), loaded_rss = measured(loaded_route, export, queries, limit)
    assert loaded == ("AzureActivity", args.rows), loaded
    if args.python_load:
        assert python_all == ours_all, "the native and the Python load disagree"
    assert ours_all == scan_all, "the scan and the loaded engine disagree"
    print(
        f"replay, export loaded then evaluated: load {ours_load:.2f} s, evaluate all {len(queries)} rules "
        f"in one statement {ours_eval:.2f} s, peak RSS {loaded_rss:,.0f} MiB, same hits as the scan"
    )
    if args.per_rule:
        engine = Engine(limit)
        engine.load_export(export)
        t = time.perf_counter()
        per_rule = [engine.matches(q) for q in queries]
        print(f"replay, one query per rule: {time.perf_counter() - t:.2f} s")
        assert per_rule == ours_all
        engine.close()
        del engine
    if args.skip_bare:
        return 0

    # ---- bare engine: duckdb-kql on its own table of the same rows, the queries it accepts ----
    (scan_subset, scan_subset_s), subset_rss = measured(scan_route, export, bare_ok, limit)
    assert all(scan_subset[i] == scan_all[j] for i, j in enumerate(subset))
    print(
        f"replay, one pass, the {len(bare_ok)} queries the bare engine accepts: {scan_subset_s:.2f} s, "
        f"peak RSS {subset_rss:,.0f} MiB, the same hits as with all rules"
    )
    (bare_load, bare_eval, bare_results), bare_rss = measured(bare_engine, export, bare_ok)
    assert bare_results == [sorted(ids[r] for r in rows) for rows in scan_subset], (  # type: ignore[union-attr]
        "bare engine and replay disagree"
    )
    bare_total = bare_load + bare_eval
    print(
        f"bare duckdb-kql: {len(bare_ok)} of {len(queries)} queries accepted (it refuses `* contains`); "
        f"load {bare_load:.2f} s, evaluate {bare_eval:.2f} s (one query at a time), total {bare_total:.2f} s, "
        f"peak RSS {bare_rss:,.0f} MiB, same hits as replay"
    )
    print(
        f"RATIO replay/bare, the same {len(bare_ok)} queries on the same file (target <= 1.3): "
        f"{scan_subset_s / bare_total:.2f}x  (load-then-evaluate route: "
        f"{(ours_load + ours_eval) / bare_total:.2f}x with all {len(queries)} rules)"
    )

    # ---- SQLite with pySigma-backend-sqlite, the same file read in Python ----
    if args.skip_sqlite:
        return 0
    try:
        from sigma.backends.sqlite import sqliteBackend
        from sigma.collection import SigmaCollection
        from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
        from sigma.processing.transformations import FieldMappingTransformation
    except ImportError:
        print("sqlite route: pySigma-backend-sqlite not importable here (needs pySigma 2); skipped")
        return 0
    from sigma_azure_aks.semantics import condition_fields
    from sigma_azure_aks.sources.azure_activity import FIELD_MAP as AZURE_ACTIVITY

    rules = [r for p in sorted(corpus.glob("*.yml")) for r in SigmaCollection.from_yaml(p.read_text()).rules]
    names = sorted({field for rule in rules for field in condition_fields(rule)[0]})
    sql_names = {n: f"f{i}" for i, n in enumerate(names)}
    targets = [AZURE_ACTIVITY.resolve(n) for n in names]
    t = time.perf_counter()
    lite_rows = sqlite_rows(export, targets)
    lite_read = time.perf_counter() - t
    t = time.perf_counter()
    lite = sqlite3.connect(":memory:")
    cols = ", ".join(f"{sql_names[n]} TEXT COLLATE NOCASE" for n in names)
    lite.execute(f"CREATE TABLE logs (eid TEXT, {cols}, fulltext TEXT COLLATE NOCASE)")
    lite.executemany(f"INSERT INTO logs VALUES ({', '.join('?' * (len(names) + 2))})", lite_rows)
    lite_load = time.perf_counter() - t
    del lite_rows
    pipeline = ProcessingPipeline(
        name="flat",
        priority=20,
        items=[ProcessingItem(identifier="flat", transformation=FieldMappingTransformation(sql_names))],
    )
    backend = sqliteBackend(pipeline, table="logs", fulltext_field="fulltext")
    sqls = [backend.convert_rule(r)[0].replace("SELECT *", "SELECT eid", 1) for r in rules]
    t = time.perf_counter()
    lite_results = [sorted(r[0] for r in lite.execute(sql)) for sql in sqls]
    lite_eval = time.perf_counter() - t
    lite_hits = sum(len(r) for r in lite_results)
    print(
        f"sqlite route: read the file in Python {lite_read:.2f} s, insert {lite_load:.2f} s, "
        f"evaluate {lite_eval:.2f} s, {lite_hits:,} hits"
    )
    lite_total = lite_read + lite_load + lite_eval
    print(
        f"RATIO sqlite/replay, all {len(queries)} rules on the same file (target >= 4): "
        f"{lite_total / scan_all_s:.1f}x  (rows already in Python, insert and evaluate only: "
        f"{(lite_load + lite_eval) / scan_all_s:.1f}x)"
    )
    return 0


def baseline_in_slices(
    folder: Path, tree: Path, columns: dict[str, list], args, queries: list[str], cap: int
):
    """The baseline on consecutive slices of the rows, each written as an export of its own and
    scanned in a fresh process: ((matches numbered in the whole file, seconds summed), the
    largest peak RSS); (None, why) when a slice fails too. Each rule reads one row at a time,
    so the slices' answers are the whole file's."""
    matches: list[list[int]] = [[] for _ in queries]
    seconds, peak = 0.0, 0.0
    for start in range(0, args.rows, args.baseline_slice_rows):
        count = min(args.baseline_slice_rows, args.rows - start)
        part = folder / f"slice-{start}"
        part.mkdir()
        path = write_export({k: v[start : start + count] for k, v in columns.items()}, count, part)
        (found, took), rss = measured(baseline_route, str(tree), path, queries, cap)
        shutil.rmtree(part, ignore_errors=True)
        peak = max(peak, rss)
        if found is None:
            return (None, took), peak
        for rows, more in zip(matches, found, strict=True):
            rows.extend(start + row for row in more)
        seconds += took
    return (matches, seconds), peak


def load_average() -> str:
    """The machine's load averages (1, 5, 15 minutes), to read the times beside."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_scan(engine_class, export: Path, queries: list[str], kept):
    engine = engine_class()
    t = time.perf_counter()
    scan = engine.scan_export(export, queries, kept)
    elapsed = time.perf_counter() - t
    engine.close()
    assert scan is not None, "the export was not scanned"
    return scan, elapsed


def sqlite_rows(export: Path, targets: list) -> list[tuple]:
    """The rows for SQLite, read from the export as such a route would: Python's csv reader, JSON
    text parsed where a rule reads a member of it, and the full-row text of every field."""
    rows = []
    with export.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = [h.split(" [")[0] for h in next(reader)]
        position = {name: i for i, name in enumerate(header)}
        plan = [(position.get(t.column), t.path) for t in targets]
        eid = position["EventDataId"]
        for record in reader:
            values = []
            for index, path in plan:
                value = record[index] if index is not None else None
                if path and value:
                    value = json.loads(value)
                    for part in path:
                        value = value.get(part) if isinstance(value, dict) else None
                values.append(value or None)
            rows.append((record[eid], *values, "\n".join(v for v in record[1:] if v)))
    return rows


# ---- scan speed: the replay command against DuckDB's own read of the same file ----
_FAILED_SIGNIN = """\
title: Failed sign-in, wrong password
id: 5f3c2a4e-7d1b-4c8e-9a60-2b1d0e9f8a31
status: test
logsource: {product: azure, service: signinlogs}
detection:
    sel: {ResultType: 50126}
    condition: sel
level: low
"""

_SIGNIN_RESULTS = [
    *[("0", "", 0)] * 7,
    ("50126", "Invalid username or password or Invalid on-premise username or password.", 50126),
    ("50074", "Strong Authentication is required.", 50074),
]


def write_signins(path: Path, n: int, seed: int) -> Path:
    """`n` ordinary SigninLogs rows over one day as a Log Analytics JSON-lines export; each value
    of its column's type in the SigninLogs source (strings, dynamic objects, a bool, a long)."""
    from datetime import datetime, timedelta

    from sigma_azure_aks.sources import TABLES

    schema = TABLES["SigninLogs"]
    rng = random.Random(seed)
    users = [f"user{i}@contoso.com" for i in range(2_000)]
    apps = [
        ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
        ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
        ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
    ]
    start = datetime(2024, 5, 1)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            time_text = (start + timedelta(microseconds=86_400_000_000 * i // n)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            app, app_id = apps[i % len(apps)]
            code, description, error = rng.choice(_SIGNIN_RESULTS)
            row = {
                "$table": "SigninLogs",
                "TimeGenerated": time_text + "0Z",
                "Id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "Category": "SignInLogs",
                "ResultType": code,
                "ResultDescription": description,
                "UserPrincipalName": rng.choice(users),
                "AppDisplayName": app,
                "AppId": app_id,
                "IPAddress": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "ClientAppUsed": "Browser",
                "IsInteractive": True,
                "DurationMs": rng.randrange(50, 900),
                "Status": {"errorCode": error},
                "LocationDetails": {"countryOrRegion": "US", "city": "Redmond"},
            }
            assert all(name in schema for name in row if name != "$table")
            handle.write(json.dumps(row) + "\n")
    return path


def replay_command(rule: Path, events: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS MiB, bytes of JSON written) of ``sigma-azure-aks replay --format
    json`` on `events`, in a fresh process (:func:`correlation_benchmark.run_replay`: its own
    peak, from the kernel); its output is checked to be one rule's JSON."""
    from correlation_benchmark import run_replay  # this script's folder is on sys.path

    with tempfile.TemporaryDirectory() as folder:
        run = run_replay(rule, events, Path(folder) / "replay.json", None)
    assert len(run["result"]) == 1, str(run["result"])[:200]
    return run["wall"], int(run["rss"]), run["bytes"]


def duckdb_load(path: Path, table: str) -> float:
    """:func:`duckdb_load_here` in a fresh process, so that this one stays small (a process it
    starts would otherwise count this one's memory in its peak)."""
    code = (
        "import sys, pathlib, replay_benchmark as b; "
        "print(b.duckdb_load_here(pathlib.Path(sys.argv[1]), sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), table], capture_output=True, check=True, text=True, env=env
    )
    return float(done.stdout.split()[-1])


def duckdb_load_here(path: Path, table: str) -> float:
    """Seconds for DuckDB itself to load every column of the file into a table, the file's
    columns declared in their DuckDB types (JSON lines), or read as text (CSV)."""
    import duckdb

    from sigma_azure_aks.replay.sql import SQL_TYPES
    from sigma_azure_aks.sources import TABLES

    con = duckdb.connect()
    file = "'" + str(path).replace("'", "''") + "'"
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            names = list(json.loads(handle.readline()))
        schema = TABLES[table]
        declared = ", ".join(f"'{n}': '{SQL_TYPES[schema[n]] if n in schema else 'VARCHAR'}'" for n in names)
        source = f"read_json({file}, format = 'newline_delimited', columns = {{{declared}}})"
    else:
        source = f"read_csv({file}, header = true, all_varchar = true, quote = '\"', escape = '\"')"
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {source}")
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def scan_speed_line(
    label: str, rule: Path, small: Path, large: Path, rows: int, table: str, repeat: int = 1
) -> None:
    """Time the replay command on `small` (1,000 rows: start-up) and `large`, and DuckDB's own load
    of `large`, `repeat` rounds of the three interleaved (so that the machine's drift touches each
    alike), and print each round and the ratio of the medians."""
    from statistics import median

    startups, wholes, owns = [], [], []
    for round_number in range(1, repeat + 1):
        startup, _, _ = replay_command(rule, small)
        whole, peak, written = replay_command(rule, large)
        own = duckdb_load(large, table)
        startups.append(startup)
        wholes.append(whole)
        owns.append(own)
        print(
            f"{label}, round {round_number}: {rows:,} rows, {large.stat().st_size / 1e6:,.0f} MB; replay command "
            f"{whole:.2f} s (peak RSS {peak:,} MiB, {written / 1e6:.1f} MB of JSON), start-up (1,000 rows) "
            f"{startup:.2f} s, beyond start-up {whole - startup:.2f} s; DuckDB's own load of the file {own:.2f} s; "
            f"ratio {(whole - startup) / own:.2f}x  ({load_average()})"
        )
    beyond, own = median(wholes) - median(startups), median(owns)
    print(
        f"RATIO replay beyond start-up / DuckDB's own load, {label} (target <= 3; medians of {repeat}: "
        f"{beyond:.2f} s / {own:.2f} s): {beyond / own:.2f}x"
    )


def scan_speed(folder: Path, args, shared: Path) -> int:
    """``--scan-speed``: see the module's docstring."""
    print(f"scan speed: {args.rows:,} rows, cpus: {os.cpu_count()}  {load_average()}")
    rule = folder / "failed_signin.yml"
    rule.write_text(_FAILED_SIGNIN, encoding="utf-8")
    t = time.perf_counter()
    large = write_signins(folder / "SigninLogs.jsonl", args.rows, args.seed)
    small = write_signins(folder / "SigninLogs-1000.jsonl", 1_000, args.seed)
    print(f"write the SigninLogs JSON lines: {time.perf_counter() - t:.1f} s")
    scan_speed_line("SigninLogs JSON lines, one base rule", rule, small, large, args.rows, "SigninLogs", args.repeat)
    if not args.scan_speed_csv:
        return 0
    from sigma_azure_aks.replay.loaders import read_events

    base = [e.row for e in read_events([shared / "samples" / "azureactivity_training_lab.jsonl"])]
    (folder / "small").mkdir()
    operations = ["MICROSOFT.KEYVAULT/VAULTS/DELETE", "MICROSOFT.KEYVAULT/VAULTS/WRITE"]
    large = write_export(synthesise(base, operations, args.rows, args.seed), args.rows, folder)
    small = write_export(synthesise(base, operations, 1_000, args.seed), 1_000, folder / "small")
    rule = shared / "corpus" / "sigmahq" / "activitylogs" / "azure_keyvault_modified_or_deleted.yml"
    scan_speed_line(
        "AzureActivity CSV export, one base rule", rule, small, large, args.rows, "AzureActivity", args.repeat
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
