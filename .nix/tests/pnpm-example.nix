# `cargo xtask nix-check` evaluates this (purely: nothing is built) against the repository
# and against scratch trees with planted faults. It calls .nix/pnpm-example.nix with the
# stand-ins of ./pnpm-standins.nix and checks what reaches each nixpkgs function.
# Evaluates to true or throws naming the problem.
{ root }:
let
  dir = /. + root;
  standins = import ./pnpm-standins.nix { root = dir; };
  example = import (dir + "/.nix/pnpm-example.nix") (builtins.removeAttrs standins [ ]);
  inherit (example) pnpmDeps nodeModules app;
  expect = ok: message: if ok then true else throw "pnpm example: ${message}";
  has = builtins.elem;
  contextOf = s: builtins.attrNames (builtins.getContext s);
  # builtins.match refuses strings that refer to store paths; the text is what is checked.
  matches = re: s: builtins.match (builtins.unsafeDiscardStringContext re) (builtins.unsafeDiscardStringContext s) != null;
  lockfile = "example-pnpm/pnpm-lock.yaml";
  record = builtins.fromTOML (builtins.readFile (dir + "/.nix/yarn-deps.toml"));
  deps = pnpmDeps.args;
  nm = nodeModules.args;
  a = app.args;
in
builtins.all (x: x) [
  # fetchPnpmDeps
  (expect (deps.fetcherVersion == 3) "fetchPnpmDeps must get fetcherVersion = 3 (the target update-pnpm-hash computes)")
  (expect (deps.pnpm == standins.pnpm) "fetchPnpmDeps must get the pnpm the node_modules are installed with")
  (expect (deps.hash == record.${lockfile}.hash) "fetchPnpmDeps' hash is not the one recorded for ${lockfile}")
  (expect (builtins.pathExists "${deps.src}/pnpm-lock.yaml")
    "fetchPnpmDeps' src must have pnpm-lock.yaml at its top (fetchPnpmDeps runs pnpm there)")
  (expect (builtins.hashFile "sha256" "${deps.src}/pnpm-lock.yaml" == builtins.hashFile "sha256" (dir + "/${lockfile}"))
    "fetchPnpmDeps' src holds another pnpm-lock.yaml than ${lockfile}")
  (expect (!(builtins.pathExists "${deps.src}/ghost/core/src")) "fetchPnpmDeps' src must hold manifests only (a code edit would refetch)")
  # node_modules
  (expect (has standins.pnpmConfigHook nm.nativeBuildInputs && has standins.pnpm nm.nativeBuildInputs)
    "the node-modules derivation must have pnpm and pnpmConfigHook in nativeBuildInputs")
  (expect (nm.pnpmDeps == pnpmDeps) "the node-modules derivation's pnpmDeps must be the fetchPnpmDeps output")
  (expect (!(nm.dontConfigure or false))
    "the node-modules derivation sets dontConfigure, so pnpmConfigHook (a postConfigure hook) never installs anything")
  (expect (nm.src == deps.src) "node_modules and fetchPnpmDeps must read the same manifests")
  # the app
  (expect (has nodeModules.drvPath (contextOf a.installPhase))
    "the app's installPhase does not reference the node-modules derivation")
  (expect (matches ".*link_node_modules ${nodeModules} \"[$]out/lib/example-pnpm\".*" a.installPhase)
    "the app must link node_modules into $out (link_node_modules), not copy it")
  (expect (!(matches ".*cp [^\n]*node_modules.*" a.installPhase))
    "the app's installPhase copies node_modules into the app's path: link it (.nix/link-node-modules.sh)")
  (expect (has standins.pnpm a.disallowedRequisites && has standins.pnpm nm.disallowedRequisites)
    "pnpm must be a disallowed requisite of the app and its node_modules (build-time only)")
  (expect (!(builtins.pathExists "${a.src}/node_modules") && builtins.pathExists "${a.src}/ghost/core/src/server.js")
    "the app's src must be example-pnpm/ without node_modules")
  (expect ((a.meta.mainProgram or null) == "example-pnpm-app") "the app needs meta.mainProgram = \"example-pnpm-app\" (lib.getExe, the image entrypoint)")
  (expect (app.nodeModules == nodeModules && app.pnpmDeps == pnpmDeps) "the app's passthru must expose pnpmDeps and nodeModules")
]
