/*
 * The checking logic shared by both ways of running Microsoft's Kusto parser (npm
 * @kusto/language-service-next, Kusto.Language compiled to JavaScript by Bridge.NET): the node
 * process (kql_check.js) and the JavaScript engine embedded in Python (embedded.py). Both load the
 * parser, then this file, then answer one JSON request with one JSON answer through respond().
 *
 * Requests (a JSON object; "session" optional, default ""; each session has its own tables):
 *   {"tables": {"T": "(a:string, b:long)" | {"a": "string"}}, "database": "db", "session": "s"}
 *       declares the session's tables (replacing earlier ones); answers {"tables": [names]}
 *   {"query": "T | where a == 'x'", "want": ["diagnostics", "columns", "literals"], "session": "s"}
 *       answers {"diagnostics": [...], "columns": [...], "literals": [...]} (only the parts
 *       wanted; all three when "want" is absent)
 *   {"command": "version"}  answers {"version": "<package version>"}
 *   {"command": "forget", "session": "s"}  drops the session's tables; answers {}
 *   {"command": "tokens"}  answers {"tokens": [[text, category], ...]}: every token with fixed text
 *       (keywords, operators, punctuation) Kusto.Language knows
 *   a request that fails answers {"error": "message"}; every answer carries the request's "id".
 *
 * Diagnostics: {code, severity ("Error", "Warning", ...), message, start, length, line, column}.
 * start/length count Unicode code points (Python string indices), not JavaScript UTF-16 units;
 * line and column are 1-based, in code points, and lines end at CR LF, CR, LF, U+2028 or U+2029 as
 * in Kusto's own TextFacts.
 * Columns: names of the query's result columns ([] when the result is not a table).
 * Literals: the decoded value of every string literal expression, in source order; adjacent literals
 * that Kusto joins into one ("a" 'b') count as one value ("ab").
 */
(function (root) {
    "use strict";

    const ALL_PARTS = ["diagnostics", "columns", "literals"];

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
        /* Kusto: the namespace the parser registers (global.Kusto); version: its package version. */
        constructor(Kusto, version) {
            this.Kusto = Kusto;
            this.version = version;
            this.sessions = new Map();
            this.empty = makeGlobals(Kusto, {}, "db");
        }

        declare(tables, databaseName, session) {
            this.sessions.set(session, makeGlobals(this.Kusto, tables, databaseName));
            return { tables: Object.keys(tables || {}) };
        }

        check(query, want, session) {
            const parts = new Set(want || ALL_PARTS);
            const globals = this.sessions.get(session) || this.empty;
            const code = this.Kusto.Language.KustoCode.ParseAndAnalyze(query, globals);
            const answer = {};
            if (parts.has("diagnostics")) answer.diagnostics = diagnosticsOf(code, query);
            if (parts.has("columns")) answer.columns = columnsOf(code);
            if (parts.has("literals")) answer.literals = literalsOf(this.Kusto, code);
            return answer;
        }

        handle(request) {
            const session = request.session === undefined ? "" : String(request.session);
            if (request.tables !== undefined) return this.declare(request.tables, request.database, session);
            if (typeof request.query === "string") return this.check(request.query, request.want, session);
            if (request.command === "version") return { version: this.version };
            if (request.command === "tokens") return { tokens: fixedTokens(this.Kusto) };
            if (request.command === "forget") {
                this.sessions.delete(session);
                return {};
            }
            throw new Error("a request needs 'query' (a string), 'tables' or 'command'");
        }
    }

    /* One JSON request line in, one JSON answer line out (without the line break). */
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
        return JSON.stringify(Object.assign({ id }, answer));
    }

    const api = { Service, respond };
    if (typeof module !== "undefined" && module.exports) module.exports = api;
    else root.KqlService = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
