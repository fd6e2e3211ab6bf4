"""Every SigmaHQ activitylogs rule, and every rule of our own, through `-t sentinel` and Microsoft's parser.

For each query: no parser error, the result columns are exactly the table's (no `project`), the
shape is `<Table>\\n| where <condition>`, and no string literal stands where a column belongs. The
last is checked on the tokens of the query: a small lexer for the KQL the sentinel target writes,
whose string literals must decode to exactly the values Kusto's parser reports (so lexer and parser
agree on where every literal is). Then every literal must sit in a value position (right of an
operator, in an `in` list, second argument of a range function) or be a bracketed member key, and
the left operand of every operator must be `*`, a column of the table, or a member access into one.
On top of that, no literal may equal a Sigma field name of the rule, a column name, or a field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, shared_dir
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from sigma_azure_aks.batch import ConvertedRule, convert_paths
from sigma_azure_aks.correlation import plan_of
from sigma_azure_aks.correlation_windows import is_swept
from sigma_azure_aks.kql_parser.checker import KqlChecker
from sigma_azure_aks.sources import TABLES, all_sources

CORPUS_SUBDIR = Path("corpus") / "sigmahq" / "activitylogs"
CORPUS_SIZE = 35
OWN_RULES = REPO_ROOT / "rules"

# ---- a lexer for the KQL the sentinel target writes ------------------------------------------

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}
_ESCAPES |= {"f": "\f", "v": "\v"}
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<str>"(?:[^"\\\r\n]|\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[\\"'nrtabfv]))*"
           |'(?:[^'\\\r\n]|\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[\\"'nrtabfv]))*')
  | (?P<op>=~|==|!=|!~|>=|<=|>|<|!in~|in~|!contains_cs|!contains|!startswith_cs|!startswith|!endswith_cs|!endswith|!has)
  | (?P<num>-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\],.|*<>])
    """,
    re.VERBOSE,
)
WORD_OPERATORS = frozenset(
    "in startswith startswith_cs endswith endswith_cs contains contains_cs has has_cs matches".split()
)
RANGE_FUNCTIONS = frozenset({"ipv4_is_in_range", "ipv6_is_in_range"})
# presence of a member: (the bag, "key"); the key literal names a member, like ["key"]
PRESENCE_FUNCTIONS = frozenset({"bag_has_key", "set_has_element"})
ONE_ARG_FUNCTIONS = frozenset({"isempty", "isnotempty", "isnull", "isnotnull", "toreal", "not"})
CONVERSIONS = frozenset({"tostring", "toreal", "tolong", "bag_keys", "gettype"})
BOOLEAN = frozenset({"and", "or", "not", "true", "false"})


@dataclass(frozen=True)
class Token:
    kind: str  # str, op, num, ident, punct
    text: str
    value: str  # decoded value of a string literal, else the text


