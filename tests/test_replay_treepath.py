"""treepath() in the replay engine: Kusto's documented answers, and the pod-spec presence rules of
the `aks_audit` pipeline on rows built from the real kube-audit records and adversarial specs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from replay_support import require_engine, shared_path

CORPUS = "corpus/sigmahq/kubernetes_audit"
HOSTPATH_RULE = "402b955c-8fe0-4a8c-b635-622b4ac5f902"
PRIVILEGED_RULE = "c5cd1b20-36bb-488d-8c05-486be3d0cb97"


@pytest.mark.parametrize(
    ("value", "paths"),
    [  # Microsoft's documented examples, then what the documentation leaves to the shape
        ({"a": "b", "c": 123}, ["['a']", "['c']"]),
        ({"prop1": [1, 2, 3, 4], "prop2": "value2"}, ["['prop1']", "['prop1'][0]", "['prop2']"]),
        (
            {"listProperty": [100, 200, 300, "abcde", {"x": "y"}]},
            ["['listProperty']", "['listProperty'][0]", "['listProperty'][0]['x']"],
        ),
        ([1, {"x": [[2]]}], ["[0]", "[0]['x']", "[0]['x'][0]", "[0]['x'][0][0]"]),
        ({"e'f": {"g\\h": []}}, ["['e\\'f']", "['e\\'f']['g\\\\h']"]),
        (
            {"b": {"z": 1}, "a": [{"y": 1}, {"x": 2, "y": 3}]},
            ["['b']", "['b']['z']", "['a']", "['a'][0]", "['a'][0]['y']", "['a'][0]['x']"],
        ),
        ({}, []),
        ([], []),
        ("text", []),
        (None, []),
    ],
)
def test_treepath_sql(value: Any, paths: list[str]) -> None:
    require_engine()
    import duckdb

    from sigma_azure_aks.replay.treepath import treepath_sql

    con = duckdb.connect()
    (got,) = con.execute(f"SELECT {treepath_sql('CAST(? AS JSON)')}", [json.dumps(value)]).fetchone()
    assert json.loads(got) == paths
    assert got == json.dumps(paths, separators=(",", ":"), ensure_ascii=False)  # tostring()'s text


def _records() -> list[dict[str, Any]]:
    path = shared_path("samples", "aks_kube_audit_records.json")
    return json.loads(path.read_text(encoding="utf-8"))["records"]


def _record(audit_id: str, **changes: Any) -> dict[str, Any]:
    """The first real record (kube-audit, a lease update) with some audit-event keys changed."""
    record = copy.deepcopy(_records()[0])
    event = json.loads(record["properties"]["log"])
    event.update(changes)
    event["auditID"] = audit_id
    record["properties"]["log"] = json.dumps(event)
    return record


def _pod(audit_id: str, spec: Any, resource: str = "pods", **changes: Any) -> dict[str, Any]:
    ref = {"resource": resource, "namespace": "default", "name": audit_id, "apiVersion": "v1"}
    request = {"kind": "Pod", "apiVersion": "v1", "spec": spec} if spec is not None else None
    fields = {"verb": "create", "objectRef": ref, "level": "RequestResponse", **changes}
    if request is not None:
        fields["requestObject"] = request
    return _record(audit_id, **fields)


HOST = {"name": "host", "hostPath": {"path": "/etc", "type": "Directory"}}
CAPS = {"capabilities": {"add": ["SYS_ADMIN"]}}


def _events() -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Records with pod specs, and which must fire the hostPath and the privileged-pod rule."""
    container = {"name": "c", "image": "busybox"}
    events = [
        _record("lease"),  # the real record as it is: no spec
        _pod(
            "hostpath-volume", {"containers": [container], "volumes": [{"name": "a", "emptyDir": {}}, HOST]}
        ),
        _pod(
            "deployment-template",  # the pod spec of a template: not requestObject.spec.volumes
            {"template": {"spec": {"containers": [container], "volumes": [HOST]}}},
            resource="deployments",
        ),
        _pod("no-spec", None),
        _pod("csi-attribute", {"volumes": [{"name": "v", "csi": {"volumeAttributes": {"hostPath": "/x"}}}]}),
        _pod("mount-named-hostPath", {"containers": [{**container, "volumeMounts": [{"hostPath": "/x"}]}]}),
        _pod("quoted-key", {"volumes": [{"name": "q", "hostPath']['x": {"path": "/"}, "o'k": 1}]}),
        _pod(
            "nested-arrays", {"volumes": [[HOST]], "containers": [[{**container, "securityContext": CAPS}]]}
        ),
        _pod("capabilities", {"initContainers": [container, {**container, "securityContext": CAPS}]}),
        _pod("capabilities-get", {"containers": [{**container, "securityContext": CAPS}]}, verb="get"),
        _pod("not-capabilities", {"containers": [{**container, "securityContext": {"privileged": True}}]}),
    ]
    return events, ["hostpath-volume"], ["capabilities"]


