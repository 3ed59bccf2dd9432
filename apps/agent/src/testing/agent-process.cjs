/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS bootstrap */
/**
 * Test support: runs the agent from its TypeScript sources in a child process, so a test can
 * kill -9 it. Compiles each .ts file with swc on require (as jest does) and maps `@wharf/*`
 * to `libs/<name>/src`.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '../../../..');
const wharfLib = /^@wharf\/(proto|domain|messaging|config|observability|testing)$/;

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const lib = wharfLib.exec(request);
  const target = lib ? path.join(root, 'libs', lib[1], 'src', 'index.ts') : request;
  return resolve.call(this, target, ...rest);
};

Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

require(path.join(root, 'apps/agent/src/main.ts'));