def _decode(literal: str) -> str:
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        kind = body[i + 1]
        if kind == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif kind == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        else:
            out.append(_ESCAPES[kind])
            i += 2
    # \uD83D\uDE00 written as two escapes stands for one character
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def tokenize(query: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        assert match is not None, f"unexpected text at {position}: {query[position : position + 20]!r}"
        kind, text = match.lastgroup or "", match.group(0)
        position = match.end()
        if kind == "space":
            continue
        if kind == "ident" and text in WORD_OPERATORS:
            kind = "op"
        tokens.append(Token(kind, text, _decode(text) if kind == "str" else text))
    # `matches regex` is one operator
    joined: list[Token] = []
    for token in tokens:
        if token.text == "regex" and joined and joined[-1].text == "matches":
            joined[-1] = Token("op", "matches regex", "matches regex")
        else:
            joined.append(token)
    return joined


def _matching_open(tokens: list[Token], close: int) -> int:
    pairs = {")": "(", "]": "["}
    depth, wanted = 0, pairs[tokens[close].text]
    for index in range(close, -1, -1):
        if tokens[index].text == tokens[close].text and tokens[index].kind == "punct":
            depth += 1
        elif tokens[index].text == wanted and tokens[index].kind == "punct":
            depth -= 1
            if depth == 0:
                return index
    raise AssertionError("unbalanced brackets")


def _operand_before(tokens: list[Token], end: int) -> list[Token]:
    """The operand that ends at tokens[end] (inclusive): `*`, a function call, or an access chain."""
    start = end
    while True:
        token = tokens[start]
        if token.kind == "punct" and token.text == "*":
            return tokens[start : end + 1]
        if token.text in (")", "]") and token.kind == "punct":
            start = _matching_open(tokens, start)
            if tokens[start].text == "(":  # a call: include the function name
                return tokens[start - 1 : end + 1]
            start -= 1  # a bracket key: continue with what it indexes
            continue
        if token.kind == "ident":
            if start > 0 and tokens[start - 1].text == ".":
                start -= 2
                continue
            return tokens[start : end + 1]
        raise AssertionError(f"no operand before {tokens[end + 1].text!r}: {token.text!r}")


def _is_field_operand(operand: list[Token], table_columns: set[str]) -> bool:
    """`*`, Col, Col.a["b"], parse_json(Col).a, or tostring()/toreal()/tolong()/bag_keys()/gettype() of such
    an access."""
    texts = [t.text for t in operand]
    if texts == ["*"]:
        return True
    if len(texts) >= 3 and texts[0] in CONVERSIONS and texts[1] == "(" and texts[-1] == ")":
        operand = operand[2:-1]
    texts = [t.text for t in operand]
    if texts[:2] == ["parse_json", "("] and len(texts) >= 4 and texts[3] == ")":  # a JSON text column
        operand = operand[2:3] + operand[4:]
    if not operand or operand[0].kind != "ident" or operand[0].text not in table_columns:
        return False
    index = 1
    while index < len(operand):  # member accesses: .name or ["key"]
        texts = [t.text for t in operand[index : index + 3]]
        if len(texts) >= 2 and texts[0] == "." and operand[index + 1].kind == "ident":
            index += 2
        elif len(texts) == 3 and texts[0] == "[" and operand[index + 1].kind == "str" and texts[2] == "]":
            index += 3
        else:
            return False
    return True


def literal_roles(tokens: list[Token]) -> list[str]:
    """For each string literal: 'value' (compared against) or 'key' (a bracketed member name).

    Fails the test when a literal stands anywhere else (e.g. where a column belongs).
    """
    roles = []
    for index, token in enumerate(tokens):
        if token.kind != "str":
            continue
        before = tokens[index - 1]
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if before.text == "[":
            assert after is not None and after.text == "]", f"literal {token.text} opens no member key"
            roles.append("key")
            continue
        if before.text == "," and tokens[_enclosing_paren(tokens, index) - 1].text in PRESENCE_FUNCTIONS:
            assert after is not None and after.text == ")", f"literal {token.text} is not the last argument"
            roles.append("key")
            continue
        if before.kind == "op":
            roles.append("value")
        elif before.text in ("(", ","):
            opener = _enclosing_paren(tokens, index)
            head = tokens[opener - 1]
            in_list = head.kind == "op" and head.text in {"in", "in~", "!in", "!in~"}
            range_arg = head.text in RANGE_FUNCTIONS and before.text == ","
            assert in_list or range_arg, f"literal {token.text} is an argument of {head.text!r}"
            roles.append("value")
        else:
            raise AssertionError(f"literal {token.text} follows {before.text!r}: not a value position")
        assert after is None or after.kind != "op", (
            f"literal {token.text} is the left operand of {after.text}"
        )
    return roles


def _enclosing_paren(tokens: list[Token], index: int) -> int:
    depth = 0
    for position in range(index - 1, -1, -1):
        text = tokens[position].text
        if tokens[position].kind != "punct":
            continue
        if text in (")", "]"):
            depth += 1
        elif text in ("(", "["):
            if depth == 0:
                return position
            depth -= 1
    raise AssertionError("literal outside parentheses")


def check_left_operands(tokens: list[Token], table_columns: set[str]) -> int:
    """Every operator and every one-argument/range function applies to a field; returns their count."""
    count = 0
    for index, token in enumerate(tokens):
        if token.kind == "op":
            operand = _operand_before(tokens, index - 1)
            assert _is_field_operand(operand, table_columns), (
                f"left operand of {token.text} is {' '.join(t.text for t in operand)}"
            )
            count += 1
        elif token.kind == "ident" and (
            token.text in RANGE_FUNCTIONS
            or token.text in ONE_ARG_FUNCTIONS
            or token.text in PRESENCE_FUNCTIONS
        ):
            if token.text == "not":
                continue  # not(...) wraps a condition
            assert tokens[index + 1].text == "("
            end = index + 2
            depth = 0
            while not (depth == 0 and tokens[end].text in (",", ")")):
                depth += tokens[end].text in ("(", "[")
                depth -= tokens[end].text in (")", "]")
                end += 1
            argument = tokens[index + 2 : end]
            assert _is_field_operand(argument, table_columns), f"{token.text} of {[t.text for t in argument]}"
            count += 1
    return count


# ---- field names of a rule ---------------------------------------------------------------------


def sigma_field_names(rule: SigmaRule) -> set[str]:
    names: set[str] = set()

    def walk(item: SigmaDetection | SigmaDetectionItem) -> None:
        if isinstance(item, SigmaDetectionItem):
            if item.field:
                names.add(item.field)
        else:
            for child in item.detection_items:
                walk(child)

    for detection in rule.detection.detections.values():
        walk(detection)
    return names


FIELD_PREFIXES = tuple(
    prefix.prefix.lower()
    for source in all_sources()
    if source.field_map is not None
    for prefix in source.field_map.prefixes
)


def field_like(literal: str, rule: SigmaRule, table: str) -> bool:
    """The literal names a field: a field of the rule, a column, a column access or a field path."""
    lowered = literal.lower()
    names = {name.lower() for name in sigma_field_names(rule)} | {c.lower() for c in TABLES[table]}
    if lowered in names:
        return True
    if any(lowered.startswith(f"{column.lower()}{sep}") for column in TABLES[table] for sep in ".["):
        return True
    return lowered.startswith(FIELD_PREFIXES)


# ---- the checks ----------------------------------------------------------------------------------


def check_converted(kql: KqlChecker, converted: ConvertedRule) -> None:
    query, table = converted.query, converted.table
    assert table in TABLES, f"{converted.path}: unknown table {table!r}"
    analysis = kql.analyze(query)
    assert analysis.errors == [], f"{converted.path}:\n{query}\n" + "\n".join(map(str, analysis.errors))
    assert analysis.columns == list(TABLES[table])
    assert query.startswith(f"{table}\n| where "), query
    tokens = tokenize(query)
    assert [t.text for t in tokens[:3]] == [table, "|", "where"]
    assert [t.text for t in tokens].count("|") == 1  # one where clause and nothing more
    assert [t.value for t in tokens if t.kind == "str"] == analysis.literals, "lexer and parser disagree"
    roles = literal_roles(tokens)
    assert check_left_operands(tokens, set(TABLES[table])) >= 1
    for literal, role in zip(analysis.literals, roles, strict=True):
        if role == "value":
            assert not field_like(literal, converted.rule, table), f"{converted.path}: literal {literal!r}"


def corpus_folder() -> Path | None:
    shared = shared_dir()
    folder = shared / CORPUS_SUBDIR if shared is not None else None
    return folder if folder is not None and folder.is_dir() else None


def own_rule_files() -> list[Path]:
    if not OWN_RULES.is_dir():
        return []
    return sorted(p for p in OWN_RULES.rglob("*") if p.suffix.lower() in (".yml", ".yaml"))


@pytest.mark.slow
def test_corpus_converts_and_parses_cleanly(kql: KqlChecker) -> None:
    folder = corpus_folder()
    if folder is None:
        pytest.skip("SigmaHQ corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    result = convert_paths([folder])
    assert result.failures == []
    assert len(result.converted) == CORPUS_SIZE
    for converted in result.converted:
        assert converted.table == "AzureActivity"
        check_converted(kql, converted)


@pytest.mark.parametrize(
    "path",
    own_rule_files() or [pytest.param(None, marks=pytest.mark.skip(reason="rules/ holds no rule yet"))],
    ids=lambda p: str(p.relative_to(OWN_RULES)) if p else "none",
)
def test_own_rule_converts_and_parses_cleanly(kql: KqlChecker, path: Path) -> None:
    # a correlation file with its folder, where its base rules are (one rule a file)
    result = convert_paths([path.parent if path.name.startswith("correlation_") else path])
    assert result.failures == [], [f.line() for f in result.failures]
    assert result.converted
    for converted in result.converted:
        plan = plan_of(converted.rule)
        if plan is None:
            check_converted(kql, converted)
            continue
        # a correlation: one row per alerting window (see test_correlation.py for its text); its
        # form listing each window's events (replay's every_window) parses too
        windows = [*plan.groups, "window_start", "window_end", plan.metric]
        analysis = kql.analyze(converted.query)
        assert analysis.errors == [], f"{converted.path}:\n" + "\n".join(map(str, analysis.errors))
        assert analysis.columns == windows + ([] if is_swept(plan) else ["event_ids"])
        listed = kql.analyze(plan.render(evidence=True))
        assert listed.errors == [] and listed.columns == [*windows, "event_ids"]


# ---- the structure checks catch what they are meant to ----------------------------------------


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("AzureActivity\n| where 'properties.message' =~ \"x\"", "follows"),
        ('AzureActivity\n| where "properties.message" =~ "x"', "follows"),
        ('AzureActivity\n| where Caller in~ ("a", "b") and "x" contains Caller', "follows"),
        ('AzureActivity\n| where Nope =~ "x"', "left operand"),
        ('AzureActivity\n| where isnotempty("Caller")', "argument of"),
        ('AzureActivity\n| where tostring(Properties_d["a"]) =~ strcat("x")', "argument of"),
    ],
)
def test_structure_check_rejects_literals_in_column_positions(query: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        tokens = tokenize(query)
        literal_roles(tokens)
        check_left_operands(tokens, set(TABLES["AzureActivity"]))


def test_structure_check_accepts_what_the_target_writes() -> None:
    query = (
        'AzureActivity\n| where tostring(Claims_d["http://x/y"]) =~ "a" and * contains "b" and '
        'ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8") and Caller in~ ("c", "d\\u2028") and '
        "not(isempty(tostring(Properties_d.a.b))) and toreal(Properties_d.code) == 403 and "
        'tostring(parse_json(HTTPRequest).clientRequestId) =~ "e"'
    )
    tokens = tokenize(query)
    assert literal_roles(tokens) == ["key", "value", "value", "value", "value", "value", "value"]
    assert check_left_operands(tokens, set(TABLES["AzureActivity"])) == 8
    assert [t.value for t in tokens if t.kind == "str"][-2] == "d\u2028"
