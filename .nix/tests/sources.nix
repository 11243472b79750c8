# `cargo xtask nix-check` evaluates this over a scratch tree before and after edits, and
# checks which of the flake's source sets change. Store paths are computed, not written.
{ root }:
let
  sources = import ../sources.nix;
  tree = /. + root;
in
{
  app = "${sources.app tree}";
  manifests = "${sources.manifests tree}";
  tools = "${sources.tools tree}";
}
  # The Yarn example's scratch trees have no example-pnpm/.
  // (if builtins.pathExists (tree + "/example-pnpm") then {
  pnpmApp = "${sources.pnpmApp tree}";
  pnpmManifests = "${sources.pnpmManifests tree}";
} else { })
