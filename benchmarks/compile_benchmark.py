"""Compile speed: the `sentinel` target against the stock `kusto` target with a DIY YAML pipeline.

The corpus (>= 3,000 rules) is built from the shapes of SigmaHQ's 35 azure/activitylogs rules:
each rule is repeated with a new id and its string values varied. Both targets convert the same
rules (parsed separately, outside the timing), alternating, and the best of N runs is compared,
both in wall time and in the process's CPU time (which a busy machine disturbs far less: the
ratio of CPU times is the one to read when other work shares the cores).
Also measured: what importing this plugin adds to `sigma list targets` (in fresh interpreters), and
the processing items each target runs per rule (each `apply` called, at any depth) and applies.

`--process` measures instead what a user runs: the rules written to a folder, then
`sigma convert -t sentinel DIR` against `sigma convert -t kusto -p diy.yml DIR`, each a whole
sigma-cli process (start-up, plugin discovery, target and pipeline resolution, parsing, conversion,
output) running this checkout's code, alternating, with the child's CPU time (user + system) and
wall time; the medians of the runs are compared. `--copies` makes the corpus smaller for a quick run.

    python benchmarks/compile_benchmark.py [--copies 90] [--repeat 5] [--corpus DIR]
    python benchmarks/compile_benchmark.py --process [--copies 90] [--repeat 5] [--sigma PATH]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from sigma.backends.kusto import KustoBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline

from sigma_azure_aks.backend import SentinelBackend

DIY_PIPELINE = """
name: DIY AzureActivity
priority: 10
transformations:
  - id: table
    type: set_state
    key: query_table
    val: AzureActivity
  - id: fields
    type: field_name_mapping
    mapping:
      operationName: OperationNameValue
      resultType: ActivityStatusValue
      category: CategoryValue
      resourceId: _ResourceId
      caller: Caller
      callerIpAddress: CallerIpAddress
postprocessing:
  - type: embed
    prefix: "AzureActivity\\n| where "
"""


def default_corpus() -> Path:
    configured = os.environ.get("SIGMA_AZURE_AKS_SHARED")
    base = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"
    return base / "corpus" / "sigmahq" / "activitylogs"


def _vary(value: object, n: int) -> object:
    if isinstance(value, str):
        return f"{value}{n}" if not value.endswith("*") else value
    if isinstance(value, list):
        return [_vary(v, n) for v in value]
    if isinstance(value, dict):
        return {k: _vary(v, n) for k, v in value.items()}
    return value


def build_corpus(folder: Path, copies: int) -> list[dict]:
    originals = [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yml"))]
    documents = []
    for n in range(copies):
        for original in originals:
            document = copy.deepcopy(original)
            document["id"] = str(uuid.UUID(int=len(documents) + 1))
            document["title"] = f"{original['title']} #{n}"
            detection = document["detection"]
            for name, body in detection.items():
                if name != "condition":
                    detection[name] = _vary(body, n) if n else body
            documents.append(document)
    return documents


def time_convert(make_backend, documents: list[dict]) -> tuple[float, float, int, int]:
    """Wall seconds and CPU seconds to convert the corpus, queries produced, rules that failed."""
    collection = SigmaCollection.from_dicts(copy.deepcopy(documents), collect_errors=True)
    backend = make_backend()
    started, started_cpu = time.perf_counter(), time.process_time()
    queries = backend.convert(collection)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return wall, cpu, len(queries), len(backend.errors)


def _all_items(items: list) -> list:
    """The processing items and, for an item that dispatches to others (`nested_items()` on its
    transformation), the items it holds, once each."""
    found: dict[int, object] = {}
    for item in items:
        found.setdefault(id(item), item)
        nested = getattr(item.transformation, "nested_items", None)
        for inner in nested() if nested else ():
            found.setdefault(id(inner), inner)
    return list(found.values())


def items_per_rule(make_backend, documents: list[dict]) -> tuple[float, float]:
    """Processing items run per rule (their `apply` called, at any depth) and applied (the call
    returned True), averaged over `documents` converted once, outside the timing."""
    collection = SigmaCollection.from_dicts(copy.deepcopy(documents), collect_errors=True)
    backend = make_backend()
    pipelines = (
        backend.backend_processing_pipeline,
        backend.processing_pipeline or ProcessingPipeline(),
        backend.output_format_processing_pipeline[backend.default_format],
    )
    counts = [0, 0]

    def counting(item):
        apply = item.apply

        def counted(rule):
            applied = apply(rule)
            counts[0] += 1
            counts[1] += bool(applied)
            return applied

        return counted

    # pySigma adds these pipelines up for each conversion, keeping the same item objects.
    for item in _all_items([item for pipeline in pipelines for item in pipeline.items]):
        item.apply = counting(item)
    backend.convert(collection)
    return counts[0] / len(collection.rules), counts[1] / len(collection.rules)


def print_items_per_rule(documents: list[dict], diy: ProcessingPipeline) -> None:
    stock = items_per_rule(lambda: KustoBackend(copy.deepcopy(diy), collect_errors=True), documents)
    ours = items_per_rule(lambda: SentinelBackend(collect_errors=True), documents)
    print(
        f"processing items per rule ({len(documents)} rules; run / applied): "
        f"baseline {stock[0]:.1f} / {stock[1]:.1f}, ours {ours[0]:.1f} / {ours[1]:.1f}"
    )


def import_overhead(samples: int) -> tuple[float, float]:
    """Median seconds, in fresh interpreters, for sigma-cli's own imports (with the kusto backend
    sigma-cli loads on every command) and for then importing this plugin's discovery leaves.
    Both with bytecode caches, as pip leaves them."""
    code = (
        "import time; t0 = time.perf_counter(); "
        "import sigma.collection, sigma.backends.kusto, sigma.pipelines.azuremonitor; "
        "t1 = time.perf_counter(); "
        "import sigma.backends.azure_aks, sigma.pipelines.azure_aks; "
        "t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    # As installed from a wheel, with bytecode caches (pip compiles them at install; an editable
    # checkout writes them on first import, which the discarded first sample does).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base_times, added_times = [], []
    for _ in range(samples + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        base, added = (float(x) for x in out.stdout.split())
        base_times.append(base)
        added_times.append(added)
    return statistics.median(base_times[1:]), statistics.median(added_times[1:])


REPO_ROOT = Path(__file__).resolve().parents[1]


def write_corpus(documents: list[dict], folder: Path) -> None:
    """One YAML file per rule, as a user's rule folder holds them."""
    for number, document in enumerate(documents):
        (folder / f"rule_{number:05d}.yml").write_text(yaml.safe_dump(document, sort_keys=False))


