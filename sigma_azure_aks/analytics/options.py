"""Scheduling and alerting settings: the defaults, and how they are overridden.

Globally through backend options (`sigma convert -O query_frequency=30m`, values are strings) and per
rule through a top-level `sentinel:` mapping in the Sigma rule (typed YAML values). Per rule wins.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..notices import RuleWarning, emit
from . import sentinel_facts as facts

RULE_ATTRIBUTE = "sentinel"


@dataclass(frozen=True)
class Settings:
    """Every overridable setting; durations in minutes. The defaults are documented in docs/formats.md."""

    kind: str = facts.RULE_KIND  # Scheduled, or NRT (near-real-time: no schedule of its own)
    query_frequency: int = 60
    query_period: int | None = None  # None: follows query_frequency (+ INGESTION_MARGIN), see `schedule`
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

# Minutes an event may reach the workspace after its TimeGenerated and still alert (once): the
# look-back is the run interval plus this margin, and the rule's query keeps only the rows ingested
# since the previous run (`ingestion_time() > ago(<frequency>)`), Microsoft's answer to ingestion delay
# ("Handle ingestion delay in scheduled analytics rules", learn.microsoft.com/azure/sentinel/ingestion-delay).
# Azure activity, Entra ID and Office logs usually arrive within minutes, sometimes 20 minutes or
# more; an event later than this is missed (never reported twice). Widen it with `query_period`.
INGESTION_MARGIN = 30

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


def human_duration(minutes: int) -> str:
    """Minutes for a message: `90m`, `1h`, `13d23h30m` (the largest units, no zero parts)."""
    if minutes % 1440 == 0 or minutes % 60 == 0 or minutes < 60:
        return yaml_duration(minutes)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)


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
    if key == "kind":
        return _parse_choice(value, key, facts.RULE_KINDS)
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


def unknown_option_message(key: object, source: str = "backend option") -> str:
    """One line for a key that is no analytics-rule setting: the key and the closest setting (the
    settings are listed in docs/formats.md), or the known settings when none is close."""
    name = str(key).strip().lower().replace("-", "_")
    close = difflib.get_close_matches(name, OPTION_KEYS, n=1)
    if close:
        return f"{source} '{key}' is not an analytics-rule setting; did you mean '{close[0]}'? {SETTINGS_PAGE}"
    return f"{source} '{key}' is not an analytics-rule setting; known: {', '.join(OPTION_KEYS)}"


SETTINGS_PAGE = "(docs/formats.md lists the settings)"


def unknown_option_keys(values: Mapping[str, Any]) -> list[str]:
    """The keys of `values` that are no analytics-rule setting (spelt with `-` or any case)."""
    return [str(key) for key in values if str(key).strip().lower().replace("-", "_") not in OPTION_KEYS]


class SentinelOptionWarning(RuleWarning):
    """A backend option (`-O KEY=VALUE`) that is no analytics-rule setting: the line shown before
    sigma-cli's own refusal, which names only the key."""


