# Builds .nix/pnpm-example.nix's node_modules and app with the stand-ins of
# ./pnpm-standins.nix: fetchPnpmDeps' output is what update-pnpm-hash --materialize wrote
# (Nix checks it against the recorded hash), node_modules is installed from it by the real
# pnpm 10.34.5 running pnpmConfigHook's commands, and the app runs the flake's own build and
# install phases. `cargo xtask nix-check` builds it (sandbox off, host tools on `path`) and
# checks that the app references node_modules instead of holding it, and that it runs.
{ root, path, materialized, pnpmDir, nodeBin, bash }:
let
  standins = import ./pnpm-standins.nix { root = /. + root; inherit path materialized pnpmDir nodeBin bash; };
  example = import (/. + root + "/.nix/pnpm-example.nix") standins;
in
{
  inherit (example) app nodeModules pnpmDeps;
}
