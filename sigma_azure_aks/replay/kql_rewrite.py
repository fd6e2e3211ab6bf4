"""KQL text rewrites that bridge duckdb-kql's gaps without changing what a query means.

duckdb-kql translates KQL to DuckDB SQL and refuses what it cannot translate. :func:`rewrite_query`
rewrites what our `sentinel` target writes and it refuses or reads otherwise than Kusto:

* ``ipv4_is_in_range(a, "net/len")`` / ``ipv6_is_in_range(a, "net/len")``: refused by duckdb-kql.
  The range is always a literal in our queries, so it is resolved here with :mod:`ipaddress` into
  its first and last address, and the call is rewritten to a comparison of duckdb-kql's own
  ``parse_ipv4(a)`` (a long; null when `a` is not an IPv4 address) or ``parse_ipv6(a)`` (the full,
  fixed-width lower-case form, which orders like the address; ``""`` when not an address; an IPv4
  address reads as its IPv4-mapped form, as in Kusto) with those bounds. As in Kusto, the result is
  null (not false) when the address does not parse, which matters under ``not()``. An unparsable
  range is refused. (DuckDB's Python UDFs would need numpy; this needs nothing.)
* ``* contains "x"`` / ``* contains_cs "x"`` (full-row search): refused by duckdb-kql; see
  :mod:`.fulltext`.
* ``"\\u001f"``: duckdb-kql reads a ``\\uXXXX`` escape as ``uXXXX``; such string literals are
  rewritten with the raw characters, which it reads right.
* ``treepath(x)``: refused by duckdb-kql; written as a hidden column the engine fills
  (:mod:`.treepath`).
* ``isnotnull(<member access>)``: duckdb-kql reads a JSON ``null`` member as not null; Kusto reads
  it as null. Rewritten to ``(isnotnull(m) and gettype(m) != "null")``.
* ``bag_has_key(b, "k")`` / ``set_has_element(bag_keys(b), "k")`` (a member is present, whatever
  its value): refused by duckdb-kql. Rewritten to duckdb-kql's own ``isnotnull(b["k"])``, which is
  true for a present member, JSON ``null`` and ``""`` included, and false for an absent one.

* ``range(a, b)`` with whole-number literals (a correlation's levels): refused by duckdb-kql.
  Rewritten to the array it returns, ``dynamic([a, ..., b])``.

For the export scan, which evaluates one condition per query, :func:`fold_preamble` writes a legacy
route's query (``<table> | where F | extend x = e | where C``) as the one ``where`` that returns the
same rows.

Text only: nothing here imports DuckDB.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ..sources import TABLES
from .errors import ReplayQueryError
from .fulltext import StarHook, star_search
from .sql import text_column
from .treepath import TreeHook, recorder, tree_column

_TOKEN = re.compile(
    r'(?P<str>@?"(?:[^"\\]|\\.)*"|@?\'(?:[^\'\\]|\\.)*\')'
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<ws>\s+)"
    r"|(?P<punct>.)",
    re.S,
)
_STAR_OPERATORS = {"contains", "contains_cs"}


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "", m.group(0)) for m in _TOKEN.finditer(text)]


def _skip_ws(tokens: list[tuple[str, str]], i: int) -> int:
    while i < len(tokens) and tokens[i][0] == "ws":
        i += 1
    return i


_IP_FUNCTIONS = {"ipv4_is_in_range": 4, "ipv6_is_in_range": 6}


def _closing(tokens: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for k in range(start, len(tokens)):
        if tokens[k][1] == "(":
            depth += 1
        elif tokens[k][1] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ReplayQueryError("unbalanced parentheses in query")


def _split_args(tokens: list[tuple[str, str]]) -> list[str]:
    args, current, depth = [], [], 0
    for kind, text in tokens:
        if kind == "punct" and text in "([":
            depth += 1
        elif kind == "punct" and text in ")]":
            depth -= 1
        if kind == "punct" and text == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(text)
    args.append("".join(current).strip())
    return args


def _string_value(literal: str) -> str:
    if not (literal.startswith('"') and literal.endswith('"')):
        raise ReplayQueryError(f"expected a string literal, got {literal!r}")
    try:
        value = json.loads(literal)
    except ValueError as error:
        raise ReplayQueryError(f"cannot read the string literal {literal!r}") from error
    return str(value)


def _ip_range_check(function: str, address: str, range_literal: str) -> str:
    version = _IP_FUNCTIONS[function]
    text = _string_value(range_literal)
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as error:
        raise ReplayQueryError(f"{function}: {text!r} is not an IP range") from error
    if network.version != version:
        raise ReplayQueryError(f"{function}: {text!r} is not an IPv{version} range")
    if version == 4:
        lo, hi = int(network.network_address), int(network.broadcast_address)
        return f"(parse_ipv4({address}) >= {lo} and parse_ipv4({address}) <= {hi})"
    lo_text, hi_text = network.network_address.exploded, network.broadcast_address.exploded
    parsed = f"parse_ipv6({address})"
    # Kusto's parse_ipv6 gives "" for a non-address, and ipv6_is_in_range null: keep it null.
    return f'iff(isempty({parsed}), bool(null), ({parsed} >= "{lo_text}" and {parsed} <= "{hi_text}"))'


_ENGINE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _engine_literal(literal: str) -> str:
    """A string literal as duckdb-kql reads it alike: it reads a `\\uXXXX` escape (which Kusto
    decodes, and our target writes for control and separator characters) as the letter u and
    the digits, but a raw character as that character. Such literals are written with the raw
    characters; every other literal is left as it is."""
    if not (literal.startswith('"') and "\\u" in literal):
        return literal
    value = _string_value(literal)
    return '"' + "".join(_ENGINE_ESCAPES.get(c, c) for c in value) + '"'


def rewrite_query(
    query: str, star_hook: StarHook | None = None, tree_hook: TreeHook | None = None
) -> tuple[str, str]:
    """(table, KQL the engine runs faithfully). Raises ReplayQueryError for what it cannot.

    `star_hook` (the engine's) answers a full-row `contains` on a plain literal; without it,
    full-row searches become the per-column disjunction. `tree_hook` is told each
    ``treepath(<argument>)``, written as its hidden column (:func:`~.treepath.tree_column`)."""
    head, sep, _ = query.partition("|")
    table = head.strip()
    if table.startswith("union "):
        raise ReplayQueryError(
            "replay runs a query on one table; a union of tables (a union pipeline's query) is not replayed: "
            "replay the rule without the union pipeline, on each table's rows"
        )
    if not sep or table not in TABLES:
        raise ReplayQueryError(f"expected '<table> | where ...' on a known table, got {query[:60]!r}")
    tokens = _tokens(query)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "punct" and text == "*":
            j = _skip_ws(tokens, i + 1)
            k = _skip_ws(tokens, j + 1)
            if j < len(tokens) and k < len(tokens) and tokens[j][0] == "ident" and tokens[k][0] == "str":
                operator = tokens[j][1]
                if operator not in _STAR_OPERATORS:
                    raise ReplayQueryError(f"full-row search '* {operator}' is not supported by replay")
                out.append(star_search(table, operator, _engine_literal(tokens[k][1]), star_hook))
                i = k + 1
                continue
            raise ReplayQueryError("a '*' outside a full-row search is not supported by replay")
        if kind == "ident" and text in _IP_FUNCTIONS:
            j = _skip_ws(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                k = _closing(tokens, j)
                args = _split_args(tokens[j + 1 : k])
                if len(args) != 2:
                    raise ReplayQueryError(f"{text}() takes two arguments here")
                address, _ = _rewrite_fragment(args[0], table, tree_hook)
                out.append(_ip_range_check(text, address, args[1]))
                i = k + 1
                continue
        if kind == "ident" and text == "treepath":
            j = _skip_ws(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                k = _closing(tokens, j)
                inner = "".join(t for _, t in tokens[j + 1 : k]).strip()
                argument, _ = _rewrite_fragment(inner, table, tree_hook)
                if tree_hook is not None:
                    tree_hook(table, argument)
                out.append(tree_column(argument))
                i = k + 1
                continue
        if kind == "str":
            out.append(_engine_literal(text))
            i += 1
            continue
        if kind == "ident" and text in _PRESENCE_FUNCTIONS:
            presence = _presence_check(tokens, i, table, tree_hook)
            if presence is not None:
                out.append(presence[0])
                i = presence[1]
                continue
        if kind == "ident" and text == "isnotnull":
            j = _skip_ws(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                k = _closing(tokens, j)
                inner = "".join(t for _, t in tokens[j + 1 : k])
                if re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", inner):
                    out.append(f"isnotnull({inner})")
                else:
                    inner_text, _ = _rewrite_fragment(inner, table, tree_hook)
                    out.append(f'(isnotnull({inner_text}) and gettype({inner_text}) != "null")')
                i = k + 1
                continue
        out.append(text)
        i += 1
    return table, "".join(out)


_PRESENCE_FUNCTIONS = {"bag_has_key", "set_has_element"}


def _presence_check(
    tokens: list[tuple[str, str]], i: int, table: str, tree_hook: TreeHook | None
) -> tuple[str, int] | None:
    """`bag_has_key(b, "k")` or `set_has_element(bag_keys(b), "k")` at tokens[i], as duckdb-kql's
    `isnotnull(b["k"])` (true for a present JSON null), and the index after the call."""
    j = _skip_ws(tokens, i + 1)
    if j >= len(tokens) or tokens[j][1] != "(":
        return None
    k = _closing(tokens, j)
    args = _split_args(tokens[j + 1 : k])
    if len(args) != 2 or not args[1].startswith('"'):
        raise ReplayQueryError(f"{tokens[i][1]}() with these arguments is not supported by replay")
    bag = args[0]
    if tokens[i][1] == "set_has_element":
        inner = re.fullmatch(r"bag_keys\((.*)\)", bag, re.S)
        if inner is None:
            raise ReplayQueryError("set_has_element() is only supported on bag_keys() by replay")
        bag = inner.group(1)
    parent, _ = _rewrite_fragment(bag, table, tree_hook)
    return f"isnotnull({parent}[{_engine_literal(args[1])}])", k + 1


def _rewrite_fragment(fragment: str, table: str, tree_hook: TreeHook | None = None) -> tuple[str, str]:
    _, text = rewrite_query(f"{table} | {fragment}", tree_hook=tree_hook)
    return text.split("| ", 1)[1], table


def kql_tokens(text: str) -> list[tuple[str, str]]:
    """KQL text as (kind, text) tokens: ``str``, ``ident``, ``ws``, ``punct``; joined, the text."""
    return _tokens(text)


def identifiers(text: str) -> set[str]:
    """The identifiers (column names, functions, operators) of KQL text."""
    return {value for kind, value in _tokens(text) if kind == "ident"}


def where_condition(
    query: str, star_hook: StarHook | None = None, tree_hook: TreeHook | None = None
) -> tuple[str, str]:
    """(table, the condition of a '<table> | where ...' query as the engine runs it); a legacy
    route's preamble before the `where` is folded into it first (:func:`fold_preamble`)."""
    table, text = rewrite_query(fold_preamble(query), star_hook, tree_hook)
    tokens = _tokens(text)
    pipes = [i for i, (kind, value) in enumerate(tokens) if kind == "punct" and value == "|"]
    where = _skip_ws(tokens, pipes[0] + 1) if len(pipes) == 1 else len(tokens)
    if where >= len(tokens) or tokens[where] != ("ident", "where"):
        raise ReplayQueryError(f"replay runs '<table> | where ...' queries, got {query[:60]!r}")
    return table, "".join(value for _, value in tokens[where + 1 :]).strip()


_ASSIGNMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)", re.S)
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)", re.S)


