//! An error and its causes as one line for people, each cause once. The library's
//! `thiserror` errors quote their source in their own message (`"{path}: {source}"`) and
//! also return it from `source()`, so printing the chain as anyhow's `{:#}` does said
//! each cause two or three times.

use std::error::Error;

/// `error`'s message, then each cause's that the text so far does not already hold,
/// joined by `: `.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the tarball of a@1.0.0: {source}")]
    struct Quoting {
        source: Inner,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("corrupt deflate stream")]
    struct Inner;

    #[test]
    fn a_quoted_cause_is_said_once_and_an_unquoted_one_is_added() {
        let quoted = Quoting { source: Inner };
        assert_eq!(
            chain(&quoted),
            "the tarball of a@1.0.0: corrupt deflate stream"
        );
        let wrapped = anyhow::Error::new(quoted).context("lockfile.yaml");
        let e: &(dyn Error + 'static) = wrapped.as_ref();
        assert_eq!(
            chain(e),
            "lockfile.yaml: the tarball of a@1.0.0: corrupt deflate stream"
        );
        let io = anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write x");
        assert_eq!(chain(io.as_ref()), "cannot write x: disk full");
    }
}
