"""docs/mapping.md, whole: the AzureActivity field map data and live conversions of example rules."""

from __future__ import annotations

from sigma.collection import SigmaCollection

from sigma_azure_aks.backend import MAX_QUERY_LENGTH, SentinelBackend
from sigma_azure_aks.kql import CHAIN_WIDTH
from sigma_azure_aks.kql_reserved import RESERVED_WORDS
from sigma_azure_aks.sources.azure_activity import DEPRECATED, STATUS
from sigma_azure_aks.sources.azure_activity import FIELD_MAP as AZURE_ACTIVITY

PAGE = "mapping.md"

# (what Sigma says, detection body) — each converted live by the sentinel target.
OPERATOR_EXAMPLES: list[tuple[str, str]] = [
    ("plain value (case-insensitive equality)", "sel:\n  caller: admin@contoso.com"),
    ("list of values", "sel:\n  caller: [a@contoso.com, b@contoso.com]"),
    ("`|contains`", "sel:\n  caller|contains: adm"),
    ("`|startswith`", "sel:\n  operationName|startswith: MICROSOFT.KEYVAULT/"),
    ("`|endswith`", "sel:\n  operationName|endswith: /DELETE"),
    ("`|contains` around a whole term (the term lookup first)", "sel:\n  caller|contains: '@woodgrove.'"),
    ("`|contains|cased` around a whole term", "sel:\n  caller|contains|cased: '-Admin-'"),
    ("wildcards inside a value (whole value, case-insensitive)", "sel:\n  caller: 'adm*@contoso.c?m'"),
    ("list with a wildcard value", "sel:\n  caller: [x@contoso.com, 'svc-*@contoso.com']"),
    ("escaped wildcard `\\*` (a literal star)", "sel:\n  caller: 'a\\*b'"),
    ("only `*` (any value)", "sel:\n  caller: '*'"),
    ("keyword (anywhere in the event)", "keywords:\n  - Microsoft.Authorization/roleAssignments/write"),
    ("dotted field into a dynamic column", "sel:\n  properties.message: Delete device"),
    (
        "claim names (single keys)",
        "sel:\n  'identity.claims.http://schemas.microsoft.com/identity/claims/scope': user_impersonation",
    ),
    ("`httpRequest.*` (JSON text)", "sel:\n  httpRequest.method: DELETE"),
    ("`null` (absent or empty)", "sel:\n  properties.statusCode: null"),
    (
        '`|exists` on a member (present, even as `""` or JSON null)',
        "sel:\n  properties.statusCode|exists: true",
    ),
    ("`|exists: false` on a member (absent)", "sel:\n  properties.statusCode|exists: false"),
    ("`|exists` on a column (non-empty: a string column has no null)", "sel:\n  caller|exists: true"),
    ("`''` on a member (a present empty string only)", "sel:\n  properties.message: ''"),
    ("`''` on a column (absent reads as empty)", "sel:\n  caller: ''"),
    ("boolean (a JSON boolean or its spelling, any case)", "sel:\n  properties.enabled: true"),
    ("member named like a KQL keyword or type", "sel:\n  properties.title: Service issue"),
    ("`|cased`", "sel:\n  caller|cased: Admin@contoso.com"),
    ("`|cased` list", "sel:\n  caller|cased: [A, B]"),
    ("`|all`", "sel:\n  caller|contains|all: [adm, contoso]"),
    ("`|re` (unanchored, case-sensitive unless `|i`)", "sel:\n  caller|re|i: '^adm[0-9]+@'"),
    ("`|cidr` IPv4", "sel:\n  callerIpAddress|cidr: 10.0.0.0/8"),
    ("`|cidr` IPv6", "sel:\n  callerIpAddress|cidr: '2001:db8::/32'"),
    (
        "`not` over a range or number test (no value counts as not in range)",
        "sel:\n  callerIpAddress|cidr: 10.0.0.0/8\ncondition: not sel",
    ),
    ("`|fieldref`", "sel:\n  caller|fieldref: correlationId"),
    ("numbers (compared as numbers)", "sel:\n  properties.statusCode: [403, 404]"),
    ("`|gt`", "sel:\n  properties.count|gt: 5"),
    ("integer from 2^53 on (exact, as a long)", "sel:\n  properties.eventId: 9007199254740994"),
    ('keyword with `\\` or `"` (raw and JSON spelling)', "keywords:\n  - 'C:\\temp\\x'"),
    ("status in one spelling", "sel:\n  resultType: Success"),
    ("value with quotes, backslash and newline", 'sel:\n  caller: "say \\"hi\\" \\\\ \\nbye"'),
    ("negation", "sel:\n  caller: a\nfilter:\n  level: Informational\ncondition: sel and not filter"),
]


