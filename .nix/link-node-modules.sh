# shellcheck shell=bash
# link-node-modules FROM TO: give the workspace at TO the node_modules directories of the
# store path FROM (the node-modules derivation: FROM/node_modules, FROM/ghost/*/node_modules)
# as trees of symlinks, so the app's store path references node_modules instead of holding
# a copy. dockerTools then puts that path in a layer of its own (an app-only change re-pushes
# the app's layer only), and the app's own layer is a few kilobytes of links.
#
# Each entry of a node_modules directory becomes:
# - a symlink in FROM: copied as is. Those are the package manager's relative links, which
#   must resolve inside TO: workspace links (Yarn's node_modules/@example/core ->
#   ../../ghost/core, pnpm's ghost/core/node_modules/@example-pnpm/mail -> ../../../mail)
#   then reach the app's built workspace, not the manifests-only copy in FROM, and pnpm's
#   links into node_modules/.pnpm go through the link made for .pnpm below;
# - a scope directory (@scope) or .bin: made here, its entries treated the same way, so a
#   scope mixing workspace links and registry packages, and .bin links, resolve as above;
# - anything else (a package, pnpm's .pnpm virtual store, .modules.yaml): a symlink into
#   FROM. Node resolves symlinks to their real path before looking for a package's own
#   dependencies, so these find theirs inside FROM, where the package manager put them.
#
# Written for the flake's app derivations and for .nix/tests/node-modules-layer.nix,
# which builds it with a raw derivation; bash and coreutils only.
link_entries() {
  local from=$1 to=$2 entry name
  mkdir -p "$to"
  for entry in "$from"/* "$from"/.[!.]* "$from"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    if [ -L "$entry" ]; then
      cp -P "$entry" "$to/$name"
    elif [ -d "$entry" ] && { [ "${name:0:1}" = @ ] || [ "$name" = .bin ]; }; then
      link_entries "$entry" "$to/$name"
    else
      ln -s "$entry" "$to/$name"
    fi
  done
}

link_node_modules() {
  local from=$1 to=$2 dir
  if [ ! -d "$from/node_modules" ]; then
    echo "link-node-modules: $from has no node_modules directory" >&2
    return 1
  fi
  # The root's node_modules and each workspace's (ghost/<name>/node_modules), never
  # node_modules nested inside a package, which the links to FROM already carry.
  while IFS= read -r -d "" dir; do
    dir=${dir#./}
    link_entries "$from/$dir" "$to/$dir"
  done < <(cd "$from" && find . -name node_modules -prune -type d -print0 | LC_ALL=C sort -z)
}
