"""docs/formats.md: its example blocks, converted from the worked example by the code.

The worked example is the Sigma rule in the block between `<!-- BEGIN example: rule -->` and
`<!-- END example: rule -->`; every other `example: <name>` block is its conversion:
`kql`, `yaml`, `arm`, `json`, `defender` (sigma-cli formats of target `sentinel`) and `aksyaml` (`yaml` with
`-p aks_dataplane`). The block between `<!-- BEGIN profiles -->` and `<!-- END profiles -->` is the
table of the sources' analytics profiles.
"""

from __future__ import annotations

import re
import warnings

PAGE = "formats.md"
BLOCK = re.compile(
    r"(<!-- BEGIN example: (?P<name>[a-z]+) -->\n```(?P<lang>[a-z]*)\n)"
    r"(?P<body>.*?)"
    r"(```\n<!-- END example: (?P=name) -->)",
    re.DOTALL,
)
# block name -> (output format, pipelines given with -p; none: the target's default)
FORMATS = {
    "kql": ("default", ()),
    "yaml": ("yaml", ()),
    "arm": ("arm", ()),
    "json": ("json", ()),
    "defender": ("defender", ()),
    "aksyaml": ("yaml", ("aks_dataplane",)),
}


def example_rule(text: str) -> str:
    for match in BLOCK.finditer(text):
        if match.group("name") == "rule":
            return match.group("body")
    raise SystemExit(f"{PAGE}: no `example: rule` block")


def convert(rule_text: str, name: str) -> str:
    from sigma.collection import SigmaCollection
    from sigma.processing.pipeline import ProcessingPipeline

    from sigma_azure_aks.analytics.model import SentinelMappingWarning
    from sigma_azure_aks.backend import SentinelBackend
    from sigma_azure_aks.pipelines import all_pipelines

    output_format, pipelines = FORMATS[name]
    pipeline = sum((all_pipelines()[p]() for p in pipelines), ProcessingPipeline()) if pipelines else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the data-plane notice, explained on the page
        warnings.simplefilter("error", SentinelMappingWarning)  # the example must map cleanly
        result = SentinelBackend(pipeline).convert(SigmaCollection.from_yaml(rule_text), output_format)
    text = "\n".join(result) if isinstance(result, list) else str(result)
    return text.rstrip("\n") + "\n"


PROFILES = re.compile(r"(<!-- BEGIN profiles -->\n)(.*?)(<!-- END profiles -->)", re.DOTALL)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def profiles_table() -> str:
    from sigma_azure_aks.sources import all_sources

    lines = [
        "| table | extend | entities | custom details | alert name | connector (dataTypes) |",
        "|---|---|---|---|---|---|",
    ]
    for source in all_sources():
        profile = source.profile
        if profile is None:
            continue
        extend = ", ".join(f"`{cell(f'{name} = {expression}')}`" for name, expression in profile.extend) or "none"
        entities = ", ".join(
            f"{spec.entity_type} ({', '.join(f'{identifier} ← {column}' for identifier, column in spec.field_mappings)})"
            for spec in profile.entity_mappings
        )
        details = ", ".join(key for key, _ in profile.custom_details) or "none"
        connector = f"{profile.connector_id} ({', '.join(f'`{t}`' for t in profile.data_types)}"
        if source.union:
            connector += f"; with `-p {source.union_pipeline}` also {', '.join(f'`{t}`' for t in source.union)}"
        lines.append(
            f"| {profile.table} | {extend} | {entities} | {cell(details)} | "
            f"`{cell(profile.alert_display_name_format)}` | {connector}) |"
        )
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    text = PROFILES.sub(lambda m: m.group(1) + profiles_table() + m.group(3), text)
    rule_text = example_rule(text)

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name == "rule":
            return match.group(0)
        if name not in FORMATS:
            raise SystemExit(f"{PAGE}: unknown example block {name!r}")
        return match.group(1) + convert(rule_text, name) + match.group(5)

    return BLOCK.sub(replace, text)

