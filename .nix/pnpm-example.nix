# The pnpm example (example-pnpm/): its dependencies fetched by nixpkgs' fetchPnpmDeps with
# the hash from the record update-pnpm-hash writes, installed by pnpmConfigHook into a
# node_modules derivation of their own, and the app built against it.
#
# nixpkgs' side, as read at pkgs/build-support/node/fetch-pnpm-deps/{default.nix,
# pnpm-config-hook.sh} (NixOS/nixpkgs 00d3e9499656a99482f2d245bb600253927e40d2):
# fetchPnpmDeps needs `fetcherVersion` (no default) and takes `pnpm`; it runs
# `pnpm install --force --ignore-scripts --frozen-lockfile` where pnpm-lock.yaml is, the
# unpacked source's top. pnpmConfigHook is a postConfigure hook (so the configure phase
# must run: no `dontConfigure`): it unpacks $pnpmDeps/pnpm-store.tar.zst (fetcherVersion
# >= 3), runs `pnpm install --offline --ignore-scripts --frozen-lockfile` and
# patchShebangs node_modules.
#
# Takes its nixpkgs pieces as arguments (no `lib`), so .nix/tests/pnpm-example.nix can
# evaluate it purely with stand-ins and check what it passes to each.
{ stdenv
, fetchPnpmDeps
, pnpmConfigHook
, pnpm
, nodejs
, nodejsRuntime
, makeBinaryWrapper
, sources
, hashRecord
, root
}:
let
  lockfile = "example-pnpm/pnpm-lock.yaml";
  fetcherVersion = 3;
  corePackage = builtins.fromJSON (builtins.readFile (root + "/example-pnpm/ghost/core/package.json"));
  inherit (corePackage) version;
  manifests = sources.pnpmManifests root;

  pnpmDeps = fetchPnpmDeps {
    pname = "example-pnpm";
    inherit version fetcherVersion pnpm;
    src = manifests;
    hash = hashRecord.pnpmHashFor lockfile { inherit fetcherVersion; pnpm = pnpm.version; };
  };

  # Stage 1: node_modules from manifests only, so a code edit reuses it; the app references
  # it rather than copying it, so it is an image layer of its own.
  nodeModules = stdenv.mkDerivation {
    pname = "example-pnpm-node-modules";
    inherit version pnpmDeps;
    src = manifests;
    nativeBuildInputs = [ nodejs pnpm pnpmConfigHook ];
    # Nothing to build: pnpmConfigHook installed node_modules after the configure phase.
    dontBuild = true;
    installPhase = ''
      runHook preInstall
      mkdir -p "$out"
      cp -r node_modules "$out/"
      # pnpm links each workspace package (ghost/core/node_modules/@example-pnpm/mail ->
      # ../../../mail) and hoists links to them into node_modules/.pnpm/node_modules; keep
      # the link targets' manifests so no symlink dangles (stdenv rejects those).
      for ws in ghost/*/; do
        mkdir -p "$out/$ws"
        cp "$ws/package.json" "$out/$ws"
        if [ -d "$ws/node_modules" ]; then
          cp -r "$ws/node_modules" "$out/$ws"
        fi
      done
      runHook postInstall
    '';
    disallowedRequisites = [ pnpm ];
  };

  linkNodeModules = ./link-node-modules.sh;

  # Stage 2: the build on the filtered sources, against node_modules linked in, not copied.
  app = stdenv.mkDerivation {
    pname = "example-pnpm-app";
    inherit version;
    src = sources.pnpmApp root;
    nativeBuildInputs = [ nodejs pnpm makeBinaryWrapper ];
    dontConfigure = true;
    buildPhase = ''
      runHook preBuild
      export HOME=$TMPDIR
      # shellcheck source=/dev/null
      source ${linkNodeModules}
      link_node_modules ${nodeModules} .
      pnpm --offline build
      runHook postBuild
    '';
    installPhase = ''
      runHook preInstall
      mkdir -p "$out/lib/example-pnpm" "$out/bin"
      cp -r package.json pnpm-workspace.yaml ghost "$out/lib/example-pnpm/"
      # node_modules are links into the node-modules path, made again from it alone.
      find "$out/lib/example-pnpm/ghost" -name node_modules -prune -exec rm -r {} +
      link_node_modules ${nodeModules} "$out/lib/example-pnpm"
      makeWrapper ${nodejsRuntime}/bin/node "$out/bin/example-pnpm-app" \
        --add-flags "$out/lib/example-pnpm/ghost/core/build/server.js" \
        --set-default NODE_ENV production
      runHook postInstall
    '';
    # The image carries runtime dependencies only; the closure, since node_modules is not
    # in this path but referenced by it.
    disallowedRequisites = [ pnpm ];
    passthru = { inherit pnpmDeps nodeModules; };
    meta.mainProgram = "example-pnpm-app";
  };
in
{
  inherit pnpmDeps nodeModules app;
}