def test_pod_spec_rules_on_kube_audit_records() -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    corpus = shared_path(*CORPUS.split("/"))
    events, hostpath, privileged = _events()
    rules = [
        corpus / "kubernetes_audit_hostpath_mount.yml",
        corpus / "kubernetes_audit_privileged_pod_creation.yml",
    ]
    result = replay(rules, events)
    assert result.failures == []
    assert result[HOSTPATH_RULE] == hostpath
    assert result[PRIVILEGED_RULE] == privileged


def test_treepath_on_an_export_scan_answers_as_loaded(tmp_path: Path) -> None:
    """An AKSAudit Log Analytics export: the one-pass scan answers as the loaded engine."""
    require_engine()
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.api import convert
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    corpus = shared_path(*CORPUS.split("/"))
    events, hostpath, privileged = _events()
    rows = [event.row for event in read_events(events)]
    export = tmp_path / "aksaudit.jsonl"
    export.write_text(
        "".join(json.dumps({**row, "Type": "AKSAudit"}, default=str) + "\n" for row in rows), encoding="utf-8"
    )
    queries = [c.query for c in convert([corpus])[0]]
    assert any("treepath(" in q for q in queries)
    assert Engine().scan_export(export, queries) is not None  # read natively, in one pass
    for scan in (False, True):
        result = replay([corpus], [export], scan=scan)
        assert result.failures == [], scan
        assert len(result.hits) == 16
        assert result[HOSTPATH_RULE] == hostpath, scan
        assert result[PRIVILEGED_RULE] == privileged, scan


def test_cli_replays_every_kubernetes_audit_rule(tmp_path: Path) -> None:
    require_engine()
    corpus = shared_path(*CORPUS.split("/"))
    events, hostpath, privileged = _events()
    path = tmp_path / "kube-audit.json"
    path.write_text(json.dumps({"records": events}), encoding="utf-8")
    code = "import sys; from sigma_azure_aks.commands import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "replay", str(corpus), "--events", str(path), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert len(found) == 16
    assert found[HOSTPATH_RULE] == hostpath
    assert found[PRIVILEGED_RULE] == privileged
    assert "error" not in done.stderr


def test_a_query_replay_cannot_run_is_named_and_the_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A construct the local engine lacks: the rule is named with the construct, in a user's
    words, the other rules run, and the exit code says so (4)."""
    require_engine()
    import sigma_azure_aks.replay.api as api
    from sigma_azure_aks.commands import main
    from sigma_azure_aks.commands.common import EXIT_NOT_REPLAYED

    corpus = shared_path(*CORPUS.split("/"))
    events, hostpath, _ = _events()
    path = tmp_path / "kube-audit.json"
    path.write_text(json.dumps({"records": events}), encoding="utf-8")
    convert = api.convert

    def with_one_unsupported(rules: Any, pipeline: Any = None) -> tuple[list[Any], list[str]]:
        converted, failures = convert(rules, pipeline)
        for item in converted:
            if str(item.rule.id) == PRIVILEGED_RULE:  # a function Kusto has and the engine lacks
                item.query = "AKSAudit\n| where isnotempty(geo_info_from_ip_address(tostring(SourceIps[0])))"
        return converted, failures

    monkeypatch.setattr(api, "convert", with_one_unsupported)
    code = main(["replay", str(corpus), "--events", str(path), "-f", "json"])
    out, err = capsys.readouterr()
    assert code == EXIT_NOT_REPLAYED == 4
    found = json.loads(out)
    assert PRIVILEGED_RULE not in found and len(found) == 15
    assert found[HOSTPATH_RULE] == hostpath
    [line] = [line for line in err.splitlines() if PRIVILEGED_RULE in line]
    assert line == (
        f"not replayed: {corpus / 'kubernetes_audit_privileged_pod_creation.yml'}: {PRIVILEGED_RULE}: "
        "replay cannot run the Kusto function geo_info_from_ip_address() on local events; the query "
        "itself is valid for Microsoft Sentinel, only its local replay is not possible"
    )
    assert "error:" not in err
