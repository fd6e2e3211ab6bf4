"""Validation: check queries with Microsoft's own KQL parser, offline (`sigma-azure-aks validate`).

Sigma rules (``.yml``/``.yaml`` files or folders of them) are converted with the sentinel target and
every query is checked by Kusto.Language (started once for the whole run, in the embedded engine or
in node: :mod:`sigma_azure_aks.kql_parser.checker`) against the table
schemas of :mod:`sigma_azure_aks.sources`; ``.kql`` files are checked as they are. Regular expressions
after ``matches regex`` are also compiled with RE2 (Kusto's regex engine) where the ``re2`` module
(google-re2) is installed.

Each problem is one line ``FILE:LINE:COL: CODE message``; for a converted rule the message names the
rule id and LINE:COL point into the query. A rule that fails to convert is a problem too
(``SIGMA``, at 1:1 of its file), and so is a query longer than a Sentinel analytics rule allows
(``LENGTH``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from .batch import (
    RULE_SUFFIXES,
    ConvertedRule,
    RuleFailure,
    convert_rule,
    load_files,
    one_line,
    resolve_pipelines,
    rule_files,
)
from .kql_parser.checker import KqlChecker
from .notices import details_of

KQL_SUFFIXES = (".kql",)
CONVERSION_CODE = "SIGMA"
"""Code of a rule that could not be converted."""
REGEX_CODE = "RE2"
"""Code of a `matches regex` pattern that RE2 rejects."""
LENGTH_CODE = "LENGTH"
"""Code of a query longer than a Sentinel analytics rule allows."""
READ_CODE = "READ"
"""Code of a .kql file that cannot be read."""


@dataclass(frozen=True)
class Problem:
    """One finding: where (file, and line/column in the query or file), what (code, message)."""

    file: str
    line: int
    column: int
    code: str
    message: str
    severity: str = "Error"
    rule_id: str | None = None
    details: str = ""
    """More about a warning (which values, why), shown by `validate --verbose`."""

    @property
    def is_error(self) -> bool:
        return self.severity == "Error"

    def __str__(self) -> str:
        severity = "" if self.is_error else f"{self.severity.lower()}: "
        return f"{self.file}:{self.line}:{self.column}: {self.code} {severity}{self.message}"


@dataclass
class ValidationReport:
    """Everything one validation run found."""

    problems: list[Problem] = field(default_factory=list)
    queries_checked: int = 0
    queries_with_errors: int = 0
    conversion_failures: int = 0
    regex_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = f"{self.queries_checked} queries checked, {self.queries_with_errors} with errors"
        if self.conversion_failures:
            text += f", {self.conversion_failures} rules failed to convert"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "queries_checked": self.queries_checked,
            "queries_with_errors": self.queries_with_errors,
            "conversion_failures": self.conversion_failures,
            "regex_checked": self.regex_checked,
            "notes": list(self.notes),
            "problems": [asdict(p) for p in self.problems],
        }


# ---- regular expressions ------------------------------------------------------------------------

try:  # google-re2: pySigma 2 depends on it; optional here
    import re2 as _re2
except ImportError:  # pragma: no cover - depends on the environment
    _re2 = None

RE2_NOTE = "regular expressions not checked: install google-re2 (module re2) to check them with RE2"


def re2_available() -> bool:
    return _re2 is not None


def re2_error(pattern: str) -> str | None:
    """Why RE2 rejects `pattern`, or None when it compiles (or RE2 is not installed)."""
    if _re2 is None:
        return None
    options = _re2.Options()
    options.log_errors = False
    try:
        _re2.compile(pattern, options)
    except _re2.error as error:
        detail = error.args[0] if error.args else error
        return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    return None


# Boundaries of string literals (their values come from the parser), comments, and the operator
# that makes the next literal a regular expression.
_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\r\n]*)
  | (?P<literal>[hH]?(?:
        @"(?:[^"\r\n]|"")*"
      | @'(?:[^'\r\n]|'')*'
      | "(?:[^"\\\r\n]|\\.)*"
      | '(?:[^'\\\r\n]|\\.)*'
      | ```.*?```
      | ~~~.*?~~~
    ))
  | (?P<regex_op>\bmatches\s+regex\b)
    """,
    re.VERBOSE | re.DOTALL,
)


