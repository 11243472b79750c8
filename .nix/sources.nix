# The source sets the flake's derivations read, each filtered to what that derivation
# needs. This is what keeps a tooling edit (.nix/, .github/, docs, the Rust tools) from
# changing the image's derivation and so from triggering a 30-minute image rebuild.
#
# Written with builtins only, so `.nix/tests/sources.nix` can evaluate it without nixpkgs.
let
  inherit (builtins) baseNameOf elem filter length split stringLength substring;

  # Path relative to the root, "" for the root itself.
  relativeTo = root: path:
    let r = toString root; in
    if path == r then "" else substring (stringLength r + 1) (stringLength path) path;

  components = rel: filter builtins.isString (split "/" rel);

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  # Generated or local-only paths that never belong in a build input.
  junkNames = [ "node_modules" ".dev-data" "result" ".direnv" ".git" "target" ];
  isJunk = rel: type:
    let parts = components rel; in
    builtins.any (p: elem p junkNames) parts
    # `yarn build` output: ghost/<workspace>/build
    || (type == "directory" && length parts == 4 && elem "build" [ (builtins.elemAt parts 3) ]);

  isDoc = rel: builtins.match ".*\\.md" rel != null;

  # The example workspace minus junk and docs: what `yarn build` reads.
  appKeep = rel: type:
    rel == "example"
    || (hasPrefix "example/" rel && !isJunk rel type && !isDoc rel);

  # Only what `yarn install` reads: manifests, the lockfile and yarn's config. Directories
  # are kept down to the workspace level (example/ghost/<name>, matching the `ghost/*`
  # glob) so adding a source folder does not invalidate node_modules.
  manifestNames = [ "package.json" "yarn.lock" ".yarnrc" ".npmrc" ];
  manifestKeep = rel: type:
    appKeep rel type
    && (if type == "directory"
    then length (components rel) <= 3
    else elem (baseNameOf rel) manifestNames);

  # The pnpm example (example-pnpm/), in the same two sets. They are rooted at example-pnpm/
  # itself: fetchPnpmDeps and pnpmConfigHook run pnpm where pnpm-lock.yaml is, the
  # unpacked source's top.
  pnpmAppKeep = rel: type:
    rel == "example-pnpm"
    || (hasPrefix "example-pnpm/" rel && !isJunk rel type && !isDoc rel);
  pnpmManifestNames = [ "package.json" "pnpm-lock.yaml" "pnpm-workspace.yaml" ".npmrc" ];
  pnpmManifestKeep = rel: type:
    pnpmAppKeep rel type
    && (if type == "directory"
    then length (components rel) <= 3
    else elem (baseNameOf rel) pnpmManifestNames);

  # The Cargo workspace: every member must be present for cargo to load the workspace.
  toolCrates = [ "common" "sha512-lanes" "hash-cli" "update-yarn-hash" "update-pnpm-hash" "precache-package" "hooks" "xtask" "test-support" ];
  toolsKeep = rel: type:
    # The hooks' tests install the tracked shim, so it belongs to the tools' source; the
    # suites validate --json output against docs/json.schema.json.
    elem rel [ "Cargo.toml" "Cargo.lock" ".cargo" ".cargo/config.toml" ".nix" ".nix/githooks" ".nix/githooks/pre-commit" "docs" "docs/json.schema.json" ]
    || (builtins.any (c: rel == c || hasPrefix "${c}/" rel) toolCrates && !isJunk rel type);

  sourceWith = name: keep: root: builtins.path {
    path = root;
    inherit name;
    filter = path: keep (relativeTo root path);
  };
  # The same, for the directory `dir` of the root (filters still see root-relative paths).
  subdirWith = name: keep: dir: root: builtins.path {
    path = root + "/${dir}";
    inherit name;
    filter = path: keep (relativeTo root path);
  };
in
{
  inherit appKeep manifestKeep toolsKeep pnpmAppKeep pnpmManifestKeep;
  # Each takes the repository root and gives a store path holding only the kept files.
  app = sourceWith "example-source" appKeep;
  manifests = sourceWith "example-manifests" manifestKeep;
  tools = sourceWith "nixci-tools-source" toolsKeep;
  pnpmApp = subdirWith "example-pnpm-source" pnpmAppKeep "example-pnpm";
  pnpmManifests = subdirWith "example-pnpm-manifests" pnpmManifestKeep "example-pnpm";
}
