/**
 * Runs a TypeScript benchmark file in this process, the way jest runs tests:
 *
 *   node test/bench/run.js test/bench/launch/launch.bench.ts
 *
 * `.ts` files are compiled on require by @swc/core with the options of jest.config.js
 * (decorators with metadata, CommonJS, ES2022), and `@wharf/<lib>` resolves to
 * `libs/<lib>/src` as its moduleNameMapper (and tsconfig.json's paths) say.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher installs require hooks */
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..', '..');
const WHARF_LIB = /^@wharf\/(proto|domain|messaging|config|observability|testing)$/;

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const lib = WHARF_LIB.exec(request);
  const target = lib ? path.join(root, 'libs', lib[1], 'src') : request;
  return resolveFilename.call(this, target, ...rest);
};

const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

Module._extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcOptions, filename });
  module._compile(code, filename);
};

process.setSourceMapsEnabled?.(true);

const entry = process.argv[2];
if (!entry) {
  process.stderr.write('usage: node test/bench/run.js <file.ts>\n');
  process.exit(2);
}
process.argv.splice(1, 1); // the bench sees itself as argv[1]
require(path.resolve(entry));
