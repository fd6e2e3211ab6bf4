"""The shape of a log source: what one Log Analytics table is and how Sigma reaches it, as data.

A :class:`Source` holds every fact about one table: the Sigma log sources it serves, its columns
and their types, the columns that exist but must never be queried, the field map of every Sigma
dialect, value rules (spellings), what identifies and summarises a row in replay, where a keyword
search looks, the analytics-rule profile, and how a raw diagnostic record becomes a row. Each file
in this package declares its sources with these classes; :mod:`.registry` lists them, and the
pipelines, the target, the analytics rules, replay and the docs all read them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sigma.rule import SigmaLogSource

from .. import kql
from .features import BuiltPipeline, Feature
from .raw_records import RawRecordReader
from .shapes import Enumeration, Structure, ValueRoute, member_spelling, unresolved_member


# ---- field maps ---------------------------------------------------------------------------------
def camel(column: str) -> str:
    """The Event Hub (diagnostic record) spelling of a Log Analytics column: lower first letter."""
    return column[:1].lower() + column[1:]


@dataclass(frozen=True)
class FieldTarget:
    """Where a Sigma field lives in a table: a column, or a member path inside a dynamic column.

    `json_text` marks a string column that holds JSON and must be parsed before member access.
    """

    column: str
    path: tuple[str, ...] = ()
    json_text: bool = False

    @property
    def is_member(self) -> bool:
        return bool(self.path)

    def kql(self) -> str:
        """The KQL expression that reads this field (a column name or a member access)."""
        if not self.path:
            return self.column
        return kql.member_access(self.column, self.path, self.json_text)


@dataclass(frozen=True)
class PathPrefix:
    """Fields beginning with `prefix` map into `column`.

    The rest of the field name is split on dots into a member path, unless `whole_key` is set
    (claim names such as ``http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`` contain dots
    and are a single key). `base` is a fixed member path the rest goes under (``User.extra``).
    """

    prefix: str
    column: str
    whole_key: bool = False
    json_text: bool = False
    note: str = ""
    base: tuple[str, ...] = ()
    # Member paths (dotted, after the prefix) that hold arrays of objects: a field reaching into
    # their elements does not resolve (member access on an array is null in KQL, so such a query
    # would never match); `through_array` names the array for the error.
    arrays: tuple[str, ...] = ()

    def target(self, field_name: str, any_case: bool = False) -> FieldTarget | None:
        rest = self.rest(field_name, any_case)
        path = (rest,) if self.whole_key else tuple((rest or "").split("."))
        if not rest or any(segment == "" for segment in path) or self.through_array(field_name, any_case):
            return None
        return FieldTarget(self.column, self.base + path, self.json_text)

    def rest(self, field_name: str, any_case: bool = False) -> str | None:
        """The name after the prefix (compared ignoring case when `any_case`), or None."""
        head, rest = field_name[: len(self.prefix)], field_name[len(self.prefix) :]
        return rest if head == self.prefix or (any_case and head.lower() == self.prefix.lower()) else None

    def through_array(self, field_name: str, any_case: bool = False) -> str | None:
        """The array (as a Sigma field name) that `field_name` reaches into, or None. Its members are
        compared ignoring case: in another case they read the array or a member no event has, never
        an element's member."""
        rest = (self.rest(field_name, any_case) or "").lower()
        return next((self.prefix + a for a in self.arrays if rest.startswith(a.lower() + ".")), None)


