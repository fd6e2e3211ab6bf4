"""Member names that are KQL keywords or type names (`properties.title`, `.time`, `.int`, ...).

The reserved set comes from Kusto.Language itself (sigma_azure_aks/kql_reserved.py); here it is
derived again from Microsoft's parser, and every word is sent through the parser as a member of
every dynamic column and JSON-text column our field maps lead into, in every rule shape that
names a member (value, exists, null, number, boolean, |fieldref).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.processing.resolver import ProcessingPipelineResolver
from sigma_helpers import rule_yaml, to_sentinel, where

from sigma_azure_aks import kql, kql_reserved
from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql_parser.checker import KqlChecker
from sigma_azure_aks.kql_parser.reserved_words import fixed_text_block
from sigma_azure_aks.kql_reserved import FIXED_TEXT_WORDS, LITERAL_WORDS, RESERVED_WORDS, is_reserved
from sigma_azure_aks.pipelines import all_pipelines
from sigma_azure_aks.sources.azure_activity import FIELD_MAP as AZURE_ACTIVITY

WORDS = sorted(RESERVED_WORDS)
# Upper-case and mixed spellings: the comparison is case-insensitive (it only adds brackets).
SPELLINGS = WORDS + [w.upper() for w in WORDS] + [w.title() for w in WORDS]


def test_reserved_words_are_kusto_languages_own(kql: KqlChecker) -> None:
    assert kql.fixed_text_words() == set(FIXED_TEXT_WORDS), (
        "Kusto.Language's keywords changed: regenerate sigma_azure_aks/kql_reserved.py "
        "(python -m sigma_azure_aks.kql_parser.reserved_words)"
    )


def test_the_word_list_is_written_as_the_regeneration_prints_it() -> None:
    """Pasting the output of `python -m sigma_azure_aks.kql_parser.reserved_words` reproduces the
    block of kql_reserved.py exactly (sorted, same wrapping), so a regeneration diff shows only words."""
    source = Path(kql_reserved.__file__).read_text(encoding="utf-8")
    block = re.search(r'FIXED_TEXT_WORDS = frozenset\(\n    """\n(.*?)\n    """', source, re.S)
    assert block is not None
    assert block.group(1) == fixed_text_block(FIXED_TEXT_WORDS)


def test_the_words_the_issue_names_are_reserved() -> None:
    for word in ("title", "time", "date", "string", "int", "long", "real", "set", "to", "true", "false"):
        assert is_reserved(word), word
    assert LITERAL_WORDS <= RESERVED_WORDS


def test_reserved_words_that_break_a_dotted_member_exist(kql: KqlChecker) -> None:
    """The brackets are needed: a dotted member named like these is a parser error."""
    for word in ("title", "time", "int", "string", "true", "to", "set"):
        assert kql.errors(f'AzureActivity | where tostring(Properties_d.{word}) == "x"'), word


@pytest.mark.parametrize("word", ["title", "TITLE", "Title", "int"])
def test_reserved_member_exact(word: str) -> None:
    assert where(to_sentinel(f"sel:\n    properties.{word}: x\ncondition: sel")) == (
        f'tostring(Properties_d["{word}"]) =~ "x"'
    )


def test_plain_member_stays_dotted() -> None:
    assert where(to_sentinel("sel:\n    properties.message: x\ncondition: sel")) == (
        'tostring(Properties_d.message) =~ "x"'
    )


def _all_shapes(prefix: str, words: list[str], shapes: int = 6) -> str:
    """A detection naming every word under `prefix`, in every shape that renders a member
    (`shapes=4`: the string shapes only, for array fields, which refuse numbers and booleans)."""
    lines = ["sel:"]
    for i, word in enumerate(words):
        shape = (0, 1, 2, 5)[i % 4] if shapes == 4 else i % 6
        name = f"{prefix}{word}"
        if shape == 0:
            lines.append(f"    {name}: 'x'")
        elif shape == 1:
            lines.append(f"    {name}|exists: true")
        elif shape == 2:
            lines.append(f"    {name}: null")
        elif shape == 3:
            lines.append(f"    {name}: 7")
        elif shape == 4:
            lines.append(f"    {name}: true")
        else:
            lines.append(f"    {name}|contains: 'x'")
    lines.append("condition: sel")
    return "\n".join(lines)


def _pipeline(name: str):
    return ProcessingPipelineResolver(dict(all_pipelines())).resolve([name])


@pytest.mark.parametrize("prefix", [p.prefix for p in AZURE_ACTIVITY.prefixes])
def test_every_reserved_word_under_every_activity_prefix_parses(kql: KqlChecker, prefix: str) -> None:
    query = to_sentinel(_all_shapes(prefix, SPELLINGS if prefix == "properties." else WORDS))
    assert kql.errors(query) == []
    for word in WORDS:
        assert f"[{json.dumps(word)}]" in query or f'"{word}")' in query or f'"{word}"]' in query, word


@pytest.mark.parametrize("pipeline", ["aks_audit", "aks_audit_admin", "aks_audit_legacy"])
def test_every_reserved_word_under_every_audit_prefix_parses(kql: KqlChecker, pipeline: str) -> None:
    from sigma_azure_aks.sources.aks_audit import FIELD_MAP as AKS_AUDIT

    backend = SentinelBackend(_pipeline(pipeline))
    for prefix in [p.prefix for p in AKS_AUDIT.prefixes]:
        detection = _all_shapes(prefix, WORDS, shapes=4)
        collection = SigmaCollection.from_yaml(
            rule_yaml(detection, logsource="product: kubernetes\n  service: audit")
        )
        [query] = backend.convert(collection)
        assert kql.errors(query) == [], (prefix, query[:300])


def test_fieldref_to_a_reserved_member_parses(kql: KqlChecker) -> None:
    query = to_sentinel("sel:\n    properties.title|fieldref: properties.time\ncondition: sel")
    assert where(query) == (
        '(isnotempty(tostring(Properties_d["time"])) and '
        'tostring(Properties_d["title"]) =~ tostring(Properties_d["time"]))'
    )
    assert kql.errors(query) == []


def test_member_access_brackets_every_reserved_word() -> None:
    for word in SPELLINGS:
        assert kql.member_access("Properties_d", ["a", word]) == f'Properties_d.a["{word}"]'


def test_reserved_member_matches_on_events() -> None:
    from replay_support import activity_rule, fired, require_engine

    require_engine()
    rows = [
        {"EventDataId": "m1", "Properties_d": {"title": "Service issue", "time": "now"}},
        {"EventDataId": "n1", "Properties_d": {"message": "Service issue"}},
        {"EventDataId": "n2"},
    ]
    assert fired(activity_rule("sel:\n    properties.title|contains: service"), rows) == {"m1"}
    assert fired(activity_rule("sel:\n    properties.time|exists: true"), rows) == {"m1"}
    assert fired(activity_rule("sel:\n    properties.title: null"), rows) == {"n1", "n2"}
