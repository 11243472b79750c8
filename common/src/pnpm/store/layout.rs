//! Which store a pnpm major leaves, the seam between fetcherVersion 3 and 4 in [`super::tree`]:
//! pnpm 10's `v10/` with one jq-printed JSON index file per package under `index/`, or pnpm
//! 11's `v11/` whose index is a SQLite database that nixpkgs ships as `index.db.sql`
//! (pkgs/by-name/pn/pnpm-fixup-state-db, nixpkgs #522703). Both keep the same CAFS `files/`.

use super::index_row::V11Rules;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreLayout {
    /// pnpm 10, fetcherVersion 3.
    V10,
    /// pnpm 11, fetcherVersion 4, with the rules of the pnpm 11 minor.
    V11(V11Rules),
}

impl StoreLayout {
    /// The layout version directory under `$storePath`.
    pub fn dir(&self) -> &'static str {
        match self {
            Self::V10 => "v10",
            Self::V11(_) => "v11",
        }
    }
}
