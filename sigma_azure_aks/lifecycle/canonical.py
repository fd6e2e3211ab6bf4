"""The canonical form of an alert rule's deployable properties, and its content hashes.

Two renderings of the same rule give the same hash whatever their formatting, key order or the
way the service writes its values back:

- only the properties the export writes are compared (`kind` and the keys of `properties` in the
  rule's ARM resource); read-only or service-added properties (`lastModifiedUtc`, `etag`,
  `alertRuleTemplateName`, ...) are outside the hash;
- a value that is null, an empty string, an empty list or an empty object is the same as absent,
  at every depth;
- durations compare by length (`PT24H` is `P1D`);
- `tactics`, `techniques` and `subTechniques` compare as sets; other lists keep their order;
- the query compares with `\\r\\n` read as `\\n` and without leading or trailing white space;
- JSON text: sorted keys, no spaces, UTF-8 (`json.dumps(..., sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)`), hashed with SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

HASH_ALGORITHM = "sha256"
PROPERTY_HASH_LENGTH = 16  # hex digits of a property's hash: enough to name what differs
DURATION_KEYS = frozenset({"queryFrequency", "queryPeriod", "suppressionDuration", "lookbackDuration"})
UNORDERED_KEYS = frozenset({"tactics", "techniques", "subTechniques"})
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE
)


def duration_seconds(text: str) -> float | None:
    """An ISO 8601 duration (days, hours, minutes, seconds) in seconds; None if it is none."""
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in {"P", "PT"}:
        return None
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def canonical(value: Any, key: str | None = None) -> Any:
    """`value` in canonical form (see the module); None when it is empty."""
    if isinstance(value, Mapping):
        items = ((str(k), canonical(v, str(k))) for k, v in value.items())
        result: Any = {k: v for k, v in sorted(items) if not _empty(v)}
    elif isinstance(value, list | tuple):
        kept = [item for item in (canonical(element) for element in value) if not _empty(item)]
        result = sorted(kept, key=canonical_json) if key in UNORDERED_KEYS else kept
    elif isinstance(value, str) and key in DURATION_KEYS:
        seconds = duration_seconds(value)
        result = value if seconds is None else f"{seconds:g}s"
    elif isinstance(value, str) and key == "query":
        result = value.replace("\r\n", "\n").strip()
    else:
        result = value
    return None if _empty(result) else result


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def content(kind: str, properties: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The canonical deployable content: `kind` and each of `keys` (None where empty or absent)."""
    return {
        "kind": kind,
        "properties": {key: canonical(properties.get(key), key) for key in sorted(set(keys))},
    }


def content_hash(kind: str, properties: Mapping[str, Any], keys: Iterable[str]) -> str:
    """`sha256:<hex>` over :func:`content`."""
    return f"{HASH_ALGORITHM}:{_sha256(content(kind, properties, keys))}"


def property_hashes(properties: Mapping[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """Per property of `keys`, the first hex digits of the SHA-256 of its canonical value (an empty
    or absent one hashes as `null`): what tells which properties differ."""
    return {
        key: _sha256(canonical(properties.get(key), key))[:PROPERTY_HASH_LENGTH] for key in sorted(set(keys))
    }


def differing(one: Mapping[str, str], other: Mapping[str, str]) -> tuple[str, ...]:
    """The properties whose hashes differ between two :func:`property_hashes` (a key only one has
    counts), in name order."""
    return tuple(sorted(key for key in set(one) | set(other) if one.get(key) != other.get(key)))
