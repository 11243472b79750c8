//! pnpm and nixpkgs' `fetchPnpmDeps`: the store pnpm 10 leaves, emulated.

pub mod store;
