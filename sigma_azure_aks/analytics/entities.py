"""What each Log Analytics table contributes to an analytics rule, as data: the columns added to
the query (`extend`), the entity mappings, custom details, the alert title, and the data connector.

A table missing here cannot be wrapped into an analytics rule (`table_profile` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class EntityMappingSpec:
    entity_type: str
    field_mappings: tuple[tuple[str, str], ...]  # (identifier, column)


@dataclass(frozen=True)
class TableProfile:
    table: str
    extend: tuple[tuple[str, str], ...]  # (new column, KQL expression), appended as one `| extend`
    entity_mappings: tuple[EntityMappingSpec, ...]
    custom_details: tuple[tuple[str, str], ...]  # (key, column)
    alert_display_name_format: str
    connector_id: str
    data_types: tuple[str, ...]

    @property
    def extend_line(self) -> str:
        return "| extend " + ", ".join(f"{name} = {expression}" for name, expression in self.extend)

    @property
    def extended_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.extend)


# AzureActivity `Caller` holds a UPN for users and an object/application id (GUID) for service
# principals and managed identities. One column cannot feed two identifiers conditionally, so the
# query splits it: the UPN goes to Account.FullName, the GUID to Account.AadUserId; the empty one is
# ignored by Sentinel. `contains "@"` rather than `has "@"`: `@` is not a term character.
_GUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

AZURE_ACTIVITY = TableProfile(
    table="AzureActivity",
    extend=(
        ("AccountUpn", 'iff(Caller contains "@", Caller, "")'),
        ("AccountObjectId", f'iff(Caller matches regex "{_GUID}", Caller, "")'),
    ),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "AccountUpn"), ("AadUserId", "AccountObjectId"))),
        EntityMappingSpec("IP", (("Address", "CallerIpAddress"),)),
        EntityMappingSpec("AzureResource", (("ResourceId", "_ResourceId"),)),
    ),
    custom_details=(
        ("Operation", "OperationNameValue"),
        ("Status", "ActivityStatusValue"),
        ("ResourceGroup", "ResourceGroup"),
        ("SubscriptionId", "SubscriptionId"),
    ),
    alert_display_name_format="{{OperationNameValue}} by {{Caller}}",
    connector_id="AzureActivity",
    data_types=("AzureActivity",),
)


def _aks(table: str) -> TableProfile:
    # AKS resource-log tables: `User` and `ObjectRef` are dynamic, `SourceIps` a dynamic array. The
    # connector id is that of the Azure-Sentinel "Azure Kubernetes Service (AKS)" solution's
    # diagnostics connector; Sentinel uses requiredDataConnectors only for display and template
    # checks, not at run time.
    return TableProfile(
        table=table,
        extend=(
            ("AccountName", "tostring(User.username)"),
            ("SourceIp", "tostring(SourceIps[0])"),
            ("KubeResource", "tostring(ObjectRef.resource)"),
            ("KubeNamespace", "tostring(ObjectRef.namespace)"),
            ("KubeObject", "tostring(ObjectRef.name)"),
        ),
        entity_mappings=(
            EntityMappingSpec("Account", (("Name", "AccountName"),)),
            EntityMappingSpec("IP", (("Address", "SourceIp"),)),
            EntityMappingSpec("AzureResource", (("ResourceId", "_ResourceId"),)),
        ),
        custom_details=(
            ("Verb", "Verb"),
            ("KubeResource", "KubeResource"),
            ("KubeNamespace", "KubeNamespace"),
            ("KubeObject", "KubeObject"),
        ),
        alert_display_name_format="{{Verb}} {{KubeResource}} by {{AccountName}}",
        connector_id="AzureKubernetes",
        data_types=(table,),
    )


PROFILES = MappingProxyType(
    {
        "AzureActivity": AZURE_ACTIVITY,
        "AKSAudit": _aks("AKSAudit"),
        "AKSAuditAdmin": _aks("AKSAuditAdmin"),
    }
)


def table_profile(table: str | None) -> TableProfile:
    """The profile of a table; a clear ValueError for a table this wrapper does not know."""
    try:
        return PROFILES[table or ""]
    except KeyError:
        raise ValueError(
            f"no analytics-rule profile for table {table!r} (entity mappings, data connector); "
            f"supported tables: {', '.join(sorted(PROFILES))}"
        ) from None
