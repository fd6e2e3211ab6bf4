#!/usr/bin/env node
/*
 * Microsoft's Kusto parser (npm @kusto/language-service-next, Kusto.Language compiled to JavaScript
 * by Bridge.NET) as a line-oriented JSON service.
 *
 * Usage: node kql_check.js [--node-modules DIR] [--schemas FILE]
 *
 * stdin: one JSON request a line; stdout: one JSON response a line, carrying the request's "id".
 *   {"id": 1, "tables": {"T": "(a:string, b:long)" | {"a": "string"}}, "database": "db"}
 *       declares the tables (replacing earlier ones); answers {"id": 1, "tables": [names]}
 *   {"id": 2, "query": "T | where a == 'x'", "want": ["diagnostics", "columns", "literals"]}
 *       answers {"id": 2, "diagnostics": [...], "columns": [...], "literals": [...]} (only the parts
 *       wanted; all three when "want" is absent)
 *   {"id": 3, "command": "version"}  answers {"id": 3, "version": "<package version>"}
 *   {"id": 4, "command": "tokens"}  answers {"id": 4, "tokens": [[text, category], ...]}: every token
 *       with fixed text (keywords, operators, punctuation) Kusto.Language knows
 *   a request that fails answers {"id": ..., "error": "message"}
 *
 * Diagnostics: {code, severity ("Error", "Warning", ...), message, start, length, line, column}.
 * start/length count Unicode code points (Python string indices), not JavaScript UTF-16 units;
 * line and column are 1-based, in code points, and lines end at CR LF, CR, LF, U+2028 or U+2029 as
 * in Kusto's own TextFacts.
 * Columns: names of the query's result columns ([] when the result is not a table).
 * Literals: the decoded value of every string literal expression, in source order; adjacent literals
 * that Kusto joins into one ("a" 'b') count as one value ("ab").
 */
"use strict";

const fs = require("fs");
const path = require("path");

const PACKAGE = "@kusto/language-service-next";
const ALL_PARTS = ["diagnostics", "columns", "literals"];

// The protocol owns stdout: anything the library might log goes to stderr.
const writeOut = process.stdout.write.bind(process.stdout);
console.log = console.info = console.warn = console.debug = console.error;

function parseArgs(argv) {
    const args = { nodeModules: null, schemas: null };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--node-modules") args.nodeModules = argv[++i];
        else if (argv[i] === "--schemas") args.schemas = argv[++i];
        else throw new Error(`unknown argument ${argv[i]}`);
    }
    return args;
}

function packageDir(nodeModules) {
    if (nodeModules) return path.join(nodeModules, PACKAGE);
    return path.dirname(require.resolve(`${PACKAGE}/package.json`));
}

/* bridge.js installs the Bridge.NET runtime (Bridge, System) on the global object when loaded as a
 * CommonJS module; Kusto.Language.Bridge.js then registers the global Kusto namespace into it. */
function loadKusto(dir) {
    require(path.join(dir, "bridge.js"));
    require(path.join(dir, "Kusto.Language.Bridge.js"));
    const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
    return { Kusto: global.Kusto, version };
}

function schemaText(schema) {
    if (typeof schema === "string") return schema;
    return "(" + Object.entries(schema).map(([name, type]) => `${name}:${type}`).join(", ") + ")";
}

function makeGlobals(Kusto, tables, databaseName) {
    const Symbols = Kusto.Language.Symbols;
    const symbols = Object.entries(tables || {}).map(
        ([name, schema]) => new Symbols.TableSymbol.$ctor7(name, schemaText(schema), null)
    );
    const database = new Symbols.DatabaseSymbol.ctor(databaseName || "db", symbols);
    return Kusto.Language.GlobalState.Default.WithDatabase(database);
}

function toArray(list) {
    const items = [];
    for (let i = 0; i < list.Count; i++) items.push(list.getItem(i));
    return items;
}

/* Maps UTF-16 offsets to code-point offsets and 1-based line/column positions. */
class Positions {
    constructor(text) {
        this.text = text;
    }

    codePoints(from, to) {
        let count = 0;
        for (let i = from; i < to; i++) {
            count++;
            if (this.isPairAt(i)) i++;
        }
        return count;
    }

    isPairAt(i) {
        const c = this.text.charCodeAt(i);
        const d = this.text.charCodeAt(i + 1);
        return c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff;
    }

