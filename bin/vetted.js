#!/usr/bin/env node
'use strict';
// The compiled CLI lives in dist/; `npm run build` (or `npm start`) produces it.
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('vetted: not built yet. Run `npm run build` in ' + path.dirname(__dirname) + '\n');
  process.exit(1);
}
// a reader that stops early (`vetted check --json | head`) is not an error
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit();
  throw err;
});
require(main).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write('vetted: ' + (err && err.message ? err.message : String(err)) + '\n'); process.exitCode = 1; },
);
