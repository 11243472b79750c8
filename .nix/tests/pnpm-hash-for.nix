# `cargo xtask nix-check` evaluates this against records it writes: pnpmHashFor for one
# lockfile and the fetchPnpmDeps arguments a flake passes (`workspaces` is the call's
# pnpmWorkspaces, comma-separated; "" for none). Evaluates to the hash or throws.
{ recordFile, root, lockfile, fetcherVersion, pnpm, workspaces }:
(import ../yarn-deps.nix { recordFile = /. + recordFile; root = /. + root; }).pnpmHashFor lockfile {
  fetcherVersion = builtins.fromJSON fetcherVersion;
  inherit pnpm;
  pnpmWorkspaces = if workspaces == "" then [ ] else builtins.filter builtins.isString (builtins.split "," workspaces);
}