def fold_preamble(query: str) -> str:
    """A query `<table> | <preamble operators> | where C` as the one-condition query
    `<table> | where (F1) and ... and (C')` that returns the same rows, for the export scan (which
    evaluates one condition per query on the file's rows): each `where F` of the preamble (a
    legacy route's, :attr:`~sigma_azure_aks.sources.Source.preamble`) becomes a conjunct, and each
    column an `extend x = e` adds is replaced, where a later operator reads it, by its expression
    (an extend of pure expressions and a filter on them commute). A query of one `where` is
    returned as it is; an operator other than `where` and `extend` is left for the caller to
    refuse."""
    segments = _pipe_segments(query)
    if len(segments) <= 2:
        return query
    table, *operators, last = segments
    filters: list[str] = []
    columns: dict[str, str] = {}
    for operator in operators:
        name, _, body = operator.strip().partition(" ")
        if name == "where":
            filters.append(_substituted(body, columns))
        elif name == "extend":
            for assignment in _split_args(_tokens(body)):
                match = _ASSIGNMENT.fullmatch(assignment)
                if match is None:  # an unnamed extend: not a preamble's
                    return query
                expression = _substituted(match.group(2).strip(), columns)
                columns[match.group(1)] = expression if _is_call(expression) else f"({expression})"
        else:
            return query
    keyword, _, condition = last.strip().partition(" ")
    if keyword != "where":
        return query
    conjuncts = [*filters, _substituted(condition.strip(), columns)]
    return f"{table.rstrip()}\n| where " + " and ".join(f"({c})" for c in conjuncts)


