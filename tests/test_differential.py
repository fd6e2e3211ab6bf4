"""Differential: our KQL on the replay engine vs pySigma-backend-sqlite on SQLite.

Generated rules over every construct the `sentinel` target accepts, adversarial events, one flat
event shape for both sides; zero disagreements required. Needs pySigma 2 and the sqlite backend
(skipped where they are not installed).

One flat event shape on the SQLite side. Kusto string columns cannot hold null, so a column field
is either absent or holds a non-empty value. A member of a dynamic column (`properties.*`) has four
states, all generated for every member test: a value, a present empty string, JSON null, absent.
SQLite stores "" as "" and JSON null and absent as NULL; two side columns per member carry what one
NULL cannot: `<member>__present` (the key is there, "" and JSON null included: what `|exists`
means, Sigma v2.1.0) and `<member>__nullish` (NULL when absent, empty or JSON null: what `null`
means here, docs/mapping.md). The SQLite rule names those columns for `|exists` and `null` items. A
JSON boolean is stored as the text 'true'/'false' (as Zircolite flattens it; the sqlite backend
matches `true` as 'true' or 1). A member compared as a number reads "" as no number (SQLite would
order the text "" above every number), so it is stored as NULL there. Members are also named by
every word Kusto reserves (`properties.title`, `.int`, ...). The full-row text on the SQLite side
is every value's text and, as Kusto reads a dynamic column, the JSON text of `Properties_d`.

Not compared (listed, not silent):

* the lone `*` on any field (ours: a non-empty value; SQLite: any value, "" included);
* `|fieldref` on events where either field is absent, empty or JSON null;
* `|cidr` on values that are not canonical IP addresses: the sqlite backend expands a CIDR into
  string prefixes (`10.*`), which also matches `10.1.2`, not an address; ours parses addresses.
  For the same reason `0.0.0.0/0` (expanded to `*`, matching IPv6 addresses too) is not generated;
* case variants of non-ASCII letters: SQLite's LIKE/NOCASE fold ASCII only;
* regex on values ending in a newline: Python's `$` matches before a final newline, RE2's does not;
* keywords that are JSON syntax or key names: our full-row search reads dynamic columns as JSON text;
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from replay_support import require_engine, shared_path

pytest.importorskip("sigma.backends.sqlite", reason="pySigma-backend-sqlite (pySigma 2) not installed")

from sigma.backends.sqlite import sqliteBackend  # noqa: E402
from sigma.collection import SigmaCollection  # noqa: E402
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline  # noqa: E402
from sigma.processing.transformations import FieldMappingTransformation  # noqa: E402

from sigma_azure_aks.kql import regex_escape  # noqa: E402
from sigma_azure_aks.kql_reserved import RESERVED_WORDS  # noqa: E402
from sigma_azure_aks.semantics import condition_fields  # noqa: E402

SEED = 20240515
# Size knob: large in CI (CI=true, or SIGMA_AZURE_AKS_LARGE=1), small locally.
LARGE = os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SIGMA_AZURE_AKS_LARGE"))
N_RULES = 420 if LARGE else 300
N_EVENTS = 400 if LARGE else 200
MIN_PAIRS = 150_000 if LARGE else 50_000
# Rules with one long list of alternatives (Kusto's parser nests `or` chains; see kql.balanced_join)
LONG_LISTS = (493, 1000, 2000) if LARGE else (493,)
BIG = 2**53

# Sigma field -> (AzureActivity placement, SQLite column)
FIELDS = {
    "operationName": ("OperationNameValue", "operationName"),
    "caller": ("Caller", "caller"),
    "callerIpAddress": ("CallerIpAddress", "callerIpAddress"),
    "properties.message": ("Properties_d.message", "properties_message"),
    "properties.code": ("Properties_d.code", "properties_code"),
    "properties.enabled": ("Properties_d.enabled", "properties_enabled"),
}
BASE_FIELDS = list(FIELDS)
RESERVED = sorted(RESERVED_WORDS)
FIELDS.update({f"properties.{w}": (f"Properties_d.{w}", f"properties_{w}") for w in RESERVED})
MEMBERS = [name for name in FIELDS if name.startswith("properties.")]
TEXT_MEMBERS = [name for name in MEMBERS if name != "properties.code"]  # `''` compares text
STRING_FIELDS = ["operationName", "caller", "properties.message"]
WORDS = [
    "Microsoft.Network/nsg/write",
    "delete",
    "Write",
    "a%b",
    "a_b",
    "100%",
    "x_y_z",
    "c:\\temp\\x",
    'say "hi"',
    "it's",
    "line1\nline2",
    "ünï",
    "tab\tx",
    "ab",
    "a.b",
    "a*b",
    "q?r",
    "[x]",
    "^$",
    "|pipe|",
]
# whole terms inside values (term lookups before the scan): bounded by punctuation, by `_`, by `é`
TERM_WORDS = ["pre-Export.post", "x@woodgrove.com/DELETE", "A.Portal_b", "éPortal-Export"]
WORDS += TERM_WORDS
KEYWORDS = ["nsg", "Write", "delete", "a%b", "a_b", "100%", "ünï", "temp", "line1", "pipe", "zzz"]
# keywords with `\`, `"` and `'`: searched in their raw and their JSON spelling
ESCAPED_KEYWORDS = ["c:\\temp", 'say "hi"', "it's", '"hi"', "\\x"]
IPS = [
    "10.0.0.1",
    "10.255.255.255",
    "11.0.0.0",
    "192.168.1.7",
    "192.168.2.7",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "2001:db8:ffff::",
    "2001:db9::1",
    "::1",
    "fe80::1",
    "febf::1",
    "fec0::1",
]
CIDRS = ["10.0.0.0/8", "192.168.1.0/24", "10.0.0.0/16", "2001:db8::/32", "fe80::/10", "::1/128"]
CODES = [200, 404, 2000, 0, 7]
# integers around 2^53 (all exact in pySigma: a rule value must survive float())
BIG_CODES = [BIG - 2, BIG - 1, BIG, BIG + 2, BIG + 4, -BIG, -BIG - 2]
EVENT_BIG_CODES = [BIG - 1, BIG, BIG + 1, BIG + 2, BIG + 3, -BIG - 1, -BIG]
BOOLEANS = [True, False, "true", "True", "FALSE", "false", "yes"]


def _ascii_case(rng: random.Random, text: str) -> str:
    return "".join(
        c.upper() if c.isascii() and rng.random() < 0.5 else (c.lower() if c.isascii() else c) for c in text
    )


def make_events(rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for _ in range(N_EVENTS):
        event: dict[str, Any] = {}
        for name in STRING_FIELDS:
            if rng.random() < 0.15:
                continue
            word = rng.choice(WORDS)
            shape = rng.random()
            if shape < 0.3:
                value = word
            elif shape < 0.6:
                value = _ascii_case(rng, word)
            elif shape < 0.8:
                value = (
                    rng.choice(["x", "", "pre "]) + _ascii_case(rng, word) + rng.choice(["", "y", " post"])
                )
            else:
                value = word.replace(rng.choice(word), rng.choice("%_*?\\\"'é.")) if word else word
            if value:
                event[name] = value
        if rng.random() < 0.85:
            event["callerIpAddress"] = rng.choice(IPS)
        if rng.random() < 0.8:
            code = rng.choice(CODES if rng.random() < 0.7 else EVENT_BIG_CODES)
            event["properties.code"] = code if rng.random() < 0.6 else str(code)
        if rng.random() < 0.7:
            event["properties.enabled"] = rng.choice(BOOLEANS)
        if rng.random() < 0.1 and "caller" in event:
            event["properties.message"] = _ascii_case(rng, event["caller"])
        # reserved member names: the one of this event's turn and a few more
        for word in dict.fromkeys([RESERVED[len(events) % len(RESERVED)], *rng.sample(RESERVED, 4)]):
            event[f"properties.{word}"] = _ascii_case(rng, rng.choice(WORDS))
        # the other states of a member: present empty, JSON null
        for name in MEMBERS:
            if rng.random() < 0.08:
                event[name] = rng.choice(["", None])
        events.append(event)
    return events


def _sigma_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _value(rng: random.Random, text: str) -> str:
    """A Sigma value from `text`: literal, or with an inner/single wildcard."""
    literal = _sigma_literal(text)
    if rng.random() < 0.3 and len(text) > 2:
        cut = rng.randrange(1, len(text) - 1)
        return _sigma_literal(text[:cut]) + rng.choice(["*", "?"]) + _sigma_literal(text[cut + 1 :])
    return literal


def make_item(rng: random.Random) -> tuple[str, Any, set[str]]:
    """(field|modifiers, value, fieldref fields) for one detection item."""
    kind = rng.choice(
        [
            "eq",
            "eq",
            "contains",
            "startswith",
            "endswith",
            "all",
            "cased",
            "re",
            "cidr",
            "exists",
            "null",
            "fieldref",
            "number",
            "list",
            "compare",
            "empty",
            "bool",
            "reserved",
        ]
    )
    name = rng.choice(STRING_FIELDS)
    word = _ascii_case(rng, rng.choice(WORDS))
    if kind == "eq":
        return name, _value(rng, word), set()
    if kind in {"contains", "startswith", "endswith"}:
        if rng.random() < 0.3:
            word = _ascii_case(rng, rng.choice(TERM_WORDS))
        start = rng.randrange(0, max(1, len(word) - 1))
        piece = word[start : start + (rng.randint(1, 4) if rng.random() < 0.5 else rng.randint(5, 16))]
        return f"{name}|{kind}", _sigma_literal(piece), set()
    if kind == "all":
        pieces = [rng.choice(WORDS)[:3] for _ in range(2)]
        return f"{name}|contains|all", [_sigma_literal(p) for p in pieces], set()
    if kind == "cased":
        modifier = rng.choice(["", "|contains", "|startswith"])
        text = rng.choice(WORDS)
        piece = text[: rng.randint(2, 6)] if rng.random() < 0.6 else text[rng.randrange(len(text)) :]
        return f"{name}{modifier}|cased", _sigma_literal(piece), set()
    if kind == "re":
        flags = "".join(f"|{f}" for f in rng.sample(["i", "m", "s"], rng.randint(0, 2)))
        base = regex_escape(rng.choice(WORDS)[:3])
        pattern = rng.choice(
            [f"^{base}", f"{base}$", f"{base}.*", f"^{base}.", "^line2$", "1.l", "[a-c]%", base]
        )
        return f"{name}|re{flags}", pattern, set()
    if kind == "cidr":
        return "callerIpAddress|cidr", rng.choice(CIDRS), set()
    if kind == "exists":
        return f"{rng.choice(BASE_FIELDS)}|exists", rng.choice([True, False]), set()
    if kind == "null":
        return rng.choice(BASE_FIELDS), None, set()
    if kind == "fieldref":
        modifier = rng.choice(["", "|startswith", "|endswith", "|contains"])
        return f"caller|fieldref{modifier}", "properties.message", {"caller", "properties.message"}
    if kind == "number":
        return "properties.code", rng.choice(CODES + BIG_CODES), set()
    if kind == "compare":
        op = rng.choice(["gt", "gte", "lt", "lte"])
        return f"properties.code|{op}", rng.choice(CODES + BIG_CODES), set()
    if kind == "empty":
        return rng.choice(TEXT_MEMBERS), "", set()
    if kind == "bool":
        value = rng.choice([True, False])
        return "properties.enabled", [value, "yes"] if rng.random() < 0.2 else value, set()
    if kind == "reserved":
        return reserved_item(rng, rng.choice(RESERVED))
    values = [_value(rng, _ascii_case(rng, rng.choice(WORDS))) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.3:
        return "properties.code", rng.sample(CODES, 2), set()
    return name, values, set()


def reserved_item(rng: random.Random, word: str) -> tuple[str, Any, set[str]]:
    """An item on the member named `word` (a KQL keyword or type name), in any member shape."""
    name = f"properties.{word}"
    shape = rng.choice(["eq", "contains", "exists", "null", "empty", "list"])
    text = _ascii_case(rng, rng.choice(WORDS))
    if shape == "eq":
        return name, _value(rng, text), set()
    if shape == "contains":
        return f"{name}|contains", _sigma_literal(text[:3]), set()
    if shape == "exists":
        return f"{name}|exists", rng.choice([True, False]), set()
    if shape == "null":
        return name, None, set()
    if shape == "empty":
        return name, "", set()
    return name, ["", _value(rng, text)], set()


def long_list_item(rng: random.Random, count: int) -> tuple[str, Any, set[str]]:
    """One field with `count` alternatives, a few of which occur in the events."""
    modifier = rng.choice(["|contains", "|startswith", "|endswith", ""])
    values = [f"zz{i:04d}q" for i in range(count)]
    for position in rng.sample(range(count), 3):
        values[position] = rng.choice(WORDS)[:4]
    if modifier == "":
        values = [f"*{v}*" for v in values]  # each one a glob
    return (
        f"{rng.choice(STRING_FIELDS)}{modifier}",
        [_sigma_literal(v) if modifier else v for v in values],
        set(),
    )


def sqlite_key(key: str, value: Any) -> str:
    """The SQLite rule's key: `|exists` and `null` on a member read its side columns."""
    name, _, modifiers = key.partition("|")
    if name not in MEMBERS:
        return key
    if modifiers == "exists":
        return f"{name}__present|exists"
    if value is None and not modifiers:
        return f"{name}__nullish"
    return key


