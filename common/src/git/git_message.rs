//! libgit2's errors in the tools' one wording: its sentence alone. `git2::Error`'s
//! `Display` appends `; class=Config (7); code=NotFound (-3)`, libgit2 internals that
//! tell a user nothing, and each caller used to word the rest differently.

use std::fmt;

/// Displays a libgit2 error as its message only.
pub struct GitMessage<'a>(pub &'a git2::Error);

impl fmt::Display for GitMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message().trim_end_matches(['.', ' ']))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sentence_is_shown() {
        let Err(e) = git2::Repository::open("/nonexistent/repo") else {
            panic!("opened a repository that does not exist");
        };
        assert!(e.to_string().contains("class="), "{e}");
        let shown = GitMessage(&e).to_string();
        assert!(
            !shown.contains("class=") && !shown.contains("code="),
            "{shown}"
        );
        assert!(shown.contains("/nonexistent/repo"), "{shown}");
    }
}