def _substituted(text: str, columns: dict[str, str]) -> str:
    """KQL text with each identifier naming one of `columns` (not a member after a dot) replaced
    by its expression."""
    if not columns:
        return text
    out: list[str] = []
    previous = ""
    for kind, value in _tokens(text):
        out.append(columns[value] if kind == "ident" and value in columns and previous != "." else value)
        if kind != "ws":
            previous = value
    return "".join(out)


def _is_call(expression: str) -> bool:
    """Whether an expression is one function call (`parse_json(x)`: member access may follow it)."""
    if _CALL.fullmatch(expression) is None:
        return False
    tokens = _tokens(expression)
    return _closing(tokens, 0) == len(tokens) - 1


def columns_read(query: str) -> tuple[str, set[str]]:
    """(table, the columns of the table the query reads: every one for a full-row search)."""
    trees: dict[str, str] = {}
    table, text = rewrite_query(query, tree_hook=recorder(trees))
    names = identifiers(text).union(*map(identifiers, trees.values()))
    schema = TABLES[table]
    return table, {c for c in schema if c in names or text_column(c) in names}


# ---- running sums: the one window function correlation queries use --------------------------------
# duckdb-kql has no serialized row sets (`sort by` then `row_cumsum()`, `prev()`, ...). A correlation
# query writes exactly one form of them, as the last two operators of a `let` statement:
#     <rows> | sort by <column> asc|desc, ... | extend <name> = row_cumsum(<column>), ...
# which is SQL's `sum(<column>) OVER (ORDER BY <columns> ROWS UNBOUNDED PRECEDING)` on the rows, once
# per running sum. Any other use of a window function is refused.
_WINDOW_FUNCTIONS = {"row_cumsum", "prev", "next", "row_number", "row_rank_min", "row_rank_dense", "serialize"}
_SORT = re.compile(r"\s*(?:sort|order)\s+by\s+(.+?)\s*", re.S)
# a sort key: a plain column name or one in bracket form (`["time"]`, a keyword as a column name)
_SORT_KEY = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)|\[\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\])(?:\s+(asc|desc))?\s*')
_ONE_SUM = r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*row_cumsum\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)"
_RUNNING_SUMS = re.compile(rf"\s*extend\s+{_ONE_SUM}(?:\s*,\s*{_ONE_SUM})*\s*")
_EACH_SUM = re.compile(_ONE_SUM)
RunningSums = tuple[str, list[tuple[str, bool]], list[tuple[str, str]]]