def make_rules(rng: random.Random) -> list[tuple[str, str, set[str]]]:
    """(our rule, the SQLite rule, |fieldref fields) as JSON text."""
    rules = []
    for index in range(N_RULES):
        detection: dict[str, Any] = {}
        theirs: dict[str, Any] = {}
        refs: set[str] = set()
        for sel in range(rng.randint(1, 3)):
            items: dict[str, Any] = {}
            for item in range(rng.randint(1, 2)):
                if sel == item == 0 and index < len(LONG_LISTS):
                    key, value, fields = long_list_item(rng, LONG_LISTS[index])
                elif sel == item == 0 and index < len(RESERVED) + len(LONG_LISTS):
                    key, value, fields = reserved_item(rng, RESERVED[index - len(LONG_LISTS)])
                else:
                    key, value, fields = make_item(rng)
                items[key] = value
                refs |= fields
            detection[f"sel{sel}"] = items
            theirs[f"sel{sel}"] = {sqlite_key(k, v): v for k, v in items.items()}
        names = list(detection)
        if rng.random() < 0.25:
            chosen = rng.sample(KEYWORDS, rng.randint(1, 2))
            if rng.random() < 0.4:
                chosen.append(rng.choice(ESCAPED_KEYWORDS))
            detection["keywords"] = theirs["keywords"] = [_sigma_literal(k) for k in chosen]
            names.append("keywords")
        condition = rng.choice(
            [
                " and ".join(names),
                " or ".join(names),
                f"{names[0]} and not ({' or '.join(names[1:]) or names[0]})",
                "1 of sel*",
                "all of sel*",
                f"not {names[-1]}",
            ]
        )
        detection["condition"] = theirs["condition"] = condition
        rule = {
            "title": f"diff {index}",
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "status": "test",
            "logsource": {"product": "azure", "service": "activitylogs"},
            "detection": detection,
        }
        rules.append((json.dumps(rule), json.dumps({**rule, "detection": theirs}), refs))
    return rules


