{
  description = "Nix CI for Yarn v1 and pnpm monorepos: the tools, example workspaces, their images and dev services";

  # ---- PROJECT SETTING: the shared binary cache -------------------------------------
  # The project's cache (CI pushes to it with `precache-package`, everyone reads from it),
  # never a personal one. Adopters replace both values with their own cache: see
  # docs/adopting.md. The key is the placeholder the cache's owner swaps for the one
  # `cachix create` (or `nix key generate-secret` for an S3/HTTP cache) prints.
  nixConfig = {
    extra-substituters = [ "https://nixci-yarn.cachix.org" ];
    extra-trusted-public-keys = [ "nixci-yarn.cachix.org-1:/wJdzM0Va4UFygED9oEsPknv77e+gNILo1NRXIRM46c=" ];
  };
  # -------------------------------------------------------------------------------------

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { nixpkgs, ... }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      sources = import ./.nix/sources.nix;

      # The hash record update-yarn-hash and update-pnpm-hash write, checked against the
      # lockfiles at evaluation.
      yarnDeps = import ./.nix/yarn-deps.nix { recordFile = ./.nix/yarn-deps.toml; root = ./.; };

      perSystem = pkgs:
        let
          nodejs = pkgs.nodejs_22;
          # What the app runs on: node without npm and corepack, so the image carries less.
          nodejsRuntime = pkgs.nodejs-slim_22;
          yarn = pkgs.yarn.override { inherit nodejs; };
          corePackage = builtins.fromJSON (builtins.readFile ./example/ghost/core/package.json);
          inherit (corePackage) version;
          toolsManifest = builtins.fromTOML (builtins.readFile ./update-yarn-hash/Cargo.toml);
          nodeGypPython = pkgs.python3.withPackages (ps: [ ps.setuptools ]);

          tools = pkgs.rustPlatform.buildRustPackage {
            pname = "nixci-tools";
            inherit (toolsManifest.package) version;
            src = sources.tools ./.;
            cargoLock.lockFile = ./Cargo.lock;
            cargoBuildFlags = [ "-p" "update-yarn-hash" "-p" "update-pnpm-hash" "-p" "precache-package" "-p" "hooks" ];
            # Not update-pnpm-hash's tests: they fetch its fixture's packages from the npm
            # registry, which the sandbox has no access to (`cargo xtask ci` runs them).
            cargoTestFlags = [ "-p" "common" "-p" "update-yarn-hash" "-p" "precache-package" "-p" "hooks" ];
            nativeBuildInputs = [ pkgs.pkg-config ];
            # git2 links libgit2 (vendored), libssh2 and OpenSSL. The workspace vendors
            # OpenSSL for bare machines; in Nix, link nixpkgs' instead.
            buildInputs = [ pkgs.openssl pkgs.zlib ];
            env.OPENSSL_NO_VENDOR = 1;
            # Run as the `tools-tests` check. Nix is left out on purpose: it cannot use the
            # store inside the build sandbox, and the tests skip (printing why) without it;
            # `cargo xtask ci` runs them against real Nix.
            doCheck = false;
            nativeCheckInputs = [ pkgs.git ];
            # The tests bind HTTP servers and caches on 127.0.0.1; the macOS sandbox forbids
            # that unless asked (nixpkgs pkgs/stdenv/generic/make-derivation.nix).
            __darwinAllowLocalNetworking = true;
            meta = {
              description = "update-yarn-hash, update-pnpm-hash, precache-package and nix-hooks";
              # `nix run .` runs this one (the record writer is what every adopter runs first).
              mainProgram = "update-yarn-hash";
            };
          };

          yarnOfflineCache = pkgs.fetchYarnDeps {
            yarnLock = ./example/yarn.lock;
            hash = yarnDeps.hashFor "example/yarn.lock";
          };

          # Stage 1: node_modules from manifests only, so a code edit reuses it.
          nodeModules = pkgs.stdenv.mkDerivation {
            pname = "example-node-modules";
            inherit version;
            src = sources.manifests ./.;
            # fixup-yarn-lock is its own package in nixpkgs (not part of prefetch-yarn-deps);
            # node-gyp needs setuptools (distutils is gone from Python >= 3.12).
            nativeBuildInputs = [ nodejs yarn pkgs.fixup-yarn-lock nodeGypPython ];
            # node-gyp builds against these headers instead of downloading them.
            env.npm_config_nodedir = nodejs;
            dontConfigure = true;
            buildPhase = ''
              runHook preBuild
              cd example || exit 1
              export HOME=$TMPDIR
              yarn config --offline set yarn-offline-mirror ${yarnOfflineCache}
              fixup-yarn-lock yarn.lock
              # Install scripts ignored, as nixpkgs' yarnConfigHook does: they download
              # (prebuilt binaries, headers) or run unpinned code. Native addons are built
              # from source next, against nodejs' headers; Python and the compiler stay
              # build inputs (the app's disallowedRequisites checks it).
              yarn install --offline --frozen-lockfile --ignore-scripts --non-interactive --no-progress
              patchShebangs node_modules
              # shellcheck source=/dev/null
              source ${./.nix/rebuild-native-modules.sh}
              rebuild_native_modules node_modules ghost/*/node_modules
              runHook postBuild
            '';
            installPhase = ''
              runHook preInstall
              mkdir -p "$out"
              cp -r node_modules "$out/"
              # Yarn links each workspace (node_modules/@example/core -> ../../ghost/core);
              # keep the link targets' manifests so no symlink dangles (stdenv rejects those).
              for ws in ghost/*/; do
                mkdir -p "$out/$ws"
                cp "$ws/package.json" "$out/$ws"
                if [ -d "$ws/node_modules" ]; then
                  cp -r "$ws/node_modules" "$out/$ws"
                fi
              done
              runHook postInstall
            '';
          };

          linkNodeModules = ./.nix/link-node-modules.sh;

          # Stage 2: `yarn build` on the filtered sources, plus a wrapper to run the server.
          app = pkgs.stdenv.mkDerivation {
            pname = "example-app";
            inherit version;
            src = sources.app ./.;
            nativeBuildInputs = [ nodejs yarn pkgs.makeBinaryWrapper ];
            dontConfigure = true;
            buildPhase = ''
              runHook preBuild
              cd example || exit 1
              export HOME=$TMPDIR
              cp -r ${nodeModules}/. .
              chmod -R u+w .
              yarn --offline build
              runHook postBuild
            '';
            installPhase = ''
              runHook preInstall
              mkdir -p "$out/lib/example" "$out/bin"
              cp -r package.json ghost "$out/lib/example/"
              # node_modules are links into the node-modules path, not copies, so it is an
              # image layer of its own (.nix/link-node-modules.sh says how links resolve).
              find "$out/lib/example/ghost" -name node_modules -prune -exec rm -r {} +
              # shellcheck source=/dev/null
              source ${linkNodeModules}
              link_node_modules ${nodeModules} "$out/lib/example"
              makeWrapper ${lib.getExe nodejsRuntime} "$out/bin/example-app" \
                --add-flags "$out/lib/example/ghost/core/build/server.js" \
                --set-default NODE_ENV production
              runHook postInstall
            '';
            # The image carries runtime dependencies only. Requisites, not references:
            # node_modules is in the closure through the links, not in this path.
            disallowedRequisites = [ yarn nodeGypPython ];
            meta.mainProgram = "example-app";
          };

          # example-pnpm/: fetchPnpmDeps, pnpmConfigHook, node_modules and the app.
          pnpm = pkgs.pnpm_10;
          pnpmExample = import ./.nix/pnpm-example.nix {
            inherit (pkgs) stdenv fetchPnpmDeps pnpmConfigHook makeBinaryWrapper;
            inherit pnpm nodejs nodejsRuntime sources;
            hashRecord = yarnDeps;
            root = ./.;
          };
          pnpmImage = pkgs.callPackage ./.docker-nix { inherit (pnpmExample) app; nodejs = nodejsRuntime; };

          # What `nix run .#dev` puts on PATH for process-compose.yaml's commands.
          devServices = [ nodejs yarn pkgs.mysql84 pkgs.redis pkgs.mailpit pkgs.process-compose pkgs.git pkgs.coreutils pkgs.bash ];

          dev = pkgs.writeShellApplication {
            name = "dev";
            runtimeInputs = devServices;
            text = ''
              # process-compose.yaml uses paths relative to the repository root.
              cd "$(git rev-parse --show-toplevel 2>/dev/null || pwd)" || exit 1
              mkdir -p .dev-data
              # No TCP API server (it defaults to :8080, which dev servers often hold).
              export PC_NO_SERVER=1
              exec process-compose up -f .nix/process-compose.yaml "$@"
            '';
          };

          # Every .nix file, hidden directories included. nixpkgs-fmt and deadnix skip hidden
          # directories (.nix/, .docker-nix/) when given a directory, so this script
          # names each file; `nix fmt`, checks.formatting and `cargo xtask nix-check` (which
          # runs this very script against planted faults) all go through it.
          # nixpkgs-fmt rather than nixfmt: see README.md "Nix formatting".
          nixFmtTree = pkgs.writeShellApplication {
            name = "nixpkgs-fmt-tree";
            runtimeInputs = [ pkgs.nixpkgs-fmt pkgs.deadnix pkgs.findutils pkgs.coreutils ];
            text = ''
              mode=format
              case "''${1:-}" in
                --check) mode=check; shift ;;
                --list) mode=list; shift ;;
              esac
              # `nix fmt` passes nothing since Nix 2.25 and "." before: both mean every file.
              if [ "$#" -eq 0 ] || [ "$*" = . ]; then
                mapfile -d "" files < <(find . \( -name .git -o -name node_modules -o -name target -o -name .direnv -o -name .dev-data -o -name 'result*' \) -prune -o -type f -name '*.nix' -print0 | LC_ALL=C sort -z)
              else
                files=("$@")
              fi
              if [ "''${#files[@]}" -eq 0 ]; then
                echo "nixpkgs-fmt-tree: no .nix files" >&2
                exit 1
              fi
              case "$mode" in
                list) printf '%s\n' "''${files[@]}" ;;
                check)
                  nixpkgs-fmt --check "''${files[@]}"
                  deadnix --fail "''${files[@]}"
                  ;;
                format) nixpkgs-fmt "''${files[@]}" ;;
              esac
            '';
          };

          nixFiles = builtins.path {
            path = ./.;
            name = "nix-files";
            filter = path: type:
              (type == "directory" && !(lib.elem (baseNameOf path) [ ".git" "node_modules" "target" ".direnv" ".dev-data" ]))
              || lib.hasSuffix ".nix" path;
          };
        in
        {
          packages = {
            inherit tools app dev;
            yarn-offline-cache = yarnOfflineCache;
            node-modules = nodeModules;
            pnpm-app = pnpmExample.app;
            pnpm-deps = pnpmExample.pnpmDeps;
            pnpm-node-modules = pnpmExample.nodeModules;
            default = tools;
          } // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
            dockerImage = pkgs.callPackage ./.docker-nix { inherit app; nodejs = nodejsRuntime; };
            pnpmDockerImage = pnpmImage;
          };

          apps =
            let
              mkApp = program: description: { type = "app"; inherit program; meta = { inherit description; }; };
            in
            rec {
              update-yarn-hash = mkApp "${tools}/bin/update-yarn-hash" "Record or check the fetchYarnDeps hash of each yarn.lock (.nix/yarn-deps.toml)";
              update-pnpm-hash = mkApp "${tools}/bin/update-pnpm-hash" "Record or check the fetchPnpmDeps hash of each pnpm-lock.yaml (.nix/yarn-deps.toml)";
              precache-package = mkApp "${tools}/bin/precache-package" "Build a flake output and push its closure to the binary cache CI substitutes from";
              nix-hooks = mkApp "${tools}/bin/nix-hooks" "Git pre-commit checks: yarn.lock and pnpm-lock.yaml hashes recorded, Nix files parse";
              dev = mkApp (lib.getExe dev) "Start MySQL, Redis, Mailpit and the example app under process-compose";
              default = update-yarn-hash;
            };

          devShells.default = import ./.nix/dev-shell.nix { inherit pkgs tools nodejs yarn pnpm; };

          checks = {
            tools-tests = tools.overrideAttrs { doCheck = true; };
            yarn-hash-fresh = pkgs.runCommand "yarn-hash-fresh"
              {
                nativeBuildInputs = [ tools pkgs.git ];
                src = builtins.path {
                  path = ./.;
                  name = "yarn-hash-inputs";
                  filter = path: _type:
                    let rel = lib.removePrefix "${toString ./.}/" path; in
                    lib.elem rel [ ".nix" ".nix/yarn-deps.toml" "example" "example/yarn.lock" ];
                };
              } ''
              cp -r "$src" repo && chmod -R u+w repo && cd repo || exit 1
              git init -q && git add -A
              update-yarn-hash --check
              touch "$out"
            '';
            pnpm-hash-fresh = pkgs.runCommand "pnpm-hash-fresh"
              {
                nativeBuildInputs = [ tools pkgs.git ];
                src = builtins.path {
                  path = ./.;
                  name = "pnpm-hash-inputs";
                  filter = path: _type:
                    let rel = lib.removePrefix "${toString ./.}/" path; in
                    lib.elem rel [ ".nix" ".nix/yarn-deps.toml" "example-pnpm" "example-pnpm/pnpm-lock.yaml" ];
                };
              } ''
              cp -r "$src" repo && chmod -R u+w repo && cd repo || exit 1
              git init -q && git add -A
              update-pnpm-hash --check
              touch "$out"
            '';
            formatting = pkgs.runCommand "nix-formatting"
              { nativeBuildInputs = [ nixFmtTree pkgs.statix ]; } ''
              cd ${nixFiles} || exit 1
              nixpkgs-fmt-tree --check
              # statix takes one path; given this list it checks exactly the files the others do.
              nixpkgs-fmt-tree --list | while IFS= read -r file; do
                statix check "$file"
              done
              touch "$out"
            '';
          } // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
            # Evaluating the image forces the source filters and the whole build graph.
            image = pkgs.callPackage ./.docker-nix { inherit app; nodejs = nodejsRuntime; };
            pnpm-image = pnpmImage;
          };

          formatter = nixFmtTree;
        };

      bySystem = forAllSystems perSystem;
    in
    {
      packages = lib.mapAttrs (_: s: s.packages) bySystem;
      apps = lib.mapAttrs (_: s: s.apps) bySystem;
      devShells = lib.mapAttrs (_: s: s.devShells) bySystem;
      checks = lib.mapAttrs (_: s: s.checks) bySystem;
      formatter = lib.mapAttrs (_: s: s.formatter) bySystem;
    };
}