def _literal_tokens(query: str) -> list[tuple[int, bool]]:
    """(start offset, follows `matches regex`) for every string literal token, in order."""
    found: list[tuple[int, bool]] = []
    after_regex_op = False
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind == "regex_op":
            after_regex_op = True
        elif kind == "literal":
            found.append((match.start(), after_regex_op))
            after_regex_op = False
    return found


def max_query_length() -> int:
    """The longest query a Sentinel analytics rule accepts."""
    from .analytics.sentinel_facts import QUERY_LENGTH_RANGE

    return QUERY_LENGTH_RANGE[1]


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


# ---- the run ------------------------------------------------------------------------------------


class _Validator:
    def __init__(self, checker: KqlChecker, report: ValidationReport) -> None:
        self.checker = checker
        self.report = report

    def check_query(self, file: str, query: str, rule_id: str | None = None) -> None:
        analysis = self.checker.analyze(query)
        label = f"rule {rule_id}: " if rule_id else ""
        problems = [
            Problem(file, d.line, d.column, d.code, f"{label}{one_line(d.message)}", d.severity, rule_id)
            for d in analysis.diagnostics
        ]
        problems.extend(self._regex_problems(file, query, analysis.literals, label, rule_id))
        limit = max_query_length()
        if len(query) > limit:
            message = f"{label}query is {len(query)} characters; a Sentinel analytics rule allows {limit}"
            problems.append(Problem(file, 1, 1, LENGTH_CODE, message, rule_id=rule_id))
        self.report.queries_checked += 1
        if any(p.is_error for p in problems):
            self.report.queries_with_errors += 1
        self.report.problems.extend(problems)

    def _regex_problems(
        self, file: str, query: str, literals: list[str], label: str, rule_id: str | None
    ) -> list[Problem]:
        if not re2_available():
            return []
        tokens = _literal_tokens(query)
        if len(tokens) != len(literals):  # adjacent literals joined by Kusto: positions unknown
            return []
        problems = []
        for (offset, is_regex), value in zip(tokens, literals, strict=True):
            reason = re2_error(value) if is_regex else None
            if reason is not None:
                line, column = _line_column(query, offset)
                problems.append(
                    Problem(
                        file,
                        line,
                        column,
                        REGEX_CODE,
                        f"{label}invalid regular expression: {reason}",
                        rule_id=rule_id,
                    )
                )
        return problems

    def failure(self, failure: RuleFailure) -> None:
        self.report.conversion_failures += 1
        named = failure.rule_id and failure.rule_id not in failure.reason
        label = f"rule {failure.rule_id}: " if named else ""
        self.report.problems.append(
            Problem(
                str(failure.path),
                1,
                1,
                CONVERSION_CODE,
                f"{label}{failure.reason}",
                rule_id=failure.rule_id or None,
            )
        )

    def conversion_warning(self, path: Path, rule: SigmaRule, message: Warning | str) -> None:
        rule_id = str(rule.id or "") or None
        text = one_line(str(message))
        label = f"rule {rule_id}: " if rule_id and rule_id not in text else ""
        problem = Problem(
            str(path), 1, 1, CONVERSION_CODE, f"{label}{text}", "Warning", rule_id, details_of(message)
        )
        if problem not in self.report.problems:
            self.report.problems.append(problem)

    def kql_file(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = "not a UTF-8 text file" if isinstance(error, UnicodeDecodeError) else str(error)
            self.report.problems.append(Problem(str(path), 1, 1, READ_CODE, f"cannot read query: {reason}"))
            self.report.queries_with_errors += 1
            return
        if not text.strip():
            self.report.problems.append(Problem(str(path), 1, 1, READ_CODE, "empty file, no query"))
            self.report.queries_with_errors += 1
            return
        self.check_query(str(path), text)


def _distinct(failures: list[RuleFailure]) -> list[RuleFailure]:
    """pySigma reports a rule's error both for the file and for the rule: keep the one with the id."""
    with_id = {f.reason for f in failures if f.rule_id}
    seen: set[tuple[str, str | None]] = set()
    kept = []
    for failure in failures:
        key = (failure.reason, failure.rule_id)
        if (not failure.rule_id and failure.reason in with_id) or key in seen:
            continue
        seen.add(key)
        kept.append(failure)
    return kept


def validate_paths(
    paths: Iterable[str | Path],
    pipeline: ProcessingPipeline | str | Iterable[str] | None = None,
    *,
    checker: KqlChecker | None = None,
    backend_options: dict[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> ValidationReport:
    """Convert the rules and check every query (and every ``.kql`` file) with Kusto's parser.

    `pipeline`: a ProcessingPipeline, or names as `-p` takes them (default: what `-t sentinel` applies).
    `checker`: reuse a running :class:`KqlChecker`; otherwise one is started and stopped here.
    Raises :class:`KqlParserUnavailable` when node or the npm package is missing.
    """
    from .backend import QueryTooLongWarning, SentinelBackend

    if isinstance(pipeline, str):
        pipeline = resolve_pipelines([pipeline])
    elif pipeline is not None and not isinstance(pipeline, ProcessingPipeline):
        pipeline = resolve_pipelines(pipeline)
    files = rule_files(paths, RULE_SUFFIXES + KQL_SUFFIXES)
    report = ValidationReport(regex_checked=re2_available())
    if not report.regex_checked:
        report.notes.append(RE2_NOTE)
    own_checker = checker is None
    active = checker if checker is not None else KqlChecker()
    try:
        active.start()
        validator = _Validator(active, report)
        backend: SentinelBackend | None = None
        loaded = {
            item.path: item for item in load_files(p for p in files if p.suffix.lower() not in KQL_SUFFIXES)
        }
        for path in _correlated_order(files, loaded):
            if path.suffix.lower() in KQL_SUFFIXES:
                validator.kql_file(path)
            else:
                if backend is None:
                    backend = SentinelBackend(pipeline, **(backend_options or {}))
                rules, failures = loaded[path].rules, loaded[path].failures
                for failure in _distinct(failures):
                    validator.failure(failure)
                for rule in sorted(rules):  # the rules a correlation reads first
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        result = convert_rule(backend, path, rule)
                    for warning in caught:
                        if not issubclass(warning.category, QueryTooLongWarning):  # LENGTH says it
                            validator.conversion_warning(path, rule, warning.message)
                    if isinstance(result, ConvertedRule):
                        validator.check_query(str(path), result.query, str(rule.id or "") or None)
                    elif result is not None:  # None: a rule only a correlation reads
                        validator.failure(result)
            if on_file is not None:
                on_file(path)
    finally:
        if own_checker:
            active.close()
    return report


def _correlated_order(files: list[Path], loaded: dict[Path, Any]) -> list[Path]:
    """The files in their order, except that a file whose rules a correlation reads comes before
    the correlation's file (pySigma's order: rules read by a correlation first)."""
    every = [rule for item in loaded.values() for rule in item.rules]
    if not any(getattr(rule, "_backreferences", None) for rule in every):
        return files
    rank = {id(rule): index for index, rule in enumerate(sorted(every))}
    last = {  # files without a correlation first, then by their last correlation
        path: max((rank[id(r)] for r in item.rules if not hasattr(r, "detection")), default=-1)
        for path, item in loaded.items()
    }
    return sorted(files, key=lambda path: last.get(path, -1))