def kusto_row(event: dict[str, Any], index: int) -> dict[str, Any]:
    row: dict[str, Any] = {"EventDataId": str(index)}
    props: dict[str, Any] = {}
    for name, value in event.items():
        column = FIELDS[name][0]
        if column.startswith("Properties_d."):
            props[column.split(".", 1)[1]] = value
        else:
            row[column] = value
    if props:
        row["Properties_d"] = props
    return row


def sqlite_connection(events: list[dict[str, Any]]) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")

    def regexp(pattern: str, value: Any) -> bool:
        return value is not None and re.search(pattern, str(value)) is not None

    con.create_function("REGEXP", 2, regexp, deterministic=True)
    columns = [
        f'"{sql}" NUMERIC' if sql == "properties_code" else f'"{sql}" TEXT COLLATE NOCASE'
        for _, sql in FIELDS.values()
    ]
    columns += [f'"{FIELDS[m][1]}__present" TEXT, "{FIELDS[m][1]}__nullish" TEXT' for m in MEMBERS]
    con.execute(f"CREATE TABLE logs (eid INTEGER, {', '.join(columns)}, fulltext TEXT COLLATE NOCASE)")
    width = len(FIELDS) + 2 * len(MEMBERS) + 2
    for index, event in enumerate(events):
        values = [_sqlite_value(name, event.get(name)) for name in FIELDS]
        for member in MEMBERS:
            value = event.get(member)
            values += ["1" if member in event else None, None if value in (None, "") else "x"]
        props = {k.split(".", 1)[1]: v for k, v in event.items() if k in MEMBERS}
        texts = [_text(v) for v in event.values() if v is not None]
        if props:  # Kusto's full-row search reads the dynamic column as its JSON text
            texts.append(json.dumps(props, ensure_ascii=False, separators=(",", ":")))
        con.execute(f"INSERT INTO logs VALUES ({', '.join('?' * width)})", [index, *values, "\n".join(texts)])
    return con


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _sqlite_value(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return _text(value)  # a JSON boolean, flattened as Zircolite does
    if name == "properties.code" and value == "":
        return None  # no number
    return value


def sqlite_backend() -> sqliteBackend:
    mapping = {name: sql for name, (_, sql) in FIELDS.items()}
    for member in MEMBERS:
        mapping[f"{member}__present"] = f"{FIELDS[member][1]}__present"
        mapping[f"{member}__nullish"] = f"{FIELDS[member][1]}__nullish"
    pipeline = ProcessingPipeline(
        name="flat sigma fields",
        priority=20,
        items=[ProcessingItem(identifier="flat", transformation=FieldMappingTransformation(mapping))],
    )
    return sqliteBackend(pipeline, table="logs", fulltext_field="fulltext")


def sqlite_matches(con: sqlite3.Connection, backend: sqliteBackend, rule_yaml: str) -> set[int]:
    (sql,) = backend.convert(SigmaCollection.from_yaml(rule_yaml))
    return {r[0] for r in con.execute(sql.replace("SELECT *", "SELECT eid", 1))}


def ours_matches(rules: list[str], events: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    from sigma_azure_aks.replay.api import convert
    from sigma_azure_aks.replay.engine import Engine

    converted, failures = convert(rules)
    engine = Engine()
    engine.load("AzureActivity", [kusto_row(e, i) for i, e in enumerate(events)])
    outcomes = engine.matches_many([c.query for c in converted])
    return list(zip(converted, outcomes, strict=True)), failures


def scan_matches(queries: list[str], events: list[dict[str, Any]], folder: Path) -> list[Any]:
    """The queries run by the one-pass scan of the events written as a JSON-lines export."""
    from sigma_azure_aks.replay.engine import Engine

    export = folder / "events.jsonl"
    with export.open("w", encoding="utf-8") as handle:
        for index, event in enumerate(events):
            handle.write(json.dumps({"$table": "AzureActivity", **kusto_row(event, index)}) + "\n")
    scan = Engine().scan_export(export, queries)
    assert scan is not None and scan.rows == len(events)
    return scan.matches


@pytest.mark.slow
def test_generated_rules_agree_with_sqlite_backend(report, tmp_path: Path) -> None:
    require_engine()
    rng = random.Random(SEED)
    events = make_events(rng)
    rules = make_rules(rng)
    started = time.monotonic()
    ours, failures = ours_matches([r for r, _, _ in rules], events)
    assert not failures, failures[:5]
    # the one-pass scan of the same events as an export: the same rows for every rule (but the
    # first few, with the long lists: loaded replay only, they cost seconds each)
    rest = ours[len(LONG_LISTS) :]
    scanned = scan_matches([converted.query for converted, _ in rest], events, tmp_path)
    assert scanned == [outcome for _, outcome in rest]
    con = sqlite_connection(events)
    backend = sqlite_backend()
    pairs = 0
    skipped_pairs = 0
    disagreements = []
    for (converted, outcome), (rule_yaml, their_yaml, refs) in zip(ours, rules, strict=True):
        assert not isinstance(outcome, Exception), f"{converted.query}: {outcome}"
        theirs = sqlite_matches(con, backend, their_yaml)
        mine = set(outcome)
        for index, event in enumerate(events):
            if refs and not all(event.get(name) not in (None, "") for name in refs):
                skipped_pairs += 1
                continue
            pairs += 1
            if (index in mine) != (index in theirs):
                disagreements.append((rule_yaml, converted.query, event, index in mine, index in theirs))
    elapsed = time.monotonic() - started
    lookups = sum(' has "' in c.query or ' has_cs "' in c.query for c, _ in ours)
    report(
        f"differential: {pairs} (rule, event) pairs compared ({len(rules)} rules x {len(events)} events, "
        f"{'large' if LARGE else 'small'} size; booleans, {len(RESERVED)} reserved member names, "
        f"present-empty/JSON-null/absent members, integers around 2^53, lists up to {max(LONG_LISTS)} "
        f"values, keywords with \\ \" ', {lookups} rules with term lookups), {skipped_pairs} fieldref "
        f"pairs with an absent or empty field not compared, {len(disagreements)} disagreements (replay loaded and scanned alike), {elapsed:.1f} s"
    )
    seen = set()
    for rule_yaml, query, event, mine, theirs in disagreements:
        if rule_yaml in seen or len(seen) >= 8:
            continue
        seen.add(rule_yaml)
        print(f"RULE {rule_yaml}\nKQL {query}\nEVENT {event}\nours={mine} sqlite={theirs}\n")
    assert pairs >= MIN_PAIRS
    assert not disagreements
    assert lookups >= 5  # the term lookups (`has` before a scan) are among what was compared


@pytest.mark.parametrize(
    ("selection", "event"),
    [
        ({"properties.code|gte": 200}, {"caller": "x"}),
        ({"properties.code|lt": 404}, {"properties.code": "abc"}),
        ({"callerIpAddress|cidr": "10.0.0.0/8"}, {"caller": "x"}),
        ({"callerIpAddress|cidr": "2001:db8::/32"}, {"callerIpAddress": "not an address"}),
    ],
)
def test_not_over_null_yielding_comparison(selection: dict[str, Any], event: dict[str, Any]) -> None:
    """Sigma: `not sel` matches an event that `sel` does not match (sqlite backend: yes)."""
    require_engine()
    rule = json.dumps(
        {
            "title": "not over null",
            "logsource": {"product": "azure", "service": "activitylogs"},
            "detection": {"sel": selection, "condition": "not sel"},
        }
    )
    con = sqlite_connection([event])
    assert sqlite_matches(con, sqlite_backend(), rule) == {0}
    ours, failures = ours_matches([rule], [event])
    assert not failures
    assert ours[0][1] == [0], ours[0][0].query


def test_operation_name_regex_converts() -> None:
    """Once a crash of the data-plane analysis (TypeError: unhashable type: 'SigmaString')."""
    from sigma_azure_aks.replay.api import convert

    rule = (
        '{"title": "re on operationName", "logsource": {"product": "azure", "service": "activitylogs"}, '
        '"detection": {"sel": {"operationName|re": "^microsoft\\\\.network/"}, "condition": "sel"}}'
    )
    converted, failures = convert([rule])
    assert not failures, failures
    assert len(converted) == 1


@pytest.mark.slow
def test_corpus_on_real_export_agrees_with_sqlite_backend() -> None:
    """The 35 SigmaHQ activitylogs rules on the real export: replay == the independent evaluator.

    The SQLite side gets the same rows flattened to the rules' field names by the package's own
    field map: each raw Sigma field a rule names is read from its AzureActivity column/member.
    """
    require_engine()
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.loaders import read_events
    from sigma_azure_aks.sources.azure_activity import FIELD_MAP as AZURE_ACTIVITY

    corpus = shared_path("corpus", "sigmahq", "activitylogs")
    for sample in ("azureactivity_training_lab.csv", "azureactivity_training_lab.jsonl"):
        path = shared_path("samples", sample)
        result = replay(corpus, path)
        assert not result.failures
        assert dict(replay(corpus, path, scan=True)) == dict(result)
        events = read_events([path])
        rules = sorted(corpus.glob("*.yml"))
        collections = [SigmaCollection.from_yaml(p.read_text()) for p in rules]
        names = sorted(
            {field for c in collections for rule in c.rules for field in condition_fields(rule)[0]}
        )
        sql_names = {name: f"f{i}" for i, name in enumerate(names)}
        con = sqlite3.connect(":memory:")
        cols = ", ".join(f"{sql_names[n]} TEXT COLLATE NOCASE" for n in names)
        con.execute(
            f"CREATE TABLE logs (eid TEXT{', ' + cols if cols else ''}, fulltext TEXT COLLATE NOCASE)"
        )
        for event in events:
            values = []
            for name in names:
                target = AZURE_ACTIVITY.resolve(name)
                value = event.row.get(target.column) if target else None
                for part in target.path if target else ():
                    value = value.get(part) if isinstance(value, dict) else None
                values.append(value if value not in ("", None) else None)
            fulltext = "\n".join(
                json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                if isinstance(v, (dict, list))
                else str(v)
                for v in event.row.values()
                if v not in (None, "")
            )
            con.execute(
                f"INSERT INTO logs VALUES ({', '.join('?' * (len(names) + 2))})",
                [event.event_id, *values, fulltext],
            )
        pipeline = ProcessingPipeline(
            name="flat",
            priority=20,
            items=[ProcessingItem(identifier="flat", transformation=FieldMappingTransformation(sql_names))],
        )
        backend = sqliteBackend(pipeline, table="logs", fulltext_field="fulltext")
        for collection in collections:
            for rule in collection.rules:
                (sql,) = backend.convert_rule(rule)
                theirs = sorted(r[0] for r in con.execute(sql.replace("SELECT *", "SELECT eid", 1)))
                assert sorted(result[str(rule.id)]) == theirs, (sample, rule.title)