def statements(text: str) -> list[tuple[str | None, str]]:
    """A query's statements as (name of a `let`, or None for the query's result; its expression)."""
    found: list[tuple[str | None, str]] = []
    current: list[str] = []
    for kind, value in _tokens(text) + [("punct", ";")]:
        if not (kind == "punct" and value == ";"):
            current.append(value)
            continue
        statement = "".join(current).strip()
        current = []
        if not statement:
            continue
        match = re.match(r"let\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*", statement)
        found.append((match.group(1), statement[match.end() :]) if match else (None, statement))
    return found


def _pipe_segments(text: str) -> list[str]:
    """A tabular expression split at its top-level pipes."""
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    for kind, value in _tokens(text):
        if kind == "punct" and value in "([{":
            depth += 1
        elif kind == "punct" and value in ")]}":
            depth -= 1
        if kind == "punct" and value == "|" and depth == 0:
            segments.append("".join(current))
            current = []
            continue
        current.append(value)
    segments.append("".join(current))
    return segments


def running_sum(expression: str) -> RunningSums | None:
    """For `<rows> | sort by a asc, b desc | extend n = row_cumsum(c), m = row_cumsum(d)`: (the rows'
    KQL, the sort keys as (column, ascending), the sums as (name, column)); None for an expression
    without window functions. Raises ReplayQueryError for any other use of one."""
    if not identifiers(expression) & _WINDOW_FUNCTIONS:
        return None
    segments = _pipe_segments(expression)
    if len(segments) >= 3:
        total = _RUNNING_SUMS.fullmatch(segments[-1])
        order = _SORT.fullmatch(segments[-2])
        keys = [_SORT_KEY.fullmatch(part) for part in order.group(1).split(",")] if order else []
        rows = "|".join(segments[:-2])
        if total and keys and all(keys) and not identifiers(rows) & _WINDOW_FUNCTIONS:
            ordered = [(key.group(1) or key.group(2), key.group(3) != "desc") for key in keys if key is not None]
            sums = [(one.group(1), one.group(2)) for one in _EACH_SUM.finditer(segments[-1])]
            return rows.strip(), ordered, sums
    raise ReplayQueryError(
        "replay runs a window function only as '| sort by <columns> | extend <name> = row_cumsum(<column>), ...' "
        "at the end of a let statement"
    )


