# shellcheck shell=bash
# The commands of nixpkgs' pnpmConfigHook for fetcherVersion 3 and pnpm 10, in order
# (pkgs/build-support/node/fetch-pnpm-deps/pnpm-config-hook.sh, NixOS/nixpkgs
# 00d3e9499656a99482f2d245bb600253927e40d2), minus its messages, pnpmRoot/pnpmWorkspaces
# (unused here) and patchShebangs (nothing in example-pnpm has a shebang).
pnpmConfigHookStandin() {
  if [ -z "${pnpmDeps:-}" ]; then
    echo "pnpmConfigHook: 'pnpmDeps' must be set" >&2
    exit 1
  fi
  (cd "$HOME" && pnpm config set manage-package-manager-versions false)
  [ "$(cat "$pnpmDeps/.fetcher-version")" = 3 ]
  STORE_PATH=$(mktemp -d)
  export STORE_PATH
  tar --zstd -xf "$pnpmDeps/pnpm-store.tar.zst" -C "$STORE_PATH"
  chmod -R +w "$STORE_PATH"
  pnpm config set store-dir "$STORE_PATH"
  pnpm config set package-import-method clone-or-copy
  pnpm install --offline --ignore-scripts --frozen-lockfile
}
postConfigureHooks+=(pnpmConfigHookStandin)
