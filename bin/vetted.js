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
require(main).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write('vetted: ' + (err && err.message ? err.message : String(err)) + '\n'); process.exitCode = 1; },
);
