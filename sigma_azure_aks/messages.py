"""pySigma's rule-loading errors in a user's words, on one line.

* ``Modifier SigmaContainsModifier incompatible to value type of '5'`` names a class and no field:
  it becomes ``field 'caller': the modifier |contains does not apply to the number 5 ...``, the
  field and the value found in the rule's own text.
* An invalid regular expression under pySigma 2 (google-re2) reads ``... is invalid: b'missing ):
  (('`` and RE2 writes its own log line (``E0000 ... re2.cc:242] Error parsing ...``) straight to
  the process's stderr: the bytes are decoded, and :func:`quiet_native_stderr` drops that line.

And the words of our own errors that more than one layer writes: the nearest names of a misspelt one
(:func:`did_you_mean`), the unknown field's line (:func:`unknown_field_line`), and an error that says
more under ``--verbose`` (:class:`DetailedError`).
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from sigma.exceptions import SigmaTransformationError

_MISMATCH = re.compile(r"Modifier (?P<cls>\w+) incompatible to value type of '(?P<value>.*)'", re.S)
# RE2's reason, which pySigma 2 writes as a bytes literal after the pattern: `... is invalid: b'...'`
# (only there: a rule's own pattern may hold `b'`, and is kept as written).
_RE2_REASON = re.compile(r"""(?P<head> is invalid: )b(?P<literal>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
# A failure is one line: a rule's own field name or value may hold a line break (a quoted YAML key).
_LINE_BREAK = re.compile(r"[ \t]*[\r\n]+[ \t]*")
# How pySigma prints a `null` value in its messages (an object's default repr: its address varies).
_NULL_SHOWN = re.compile(r"<sigma\.types\.SigmaNull object at 0x[0-9a-fA-F]+>")
_RE2_LOG = re.compile(
    rb"^(?:[EWIF]\d{4} [^\n]*\bre2\.cc:\d+\][^\n]*"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)\n?",
    re.M,
)


def _modifier_names() -> dict[str, str]:
    from sigma.modifiers import modifier_mapping

    return {cls.__name__: name for name, cls in modifier_mapping.items()}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "null"
    return f"the value '{value}'"


def _printed_as(item: Any, shown: str) -> bool:
    """True when pySigma prints the rule's YAML value `item` as `shown` (a number as its SigmaNumber:
    5.0 as 5; null as the SigmaNull object)."""
    if item is None:
        return bool(_NULL_SHOWN.fullmatch(shown))
    if isinstance(item, float) and not isinstance(item, bool):
        try:
            return float(shown) == item
        except ValueError:
            return False
    return str(item) == shown


def _find_item(rule_text: str, modifier: str, shown: str) -> tuple[str, Any] | None:
    """(field, value) of the detection item using `modifier` whose value prints as `shown`."""
    try:
        documents = [d for d in yaml.safe_load_all(rule_text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return None

    def walk(node: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and modifier in key.split("|")[1:]:
                    for item in value if isinstance(value, list) else [value]:
                        if _printed_as(item, shown):
                            yield key.split("|")[0], item
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for document in documents:
        for found in walk(document.get("detection")):
            return found
    return None


def plain_message(text: str, rule_text: str | None = None) -> str:
    """An error message of pySigma as a user reads it, on one line (see the module docstring)."""
    match = _MISMATCH.search(text)
    if match:
        modifier = _modifier_names().get(match["cls"], match["cls"])
        found = _find_item(rule_text, modifier, match["value"]) if rule_text else None
        shown = match["value"]
        field, value = found if found else (None, None if _NULL_SHOWN.fullmatch(shown) else shown)
        where = f"field '{field}': " if field else ""
        hint = (
            f"null takes no modifier: write the field without |{modifier} (field: null)"
            if value is None
            else f"use a value of the type |{modifier} expects (quote a number to use it as text)"
        )
        text = f"{where}the modifier |{modifier} does not apply to {_describe(value)}; {hint}"
    return _LINE_BREAK.sub(" ", _RE2_REASON.sub(lambda m: m["head"] + _decoded(m["literal"]), text))


def _decoded(literal: str) -> str:
    try:
        value = ast.literal_eval("b" + literal)
    except (ValueError, SyntaxError):
        return literal
    return str(value.decode("utf-8", "replace"))


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Runs the block with the process's stderr (file descriptor 2) captured; afterwards writes
    back everything but RE2's own log lines (RE2 writes to descriptor 2, whatever sys.stderr is).
    A no-op where the process has no descriptor 2."""
    fd = 2
    sys.stderr.flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            rest = _RE2_LOG.sub(b"", captured.read())
            if rest:
                os.write(fd, rest)


# ---- our own errors ------------------------------------------------------------------------------

# Where a user reads every table's columns (the generated sources page).
COLUMNS_PAGE = "docs/sources.md"


class DetailedError(SigmaTransformationError):
    """An error whose ``str()`` is one line; `details` says more (a list of every accepted name),
    shown by `sigma-azure-aks` under ``--verbose``."""

    def __init__(self, line: str, details: str = "") -> None:
        super().__init__(line)
        self.details = details


# How alike (difflib's ratio) a name must be to be suggested: `callerName` -> `caller` (0.75) is; `Image`
# -> `time` (0.67) is not.
NEAR = 0.75


def nearest_names(name: str, candidates: Iterable[str], count: int = 3) -> list[str]:
    """The candidates nearest to `name` (difflib's ratio, ignoring case), best first, each spelling once."""
    spelled: dict[str, str] = {}
    for candidate in candidates:
        spelled.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(name.lower(), list(spelled), n=count, cutoff=NEAR)
    return [spelled[folded] for folded in found]


def did_you_mean(names: Iterable[str]) -> str:
    """`did you mean 'a' or 'b'?` for the nearest names found, or "" when there are none."""
    shown = [repr(name) for name in names]
    return f"did you mean {' or '.join(shown)}?" if shown else ""


def no_column_text(table: str, nearest: Iterable[str], reason: str = "") -> str:
    """What follows a field's name when `table` has no column for it: why (`reason`), the nearest
    accepted names, and where the columns are listed."""
    why = f" ({reason})" if reason else ""
    suggestion = did_you_mean(nearest)
    return (
        f"has no {table} column{why}; {suggestion + ' ' if suggestion else ''}"
        f"{COLUMNS_PAGE} lists its columns; or map the field in your own pipeline"
    )


def unknown_field_line(field: str, table: str, nearest: Iterable[str], reason: str = "", how: str = "") -> str:
    """One line for a field with no column (:func:`no_column_text`); `how` names how the field is
    used (`referenced with |fieldref`)."""
    return f"field '{field}'{' ' + how if how else ''} {no_column_text(table, nearest, reason)}"


def field_list_details(table: str, supported: Iterable[str]) -> str:
    """The details of an unknown field: every name the table's pipeline accepts."""
    return f"{table} accepts: {', '.join(supported)}"
