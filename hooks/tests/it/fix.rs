//! `--fix`: placeholder module filled in once the recompute is wired.
