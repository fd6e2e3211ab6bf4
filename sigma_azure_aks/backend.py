"""The `sentinel` target: pySigma-backend-kusto's KQL, with Sigma's meaning kept exactly.

Where the stock Kusto backend is already right, this target writes the same text. It differs on:
wildcards inside values and `?` (whole-value, case-insensitive glob via an anchored regex), keyword
searches (`* contains`), member access into dynamic columns, `null` (absent or empty), `|cased`,
`|fieldref`, IPv6 ranges, numbers, `|all`, string literals (exact for any character); and for speed,
term lookups before `contains`/`startswith`/`endswith` and column tests first in a conjunction."""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, ClassVar

from sigma.backends.kusto import KustoBackend
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
)
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from . import kql
from .analytics import FORMATS
from .analytics import output_format as output_format_named
from .analytics.options import refuse_unknown_options
from .correlation import referenced_first
from .notices import RuleWarning
from .pipelines.factories import require_table_pipeline, sentinel_default_pipeline
from .pipelines.state import (
    CLAIMED_BY,
    ITEM_PREFIX,
    NOTES,
    PRIORITY,
    QUERY_TABLE,
    SENTINEL_BACKEND_NAME,
    rule_label,
)
from .rule_values import check_rule_values
from .semantics import as_number, null_safe, null_safe_always, plain_text
from .sources import TABLES, source_for_table, union_tables

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_OPERATORS: dict[tuple[str, bool], str] = {
    # (kind, case-sensitive) -> KQL operator
    ("eq", False): "=~",
    ("eq", True): "==",
    ("startswith", False): "startswith",
    ("startswith", True): "startswith_cs",
    ("endswith", False): "endswith",
    ("endswith", True): "endswith_cs",
    ("contains", False): "contains",
    ("contains", True): "contains_cs",
    ("in", False): "in~",
    ("in", True): "in",
}


def _string_shape(value: SigmaString) -> tuple[str, str | None]:
    """How a Sigma string is matched: ('eq'|'startswith'|'endswith'|'contains', text),
    ('glob', None) for a pattern with inner or single wildcards, ('any', None) for only `*`."""
    parts = value.s
    unresolved = [part for part in parts if not isinstance(part, (str, SpecialChars))]
    if unresolved:
        raise SigmaFeatureNotSupportedByBackendError(
            f"the value '{value}' holds the placeholder {unresolved[0]}, which no pipeline expanded; "
            "add a pipeline that expands placeholders or write the values out"
        )
    if not parts:
        return "eq", ""
    if all(part == SpecialChars.WILDCARD_MULTI for part in parts):
        return "any", None
    lead = parts[0] == SpecialChars.WILDCARD_MULTI
    trail = parts[-1] == SpecialChars.WILDCARD_MULTI
    inner = parts[int(lead) : len(parts) - int(trail)]
    if any(isinstance(part, SpecialChars) for part in inner):
        return "glob", None
    text = "".join(inner)  # type: ignore[arg-type]
    kind = "contains" if lead and trail else "endswith" if lead else "startswith" if trail else "eq"
    return kind, text


