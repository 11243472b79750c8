# A raw derivation (no nixpkgs) that lists the files a builder sees in the `app` and
# `manifests` source sets; `cargo xtask nix-check` builds it (sandbox off, host find/sort
# passed in) and checks the lists.
{ root, find, sort }:
let
  sources = import ../sources.nix;
  tree = /. + root;
in
derivation {
  name = "sources-seen-by-a-builder";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  app = sources.app tree;
  manifests = sources.manifests tree;
  inherit find sort;
  args = [ "-c" "cd $app && $find . -type f | $sort > $out && echo --- >> $out && cd $manifests && $find . -type f | $sort >> $out" ];
}
