//! The package directory npm-packlist reads, rebuilt from the list of its files: what
//! `fs.readdir` and `fs.lstat` would answer.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    File,
    Dir,
    Symlink,
}

pub(super) struct Tree<'a> {
    /// Each directory ("" the root) with its entries.
    dirs: HashMap<String, BTreeMap<&'a str, EntryKind>>,
}

impl<'a> Tree<'a> {
    /// From `/`-separated relative paths of regular files and symlinks; the directories
    /// are those that hold them (git has no empty ones).
    pub fn new(files: impl Iterator<Item = &'a str>, symlinks: &[&'a str]) -> Self {
        let mut dirs: HashMap<String, BTreeMap<&'a str, EntryKind>> = HashMap::new();
        dirs.insert(String::new(), BTreeMap::new());
        let all = files
            .map(|f| (f, EntryKind::File))
            .chain(symlinks.iter().map(|s| (*s, EntryKind::Symlink)));
        for (path, kind) in all {
            let mut parent = "";
            for (i, _) in path.match_indices('/') {
                let dir = &path[..i];
                let name = &dir[parent.len() + usize::from(!parent.is_empty())..];
                dirs.entry(parent.to_owned())
                    .or_default()
                    .insert(name, EntryKind::Dir);
                dirs.entry(dir.to_owned()).or_default();
                parent = dir;
            }
            let name = &path[parent.len() + usize::from(!parent.is_empty())..];
            dirs.entry(parent.to_owned())
                .or_default()
                .insert(name, kind);
        }
        Self { dirs }
    }

    /// What `lstat` says of `path` (relative, no `./`), `None` if nothing is there.
    pub fn kind(&self, path: &str) -> Option<EntryKind> {
        if path.is_empty() {
            return Some(EntryKind::Dir);
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        self.dirs.get(parent)?.get(name).copied()
    }

    /// `readdir` of a directory: its entries and their kinds.
    pub fn entries(&self, dir: &str) -> impl Iterator<Item = (&'a str, EntryKind)> + '_ {
        self.dirs
            .get(dir)
            .into_iter()
            .flat_map(|m| m.iter().map(|(n, k)| (*n, *k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_come_from_the_paths() {
        let t = Tree::new(["a/b/c.js", "a/d", "e"].into_iter(), &["a/l"]);
        assert_eq!(t.kind("a"), Some(EntryKind::Dir));
        assert_eq!(t.kind("a/b"), Some(EntryKind::Dir));
        assert_eq!(t.kind("a/b/c.js"), Some(EntryKind::File));
        assert_eq!(t.kind("a/l"), Some(EntryKind::Symlink));
        assert_eq!(t.kind("x"), None);
        let root: Vec<_> = t.entries("").map(|(n, _)| n).collect();
        assert_eq!(root, ["a", "e"]);
        let a: Vec<_> = t.entries("a").map(|(n, _)| n).collect();
        assert_eq!(a, ["b", "d", "l"]);
    }
}