@dataclass(frozen=True)
class FieldMap:
    """All Sigma field names one table accepts.

    `missing`: Sigma fields the table has no column for, with the reason (shown in errors and
    docs). `arrays`: targets (column, member path; "*" stands for any one key) that hold arrays
    of strings, where a Sigma value matches any element. `structures`, `routes`, `enumerations`:
    see those classes. `members`: the member paths of a dynamic column (dotted, every level;
    derived from the table reference and the samples), so that a member written in another case
    reads the real one at every level (member access is case-sensitive in KQL); a level that is
    not declared is read as written (see :meth:`unresolved_member`). `objects`: dynamic columns
    that hold one object (member paths read with member access). `opaque`: dynamic columns whose
    shape no reference documents, with the reason: a member path into them is refused.
    Every dynamic column of the table is one of: a structure, an object, an array of strings
    (`arrays` with the empty path) or opaque (:meth:`Source.problems` checks it).
    `any_case`: a field name that matches no name exactly resolves ignoring case.
    """

    table: str
    exact: Mapping[str, FieldTarget]
    prefixes: tuple[PathPrefix, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    arrays: frozenset[tuple[str, tuple[str, ...]]] = frozenset()
    structures: tuple[Structure, ...] = ()
    routes: tuple[ValueRoute, ...] = ()
    enumerations: tuple[Enumeration, ...] = ()
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    objects: frozenset[str] = frozenset()
    opaque: Mapping[str, str] = field(default_factory=dict)
    any_case: bool = False

    def resolve(self, field_name: str) -> FieldTarget | None:
        """The target of a Sigma field name, or None when the table has no such field."""
        target = self._resolve(field_name)
        if target is None and self.any_case:
            target = self._resolve(field_name, any_case=True)
        if target is not None and target.path and target.column in self.members:
            path, _ = self.member_spelling(target.column, target.path)
            target = FieldTarget(target.column, path, target.json_text)
        return target

    def member_spelling(self, column: str, path: tuple[str, ...]) -> tuple[tuple[str, ...], int | None]:
        """(the path with every declared level in its real spelling, the index of the first level
        that is not declared under its parent, or None when every level is)."""
        return member_spelling(self.members.get(column, ()), path)

    def unresolved_member(self, target: FieldTarget) -> str | None:
        """What is wrong with a member path into a column with declared members whose first
        undeclared level it names (None: every level is declared, or the column declares none)."""
        if not target.path or target.column not in self.members:
            return None
        return unresolved_member(self.members[target.column], target.column, target.path)

    @property
    def list_columns(self) -> frozenset[str]:
        """The dynamic columns that hold lists (arrays of objects, key/value pairs, arrays of
        strings): one row holds several values of each of their members."""
        return frozenset(
            {s.column for s in self.structures if s.kind in ("array", "pairs")}
            | {column for column, path in self.arrays if path == ()}
        )

    def declared_shape(self, column: str) -> str | None:
        """What a dynamic column holds as declared: array, pairs, object, strings, opaque (None:
        undeclared)."""
        structure = self.structure(column)
        if structure is not None:
            return structure.kind
        if column in self.objects:
            return "object"
        if (column, ()) in self.arrays:
            return "strings"
        if column in self.opaque:
            return "opaque"
        return None

    def _resolve(self, field_name: str, any_case: bool = False) -> FieldTarget | None:
        """The target of the name as written or (`any_case`) ignoring case, through the same checks."""
        folded = field_name.lower()
        if any_case and any(name.lower() == folded for name in self.missing):
            return None
        name = next((n for n in self.exact if n.lower() == folded), None) if any_case else field_name
        target = self.exact.get(name) if name is not None else None
        if target is not None:
            return target
        for prefix in self.prefixes:
            target = prefix.target(field_name, any_case)
            if target is not None:
                return target
        return None

    def missing_reason(self, field_name: str) -> str:
        """Why a field has no target: the declared reason, or the array of objects it reaches into."""
        folded = field_name.lower()
        reason = self.missing.get(field_name) or next(
            (why for name, why in self.missing.items() if self.any_case and name.lower() == folded), ""
        )
        if reason:
            return reason
        for prefix in sorted(self.prefixes, key=lambda p: p.rest(field_name) is None):  # as written first
            array = prefix.through_array(field_name, self.any_case)
            if array is not None:
                return (
                    f"{array} is an array of objects in {prefix.column}, and KQL reads no member of its "
                    f"elements in a `where`; match {array} or {prefix.prefix[:-1]} with |contains"
                )
        return ""

    def resolves_exactly(self, field_name: str) -> bool:
        """True when the name resolves as written (not only ignoring case)."""
        return self._resolve(field_name) is not None

    def is_array(self, target: FieldTarget) -> bool:
        """True when the target holds an array of strings."""
        return any(
            column == target.column
            and len(path) == len(target.path)
            and all(p in ("*", t) for p, t in zip(path, target.path, strict=True))
            for column, path in self.arrays
        )

    def structure(self, column: str) -> Structure | None:
        return next((s for s in self.structures if s.column == column), None)

    def route(self, field_name: str) -> ValueRoute | None:
        folded = field_name.lower() if self.any_case else field_name
        return next(
            (r for r in self.routes if folded in {(f.lower() if self.any_case else f) for f in r.fields}),
            None,
        )

    def enumeration(self, target: FieldTarget) -> Enumeration | None:
        return next((e for e in self.enumerations if e.target == target.kql()), None)

    @property
    def has_value_rules(self) -> bool:
        """True when the map declares structures, routes or enumerations (the values item applies)."""
        return bool(self.structures or self.routes or self.enumerations or self.members or self.opaque)

    def supported_fields(self) -> list[str]:
        """Every accepted field name and prefix pattern, for error messages and docs. In an
        `any_case` map, a column's camelCase and ``properties.<camelCase>`` spellings are implied
        (the list says so once) rather than listed."""

        def implied(name: str, column: str) -> bool:
            return self.any_case and name != column and name in (camel(column), f"properties.{camel(column)}")

        names = sorted(n for n, t in self.exact.items() if not implied(n, t.column))
        patterns = [
            f"{p.prefix}<{'key' if p.whole_key else 'path'}>"
            for p in self.prefixes
            if not implied(p.prefix[:-1], p.column)
        ]
        diagnostic = any(name.startswith("properties.") for name in self.exact)
        implied_note = (
            ["(any case; each column also as camelCase and properties.<camelCase>)"]
            if self.any_case and diagnostic
            else ["(any case)"] if self.any_case else []
        )
        return names + patterns + implied_note

    def targeted_columns(self) -> list[str]:
        return [t.column for t in self.exact.values()] + [p.column for p in self.prefixes]


def field_targets(pairs: Mapping[str, tuple[str, ...]]) -> dict[str, FieldTarget]:
    """Exact targets from {column: (sigma names...)}."""
    return {name: FieldTarget(column) for column, names in pairs.items() for name in names}


def diagnostic_names(
    schema: Mapping[str, str], extra: Mapping[str, tuple[str, ...]] = MappingProxyType({})
) -> dict[str, FieldTarget]:
    """Exact targets for a table fed by Entra ID / Microsoft 365 diagnostic records: every column by
    its Log Analytics name, in camelCase (the Microsoft Graph name) and as ``properties.<camelCase>``
    (the Event Hub record), plus `extra`
    ({column: (other sigma names...)})."""
    targets = {
        name: FieldTarget(column)
        for column in schema
        if not column.startswith("_")
        for name in (column, camel(column), f"properties.{camel(column)}")
    }
    targets.update(field_targets(extra))
    return targets


def member_prefixes(schema: Mapping[str, str], note: Mapping[str, str] = MappingProxyType({})) -> tuple[PathPrefix, ...]:
    """Member access into every dynamic column, in every dialect (``DeviceDetail.x``,
    ``deviceDetail.x``, ``properties.deviceDetail.x``)."""
    return tuple(
        PathPrefix(prefix, column, note=note.get(column, ""))
        for column, kind in schema.items()
        if kind == "dynamic"
        for prefix in (f"{column}.", f"{camel(column)}.", f"properties.{camel(column)}.")
    )


# ---- value rules ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spellings:
    """Values of `column` written more than one way in real data: a rule value in one spelling
    matches rows in any (compared case-insensitively)."""

    column: str
    groups: tuple[frozenset[str], ...]

    def of(self, value: str) -> tuple[str, ...]:
        """All spellings of a value (the value itself first)."""
        for spellings in self.groups:
            if value.lower() in {s.lower() for s in spellings}:
                return (value, *sorted(s for s in spellings if s.lower() != value.lower()))
        return (value,)


# ---- analytics rules --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntityMappingSpec:
    entity_type: str
    field_mappings: tuple[tuple[str, str], ...]  # (identifier, column)


@dataclass(frozen=True)
class AnalyticsProfile:
    """What a table contributes to an analytics rule: the columns added to the query (`extend`),
    the entity mappings, custom details, the alert title, and the data connector."""

    table: str
    extend: tuple[tuple[str, str], ...]  # (new column, KQL expression), appended as one `| extend`
    entity_mappings: tuple[EntityMappingSpec, ...]
    custom_details: tuple[tuple[str, str], ...]  # (key, column)
    alert_display_name_format: str
    connector_id: str
    data_types: tuple[str, ...]
    defender_continuous: bool = False  # a Defender XDR custom detection may run on it continuously (NRT)

    @property
    def extend_line(self) -> str:
        """The `| extend ...` line the analytics rule appends to the query ("" when none)."""
        if not self.extend:
            return ""
        return "| extend " + ", ".join(f"{name} = {expression}" for name, expression in self.extend)

    @property
    def extended_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.extend)


