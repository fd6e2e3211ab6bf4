"""Words that are not written after a dot as a plain member name (`Properties_d.title` is invalid
KQL: `title` is a keyword); such members are written in bracket form (`Properties_d["title"]`).

The set is Kusto.Language's own, not a hand-written list: every word of every token with fixed
text (`SyntaxFacts.GetKindsWithFixedText()`: query and control keywords, type names, operator
words such as `matches regex`), plus the boolean literal words, which are tokens without fixed
text. Compared case-insensitively, so it only errs towards brackets. tests/test_kql_reserved.py
derives the set again from Microsoft's parser (npm @kusto/language-service-next, the version
package.json pins) and fails when it changed; regenerate with `python -m
sigma_azure_aks.kql_parser.reserved_words` and paste the output here. This module imports nothing:
`kql.py`, at the bottom of the package, reads it.
"""

from __future__ import annotations

LITERAL_WORDS = frozenset({"true", "false"})

FIXED_TEXT_WORDS = frozenset(
    """
    Dchart __contextual_datatable __crossCluster __crossDB __executeAndCache __id __isFuzzy
    __noWithSource __packedColumn __partitionby __projectAway __sourceColumnIndex access accumulate
    alias and anomalychart append apply areachart as asc assert away bagexpansion barchart
    best_effort between bin bin_legacy bool boolean by byte cachingpolicy callout cancel card char
    columnchart combine commands components concurrency consume contains contains_cs containscs
    count cycles database dataexport dataformat datascope datatable date datetime datetime_pattern
    decimal declare decodeblocks default desc distinct distribution double dynamic earliest edges
    encodingpolicy endswith endswith_cs entity_group evaluate expand expandoutput extend
    extent_tags_retention external_data externaldata facet filter find first flags float
    force_remote fork from getschema granny graph guid harddelete hardretention has has_all has_any
    has_cs hasprefix hasprefix_cs hassuffix hassuffix_cs hint hitters hotcache id in
    inline_external_table int int16 int32 int64 int8 invoke isfuzzy join journal keep kind kv
    ladderchart last latest let like likecs limit linechart long lookup macro make mark match
    matches materialize materialized mdm missing mv mvapply mvexpand names nested nodes
    nooptimization notcontains notcontainscs notlike notlikecs null nulls num_partitions of on
    optional or order others output pack parse partition partitioned pathformat paths pattern
    piechart pivotchart plotly print progressive_top project queries query_parameters query_results
    range real reduce regex relaxed remote rename render reorder replace restrict
    restricted_view_access row_level_security rowstore rowstore_references rowstore_sealinfo
    rowstorepolicy rowstores sample scan scatterchart schema seal seals search serialize series set
    shards shortest shufflekey simple smart softdelete softretention sort spread sql
    stackedareachart startswith startswith_cs statistics step storedqueryresultcontainers strategy
    string summarize table tablepurge take time timechart timeline timepivot timespan title to top
    toscalar totable treemap typeof uint uint16 uint32 uint64 uint8 ulong union uniqueid
    unrestrictedviewers uuid verbose view viewers views where with with_itemindex with_match_id
    with_node_id with_source with_step_name withsource writeaheadlog
    """.split()
)

RESERVED_WORDS = frozenset(word.lower() for word in FIXED_TEXT_WORDS | LITERAL_WORDS)


def is_reserved(word: str) -> bool:
    """True when `word` must not follow a dot as a plain member name."""
    return word.lower() in RESERVED_WORDS