    lineAndColumn(offset) {
        let line = 1;
        let lineStart = 0;
        for (let i = 0; i < offset && i < this.text.length; i++) {
            const c = this.text.charCodeAt(i);
            if (c === 13 && this.text.charCodeAt(i + 1) === 10) continue;
            if (c === 13 || c === 10 || c === 0x2028 || c === 0x2029) {
                line++;
                lineStart = i + 1;
            }
        }
        return { line, column: this.codePoints(lineStart, offset) + 1 };
    }
}

function diagnosticsOf(code, text) {
    const positions = new Positions(text);
    return toArray(code.GetDiagnostics()).map((d) => {
        const start = Math.min(d.Start, text.length);
        const end = Math.min(d.Start + d.Length, text.length);
        const { line, column } = positions.lineAndColumn(start);
        return {
            code: d.Code,
            severity: String(d.Severity),
            message: d.Message,
            start: positions.codePoints(0, start),
            length: positions.codePoints(start, end),
            line,
            column,
        };
    });
}

function columnsOf(code) {
    const result = code.ResultType;
    if (!result || !result.Columns) return [];
    return toArray(result.Columns).map((column) => column.Name);
}

function fixedTokens(Kusto) {
    const facts = Kusto.Language.Syntax.SyntaxFacts;
    const tokens = [];
    const kinds = facts.GetKindsWithFixedText().GetEnumerator();
    while (kinds.moveNext()) tokens.push([facts.GetText(kinds.Current), String(facts.GetCategory(kinds.Current))]);
    return tokens;
}

function literalsOf(Kusto, code) {
    const Kind = Kusto.Language.Syntax.SyntaxKind;
    const values = [];
    Kusto.Language.Syntax.SyntaxElement.WalkNodes(code.Syntax, (node) => {
        if (node.Kind === Kind.StringLiteralExpression || node.Kind === Kind.CompoundStringLiteralExpression) {
            values.push(node.LiteralValue);
        }
    });
    return values;
}

class Service {
    constructor(kusto) {
        this.Kusto = kusto.Kusto;
        this.version = kusto.version;
        this.tableNames = [];
        this.globals = makeGlobals(this.Kusto, {}, "db");
    }

    declare(tables, databaseName) {
        this.globals = makeGlobals(this.Kusto, tables, databaseName);
        this.tableNames = Object.keys(tables || {});
        return { tables: this.tableNames };
    }

    check(query, want) {
        const parts = new Set(want || ALL_PARTS);
        const code = this.Kusto.Language.KustoCode.ParseAndAnalyze(query, this.globals);
        const answer = {};
        if (parts.has("diagnostics")) answer.diagnostics = diagnosticsOf(code, query);
        if (parts.has("columns")) answer.columns = columnsOf(code);
        if (parts.has("literals")) answer.literals = literalsOf(this.Kusto, code);
        return answer;
    }

    handle(request) {
        if (request.tables !== undefined) return this.declare(request.tables, request.database);
        if (typeof request.query === "string") return this.check(request.query, request.want);
        if (request.command === "version") return { version: this.version };
        if (request.command === "tokens") return { tokens: fixedTokens(this.Kusto) };
        throw new Error("a request needs 'query' (a string), 'tables' or 'command'");
    }
}

function respond(service, line) {
    let id = null;
    let answer;
    try {
        const request = JSON.parse(line);
        id = request.id === undefined ? null : request.id;
        answer = service.handle(request);
    } catch (err) {
        answer = { error: String((err && err.message) || err) };
    }
    writeOut(JSON.stringify(Object.assign({ id }, answer)) + "\n");
}

function main() {
    const args = parseArgs(process.argv.slice(2));
    let service;
    try {
        service = new Service(loadKusto(packageDir(args.nodeModules)));
    } catch (err) {
        process.stderr.write(`kql_check: cannot load ${PACKAGE}: ${(err && err.message) || err}\n`);
        process.exit(2);
    }
    if (args.schemas) service.declare(JSON.parse(fs.readFileSync(args.schemas, "utf8")));
    readLines(process.stdin, (line) => {
        if (line.trim()) respond(service, line);
    });
}

/* Splits the input at "\n" only: readline would also split at U+2028/U+2029, which JSON allows raw. */
function readLines(stream, onLine) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
        const lines = (pending + chunk).split("\n");
        pending = lines.pop();
        lines.forEach(onLine);
    });
    stream.on("end", () => {
        if (pending) onLine(pending);
    });
}

main();
