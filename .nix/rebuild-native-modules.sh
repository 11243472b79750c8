# shellcheck shell=bash
# rebuild_native_modules DIR...: build every native addon under the node_modules
# directories DIR from source with node-gyp, after an install that ignored install scripts.
#
# Why not run the install scripts: they are written for laptops. better-sqlite3's is
# `prebuild-install || node-gyp rebuild --release`, sharp's downloads libvips: in the Nix
# sandbox the downloads fail, or hang on a proxy, and what they fetch is not pinned by the
# lockfile. So the install runs with --ignore-scripts (as nixpkgs' yarnConfigHook and
# pnpmConfigHook do) and this builds each package that has a binding.gyp, the way its
# script's fallback would: node-gyp against the headers in $npm_config_nodedir (Node's own
# headers: nixpkgs' nodejs, or /usr for Debian's nodejs), never downloaded ones.
#
# node-gyp is npm's bundled copy (<npm>/node_modules/node-gyp, the layout of both nixpkgs'
# nodejs and Debian's npm). It needs Python and a C++ compiler at build time only: the
# build tree (Makefiles, config.gypi) names both, so only the built *.node files are kept,
# and neither reaches the runtime closure (the flake's disallowedRequisites checks it).
#
# Used by the flake's node-modules derivation and by `cargo xtask nix-check`, which runs
# it on the example with Debian's toolchain; bash, coreutils and findutils only. The
# arguments that do not exist (a workspace without node_modules) are skipped.
rebuild_native_modules() {
  local npm_cli gyp pkg dir
  local -a dirs=()
  : "${npm_config_nodedir:?rebuild_native_modules: set npm_config_nodedir to the Node.js headers (nodejs package root)}"
  npm_cli=$(readlink -f "$(command -v npm)")
  gyp="$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js"
  if [ ! -f "$gyp" ]; then
    echo "rebuild_native_modules: no node-gyp next to npm ($gyp)" >&2
    return 1
  fi
  for dir in "$@"; do
    if [ -d "$dir" ]; then dirs+=("$dir"); fi
  done
  [ "${#dirs[@]}" -gt 0 ] || return 0
  while IFS= read -r -d "" pkg; do
    pkg=${pkg%/binding.gyp}
    # binding.gyp files of a package's vendored sources are not packages.
    [ -f "$pkg/package.json" ] || continue
    echo "rebuild_native_modules: $pkg (node-gyp, headers from $npm_config_nodedir)"
    (cd "$pkg" && node "$gyp" rebuild --release)
    # Release/obj.target holds a second copy of each addon; the rest is the build tree.
    rm -rf "$pkg/build/Release/obj.target" "$pkg/build/Release/.deps"
    find "$pkg/build" -type f ! -name '*.node' -delete
    find "$pkg/build" -depth -type d -empty -delete
    # Prebuilt binaries from the tarball (node-gyp-build's prebuilds/): the addon that
    # ships is the one built here.
    rm -rf "$pkg/prebuilds"
  done < <(find "${dirs[@]}" -name binding.gyp -print0 | LC_ALL=C sort -z)
}
