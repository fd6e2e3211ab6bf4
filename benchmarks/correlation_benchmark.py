"""Correlation benchmark: a password spray in SigninLogs, replayed as the deployed rules would see it.

Writes one SigninLogs JSON lines file (deterministic seed): ordinary sign-ins over one day (one in
ten failed, spread over 20,000 addresses and 5,000 users, so that no ordinary address comes near a
threshold), a spray of ``--attack`` failed sign-ins from one address within one hour (cycling over
500 users), and threshold probes, each from an address of its own:

* brute force (``event_count`` >= 30 failures per ``IPAddress`` in 10m): 30 failures within 9m
  alerts; 29 within 5m does not; 30 with the first and last 10m + 1s apart does not;
* spray (``value_count`` of ``UserPrincipalName`` >= 25 per ``IPAddress`` in 1h): 25 users within
  50m alerts; 24 users (29 failures) within 50m does not; 25 users with the first and last
  1h + 1s apart does not;
* processing time (``value_sum`` of ``ProcessingTimeInMilliseconds`` >= 3000 per ``IPAddress`` in
  10m): the probes take 100 ms a sign-in, ordinary ones 30 to 329 ms, so exactly the brute force
  probes' edges hold (30 within 9m alerts; 29, and 30 over 10m + 1s, do not);
* automated answers (``value_median`` of ``ProcessingTimeInMilliseconds`` < 30 per ``IPAddress``
  in 10m): the spray takes 20.1-29.1 ms or 30.1-39.1 ms a sign-in in turn (so that its many windows
  holding as many of each have a median between two values, 30: the windows counts alone cannot
  decide; and the sum adds decimals),
  ordinary sign-ins 30 ms or more; a probe answered in 31, 29, 29 ms alerts (median 29); one in 31,
  29 ms does not (median 30);
* a chain (``temporal_ordered`` over the brute force and the failed sign-in, per ``IPAddress`` in
  1h): a brute force alert, then another failed sign-in strictly after it; the attacker alerts, the
  brute force probe just above does not (it stops at its 30th failure).

Then runs ``sigma-azure-aks replay --format json`` on the same file, each in a fresh process (its
peak RSS from the kernel): the base rule (failed sign-ins) alone, each correlation, and both
correlations together; prints wall time, peak RSS and output size of each, the ratios to the base
rule alone, and checks that exactly the expected addresses alert (the attacker and the probes just
above each threshold). The engine keeps replay's default memory limit unless ``--memory-limit``.

    python benchmarks/correlation_benchmark.py [--rows N] [--attack N] [--memory-limit SIZE]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAY = datetime(2026, 5, 4, tzinfo=UTC)
ATTACK_START = DAY + timedelta(hours=13)
ATTACKER = "203.0.113.66"
FAILED = "50126"  # invalid user name or password

BASE_RULE = """\
title: Failed sign-in
id: 6b1c0000-0000-4000-8000-000000000001
name: failed_signin
status: test
logsource: {product: azure, service: signinlogs}
detection:
    sel: {Status: failure}
    condition: sel
"""
BRUTE_FORCE = """\
title: Brute force from one address
id: 6b1c0000-0000-4000-8000-0000000000b1
status: test
correlation:
    type: event_count
    rules: [failed_signin]
    group-by: [IPAddress]
    timespan: 10m
    condition: {gte: 30}
"""
# a chain: the brute force alert, then a failed sign-in strictly after it from the same address
# within the hour (the attacker's spray goes on; the brute force probe just above stops at its 30th)
ORDERED = """\
title: Brute force, then another failed sign-in from the address
id: 6b1c0000-0000-4000-8000-0000000000b5
status: test
correlation:
    type: temporal_ordered
    rules: [brute_force, failed_signin]
    group-by: [IPAddress]
    timespan: 1h
    condition: {gte: 2}
"""
SUM = """\
title: Sign-in processing time burst from one address
id: 6b1c0000-0000-4000-8000-0000000000b3
status: test
correlation:
    type: value_sum
    rules: [failed_signin]
    group-by: [IPAddress]
    timespan: 10m
    condition: {gte: 3000, field: ProcessingTimeInMilliseconds}
"""
MEDIAN = """\
title: Automated answers to one address
id: 6b1c0000-0000-4000-8000-0000000000b4
status: test
correlation:
    type: value_median
    rules: [failed_signin]
    group-by: [IPAddress]
    timespan: 10m
    condition: {lt: 30, field: ProcessingTimeInMilliseconds}
