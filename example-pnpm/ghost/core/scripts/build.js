'use strict';

// The build step: copies the sources into build/ and stamps them, the way Ghost's
// `yarn build` turns sources into what the image ships. Dependency-free on purpose, so
// the Nix build needs nothing beyond node_modules.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src');
const out = path.join(root, 'build');

fs.rmSync(out, {recursive: true, force: true});
fs.mkdirSync(out, {recursive: true});
const files = fs.readdirSync(src).filter(name => name.endsWith('.js')).sort();
for (const name of files) {
    fs.copyFileSync(path.join(src, name), path.join(out, name));
}
const pkg = require(path.join(root, 'package.json'));
// No timestamp: the same sources must give the same bytes, or Nix caching is wasted.
const info = {name: pkg.name, version: pkg.version, files};
fs.writeFileSync(path.join(out, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
console.log(`built ${files.length} files into ${path.relative(process.cwd(), out) || '.'}`);
