//! Binary caches as Nix sees them: store paths, narinfo files and their signatures, and
//! closure-wide queries that say whether CI will substitute.

pub mod narinfo;
mod query;
pub mod store_path;

pub use query::*;
