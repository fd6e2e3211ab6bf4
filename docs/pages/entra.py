"""docs/entra.md, whole: the Entra ID and Microsoft 365 mappings, generated from the sources' field maps."""

from __future__ import annotations

from sigma_azure_aks.pipelines.arrays import STRUCTURE_DEPTH
from sigma_azure_aks.sources import Source, all_sources, describe_logsource
from sigma_azure_aks.sources.base import camel

from . import code_list

PAGE = "entra.md"

_TABLES = ("AuditLogs", "SigninLogs", "AADUserRiskEvents", "OfficeActivity")



def _field_rows(source: Source) -> list[str]:
    """One row per column a Sigma name reaches, with every name beyond the implied spellings."""
    field_map = source.field_map
    assert field_map is not None
    by_target: dict[str, list[str]] = {}
    for name, target in field_map.exact.items():
        implied = name in (target.column, camel(target.column), f"properties.{camel(target.column)}")
        if not implied:
            by_target.setdefault(target.kql(), []).append(name)
    rows = []
    for route in field_map.routes:
        conditions = "; ".join(f"`{value}` → `{condition}`" for value, condition in route.conditions.items())
        rows.append(
            f"| {code_list(route.fields)} | {conditions}; `null`, `\\|exists`, `'*'` → `{route.itself}` (the field "
            f"itself); any other value → {code_list(route.other)} (any) | {route.note} |"
        )
    for target, names in sorted(by_target.items()):
        rows.append(f"| {code_list(sorted(names))} | `{target}` | {field_map.notes.get(target, '')} |")
    for structure in field_map.structures:
        if structure.kind == "pairs":
            key, value = structure.pair
            rows.append(
                f"| `{structure.column}`, `{structure.column}.<key>` | `{structure.column}` (pairs: "
                f"{{{key}, {value}}}) | `{structure.column}.<key>` is the {value} of the element whose {key} is "
                "the whole rest of the field (dots included) |"
            )
            continue
        members = ", ".join(structure.members) or "any"
        nested = "; ".join(f"{name}[{', '.join(m)}]" for name, m in structure.nested.items())
        rows.append(
            f"| `{structure.column}`, `{structure.column}.<member>` | `{structure.column}` ({structure.kind} of "
            f"objects: {members}{'; ' + nested if nested else ''}) | a value matches a member of some element |"
        )
    for column, reason in field_map.opaque.items():
        rows.append(f"| `{column}` | `{column}` (members refused) | {reason} |")
    return rows


def _source_section(source: Source) -> list[str]:
    field_map = source.field_map
    assert field_map is not None
    lines = [
        f"## {source.table} (`-p {source.pipeline}`)",
        "",
        f"Sigma log sources: {'; '.join(describe_logsource(ls) for ls in source.logsources)}.",
        "",
        "Every column is accepted by its Log Analytics name (in any case), in camelCase (the Microsoft Graph",
        "name) and as `properties.<camelCase>` (the Event Hub diagnostic record); dynamic columns take member",
        "paths in each spelling. A name that matches only when case is ignored converts with a warning.",
        "Beyond those:",
        "",
        "| Sigma field | KQL | note |",
        "|---|---|---|",
        *_field_rows(source),
        "",
    ]
    if field_map.members:
        lines += ["Member names of dynamic columns are read in their real spelling at every level (KQL member",
                  "access is case-sensitive); a level not listed is read as written, with a warning:", ""]
        lines += [f"- `{column}`: {code_list(members)}" for column, members in field_map.members.items()]
        lines.append("")
    if field_map.enumerations:
        lines += ["Documented values (a plain rule value outside them never matches; conversion warns):", ""]
        lines += [
            f"- `{e.target}`: {code_list(e.values)}" + (f" ({e.source})" if e.source else "")
            for e in field_map.enumerations
        ]
        lines.append("")
    if field_map.missing:
        lines += ["Fields with no column (the rule is refused with this reason):", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in field_map.missing.items()]
        lines.append("")
    if source.refused:
        lines += ["Log sources refused, with the reason:", ""]
        lines += [f"- {describe_logsource(r.logsource)}: {r.reason}" for r in source.refused]
        lines.append("")
    if source.profile:
        profile = source.profile
        lines += [
            f"Analytics rules: connector `{profile.connector_id}` ({code_list(profile.data_types)}); entities "
            + "; ".join(
                f"{m.entity_type} ({', '.join(f'{i} = `{c}`' for i, c in m.field_mappings)})"
                for m in profile.entity_mappings
            )
            + (f"; added columns {code_list(name for name, _ in profile.extend)}" if profile.extend else "")
            + ".",
            "",
        ]
    return lines


