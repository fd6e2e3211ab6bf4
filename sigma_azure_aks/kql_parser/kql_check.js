#!/usr/bin/env node
/*
 * Microsoft's Kusto parser (npm @kusto/language-service-next) as a line-oriented JSON service in a
 * node process: one request a line on stdin, one answer a line on stdout. The requests, answers and
 * checking logic are those of kql_service.js beside this file (shared with the engine embedded in
 * Python).
 *
 * Usage: node kql_check.js --runtime bridge.min.js --library Kusto.Language.Bridge.min.js
 *                          [--version 12.4.1] [--schemas FILE]
 *   --runtime: the Bridge.NET runtime (bridge.js or bridge.min.js)
 *   --library: the compiled Kusto.Language (Kusto.Language.Bridge.js or its .min.js)
 */
"use strict";

const fs = require("fs");
const path = require("path");
const { Service, respond } = require("./kql_service.js");

// The protocol owns stdout: anything the library might log goes to stderr.
const writeOut = process.stdout.write.bind(process.stdout);
console.log = console.info = console.warn = console.debug = console.error;

function parseArgs(argv) {
    const args = { runtime: null, library: null, version: "unknown", schemas: null };
    const names = { "--runtime": "runtime", "--library": "library", "--version": "version", "--schemas": "schemas" };
    for (let i = 0; i < argv.length; i++) {
        if (!(argv[i] in names)) throw new Error(`unknown argument ${argv[i]}`);
        args[names[argv[i]]] = argv[++i];
    }
    if (!args.runtime || !args.library) throw new Error("--runtime and --library are required");
    return args;
}

/* The runtime installs Bridge.NET (Bridge, System) on the global object when loaded as a CommonJS
 * module; the library then registers the global Kusto namespace into it. */
function loadKusto(args) {
    require(path.resolve(args.runtime));
    require(path.resolve(args.library));
    return new Service(global.Kusto, args.version);
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

function main() {
    let service;
    let args;
    try {
        args = parseArgs(process.argv.slice(2));
        service = loadKusto(args);
    } catch (err) {
        process.stderr.write(`kql_check: cannot load the Kusto parser: ${(err && err.message) || err}\n`);
        process.exit(2);
    }
    if (args.schemas) service.declare(JSON.parse(fs.readFileSync(args.schemas, "utf8")), "db", "");
    readLines(process.stdin, (line) => {
        if (line.trim()) writeOut(respond(service, line) + "\n");
    });
}

main();
