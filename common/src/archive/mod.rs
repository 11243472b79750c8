//! Archive writers that must match the reference tools byte for byte.

pub mod gnu_tar;
pub mod pax_tar;
mod tar_header;
pub mod zstd_cli;