"""
SPRAY = """\
title: Password spray from one address
id: 6b1c0000-0000-4000-8000-0000000000b2
status: test
correlation:
    type: value_count
    rules: [failed_signin]
    group-by: [IPAddress]
    timespan: 1h
    condition: {gte: 25, field: UserPrincipalName}
"""
# the spray's processing times, in turn: below the median rule's threshold and above it, never at it
# (decimals: the processing time sum adds 0.1s, which it holds exactly as limbs, without pairing)
SPRAY_TOOK = [ms + 0.1 for ms in (*range(20, 30), *range(30, 40))]
# median probes: address -> (whether it alerts, times in seconds, processing times)
MEDIAN_PROBES = {"198.51.100.21": (True, [0, 60, 120], [31, 29, 29]), "198.51.100.22": (False, [0, 60], [31, 29])}
# address -> (rule it must alert for, or None); each probe: (address, times in seconds, users)
PROBES: dict[str, tuple[str | None, list[float], list[int]]] = {
    "198.51.100.1": ("brute", [i * 540 / 29 for i in range(30)], [1] * 30),
    "198.51.100.2": (None, [i * 300 / 28 for i in range(29)], [1] * 29),
    "198.51.100.3": (None, [i * 601 / 29 for i in range(30)], [1] * 30),
    "198.51.100.11": ("spray", [i * 3000 / 24 for i in range(25)], list(range(25))),
    "198.51.100.12": (None, [i * 3000 / 28 for i in range(29)], [i % 24 for i in range(29)]),
    "198.51.100.13": (None, [i * 3601 / 24 for i in range(25)], list(range(25))),
}


def row(number: int, when: datetime, address: str, user: int, failed: bool, took: int = 100) -> dict[str, Any]:
    return {
        "Type": "SigninLogs",
        "Id": f"s{number:08d}",
        "TimeGenerated": when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "IPAddress": address,
        "UserPrincipalName": f"user{user:05d}@contoso.com",
        "AppDisplayName": "Office 365",
        "ResultType": FAILED if failed else "0",
        "ConditionalAccessStatus": "notApplied",
        "AuthenticationRequirement": "singleFactorAuthentication",
        "ProcessingTimeInMilliseconds": str(took),
    }


def write_events(path: Path, rows: int, attack: int, seed: int = 20) -> None:
    rng = random.Random(seed)
    probes = sum(len(times) for _, times, _ in PROBES.values()) + sum(len(t) for _, t, _ in MEDIAN_PROBES.values())
    ordinary = rows - attack - probes
    number = 0
    with path.open("w") as out:
        for _ in range(ordinary):
            when = DAY + timedelta(seconds=rng.random() * 86400)
            host = rng.randrange(20000)
            address = f"10.{host // 250}.{host % 250}.7"
            user, failed = rng.randrange(5000), rng.random() < 0.1
            out.write(json.dumps(row(number, when, address, user, failed, 30 + number % 300)) + "\n")
            number += 1
        for index in range(attack):
            when = ATTACK_START + timedelta(seconds=3600 * index / attack)
            took = SPRAY_TOOK[index % len(SPRAY_TOOK)]
            out.write(json.dumps(row(number, when, ATTACKER, index % 500, True, took)) + "\n")
            number += 1
        for offset, (address, (_, times, users)) in enumerate(PROBES.items()):
            start = DAY + timedelta(hours=2 + 2 * offset)
            for seconds, user in zip(times, users, strict=True):
                out.write(json.dumps(row(number, start + timedelta(seconds=seconds), address, 90000 + user, True)) + "\n")
                number += 1
        for offset, (address, (_, times, took)) in enumerate(MEDIAN_PROBES.items()):
            start = DAY + timedelta(hours=16 + 2 * offset)
            for seconds, ms in zip(times, took, strict=True):
                out.write(json.dumps(row(number, start + timedelta(seconds=seconds), address, 95000, True, ms)) + "\n")
                number += 1


def run_replay(rules: Path, events: Path, output: Path, memory_limit: str | None) -> dict[str, Any]:
    """One replay in a fresh process: wall time, peak RSS (MiB), output bytes, the JSON."""
    command = [sys.executable, "-m", "sigma_azure_aks.commands", "replay", str(rules), "--events", str(events)]
    command += ["--format", "json"] + (["--memory-limit", memory_limit] if memory_limit else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    with output.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"replay failed ({os.waitstatus_to_exitcode(status)}): {stderr[-2000:]}")
    return {
        "wall": wall,
        "rss": usage.ru_maxrss / 1024,
        "bytes": output.stat().st_size,
        "result": json.loads(output.read_text()),
    }


def alerting(result: dict[str, Any], rule_id: str) -> set[str]:
    return {alert["groups"]["IPAddress"] for alert in result.get(rule_id, [])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file (default 100,000)")
    parser.add_argument("--attack", type=int, default=10_000, help="spray events (default 10,000)")
    parser.add_argument("--memory-limit", default=None, help="replay's --memory-limit (default: replay's own)")
    parser.add_argument("--keep", type=Path, default=None, help="write the files to this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="correlation-benchmark-"))
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "signins.jsonl"
    started = time.monotonic()
    write_events(events, args.rows, args.attack)
    print(
        f"{args.rows:,} rows ({args.attack:,} spray events from {ATTACKER}), "
        f"{events.stat().st_size / 2**20:.0f} MiB of JSON lines, written in {time.monotonic() - started:.1f} s"
    )
    rule_sets = {
        "base rule alone": BASE_RULE.replace("name: failed_signin\n", ""),
        "brute force": BASE_RULE + "---\n" + BRUTE_FORCE,
        "spray": BASE_RULE + "---\n" + SPRAY,
        "both correlations": BASE_RULE + "---\n" + BRUTE_FORCE + "---\n" + SPRAY,
        "processing time sum": BASE_RULE + "---\n" + SUM,
        "processing time median": BASE_RULE + "---\n" + MEDIAN,
        "ordered over brute force": BASE_RULE + "---\n" + BRUTE_FORCE.replace("status:", "name: brute_force\nstatus:")
        + "---\n" + ORDERED,
    }
    expected = {
        "6b1c0000-0000-4000-8000-0000000000b1": {ATTACKER} | {a for a, (r, _, _) in PROBES.items() if r == "brute"},
        "6b1c0000-0000-4000-8000-0000000000b2": {ATTACKER} | {a for a, (r, _, _) in PROBES.items() if r == "spray"},
        "6b1c0000-0000-4000-8000-0000000000b3": {ATTACKER} | {a for a, (r, _, _) in PROBES.items() if r == "brute"},
        "6b1c0000-0000-4000-8000-0000000000b4": {ATTACKER} | {a for a, (on, _, _) in MEDIAN_PROBES.items() if on},
        "6b1c0000-0000-4000-8000-0000000000b5": {ATTACKER},
    }
    runs = {}
    problems = []
    for name, text in rule_sets.items():
        rules = folder / f"{name.replace(' ', '_')}.yml"
        rules.write_text(text)
        runs[name] = run_replay(rules, events, folder / f"{name.replace(' ', '_')}.json", args.memory_limit)
        for rule_id, addresses in expected.items():
            if rule_id in text:
                found = alerting(runs[name]["result"], rule_id)
                if found != addresses:
                    problems.append(f"{name}: {rule_id} alerted for {sorted(found)}, expected {sorted(addresses)}")
    base = runs["base rule alone"]
    print("| rules | wall s | x base | peak RSS MiB | output | alerts (episodes) |")
    print("|---|---|---|---|---|---|")
    for name, run in runs.items():
        alerts = ", ".join(
            f"{len(run['result'].get(rule_id, []))}" for rule_id in expected if rule_id in rule_sets[name]
        )
        print(
            f"| {name} | {run['wall']:.1f} | {run['wall'] / base['wall']:.2f} | {run['rss']:.0f} | "
            f"{run['bytes'] / 2**20:.2f} MiB | {alerts or '-'} |"
        )
    both = runs["both correlations"]
    print(
        f"RATIO both correlations / base rule alone: wall {both['wall'] / base['wall']:.2f} (target <= 3), "
        f"peak RSS {both['rss']:.0f} MiB (target <= 1024), output {both['bytes'] / 2**20:.2f} MiB (target <= 50)"
    )
    for problem in problems:
        print(f"WRONG {problem}")
    print("alerting addresses: " + ("as expected (attacker, probes just above; none just below)" if not problems else "WRONG"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
