# The development shell: the same Node.js and Yarn the image is built with, the native
# services process-compose runs (instead of Docker Desktop), and this repo's tools.
{ pkgs, tools, nodejs, yarn }:
pkgs.mkShell {
  packages = [
    nodejs
    yarn
    pkgs.mariadb
    pkgs.redis
    pkgs.mailpit
    pkgs.process-compose
    tools
    # node-gyp (native modules such as Ghost's sqlite3) needs Python with setuptools.
    (pkgs.python3.withPackages (ps: [ ps.setuptools ]))
    pkgs.pkg-config
  ];
  # node-gyp builds against Nix's headers instead of downloading them.
  npm_config_nodedir = nodejs;
  # The staleness warning comes from .envrc (direnv) or `nix-hooks envrc` by hand; here
  # it would print twice under direnv.
  shellHook = ''
    echo "dev shell: node $(node --version), yarn $(yarn --version); 'nix run .#dev' starts MySQL, Redis, Mailpit and the app"
  '';
}