def running_sum_sql(rows_sql: str, order: list[tuple[str, bool]], sums: list[tuple[str, str, bool]]) -> str:
    """SQL for the running sums (name, column, whether integer) over rows (their SQL) in the given
    order: Kusto's `row_cumsum` (integers stay 64-bit; nulls add nothing). Kusto sorts nulls first
    ascending, last descending."""
    keys = ", ".join(f'"{key}" {"ASC NULLS FIRST" if up else "DESC NULLS LAST"}' for key, up in order)
    totals = []
    for name, column, integer in sums:
        total = f'sum("{column}") OVER (ORDER BY {keys} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'
        totals.append(f'CAST(coalesce({total}, 0) AS {"BIGINT" if integer else "DOUBLE"}) AS "{name}"')
    return f"SELECT *, {', '.join(totals)} FROM ({rows_sql})"


_LITERAL_RANGE = re.compile(r"\brange\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def literal_ranges(text: str) -> str:
    """``range(a, b)`` of whole-number literals, outside string literals, as ``dynamic([a, ..., b])``."""
    # string literals blanked (same length), so that positions in `masked` are positions in `text`
    masked = "".join(" " * len(value) if kind == "str" else value for kind, value in _tokens(text))
    pieces, last = [], 0
    for match in _LITERAL_RANGE.finditer(masked):
        low, high = int(match.group(1)), int(match.group(2))
        pieces += [text[last : match.start()], "dynamic([" + ", ".join(map(str, range(low, high + 1))) + "])"]
        last = match.end()
    return "".join(pieces) + text[last:]