# ---- the source ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A Sigma log source near this source's that no table holds: its rules are refused with the
    reason and what to do, never guessed onto a table."""

    logsource: SigmaLogSource
    reason: str


def diagnostic_paths(
    schema: Mapping[str, str], exceptions: Mapping[str, tuple[str, ...]] = MappingProxyType({})
) -> dict[str, tuple[str, ...]]:
    """Where each column of a table fed by Entra ID / Microsoft 365 diagnostic records finds its
    value in such a record: ``properties.<camelCase>`` then the root ``<camelCase>`` (Microsoft's
    diagnostic schemas use the Microsoft Graph names, which Log Analytics capitalises), unless
    `exceptions` ({column: (dotted paths...)}, () for a column no record holds) says otherwise.
    Columns Log Analytics adds itself (``_BilledSize``, ``SourceSystem``, ``TenantId`` of the
    workspace, ``Type``) come from no record."""
    added = {"SourceSystem", "TenantId", "Type"}
    paths = {
        column: (f"properties.{camel(column)}", camel(column))
        for column in schema
        if not column.startswith("_") and column not in added
    }
    paths.update(exceptions)
    return {column: found for column, found in paths.items() if found and column in schema}


@dataclass(frozen=True)
class Source:
    """Every fact about one Log Analytics table, as the rest of the package needs it.

    table            the Log Analytics table name
    title            how docs and messages name the source
    schema           column -> Log Analytics type (Microsoft's table reference)
    logsources       the Sigma log sources whose rules this table answers
    pipeline         the id of the pipeline that claims those rules for this table (None: the
                     table is reached only through another source's pipeline)
    field_map        Sigma field names -> columns, in every dialect
    default          whether `-t sentinel` with no `-p` applies this source's pipeline
    deprecated       columns that exist but are empty in current data: never queried
    spellings        value rules of a column
    features         pipeline items beyond the shared ones, in this order (:mod:`.features`)
    built_pipelines  pipelines of this source's rules built by code of their own (:mod:`.features`)
    id_column        the column that names a row in replay reports (None: the record number)
    summary_columns  what a replay report shows of a hit, after its id
    row_markers      columns that identify an export row of this table when it names no table
    keyword_column   where a keyword (unbound value) search looks (None: the whole row)
    profile          the analytics-rule profile (None: the table cannot be wrapped in a rule)
    raw_records      raw diagnostic record kinds replay maps to this table's rows
    preamble         KQL written in place of the table before the rule's `where` (legacy routes
                     that filter and parse the event)
    refused          nearby log sources no table holds, refused with a reason
    union            other tables that hold the same events in another shape (declared as sources
                     of their own, for their schemas); `union_pipeline` names the pipeline that
                     searches this table and those as one `union`
    preamble_columns the columns the preamble adds (name -> type), which the field map may target
    """

    table: str
    title: str
    schema: Mapping[str, str]
    logsources: tuple[SigmaLogSource, ...] = ()
    pipeline: str | None = None
    field_map: FieldMap | None = None
    default: bool = False
    deprecated: frozenset[str] = frozenset()
    spellings: tuple[Spellings, ...] = ()
    features: tuple[Feature, ...] = ()
    built_pipelines: tuple[BuiltPipeline, ...] = ()
    id_column: str | None = None
    summary_columns: tuple[str, ...] = ("TimeGenerated",)
    row_markers: tuple[str, ...] = ()
    keyword_column: str | None = None
    profile: AnalyticsProfile | None = None
    raw_records: tuple[RawRecordReader, ...] = ()
    preamble: str = ""
    preamble_columns: Mapping[str, str] = field(default_factory=dict)
    refused: tuple[Refusal, ...] = ()
    union: tuple[str, ...] = ()
    union_pipeline: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", MappingProxyType(dict(self.schema)))

    def schema_text(self) -> str:
        """The schema in Kusto's `(col:type, ...)` notation."""
        return "(" + ", ".join(f"{name}:{kind}" for name, kind in self.schema.items()) + ")"

    def is_list_valued(self, field_name: str) -> bool:
        """True when a Sigma field can hold several values in one row (it cannot be a correlation
        key). Read from the field map's declarations: a target in `FieldMap.arrays` (strings: AKS
        `sourceIPs`), a member of a `Structure` of kind "array" (AuditLogs
        `TargetResources.displayName`), the whole column of an "array" or "pairs" structure. A
        source declares a list-valued column there; an unknown field is not list-valued."""
        target = self.field_map.resolve(field_name) if self.field_map else None
        if target is None or self.field_map is None:
            return False
        if self.field_map.is_array(target):
            return True
        structure = self.field_map.structure(target.column)
        if structure is None:
            return False
        return structure.kind == "array" or (structure.kind == "pairs" and not target.path)

    def kept_columns(self) -> tuple[str, ...]:
        """The columns a scan keeps of a hit: the id column, then the summary columns."""
        return ((self.id_column,) if self.id_column else ()) + self.summary_columns

    def problems(self) -> list[str]:
        """Inconsistencies between this source's facts (the registry checks every source)."""
        found = []
        live = (set(self.schema) | set(self.preamble_columns)) - self.deprecated
        named = {
            "field map": self.field_map.targeted_columns() if self.field_map else [],
            "id column": [self.id_column] if self.id_column else [],
            "summary columns": list(self.summary_columns),
            "row markers": list(self.row_markers),
            "keyword column": [self.keyword_column] if self.keyword_column else [],
            "spellings": [s.column for s in self.spellings],
            "entity mappings": [c for m in self.profile.entity_mappings for _, c in m.field_mappings
                                if c not in self.profile.extended_columns] if self.profile else [],
        }
        for what, columns in named.items():
            found += [f"{self.table}: {what} name {c!r}, not a live column" for c in sorted(set(columns) - live)]
        if self.field_map is not None:
            found += [
                f"{self.table}: dynamic column {c!r} is declared as no structure, object, array or opaque column"
                for c, kind in self.schema.items()
                if kind == "dynamic" and c not in self.deprecated and self.field_map.declared_shape(c) is None
            ]
        if self.field_map is not None and self.field_map.table != self.table:
            found.append(f"{self.table}: its field map is for {self.field_map.table}")
        if self.profile is not None and self.profile.table != self.table:
            found.append(f"{self.table}: its analytics profile is for {self.profile.table}")
        if self.pipeline and self.field_map is None:
            found.append(f"{self.table}: pipeline {self.pipeline!r} needs a field map")
        if self.pipeline and not self.logsources:
            found.append(f"{self.table}: pipeline {self.pipeline!r} claims no log source")
        found += [
            f"{self.table}: raw record reader {reader.description!r} names no keys"
            for reader in self.raw_records
            if not reader.keys
        ]
        return found


def describe_logsource(logsource: SigmaLogSource) -> str:
    return ", ".join(
        f"{key}: {value}"
        for key in ("category", "product", "service")
        if (value := getattr(logsource, key, None))
    )