class SentinelBackend(KustoBackend):
    """Microsoft Sentinel KQL with exact Sigma semantics (identifier `sentinel`)."""

    name: ClassVar[str] = SENTINEL_BACKEND_NAME
    identifier: ClassVar[str] = "sentinel"
    formats: ClassVar[dict[str, str]] = {f.name: f.description for f in FORMATS}
    requires_pipeline: ClassVar[bool] = False
    convert_and_as_in: ClassVar[bool] = False
    correlation_methods: ClassVar[dict[str, str]] = {
        "default": "sliding windows per group (self-join within the timespan), order enforced",
    }
    # Base rules of a correlation are finalized too: their full KQL feeds the correlation query,
    # and with `generate: true` they are output as complete queries.
    finalize_correlation_subqueries: ClassVar[bool] = True

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        **backend_options: Any,
    ) -> None:
        refuse_unknown_options(backend_options)
        super().__init__(processing_pipeline, collect_errors, **backend_options)
        user_items = processing_pipeline.items if processing_pipeline is not None else []
        user_chose_ours = any((item.identifier or "").startswith(ITEM_PREFIX) for item in user_items)
        # With no pipeline of ours given, apply them all: each claims only its own log sources.
        self.backend_processing_pipeline = (
            ProcessingPipeline() if user_chose_ours else sentinel_default_pipeline()
        )
        self.output_format_processing_pipeline = defaultdict(require_table_pipeline)
        self.backend_processing_pipeline.priority = PRIORITY

    def convert(self, rule_collection: SigmaCollection, *args: Any, **kwargs: Any) -> Any:
        """A correlation reads the conversion of the rules it names: those are converted first,
        whatever the order of the files (SigmaHQ writes a correlation in a file of its own)."""
        rule_collection.resolve_rule_references()
        rule_collection.rules = referenced_first(rule_collection.rules)
        return super().convert(rule_collection, *args, **kwargs)

    def convert_rule(self, rule: Any, output_format: str | None = None, *args: Any, **kwargs: Any) -> Any:
        """Refuse values no query can express exactly (null in a list, rounded integers) first."""
        check_rule_values(rule, rule_label(rule))
        return super().convert_rule(rule, output_format, *args, **kwargs)

    # ---- and / or: never deeper than Kusto's parser allows ---------------------------------------
    def _join(self, cond: ConditionOR | ConditionAND, state: ConversionState, token: str) -> Any:
        args = [
            converted
            for converted in (
                self.convert_condition(arg, state)
                if self.compare_precedence(cond, arg)
                else self.convert_condition_group(arg, state)
                for arg in cond.args
            )
            if converted is not None and not isinstance(converted, DeferredQueryExpression)
        ]
        if not args:
            return self.empty_or_expression if token == self.or_token else self.empty_and_expression
        return kql.balanced_join(kql.cheap_first(args) if token == self.and_token else args, f" {token} ")

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        return self._join(cond, state, self.or_token)

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> Any:
        return self._join(cond, state, self.and_token)

    # ---- fields ------------------------------------------------------------------------------
    def escape_and_quote_field(self, field_name: str) -> str:
        """A column name as it is; a member access (from our field maps) as it is; anything else
        as a bracketed column name."""
        if kql.is_column_name(field_name) or kql.is_member_access(field_name):
            return field_name
        return f"[{kql.string_literal(field_name)}]"

    def _string_operand(self, field_name: str, state: ConversionState) -> str:
        """The field as a string: dynamic members and non-string columns go through tostring()."""
        rendered = self.escape_and_quote_field(field_name)
        return rendered if self._column_type(field_name, state) == "string" else f"tostring({rendered})"

    def _column_type(self, field_name: str, state: ConversionState, default: str = "string") -> str:
        table = state.processing_state.get(QUERY_TABLE)
        if not kql.is_column_name(field_name):
            return "dynamic"
        return TABLES.get(table or "", {}).get(field_name, default)

    # ---- strings -----------------------------------------------------------------------------
    def convert_value_str(self, s: SigmaString | SigmaNumber, state: ConversionState) -> str:
        if isinstance(s, SigmaNumber):
            return kql.string_literal(str(s))
        return kql.string_literal(plain_text(s))

    def _match_string(self, field_name: str, value: SigmaString, state: ConversionState) -> str:
        cased = isinstance(value, SigmaCasedString)
        operand = self._string_operand(field_name, state)
        kind, text = _string_shape(value)
        if kind == "any":
            # `*`: the field has a value. Kusto has no absent string (absent reads as empty), so
            # this is the exact complement of `null` (absent or empty).
            return f"isnotempty({operand})"
        if kind == "glob":
            pattern = kql.glob_regex(value.s, case_sensitive=cased)
            return f"{operand} matches regex {kql.string_literal(pattern)}"
        assert text is not None
        if kind == "eq" and text == "" and self._column_type(field_name, state) == "dynamic":
            # `''` is a present empty string; tostring() of an absent member or JSON null is "" too.
            return f'(isnotnull({self.escape_and_quote_field(field_name)}) and {operand} == "")'
        declared = self._column_type(field_name, state, default="")  # a column its table declares
        return kql.string_test(operand, _OPERATORS[(kind, cased)], text, string_column=declared == "string")

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._match_string(cond.field, cond.value, state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._match_string(cond.field, cond.value, state)

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        values = [arg.value for arg in cond.args]  # type: ignore[union-attr]
        if any(isinstance(v, (SigmaNumber, SigmaBool)) for v in values):
            return False  # numbers compare as numbers, booleans in two spellings, one by one
        return len({isinstance(v, SigmaCasedString) for v in values}) == 1

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        """`field in~ (plain values)`, then `or` each pattern value, as the stock target lays it out."""
        field_name = cond.args[0].field  # type: ignore[union-attr]
        values: list[SigmaString] = [arg.value for arg in cond.args]  # type: ignore[union-attr]
        cased = isinstance(values[0], SigmaCasedString)
        dynamic = self._column_type(field_name, state) == "dynamic"
        one_by_one = [v for v in values if v.contains_special() or (dynamic and not v.s)]
        plain = [v for v in values if not (v.contains_special() or (dynamic and not v.s))]
        parts = []
        if plain:
            literals = self.list_separator.join(kql.string_literal(plain_text(v)) for v in plain)
            parts.append(
                f"{self._string_operand(field_name, state)} {_OPERATORS[('in', cased)]} ({literals})"
            )
        parts.extend(self._match_string(field_name, v, state) for v in one_by_one)
        return kql.balanced_join(parts, f" {self.or_token} ")

    # ---- keywords ----------------------------------------------------------------------------
    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> str:
        """A keyword: the text occurs anywhere in the event, case-insensitively."""
        value: SigmaString = cond.value
        kind, text = _string_shape(value)
        if kind == "any":
            return "true"
        if kind == "glob":
            raise SigmaFeatureNotSupportedByBackendError(
                f"keyword '{value}' has a wildcard inside it; KQL has no full-row pattern search. "
                "Bind it to a field instead."
            )
        operator = "contains_cs" if isinstance(value, SigmaCasedString) else "contains"
        scope = self._keyword_scope(state)
        raw = text or ""
        escaped = kql.json_text(raw)
        if escaped == raw:
            return f"{scope} {operator} {kql.string_literal(raw)}"
        # A dynamic column (and a column of JSON text) reads `\`, `"` and control characters
        # escaped: search both spellings so the text is found in string and JSON columns alike.
        return (
            f"({scope} {operator} {kql.string_literal(raw)} or "
            f"{scope} {operator} {kql.string_literal(escaped)})"
        )

    def _keyword_scope(self, state: ConversionState) -> str:
        """Where a keyword is searched: every column of the row (`*`), except where one column holds
        the whole event (legacy AzureDiagnostics keeps the audit event in `log_s`; its other
        columns describe the resource, not the event)."""
        source = source_for_table(state.processing_state.get(QUERY_TABLE))
        return (source.keyword_column if source else None) or "*"

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> str:
        return f"{self._keyword_scope(state)} contains {kql.string_literal(str(cond.value))}"

    def convert_condition_val_re(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            "a regular expression as a keyword (no field) cannot be expressed in KQL; bind it to a field"
        )

    # ---- numbers, null, exists, compare -------------------------------------------------------
    def _refuse_datetime(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        kind = self._column_type(cond.field, state)
        if kind == "datetime":
            raise SigmaFeatureNotSupportedByBackendError(
                f"a number compared with the datetime column {cond.field} has no meaning in KQL; "
                "compare it with a string value, or leave time windows to the analytics rule's query period"
            )
        return kind

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"timestamp-part modifiers (|minute, |hour, ...) on {cond.field} are not supported by the "
            "sentinel target"
        )

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        kind = self._refuse_datetime(cond, state)
        field_expr = self.escape_and_quote_field(cond.field)
        if kind in _NUMERIC_TYPES:
            return null_safe(cond, f"{field_expr} == {cond.value}")
        if kind == "dynamic":
            return null_safe(cond, f"{as_number(field_expr, cond.value.number)} == {cond.value}")
        return f"{field_expr} == {kql.string_literal(str(cond.value))}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """A boolean matches a JSON boolean and its string spelling, case-insensitively."""
        word = "true" if cond.value.boolean else "false"
        return f"{self._string_operand(cond.field, state)} =~ {kql.string_literal(word)}"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCompareExpression = cond.value
        kind = self._refuse_datetime(cond, state)
        field_expr = self.escape_and_quote_field(cond.field)
        if kind not in _NUMERIC_TYPES:
            field_expr = as_number(field_expr, value.number.number)
        return null_safe(cond, f"{field_expr} {self.compare_operators[value.op]} {value.number}")

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        if cond.field.startswith("parse_json(") and kql.is_member_access(cond.field):
            return f'gettype({cond.field}) == "null"'  # a JSON-text member: absent or JSON null, not ""
        return f"isempty({self._string_operand(cond.field, state)})"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """A dynamic member: present in its bag, whatever its value ("" and JSON null included).
        A column: non-empty (Log Analytics stores an absent string as "", and no column is absent)."""
        if kql.is_member_access(cond.field):
            return null_safe(cond, kql.has_member(cond.field))
        return f"isnotempty({self._string_operand(cond.field, state)})"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        if kql.is_member_access(cond.field):
            return f"not({null_safe_always(kql.has_member(cond.field))})"
        return f"isempty({self._string_operand(cond.field, state)})"

    # ---- regex, cidr, field references --------------------------------------------------------
    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaRegularExpression = cond.value
        flags = "".join(sorted(_RE_FLAGS[flag] for flag in value.flags))
        pattern = (f"(?{flags})" if flags else "") + value.to_plain()
        return f"{self._string_operand(cond.field, state)} matches regex {kql.string_literal(pattern)}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCIDRExpression = cond.value
        network = value.network
        function = "ipv6_is_in_range" if network.version == 6 else "ipv4_is_in_range"
        test = f"{function}({self._string_operand(cond.field, state)}, {kql.string_literal(str(network))})"
        return null_safe(cond, test)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaFieldReference = cond.value
        left = self._string_operand(cond.field, state)
        right = self._string_operand(value.field, state)
        # An absent referenced field reads as "", which every string contains: require a value.
        # starts_with: the field's value starts with the referenced field's value
        kind = (
            "contains"
            if value.starts_with and value.ends_with
            else "startswith"
            if value.starts_with
            else "endswith"
            if value.ends_with
            else "eq"
        )
        return f"(isnotempty({right}) and {left} {_OPERATORS[(kind, False)]} {right})"

    # ---- correlation rules ---------------------------------------------------------------------
    def convert_correlation_rule_from_template(
        self, rule: Any, correlation_type: str, method: str
    ) -> list[str]:
        from .correlation import correlation_query

        return [correlation_query(rule, self.last_processing_pipeline.state)]

    # ---- output --------------------------------------------------------------------------------
    def finalize_query(
        self, rule: Any, query: Any, index: int, state: ConversionState, output_format: str
    ) -> Any:
        """The pipeline's postprocessing writes the table first; then the format wraps the query."""
        chosen = output_format_named(output_format)
        if chosen is None or chosen.name != output_format:
            return super().finalize_query(rule, query, index, state, output_format)
        if isinstance(rule, SigmaCorrelationRule):
            return self._correlation_analytics(rule, query, state, output_format)
        kql_text = self.last_processing_pipeline.postprocess_query(rule, query)
        if rule._backreferences:  # a correlation reads this rule's events
            from .correlation import BASE_QUERY

            state.processing_state[BASE_QUERY] = kql_text
            if not rule._output:
                return kql_text
        if chosen.analytics:
            return self._analytics(rule, kql_text, state, output_format)
        if isinstance(kql_text, str) and len(kql_text) > MAX_QUERY_LENGTH:
            warnings.warn(
                f"{rule_label(rule)}: the query is {len(kql_text)} characters, more than the "
                f"{MAX_QUERY_LENGTH} a Sentinel analytics rule accepts (Logs runs it); split the rule or "
                "shorten its value lists",
                QueryTooLongWarning,
                stacklevel=2,
            )
        return kql_text

    def finalize(self, queries: list[Any], output_format: str) -> Any:
        """The documents of all rules as one output, per format (see analytics.FORMATS)."""
        chosen = output_format_named(output_format)
        if chosen is None or not chosen.analytics:
            return super().finalize(queries, output_format)
        from .analytics import combine_output

        return self.last_processing_pipeline.finalize(combine_output(queries, output_format))

    def _analytics(self, rule: Any, query: str, state: ConversionState, output_format: str) -> Any:
        from .analytics import render_rule  # the wrapper is only loaded when asked for

        table = state.processing_state.get(QUERY_TABLE)
        notes = state.processing_state.get(NOTES, ())
        union = union_tables(table, state.processing_state.get(CLAIMED_BY))
        try:
            return render_rule(rule, query, table, output_format, self.backend_options, notes, union)
        except ValueError as error:
            raise SigmaFeatureNotSupportedByBackendError(f"{rule_label(rule)}: {error}") from error

    def _correlation_analytics(
        self, rule: Any, query: str, state: ConversionState, output_format: str
    ) -> Any:
        """A correlation rule's KQL as it is (`default`), or a scheduled analytics rule around it."""
        if output_format == "default":
            return query
        from .analytics.correlation import render_correlation_rule
        from .correlation import PLAN

        try:
            return render_correlation_rule(state.processing_state[PLAN], output_format, self.backend_options)
        except ValueError as error:
            raise SigmaFeatureNotSupportedByBackendError(f"{rule_label(rule)}: {error}") from error

    def finalize_output_default(self, queries: list[Any]) -> Any:
        return queries


_NUMERIC_TYPES = frozenset({"int", "long", "real", "decimal"})
MAX_QUERY_LENGTH = 10_000  # Sentinel's limit for an analytics rule's query
# Integers below this magnitude are exact as reals (every smaller integer is a double); from here
# on, toreal() rounds (2^53 + 1 reads as 2^53) and values are compared as longs.
class QueryTooLongWarning(RuleWarning):
    """A plain KQL query longer than a Sentinel analytics rule accepts."""