def _overrides(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    parsed = {}
    for key, value in values.items():
        name = str(key).strip().lower().replace("-", "_")
        if name not in OPTION_KEYS:
            raise ValueError(unknown_option_message(key, source))
        try:
            parsed[name] = _parse_value(name, value)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
    return parsed


def settings_for(rule: Any, backend_options: Mapping[str, Any] | None) -> Settings:
    """Defaults, then backend options, then the rule's own `sentinel:` mapping; a key that is no
    setting is a ValueError (the backend refuses such `-O` keys when it is built)."""
    settings = replace(Settings(), **_overrides(backend_options or {}, "backend option"))
    custom = (getattr(rule, "custom_attributes", None) or {}).get(RULE_ATTRIBUTE)
    if custom is not None:
        if not isinstance(custom, Mapping):
            raise ValueError(f"the rule's `{RULE_ATTRIBUTE}:` attribute must be a mapping of settings")
        settings = replace(settings, **_overrides(custom, f"rule attribute `{RULE_ATTRIBUTE}:`"))
    return settings


def schedule(settings: Settings) -> Settings:
    """The schedule of a single-event rule: `query_period` follows `query_frequency` (+ the ingestion
    margin) unless given; a pair Sentinel would refuse or that would miss events between runs is one
    ValueError naming both settings."""
    if settings.kind == facts.NRT_KIND:
        return _check_nrt(settings)
    frequency = settings.query_frequency
    low, high = facts.QUERY_DURATION_RANGE
    if not low <= frequency <= high:
        raise ValueError(
            f"query_frequency {human_duration(frequency)} is outside Sentinel's {human_duration(low)} to "
            f"{human_duration(high)}"
        )
    if settings.query_period is None:
        period = frequency + INGESTION_MARGIN
        if period > high:
            raise ValueError(
                f"query_frequency {human_duration(frequency)} leaves no room for query_period: it follows "
                f"query_frequency + {INGESTION_MARGIN}m ingestion margin ({human_duration(period)}), beyond "
                f"Sentinel's {human_duration(high)}; run at most every {human_duration(high - INGESTION_MARGIN)}, "
                f"or give query_period (at most {human_duration(high)}; the margin is query_period - query_frequency)"
            )
        return _check_pair(replace(settings, query_period=period), given=False)
    return _check_pair(settings, given=True)


def schedule_without_look_back(settings: Settings) -> Settings:
    """The schedule of a format whose rule carries no look-back (a Defender custom detection: Defender
    sets the look-back from the frequency, at least the frequency). An NRT rule is checked as by
    `schedule`; otherwise no query_period is derived (a given one stays, for the format to refuse), so
    no Sentinel look-back limit applies, and the format checks the frequencies it runs."""
    return _check_nrt(settings) if settings.kind == facts.NRT_KIND else settings


def _check_pair(settings: Settings, given: bool) -> Settings:
    frequency, period = settings.query_frequency, settings.query_period
    assert period is not None
    low, high = facts.QUERY_DURATION_RANGE
    how = "" if given else f" (it follows query_frequency + {INGESTION_MARGIN}m)"
    if period < frequency:
        raise ValueError(
            f"query_period {human_duration(period)} is shorter than query_frequency {human_duration(frequency)}: "
            "events between runs would never be read; give query_period at least query_frequency, or leave it "
            f"out (it follows query_frequency + {INGESTION_MARGIN}m)"
        )
    if not low <= period <= high:
        raise ValueError(
            f"query_period {human_duration(period)}{how} is outside Sentinel's {human_duration(low)} to "
            f"{human_duration(high)} (query_frequency {human_duration(frequency)})"
        )
    if period >= facts.LONG_PERIOD and frequency < facts.LONG_PERIOD_MIN_FREQUENCY:
        raise ValueError(
            f"query_period {human_duration(period)}{how} with query_frequency {human_duration(frequency)}: Sentinel "
            f"runs a rule reading {human_duration(facts.LONG_PERIOD)} or more at most every "
            f"{human_duration(facts.LONG_PERIOD_MIN_FREQUENCY)}; raise query_frequency or shorten query_period"
        )
    return settings


def _check_nrt(settings: Settings) -> Settings:
    """An NRT rule has no schedule and no trigger: settings for them contradict `kind: NRT`."""
    default = Settings()
    given = [
        name
        for name in ("query_frequency", "query_period", "trigger_operator", "trigger_threshold")
        if getattr(settings, name) != getattr(default, name)
    ]
    if given:
        raise ValueError(
            f"kind NRT with {', '.join(given)}: a near-real-time rule runs every minute over the newly "
            "ingested rows and alerts on every result, with no schedule or trigger; leave "
            f"{'it' if len(given) == 1 else 'them'} out, or use kind Scheduled"
        )
    return settings


def ingestion_bound(settings: Settings) -> str:
    """The query line that keeps only the rows ingested since the previous run, so that runs tile
    ingestion time and an event alerts in exactly one run (the look-back covers its delay)."""
    return f"| where ingestion_time() > ago({yaml_duration(settings.query_frequency)})"


def refuse_unknown_options(backend_options: dict[str, Any]) -> None:
    """Every backend option (`-O KEY=VALUE`) is an analytics-rule setting; another key is refused, as a
    TypeError naming it first (sigma-cli turns that into a usage error naming the key), after a warning
    line with the nearest setting and the known ones."""
    unknown = unknown_option_keys(backend_options)
    if not unknown:
        return
    for key in unknown:
        emit(SentinelOptionWarning(unknown_option_message(key)))
    raise TypeError(f"'{unknown[0]}' " + unknown_option_message(unknown[0]).split(" ", 3)[3])