def render(current: str = "") -> str:
    lines = [
        "# Entra ID and Microsoft 365",
        "",
        "<!-- Generated by docs/generate.py from sigma_azure_aks/sources; do not edit by hand. -->",
        "",
        "SigmaHQ's `azure/auditlogs`, `azure/signinlogs`, `azure/riskdetection` and `m365/audit` rules land on",
        "the Sentinel table that holds the events; `-t sentinel` with no `-p` applies all four pipelines.",
        "",
        "Semantics that are easy to get wrong:",
        "",
        "- SigninLogs `Status` is an object (errorCode, failureReason, additionalDetails). It is never compared",
        "  whole: `Status: Success` means `ResultType == \"0\"`, `Status: Failure` `ResultType != \"0\"`, and any",
        "  other value is matched against `Status.failureReason` or `Status.additionalDetails`. `null`, `|exists`",
        "  and `'*'` are about the field itself: `Status: null` matches a sign-in with no Status (empty),",
        "  `Status|exists: true` and `Status: '*'` one that has it, whatever its result. AuditLogs `Status` is",
        "  the audit result: there they test `Result`.",
        "- `ResultType` is a string column; integer rule values compare as exact strings (`ResultType == \"50053\"`).",
        "- Arrays and objects of objects (`TargetResources`, `modifiedProperties`, `AdditionalDetails`,",
        "  `InitiatedBy`, `OperationProperties`): a value matches when it matches a member of some element; a",
        "  value on the whole column matches any member value in it. The test is an anchored RE2 pattern over the",
        "  column's JSON text that reads it level by level: at each level it steps over whole strings and whole",
        "  nested objects and arrays, so a member of a nested array or object (a like-named key inside an",
        "  element's object) never stands for a member of the element. RE2 cannot count brackets, so the",
        f"  pattern reads {STRUCTURE_DEPTH} levels of brackets in the column's text (real rows hold at most 4): a member",
        "  that follows deeper nesting in its element is not read: no match (so `not` of such a test is true",
        "  there); never a member of the wrong object. A value on the",
        "  whole column also matches string elements of arrays",
        "  at any depth (`InitiatedBy: Global Administrator` matches `user.roles: [\"Global Administrator\"]`);",
        "  a value on a member that holds an array of scalars matches when some element matches.",
        "- Numbers inside structures: a number equals that number (`conditionsSatisfied: 1` matches 1 and 1.0,",
        "  never 16 or 1.5) and its text (`\"1\"`); a quoted number (`'1'`) also matches the member holding it",
        "  as a number; `true`/`false` also match JSON booleans; `'*'` matches any string, number or boolean",
        "  (not JSON null, not an absent member).",
        "- Items of one selection on different members of one array of objects are read in one element:",
        "  `TargetResources.modifiedProperties.displayName: ConsentContext.IsAdminConsent` with",
        "  `TargetResources.modifiedProperties.newValue|contains: True` matches a consent whose IsAdminConsent",
        "  property is True, not one whose IsAdminConsent is False and some other property True; and",
        "  `TargetResources.type: User` with `TargetResources.modifiedProperties.displayName: X` matches a user",
        "  target with a modified property X. This holds for two or three items with plain values, wildcards,",
        "  numbers or booleans on different members (of the elements, and of one nested array of theirs).",
        "  Other items (one member twice, more items) and the values of one `|all` item are each matched on",
        "  their own, so they may hold in different elements: conversion warns.",
        "- Every dynamic column is declared by what it holds (an object, an array of objects, key/value pairs,",
        "  an array of strings), from Microsoft's reference and the shared samples; a column whose members",
        "  no reference documents refuses member paths.",
        "- Only the interactive sign-ins are in SigninLogs. Non-interactive, service-principal and",
        "  managed-identity sign-ins are in AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs and",
        "  AADManagedIdentitySignInLogs, whose `Status`, `DeviceDetail` and `LocationDetails` are JSON text, not",
        "  dynamic. To search them too, convert with `-p azure_signinlogs_all`: one `union isfuzzy=true` of the",
        "  four tables, with those columns parsed so each has one type; a table parses only the rows that pass",
        "  the parts of the condition (operands of its top-level `and`) reading none of those columns and only",
        "  columns it has, and the union's own filter stays whole. Use it when the rule is about the",
        "  account or the client, not about an interactive prompt: non-interactive sign-ins (token refresh, apps",
        "  acting for a user) are most sign-ins by volume, and a stolen token or password spray shows there too.",
        "",
    ]
    for source in all_sources():
        if source.table in _TABLES and source.field_map is not None:
            lines += _source_section(source)
    return "\n".join(lines).rstrip("\n") + "\n"
