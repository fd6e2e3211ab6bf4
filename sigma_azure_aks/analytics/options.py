"""Scheduling and alerting settings: the defaults, and how they are overridden.

Globally through backend options (`sigma convert -O query_frequency=30m`, values are strings) and per
rule through a top-level `sentinel:` mapping in the Sigma rule (typed YAML values). Per rule wins.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..notices import RuleWarning, emit
from . import sentinel_facts as facts

RULE_ATTRIBUTE = "sentinel"


@dataclass(frozen=True)
class Settings:
    """Every overridable setting; durations in minutes. The defaults are documented in docs/formats.md."""

    query_frequency: int = 60
    query_period: int = 90  # 30 minutes overlap for activity-log ingestion latency
    trigger_operator: str = "GreaterThan"
    trigger_threshold: int = 0
    suppression_enabled: bool = False
    suppression_duration: int = 5 * 60
    event_grouping: str = "AlertPerResult"
    create_incident: bool = True
    grouping_enabled: bool = True
    grouping_matching: str = "AllEntities"
    grouping_lookback: int = 5 * 60
    reopen_closed_incident: bool = False
    severity: str | None = None  # None: from the Sigma level
    enabled: bool | None = None  # None: from the Sigma status
    version: str = "1.0.0"


OPTION_KEYS = tuple(f.name for f in fields(Settings))
DURATION_KEYS = frozenset({"query_frequency", "query_period", "suppression_duration", "grouping_lookback"})
BOOL_KEYS = frozenset(
    {"suppression_enabled", "create_incident", "grouping_enabled", "reopen_closed_incident", "enabled"}
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def parse_duration(value: Any, key: str) -> int:
    """`30m`, `1h`, `1h30m`, `2d` or ISO 8601 `PT30M`/`P1D` -> minutes."""
    text = str(value).strip()
    match = _DURATION.fullmatch(text.lower()) or _ISO_DURATION.fullmatch(text.upper())
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"{key}: {value!r} is not a duration; write e.g. 30m, 1h, 1h30m, 2d or PT1H")
    days, hours, minutes = (int(group or 0) for group in match.groups())
    return days * 1440 + hours * 60 + minutes


def yaml_duration(minutes: int) -> str:
    """Minutes in the Azure-Sentinel YAML form: `<int>d`, `<int>h` or `<int>m`."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def iso_duration(minutes: int) -> str:
    """Minutes as an ISO 8601 duration: PT5M, PT1H30M, P1D, P1DT2H."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "on"}:
        return True
    if text in {"false", "no", "0", "off"}:
        return False
    raise ValueError(f"{key}: {value!r} is not true or false")


def _parse_choice(value: Any, key: str, choices: tuple[str, ...], aliases: Mapping[str, str] = {}) -> str:
    text = str(value).strip()
    lowered = {choice.lower(): choice for choice in choices}
    lowered.update({alias.lower(): target for alias, target in aliases.items()})
    if text.lower() not in lowered:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    return lowered[text.lower()]


def _parse_value(key: str, value: Any) -> Any:
    if key in DURATION_KEYS:
        return parse_duration(value, key)
    if key in BOOL_KEYS:
        return _parse_bool(value, key)
    if key == "trigger_threshold":
        if isinstance(value, bool) or not re.fullmatch(r"\d+", str(value).strip()):
            raise ValueError(f"trigger_threshold: {value!r} is not a whole number")
        return int(str(value).strip())
    if key == "trigger_operator":
        return _parse_choice(value, key, tuple(facts.TRIGGER_OPERATORS.values()), facts.TRIGGER_OPERATORS)
    if key == "event_grouping":
        return _parse_choice(value, key, facts.EVENT_GROUPING_KINDS)
    if key == "grouping_matching":
        # `Selected` needs lists of what to group by, which these settings do not carry.
        return _parse_choice(value, key, ("AllEntities", "AnyAlert"))
    if key == "severity":
        return _parse_choice(value, key, facts.SEVERITIES, facts.SEVERITY_BY_SIGMA_LEVEL)
    if key == "version":
        text = str(value).strip()
        if not facts.VERSION_PATTERN.fullmatch(text) or len(text) > facts.VERSION_MAX:
            raise ValueError(f"version: {value!r} is not a version like 1.0.0")
        return text
    raise AssertionError(key)


def _overrides(values: Mapping[str, Any], source: str, strict: bool) -> dict[str, Any]:
    parsed = {}
    for key, value in values.items():
        name = str(key).strip().lower().replace("-", "_")
        if name not in OPTION_KEYS:
            message = f"{source}: unknown analytics-rule setting {key!r}; known: {', '.join(OPTION_KEYS)}"
            if strict:
                raise ValueError(message)
            warnings.warn(message, stacklevel=3)
            continue
        try:
            parsed[name] = _parse_value(name, value)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
    return parsed


class SentinelOptionWarning(RuleWarning):
    """A backend option (`-O KEY=VALUE`) that is no analytics-rule setting."""


_SHOWN: dict[object, object] = {}  # each unknown key once per run, not once per rule


def unknown_option_message(key: object) -> str:
    """One line for a backend option that is no analytics-rule setting: the closest setting, if any."""
    name = str(key).strip().lower().replace("-", "_")
    close = difflib.get_close_matches(name, OPTION_KEYS, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "the settings are listed in docs/formats.md"
    return f"backend option '{key}' is not an analytics-rule setting, ignored; {hint}"


def settings_for(rule: Any, backend_options: Mapping[str, Any] | None) -> Settings:
    """Defaults, then backend options, then the rule's own `sentinel:` mapping."""
    settings = Settings()
    # Backend options are shared with the rest of the backend: keys that are not ours are left alone,
    # with a warning, so that a misspelt `-O query_freqency=30m` does not pass unnoticed.
    ours = {}
    for key, value in (backend_options or {}).items():
        if str(key).lower().replace("-", "_") in OPTION_KEYS:
            ours[key] = value
        else:
            emit(SentinelOptionWarning(unknown_option_message(key)), _SHOWN)
    settings = replace(settings, **_overrides(ours, "backend option", strict=True))
    custom = (getattr(rule, "custom_attributes", None) or {}).get(RULE_ATTRIBUTE)
    if custom is not None:
        if not isinstance(custom, Mapping):
            raise ValueError(f"the rule's `{RULE_ATTRIBUTE}:` attribute must be a mapping of settings")
        settings = replace(settings, **_overrides(custom, f"rule attribute `{RULE_ATTRIBUTE}:`", strict=True))
    return settings
