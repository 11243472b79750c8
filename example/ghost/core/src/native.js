'use strict';

const path = require('path');
const bufferutil = require('bufferutil');

// The app's native dependency: bufferutil (ws' WebSocket masking, a C addon) stands in for
// Ghost's sqlite3/sharp/re2. The Nix build compiles it from source with node-gyp
// (.nix/rebuild-native-modules.sh); this says which binary was loaded and that it works.
function nativeAddon() {
    const dir = path.dirname(require.resolve('bufferutil/package.json'));
    let binary = 'js fallback';
    try {
        binary = path.relative(dir, require('node-gyp-build').path(dir));
    } catch {
        // bufferutil then runs its JavaScript fallback.
    }
    const out = Buffer.alloc(4);
    bufferutil.mask(Buffer.from('abcd'), Buffer.from([1, 2, 3, 4]), out, 0, 4);
    return {binary, works: out.toString('hex') === '60606060'};
}

module.exports = nativeAddon;
