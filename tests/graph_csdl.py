"""A JSON body checked against Microsoft Graph CSDL (the pinned excerpt in tests/data/msgraph-v1.0):
every property declared on its type (or a base type), of the declared type, collections as lists,
enum values among the members, and every `Nullable="false"` property present and not null."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CSDL = Path(__file__).resolve().parent / "data" / "msgraph-v1.0" / "security-detectionrule.csdl.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
ISO_DURATION = re.compile(r"^-?P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
COLLECTION = re.compile(r"^Collection\((.+)\)$")


@dataclass(frozen=True)
class Property:
    type: str
    nullable: bool


@dataclass(frozen=True)
class StructuredType:
    properties: dict[str, Property]
    base: str | None
    abstract: bool


@dataclass(frozen=True)
class Schema:
    namespace: str
    types: dict[str, StructuredType]
    enums: dict[str, tuple[str, ...]]

    def all_properties(self, name: str) -> dict[str, Property]:
        kind = self.types[name]
        inherited = self.all_properties(self.local(kind.base)) if kind.base else {}
        return {**inherited, **kind.properties}

    def local(self, qualified: str) -> str:
        return qualified.removeprefix(self.namespace + ".")


def load(path: Path = CSDL) -> Schema:
    root = ET.parse(path).getroot()
    schema = next(root.iter(f"{EDM}Schema"))
    types: dict[str, StructuredType] = {}
    for element in (*schema.iter(f"{EDM}EntityType"), *schema.iter(f"{EDM}ComplexType")):
        properties = {
            p.get("Name", ""): Property(p.get("Type", ""), p.get("Nullable", "true") != "false")
            for p in element.iter(f"{EDM}Property")
        }
        types[element.get("Name", "")] = StructuredType(
            properties, element.get("BaseType"), element.get("Abstract") == "true"
        )
    enums = {
        e.get("Name", ""): tuple(m.get("Name", "") for m in e.iter(f"{EDM}Member"))
        for e in schema.iter(f"{EDM}EnumType")
    }
    return Schema(schema.get("Namespace", ""), types, enums)


def problems(schema: Schema, value: Any, type_name: str, where: str = "$") -> list[str]:
    """What in `value` does not fit `type_name` (a qualified or local name); [] when it fits."""
    collection = COLLECTION.fullmatch(type_name)
    if collection:
        if not isinstance(value, list):
            return [f"{where}: expected a list ({type_name}), got {type(value).__name__}"]
        return [
            p
            for i, item in enumerate(value)
            for p in problems(schema, item, collection.group(1), f"{where}[{i}]")
        ]
    if type_name == "Edm.String":
        return [] if isinstance(value, str) else [f"{where}: expected a string, got {value!r}"]
    if type_name == "Edm.Boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected true or false, got {value!r}"]
    if type_name == "Edm.Duration":
        ok = isinstance(value, str) and ISO_DURATION.fullmatch(value)
        return [] if ok else [f"{where}: expected an ISO 8601 duration, got {value!r}"]
    name = schema.local(type_name)
    if name in schema.enums:
        ok = isinstance(value, str) and value in schema.enums[name]
        return [] if ok else [f"{where}: {value!r} is not one of {', '.join(schema.enums[name])}"]
    if name not in schema.types:
        return [f"{where}: type {type_name} is not in the metadata excerpt"]
    if schema.types[name].abstract:
        return [f"{where}: {type_name} is abstract"]
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({type_name}), got {type(value).__name__}"]
    declared = schema.all_properties(name)
    found = [f"{where}.{key}: no such property on {name}" for key in value if key not in declared]
    for key, prop in declared.items():
        if key not in value or value[key] is None:
            if not prop.nullable:
                found.append(f"{where}.{key}: required on {name}, missing")
            continue
        found.extend(problems(schema, value[key], prop.type, f"{where}.{key}"))
    return found
