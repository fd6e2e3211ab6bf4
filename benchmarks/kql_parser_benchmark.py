"""Microsoft's KQL parser: the embedded engine (mini-racer, in-process) against the node process.

The queries are the conversions of SigmaHQ's 35 azure/activitylogs rules (converted once, outside
the timing). For each engine: the time to start it (load the ~5 MB parser) and the queries checked a
second, best of N passes over the corpus after one warm-up pass, with the full analysis
(diagnostics, result columns, string literals) that `validate` and the tests ask for.

    python benchmarks/kql_parser_benchmark.py [--passes 20] [--repeat 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import warnings
from pathlib import Path

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.batch import ConvertedRule, convert_rule, load_files, rule_files
from sigma_azure_aks.kql_parser.checker import KqlChecker, embedded_available


def default_corpus() -> Path:
    configured = os.environ.get("SIGMA_AZURE_AKS_SHARED")
    base = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"
    return base / "corpus" / "sigmahq" / "activitylogs"


def corpus_queries(corpus: Path) -> list[str]:
    backend = SentinelBackend()
    queries = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in load_files(rule_files([corpus], (".yml", ".yaml"))):
            for rule in item.rules:
                result = convert_rule(backend, item.path, rule)
                if isinstance(result, ConvertedRule):
                    queries.append(result.query)
    return queries


def measure(engine: str, queries: list[str], passes: int, repeat: int) -> tuple[float, float]:
    """(seconds to start, best queries a second)."""
    with KqlChecker(engine=engine) as checker:
        started = time.perf_counter()
        checker.start()
        startup = time.perf_counter() - started
        for query in queries:  # warm-up: the JIT and the parser's caches
            checker.analyze(query)
        best = 0.0
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(passes):
                for query in queries:
                    checker.analyze(query)
            best = max(best, passes * len(queries) / (time.perf_counter() - started))
    return startup, best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passes", type=int, default=20, help="passes over the corpus per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (the best counts)")
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    args = parser.parse_args()
    queries = corpus_queries(args.corpus)
    print(f"{len(queries)} queries from {args.corpus.name}, {args.passes} passes x {args.repeat} runs")
    engines = [
        name for name, ok in (("embedded", embedded_available()), ("node", shutil.which("node"))) if ok
    ]
    for engine in engines:
        startup, rate = measure(engine, queries, args.passes, args.repeat)
        print(f"{engine:9} start {startup:6.2f} s   {rate:8.0f} queries/s")


if __name__ == "__main__":
    main()
