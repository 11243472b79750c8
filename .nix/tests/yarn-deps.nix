# `cargo xtask nix-check` evaluates this against the real record and against records it
# writes (valid, stale, malformed). Evaluates to { "<lockfile>" = "<hash>"; } or throws.
{ recordFile, root }:
(import ../yarn-deps.nix { recordFile = /. + recordFile; root = /. + root; }).all