# (what the rule does, detection body) — each refused live; the page shows the message.
REFUSED_EXAMPLES: list[tuple[str, str]] = [
    ("`null` inside a list of values", "sel:\n  caller: [admin@contoso.com, null]"),
    ("an integer pySigma could not keep exact", "sel:\n  properties.eventId: 9007199254740993"),
    ("an integer outside Kusto's long range", "sel:\n  properties.eventId: 9223372036854775808"),
    (
        "two fields of one column, two different values (the selection never matches)",
        "sel:\n  operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE\n  OperationNameValue: MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
    ),
]


def refusal(body: str) -> str:
    try:
        convert(body)
    except Exception as error:  # the message is the documentation
        return str(error).replace("rule 'example': ", "")
    raise AssertionError(f"not refused: {body}")


def convert(body: str) -> str:
    condition = "" if "condition:" in body else f"\n  condition: {body.split(':', 1)[0]}"
    detection = "\n".join("  " + line for line in body.splitlines()) + condition.replace("\n  ", "\n  ")
    text = f"title: example\nlogsource:\n  product: azure\n  service: activitylogs\ndetection:\n{detection}\n"
    [query] = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query.split("\n| where ", 1)[1]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render(current: str = "") -> str:
    lines = [
        "# Field mapping and operator semantics (`azure_activity`, target `sentinel`)",
        "",
        "<!-- Generated by docs/generate.py from the mapping data and live conversions; "
        "do not edit by hand. -->",
        "",
        "Rules with `product: azure` and `service: activitylogs` (or the old alias `azureactivity`) go to the",
        "Microsoft Sentinel table `AzureActivity`. Both field dialects SigmaHQ uses are accepted: the raw",
        "activity-log record (`operationName`, `properties.message`, ...) and the Log Analytics column names.",
        "Any other field is a conversion error that names the rule, the field and the supported fields.",
        "",
        "## Fields",
        "",
        "| Sigma field | AzureActivity | note |",
        "|---|---|---|",
    ]
    by_column: dict[str, list[str]] = {}
    for name, target in AZURE_ACTIVITY.exact.items():
        by_column.setdefault(target.kql(), []).append(name)
    for column, names in by_column.items():
        note = AZURE_ACTIVITY.notes.get(column, "")
        lines.append(f"| {', '.join(f'`{n}`' for n in names)} | `{column}` | {cell(note)} |")
    for prefix in AZURE_ACTIVITY.prefixes:
        shape = "key" if prefix.whole_key else "path"
        example = "x/y.z" if prefix.whole_key else "a.b"
        target = prefix.target(prefix.prefix + example)
        assert target is not None
        lines.append(
            f"| `{prefix.prefix}<{shape}>` | `{target.kql()}` (for `{prefix.prefix}{example}`) | {cell(prefix.note)} |"
        )
    dead = ", ".join(f"`{c}`" for c in sorted(DEPRECATED))
    spellings = "; ".join(" / ".join(sorted(s)) for s in STATUS.groups)
    lines += [
        "",
        f"Never targeted: {dead} — deprecated columns that are empty in current data.",
        "",
        f"Status spellings matched both ways: {spellings}. The documentation uses the long forms, real rows",
        "the short ones; a rule value in either spelling matches rows in both (exact-value matches only).",
        "",
        "## Operators",
        "",
        "Every comparison is case-insensitive unless the rule says `|cased`, as in Sigma. String values are",
        "written as KQL string literals that decode to exactly the rule's value, whatever it holds.",
        "",
        "| Sigma | detection | KQL condition |",
        "|---|---|---|",
    ]
    for meaning, body in OPERATOR_EXAMPLES:
        lines.append(f"| {cell(meaning)} | `{cell(body)}` | `{cell(convert(body))}` |")
    lines += [
        "",
        "A keyword (a value bound to no field) is searched in every column of the row, `*`, as Kusto's",
        "`* contains` does: the event's columns and the row's metadata (`_ResourceId`, `TenantId`, ...).",
        "",
        'A keyword holding `\\`, `"` or a control character is searched twice: as written, and as it reads',
        "inside JSON text, because Kusto's full-row search reads a dynamic column (`Properties_d`, ...) as its",
        "JSON text, where those characters are escaped. (A JSON spelling may also match a string column that",
        "happens to hold it; no other rewrite finds the text inside dynamic columns.)",
        "",
        "## Term lookups and order",
        "",
        "`contains`, `startswith` and `endswith` scan every value; `has` looks a whole term up in Kusto's term",
        "index (a term is a maximal run of letters and digits; terms of three characters or more are indexed).",
        "Where a value holds a run of ASCII letters and digits, at least three long, with ASCII punctuation or",
        "a space on both sides (the start of a `startswith` value and the end of an `endswith` value count as",
        "sides), every string the value matches holds that run as a whole term, so `has` on it (`has_cs` for",
        "`|cased`) is written before the scan: the same rows, found through the index. Only on string columns:",
        "on a member of a dynamic column `has` would read another text. The underscore and non-ASCII",
        "characters are never taken as separators, and a case-insensitive term holds none of `i`, `k`, `s`,",
        "the letters that non-ASCII letters (`İ`, `ı`, the Kelvin sign, `ſ`) equal when case is ignored.",
        "",
        "In a conjunction, tests of column values come before regular expressions (globs, `|re`, the walks",
        "through a dynamic column's JSON text) and full-row searches; the rule's order is kept otherwise.",
        "Kusto's `and` is true only when both sides are, in either order, so the result is the same.",
        "",
        "## Exactness",
        "",
        f"* **Member names.** A member whose name is one of the {len(RESERVED_WORDS)} words Kusto.Language",
        "  reserves (keywords, type names such as `title`, `time`, `int`, `string`, `set`, `to`; compared",
        '  case-insensitively), or is not a plain identifier, is written in brackets: `Properties_d["title"]`.',
        "  The set is derived from Microsoft's parser (`sigma_azure_aks/kql_reserved.py`); the tests derive it",
        "  again and parse every word as a member of every dynamic column.",
        "* **`|exists`.** On a member of a dynamic column it tests presence of the key (`bag_has_key`; keys",
        '  that are not plain identifiers through `bag_keys`), so a member that is `""` or JSON `null` exists,',
        "  as the Sigma specification says. A column always exists in Log Analytics and a string column",
        '  stores an absent value as `""`: there `|exists` means non-empty, and absent cannot be told from',
        "  empty.",
        "* **Empty value.** `''` on a member matches only a present empty string (`tostring()` of an absent",
        '  member or of JSON `null` is `""` too, so presence is tested first). `null` keeps its meaning:',
        "  absent, JSON `null` or empty.",
        "* **Booleans.** `true`/`false` match a JSON boolean and its string spelling in any case, on members",
        "  and on string columns.",
        "* **Numbers.** Integers below 2^53 and non-integers compare through `toreal()` (exact there);",
        "  integers from 2^53 on through `tolong()`, since `toreal()` would round (2^53 + 1 reads as 2^53).",
        "  pySigma keeps an integer that a float cannot hold exactly only as the rounded float: such a rule,",
        "  and an integer outside the long range, is refused (quote the value to compare it as text).",
        "* **Long alternatives.** Kusto's parser nests an `or` chain one level per operand and gives up",
        f"  near 500 (KS245). Chains longer than {CHAIN_WIDTH} operands are grouped into parenthesized chains",
        f"  of at most {CHAIN_WIDTH}, recursively: any number of values gives valid KQL with the same meaning.",
        f"  A query over {MAX_QUERY_LENGTH:,} characters (Sentinel's limit for an analytics rule) is an error",
        "  for the analytics formats (`yaml`, `arm`, `json`) and a warning for plain KQL.",
        "* **Guard.** The `convert` and `export` commands of sigma-azure-aks parse every query with Microsoft's parser when",
        "  it can run (the `[validate]` extra, or Node.js); a query it rejects is a conversion failure naming",
        "  the rule and the parser's message, never written.",
        "* **Contradictions.** Several Sigma names can reach one column (`operationName` and",
        "  `OperationNameValue`; in AuditLogs `OperationName` and `properties.message`). A selection that",
        "  requires such a column to equal two different values through two of those names could never match;",
        "  it is refused naming both fields (a column that holds an array or objects, whose elements may hold",
        "  both values, is not such a case). Two spellings of one value are one requirement.",
        "",
        "Refused, with the rule and the field named:",
        "",
        "| rule shape | detection | message |",
        "|---|---|---|",
    ]
    for meaning, body in REFUSED_EXAMPLES:
        lines.append(f"| {cell(meaning)} | `{cell(body)}` | {cell(refusal(body))} |")
    lines += [
        "",
        "The query is `AzureActivity`, a line break, and `| where <condition>`: no `project`, so every column",
        "stays available to entity mappings; time windows come from the analytics rule's query period.",
        "",
    ]
    return "\n".join(lines)

