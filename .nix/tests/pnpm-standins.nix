# Stand-ins for the nixpkgs pieces .nix/pnpm-example.nix takes (nixpkgs cannot be fetched
# here), as raw derivations. Each keeps the arguments it was given (`args`) for the pure
# checks of .nix/tests/pnpm-example.nix; with `path` and `materialized` set, they also
# build (.nix/tests/node-modules-layer.nix):
# - fetchPnpmDeps: a fixed-output derivation with the recorded hash whose builder copies
#   `materialized` (update-pnpm-hash --materialize), so Nix itself checks the hash;
# - stdenv.mkDerivation: ./stdenv-standin.sh runs the unpack, configure (its hooks), build
#   and install phases from the given attributes; Nix enforces disallowedRequisites;
# - pnpmConfigHook: ./pnpm-config-hook-standin.sh, the real hook's commands;
# - pnpm: a copy of `pnpmDir` (pnpm 10.34.5 laid out as nixpkgs' pnpm_10 by
#   `cargo xtask reference-tools`); nodejs: the host's node, linked. Builders run as the
#   build users, so what they read must be in the store or world-readable; every builder is
#   the host's `bash`.
{ root, path ? "", materialized ? "", pnpmDir ? "", nodeBin ? "", bash ? "/bin/sh" }:
let
  system = builtins.currentSystem;
  raw = name: script: extra: derivation ({
    inherit name system;
    builder = bash;
    PATH = path;
    args = [ "-c" script ];
  } // extra);
  linkBin = name: bin: target: raw name ''mkdir -p "$out/bin" && ln -s ${target} "$out/bin/${bin}"'' { };
  dropped = [ "pname" "version" "meta" "passthru" ];
in
{
  inherit root;
  pnpm = raw "pnpm-standin" ''cp -r ${if pnpmDir == "" then "/none" else builtins.path { path = /. + pnpmDir; name = "pnpm"; }} "$out"'' { }
    // { version = "10.34.5"; };
  nodejs = linkBin "nodejs-standin" "node" nodeBin;
  nodejsRuntime = linkBin "nodejs-slim-standin" "node" nodeBin;
  makeBinaryWrapper = raw "make-binary-wrapper-standin" "mkdir $out" { };
  pnpmConfigHook = raw "pnpm-config-hook-standin" ''mkdir -p "$out/nix-support" && cp ${./pnpm-config-hook-standin.sh} "$out/nix-support/setup-hook"'' { };
  fetchPnpmDeps = args:
    raw "${args.pname}-pnpm-deps" ''cp -r ${if materialized == "" then "/none" else builtins.path { path = /. + materialized; name = "materialized"; }}/. "$out"''
      {
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        outputHash = args.hash;
      } // { inherit args; };
  stdenv.mkDerivation = args:
    raw "${args.pname}-${args.version}" "source ${./stdenv-standin.sh}" (builtins.removeAttrs args dropped)
    // { inherit args; } // (args.passthru or { });
  sources = import ../sources.nix;
  hashRecord = import ../yarn-deps.nix { recordFile = root + "/.nix/yarn-deps.toml"; inherit root; };
}
