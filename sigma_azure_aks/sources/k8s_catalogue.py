"""Kubernetes API groups, resources and verbs, and the Azure operation names that stand for them,
as data.

Azure RBAC for Kubernetes authorizes every Kubernetes API call against a DataAction named
``MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/[<apiGroup>/]<resource>[/<subresource>]/<action>``
(AKS) or ``MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/...`` (Azure Arc-enabled Kubernetes); the core API
group has no group segment. `aks_dataplane` enumerates the operations below, evaluates a rule's
detection on each of them, and expresses the accepted set as conditions on the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

AKS_PROVIDER = "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS"
ARC_PROVIDER = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS"
PROVIDERS: tuple[str, ...] = (AKS_PROVIDER, ARC_PROVIDER)

CORE_GROUP = ""

# API group -> resources served in it (built-in Kubernetes API, current and removed versions that
# SigmaHQ rules still name, such as `extensions`).
API_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        CORE_GROUP: (
            "bindings",
            "componentstatuses",
            "configmaps",
            "endpoints",
            "events",
            "limitranges",
            "namespaces",
            "nodes",
            "persistentvolumeclaims",
            "persistentvolumes",
            "pods",
            "podtemplates",
            "replicationcontrollers",
            "resourcequotas",
            "secrets",
            "serviceaccounts",
            "services",
        ),
        "admissionregistration.k8s.io": (
            "mutatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
            "validatingwebhookconfigurations",
        ),
        "apiextensions.k8s.io": ("customresourcedefinitions",),
        "apiregistration.k8s.io": ("apiservices",),
        "apps": ("controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"),
        "authentication.k8s.io": ("selfsubjectreviews", "tokenreviews"),
        "authorization.k8s.io": (
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
            "subjectaccessreviews",
        ),
        "autoscaling": ("horizontalpodautoscalers",),
        "batch": ("cronjobs", "jobs"),
        "certificates.k8s.io": ("certificatesigningrequests",),
        "coordination.k8s.io": ("leases",),
        "discovery.k8s.io": ("endpointslices",),
        "events.k8s.io": ("events",),
        "extensions": ("daemonsets", "deployments", "ingresses", "networkpolicies", "replicasets"),
        "flowcontrol.apiserver.k8s.io": ("flowschemas", "prioritylevelconfigurations"),
        "networking.k8s.io": ("ingressclasses", "ingresses", "networkpolicies"),
        "node.k8s.io": ("runtimeclasses",),
        "policy": ("poddisruptionbudgets", "podsecuritypolicies"),
        "rbac.authorization.k8s.io": ("clusterrolebindings", "clusterroles", "rolebindings", "roles"),
        "scheduling.k8s.io": ("priorityclasses",),
        "storage.k8s.io": (
            "csidrivers",
            "csinodes",
            "csistoragecapacities",
            "storageclasses",
            "volumeattachments",
        ),
    }
)

# (API group, resource) -> subresources that have their own read/write/delete operations.
SUBRESOURCES: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        (CORE_GROUP, "pods"): ("binding", "ephemeralcontainers", "eviction", "log", "status"),
        (CORE_GROUP, "nodes"): ("proxy", "status"),
        (CORE_GROUP, "services"): ("proxy", "status"),
        (CORE_GROUP, "serviceaccounts"): ("token",),
        ("apps", "deployments"): ("scale", "status"),
        ("apps", "statefulsets"): ("scale", "status"),
        ("apps", "replicasets"): ("scale", "status"),
        ("apps", "daemonsets"): ("status",),
        ("batch", "cronjobs"): ("status",),
        ("batch", "jobs"): ("status",),
        ("certificates.k8s.io", "certificatesigningrequests"): ("approval", "status"),
    }
)

# Azure action -> the Kubernetes request verbs it authorizes.
AZURE_ACTION_VERBS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "read": ("get", "list", "watch"),
        "write": ("create", "update", "patch"),
        "delete": ("delete", "deletecollection"),
    }
)

# The order verbs are written in a query.
VERB_ORDER: tuple[str, ...] = (
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "get",
    "list",
    "watch",
)
ALL_VERBS: frozenset[str] = frozenset(VERB_ORDER)


@dataclass(frozen=True)
class ActionForm:
    """A ``.../<resource>/<name>/ACTION`` operation.

    Observable forms are requests on a subresource (``pods/exec``: a create, or a get when the
    client speaks WebSocket). Unobservable forms are authorization checks the API server makes
    while serving another request (``bind``, ``escalate``, ``impersonate``, ``use``): the audit log
    records the request, never the check, so no audit-log condition stands for them.
    """

    name: str
    resources: tuple[tuple[str, str], ...]
    subresource: str | None = None
    verbs: tuple[str, ...] = ()
    unobservable_reason: str = ""

    @property
    def observable(self) -> bool:
        return not self.unobservable_reason


_RBAC = "rbac.authorization.k8s.io"
_NOT_A_REQUEST = (
    "is an authorization check the API server makes while serving another request "
    "(creating or updating a binding or role); the audit log records that request, not the check"
)
ACTION_FORMS: Mapping[str, ActionForm] = MappingProxyType(
    {
        form.name: form
        for form in (
            ActionForm("exec", ((CORE_GROUP, "pods"),), "exec", ("create", "get")),
            ActionForm("attach", ((CORE_GROUP, "pods"),), "attach", ("create", "get")),
            ActionForm("portforward", ((CORE_GROUP, "pods"),), "portforward", ("create", "get")),
            ActionForm(
                "proxy",
                ((CORE_GROUP, "pods"), (CORE_GROUP, "nodes"), (CORE_GROUP, "services")),
                "proxy",
                ("create", "get", "update", "patch", "delete"),
            ),
            ActionForm(
                "bind", ((_RBAC, "roles"), (_RBAC, "clusterroles")), unobservable_reason=_NOT_A_REQUEST
            ),
            ActionForm(
                "escalate", ((_RBAC, "roles"), (_RBAC, "clusterroles")), unobservable_reason=_NOT_A_REQUEST
            ),
            ActionForm(
                "impersonate",
                (
                    (CORE_GROUP, "users"),
                    (CORE_GROUP, "groups"),
                    (CORE_GROUP, "serviceaccounts"),
                    ("authentication.k8s.io", "userextras"),
                    ("authentication.k8s.io", "uids"),
                ),
                unobservable_reason="is checked when a request carries Impersonate-* headers; the audit "
                "event records it in `impersonatedUser`, which AKSAudit has no column for",
            ),
            ActionForm(
                "use",
                (("policy", "podsecuritypolicies"),),
                unobservable_reason="is an admission check made while creating a pod, not a request",
            ),
            ActionForm(
                "approve",
                (("certificates.k8s.io", "signers"),),
                unobservable_reason="is an authorization check made while updating "
                "certificatesigningrequests/approval, not a request on signers",
            ),
            ActionForm(
                "sign",
                (("certificates.k8s.io", "signers"),),
                unobservable_reason="is an authorization check made while updating "
                "certificatesigningrequests/status, not a request on signers",
            ),
        )
    }
)

# Azure Resource Manager operations of the two providers (control plane, recorded in
# AzureActivity). Everything after the provider prefix.
ARM_OPERATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        AKS_PROVIDER: (
            "READ",
            "WRITE",
            "DELETE",
            "START/ACTION",
            "STOP/ACTION",
            "ABORT/ACTION",
            "RUNCOMMAND/ACTION",
            "COMMANDRESULTS/READ",
            "LISTCLUSTERADMINCREDENTIAL/ACTION",
            "LISTCLUSTERUSERCREDENTIAL/ACTION",
            "LISTCLUSTERMONITORINGUSERCREDENTIAL/ACTION",
            "ACCESSPROFILES/READ",
            "ACCESSPROFILES/LISTCREDENTIAL/ACTION",
            "RESETSERVICEPRINCIPALPROFILE/ACTION",
            "RESETAADPROFILE/ACTION",
            "ROTATECLUSTERCERTIFICATES/ACTION",
            "ROTATESERVICEACCOUNTSIGNINGKEYS/ACTION",
            "UPGRADEPROFILES/READ",
            "AGENTPOOLS/READ",
            "AGENTPOOLS/WRITE",
            "AGENTPOOLS/DELETE",
            "AGENTPOOLS/UPGRADENODEIMAGEVERSION/WRITE",
            "MAINTENANCECONFIGURATIONS/READ",
            "MAINTENANCECONFIGURATIONS/WRITE",
            "MAINTENANCECONFIGURATIONS/DELETE",
            "PRIVATEENDPOINTCONNECTIONS/READ",
            "PRIVATEENDPOINTCONNECTIONS/WRITE",
            "PRIVATEENDPOINTCONNECTIONS/DELETE",
            "TRUSTEDACCESSROLEBINDINGS/READ",
            "TRUSTEDACCESSROLEBINDINGS/WRITE",
            "TRUSTEDACCESSROLEBINDINGS/DELETE",
            "DIAGNOSTICSSTATE/READ",
            "DETECTORS/READ",
            "PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/READ",
            "PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/WRITE",
        ),
        ARC_PROVIDER: (
            "READ",
            "WRITE",
            "DELETE",
            "LISTCLUSTERUSERCREDENTIAL/ACTION",
            "LISTCLUSTERUSERCREDENTIALS/ACTION",
            "PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/READ",
            "PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/WRITE",
        ),
    }
)


@dataclass(frozen=True)
class KubernetesOperation:
    """One Kubernetes data-plane operation (an Azure RBAC DataAction)."""

    provider: str
    api_group: str
    resource: str
    subresource: str | None
    action: str  # read | write | delete | <name> of an ActionForm

    @property
    def name(self) -> str:
        """The operation name, upper case as AzureActivity writes it."""
        segments = [self.provider]
        if self.api_group:
            segments.append(self.api_group.upper())
        segments.append(self.resource.upper())
        if self.action in AZURE_ACTION_VERBS:
            if self.subresource:
                segments.append(self.subresource.upper())
            segments.append(self.action.upper())
        else:
            segments.extend([self.action.upper(), "ACTION"])
        return "/".join(segments)

    @property
    def is_arc(self) -> bool:
        return self.provider == ARC_PROVIDER

    @property
    def form(self) -> ActionForm | None:
        return ACTION_FORMS.get(self.action)

    @property
    def subresource_condition(self) -> str | None:
        """The ObjectRef.subresource the audit event carries (None: not constrained)."""
        form = self.form
        return form.subresource if form is not None else self.subresource

    @property
    def verbs(self) -> tuple[str, ...]:
        """The request verbs the audit event carries; empty when no request stands for it."""
        form = self.form
        if form is not None:
            return form.verbs if form.observable else ()
        return AZURE_ACTION_VERBS[self.action]


def catalogue_operations() -> Iterator[KubernetesOperation]:
    """Every catalogued Kubernetes data-plane operation of both providers."""
    for provider in PROVIDERS:
        for group, resources in API_GROUPS.items():
            for resource in resources:
                for action in AZURE_ACTION_VERBS:
                    yield KubernetesOperation(provider, group, resource, None, action)
                for subresource in SUBRESOURCES.get((group, resource), ()):
                    for action in AZURE_ACTION_VERBS:
                        yield KubernetesOperation(provider, group, resource, subresource, action)
        for form in ACTION_FORMS.values():
            for group, resource in form.resources:
                yield KubernetesOperation(provider, group, resource, None, form.name)


def arm_operations() -> Iterator[str]:
    """Every catalogued Azure Resource Manager operation name of both providers."""
    for provider, suffixes in ARM_OPERATIONS.items():
        for suffix in suffixes:
            yield f"{provider}/{suffix}"


def _group_for(segment: str) -> str | None:
    lowered = segment.lower()
    if lowered in API_GROUPS and lowered != CORE_GROUP:
        return lowered
    if "." in lowered:
        return lowered  # an API group outside the catalogue (custom resources)
    return None


def parse_operation(name: str) -> KubernetesOperation | None:
    """Read an operation name against the grammar; None when it is not a Kubernetes data-plane
    operation (an ARM operation, another provider, or not well formed)."""
    upper = name.strip().upper()
    provider = next((p for p in PROVIDERS if upper.startswith(p + "/")), None)
    if provider is None:
        return None
    if upper[len(provider) + 1 :] in ARM_OPERATIONS[provider]:
        return None
    segments = [s.lower() for s in upper[len(provider) + 1 :].split("/")]
    if len(segments) < 2 or any(not s for s in segments):
        return None
    if segments[-1] == "action":
        if len(segments) < 3:
            return None
        action, head = segments[-2], segments[:-2]
        if action not in ACTION_FORMS:
            return None
    elif segments[-1] in AZURE_ACTION_VERBS:
        action, head = segments[-1], segments[:-1]
    else:
        return None
    group = _group_for(head[0]) if len(head) >= 2 else None
    if group is not None:
        head = head[1:]
    else:
        group = CORE_GROUP
    if not 1 <= len(head) <= 2:
        return None
    resource = head[0]
    subresource = head[1] if len(head) == 2 else None
    form = ACTION_FORMS.get(action)
    if form is not None and (subresource is not None or (group, resource) not in form.resources):
        return None
    known_group = group in API_GROUPS
    if known_group and resource not in API_GROUPS[group]:
        if form is None:
            return None  # e.g. an ARM child resource such as AGENTPOOLS
    if known_group and subresource is not None and subresource not in SUBRESOURCES.get((group, resource), ()):
        return None
    return KubernetesOperation(provider, group, resource, subresource, action)