def run_process(command: list[str]) -> tuple[float, float, bytes]:
    """Wall seconds and CPU seconds (user + system, from the kernel's accounting of the reaped
    child) of one process running this checkout's code, and what it wrote to stdout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO_ROOT), env.get("PYTHONPATH"))))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{' '.join(command)} exited {child.returncode}: {err.read().decode()[-2000:]}"
            )
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, out.read()


def process_benchmark(documents: list[dict], sigma: Path, repeat: int) -> None:
    """`sigma convert -t sentinel DIR` against `sigma convert -t kusto -p diy.yml DIR`, whole
    processes, alternating (which goes first alternates too), after one discarded run each."""
    with tempfile.TemporaryDirectory() as scratch:
        rules, diy = Path(scratch) / "rules", Path(scratch) / "diy.yml"
        rules.mkdir()
        write_corpus(documents, rules)
        diy.write_text(DIY_PIPELINE)
        commands = {
            "stock": [str(sigma), "convert", "-t", "kusto", "-p", str(diy), str(rules)],
            "ours": [str(sigma), "convert", "-t", "sentinel", str(rules)],
        }
        print(f"stock kusto + DIY YAML: {' '.join(commands['stock'])}")
        print(f"sentinel target (ours): {' '.join(commands['ours'])}")
        for name, command in commands.items():
            output = run_process(command)[2]
            print(f"{name}: {output.count(b'| where ')} queries, {len(output):,} bytes of output")
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for run in range(repeat):
            for name in list(commands) if run % 2 == 0 else reversed(commands):
                seconds, cpu_seconds, _ = run_process(commands[name])
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
    median_wall = {name: statistics.median(times) for name, times in wall.items()}
    median_cpu = {name: statistics.median(times) for name, times in cpu.items()}
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"rules: {len(documents)}; runs: {repeat} of each, alternating; load average now {load}")
    for name, label in (("stock", "stock kusto + DIY YAML"), ("ours", "sentinel target (ours)")):
        print(
            f"{label}: CPU median {median_cpu[name]:.3f} s (min {min(cpu[name]):.3f}), "
            f"wall median {median_wall[name]:.3f} s (min {min(wall[name]):.3f})"
        )
    print(
        f"RATIO whole process, sentinel / kusto+DIY: CPU {median_cpu['ours'] / median_cpu['stock']:.3f}x "
        f"(target <= 1.0x), wall {median_wall['ours'] / median_wall['stock']:.3f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=90, help="copies of each corpus rule (90 x 35 = 3,150)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--import-samples", type=int, default=15)
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument(
        "--process",
        action="store_true",
        help="whole sigma-cli processes instead of the in-process conversion",
    )
    parser.add_argument(
        "--sigma", type=Path, default=Path(sys.executable).with_name("sigma"), help="sigma-cli's executable"
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus} (set SIGMA_AZURE_AKS_SHARED)", file=sys.stderr)
        return 2
    documents = build_corpus(args.corpus, args.copies)
    diy = ProcessingPipeline.from_yaml(DIY_PIPELINE)
    # The corpus's distinct rules: the first copy of each.
    print_items_per_rule(documents[: len(build_corpus(args.corpus, 1))], diy)
    if args.process:
        process_benchmark(documents, args.sigma, args.repeat)
        return 0

    ours_times, stock_times, ours_cpu, stock_cpu = [], [], [], []
    for _ in range(args.repeat):
        seconds, cpu, stock_queries, stock_failed = time_convert(
            lambda: KustoBackend(copy.deepcopy(diy), collect_errors=True), documents
        )
        stock_times.append(seconds)
        stock_cpu.append(cpu)
        seconds, cpu, our_queries, our_failed = time_convert(
            lambda: SentinelBackend(collect_errors=True), documents
        )
        ours_times.append(seconds)
        ours_cpu.append(cpu)
    ours, stock = min(ours_times), min(stock_times)
    print(
        f"rules per run: {len(documents)}; queries: baseline {stock_queries} ({stock_failed} failed), "
        f"ours {our_queries} ({our_failed} failed)"
    )
    print(
        f"stock kusto + DIY YAML pipeline: best {stock:.3f} s, median {statistics.median(stock_times):.3f} s"
    )
    print(f"sentinel target (ours):         best {ours:.3f} s, median {statistics.median(ours_times):.3f} s")
    print(f"ratio ours/baseline (best):     {ours / stock:.2f}x   (target <= 1.15x)")
    print(
        f"CPU time: baseline best {min(stock_cpu):.3f} s, ours best {min(ours_cpu):.3f} s; "
        f"ratio {min(ours_cpu) / min(stock_cpu):.2f}x   (target <= 1.15x)"
    )

    base, added = import_overhead(args.import_samples)
    print(
        f"sigma-cli's own imports: {base * 1000:.1f} ms; this plugin adds {added * 1000:.1f} ms "
        "(target <= 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
