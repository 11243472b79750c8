# The development shell: the same Node.js, Yarn and pnpm the images are built with, the native
# services process-compose runs (instead of Docker Desktop), and this repo's tools.
{ pkgs, tools, nodejs, yarn, pnpm }:
pkgs.mkShell {
  packages = [
    nodejs
    yarn
    # pnpm_10, the one example-pnpm's lockfile and its fetchPnpmDeps hash are for.
    pnpm
    # Ghost supports MySQL 8 (not MariaDB); 8.4 is the LTS series.
    pkgs.mysql84
    pkgs.redis
    pkgs.mailpit
    pkgs.process-compose
    tools
    # `precache-package --cache` pushes with it (warming the cache from a laptop).
    pkgs.cachix
    # node-gyp (native modules such as Ghost's sqlite3) needs Python with setuptools.
    (pkgs.python3.withPackages (ps: [ ps.setuptools ]))
    pkgs.pkg-config
  ];
  env = {
    # node-gyp builds against Nix's headers instead of downloading them.
    npm_config_nodedir = nodejs;
    # `process-compose up` by hand would otherwise open its API server on :8080, which
    # dev servers often hold (`nix run .#dev` sets the same).
    PC_NO_SERVER = "1";
  };
  # The staleness warning comes from .envrc (direnv) or `nix-hooks envrc` by hand; here
  # it would print twice under direnv.
  shellHook = ''
    echo "dev shell: node $(node --version), yarn $(yarn --version), pnpm $(pnpm --version); 'nix run .#dev' starts MySQL, Redis, Mailpit and the app"
  '';
}
