//! Git dependencies of a yarn.lock, packed the way nixpkgs' `prefetch-yarn-deps` packs them.
//!
//! Upstream runs `nix-prefetch-git --out NAME.tmp --url URL --rev REV --builder` and then
//! `tar --owner=0 --group=0 --numeric-owner --format=gnu --sort=name --mtime=@1 --mode u+w
//! -C NAME.tmp -cf NAME .`. [`GitFetcher::tarball`] produces the same bytes natively: it fetches
//! with libgit2, reproduces nix-prefetch-git's checkout (rev forms, no submodules, no `.git`,
//! modes under the Nix builder's umask 022, checkout filters from `.gitattributes` only) and packs
//! the result with [`crate::archive::gnu_tar`].
//!
//! Mirrors work like in git: `url.<base>.insteadOf` from the user's git config rewrites the URL
//! before anything is fetched (see [`GitFetcher::from_default_config`]).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use git2::{
    build::CheckoutBuilder, AttrCheckFlags, AutotagOption, Config, ConfigLevel, Cred,
    CredentialType, Direction, FetchOptions, FileMode, ObjectType, Oid, RemoteCallbacks,
    Repository, RepositoryInitOptions, Tree,
};

use crate::archive::gnu_tar::{self, Dir, Node, TarError};
use crate::git::git_message::GitMessage;

/// A failure to turn a git dependency into its tarball.
#[derive(Debug, thiserror::Error)]
pub enum GitSourceError {
    #[error("cannot read git config {}: {}", path.display(), GitMessage(.error))]
    Config { path: PathBuf, error: git2::Error },
    #[error("invalid {key} in environment: {message}")]
    ConfigEnv { key: String, message: String },
    #[error("cannot reach the git remote of {target}: {}; check the URL and the network, or point a `url.<mirror>.insteadOf` git config entry at a reachable mirror", GitMessage(.error))]
    Unreachable {
        target: Box<GitTarget>,
        error: git2::Error,
    },
    #[error("no such rev: {target}: {hint}")]
    UnknownRev {
        target: Box<GitTarget>,
        hint: String,
    },
    #[error("fetching {target} failed: {}", GitMessage(.error))]
    Fetch {
        target: Box<GitTarget>,
        error: git2::Error,
    },
    #[error("checking out {target} failed: {}", GitMessage(.error))]
    Checkout {
        target: Box<GitTarget>,
        error: git2::Error,
    },
    #[error("checking out {target} failed: {}: {error}", path.display())]
    Io {
        target: Box<GitTarget>,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{target} uses {what}, which this tool cannot reproduce byte for byte; please report it"
    )]
    Unsupported {
        target: Box<GitTarget>,
        what: String,
    },
    #[error("packing {target} failed: {error}")]
    Tar {
        target: Box<GitTarget>,
        error: TarError,
    },
}

/// What an error is about: the URL as given, the URL fetched (after `insteadOf`) and the rev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTarget {
    pub url: String,
    pub fetch_url: String,
    pub rev: String,
}

impl std::fmt::Display for GitTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rev {} of {}", self.rev, self.url)?;
        if self.fetch_url != self.url {
            write!(
                f,
                " (fetched from {} through url.<base>.insteadOf)",
                self.fetch_url
            )?;
        }
        Ok(())
    }
}

/// One `url.<base>.insteadOf = <prefix>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rewrite {
    base: String,
    prefix: String,
}

/// Fetches git dependencies; holds the `insteadOf` rules of the git config it was made from.
#[derive(Debug, Clone, Default)]
pub struct GitFetcher {
    rewrites: Vec<Rewrite>,
}

impl GitFetcher {
    /// Reads the config files git itself reads outside a repository, with git's environment
    /// overrides, which libgit2's own discovery ignores: `GIT_CONFIG_NOSYSTEM`,
    /// `GIT_CONFIG_SYSTEM`, `GIT_CONFIG_GLOBAL` (replaces both `~/.gitconfig` and the XDG file)
    /// and `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`.
    pub fn from_default_config() -> Result<Self, GitSourceError> {
        let mut cfg = Config::new().map_err(|source| GitSourceError::Config {
            path: PathBuf::from("<empty>"),
            error: source,
        })?;
        let files = default_config_files();
        for (path, level) in files {
            // git skips config files that do not exist; so do we.
            if path.is_file() {
                cfg.add_file(&path, level, false)
                    .map_err(|source| GitSourceError::Config {
                        path: path.clone(),
                        error: source,
                    })?;
            }
        }
        let mut fetcher = Self::with_config(&cfg)?;
        fetcher.rewrites.extend(env_rewrites()?);
        Ok(fetcher)
    }

    /// Takes the `url.<base>.insteadOf` rules of `cfg` (lowest-priority level first, file order
    /// within a level, as git reads them).
    pub fn with_config(cfg: &Config) -> Result<Self, GitSourceError> {
        let config_error = |source| GitSourceError::Config {
            path: PathBuf::from("<git config>"),
            error: source,
        };
        let mut found: Vec<(i32, Rewrite)> = Vec::new();
        let mut entries = cfg
            .entries(Some(r"url\..*\.insteadof"))
            .map_err(config_error)?;
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(config_error)?;
            let name = String::from_utf8_lossy(entry.name_bytes());
            let (Some(base), Some(value)) = (insteadof_base(&name), entry.value()) else {
                continue;
            };
            found.push((
                level_rank(entry.level()),
                Rewrite {
                    base: base.to_owned(),
                    prefix: value.to_owned(),
                },
            ));
        }
        // Stable: keeps file order inside a level.
        found.sort_by_key(|(rank, _)| *rank);
        Ok(Self {
            rewrites: found.into_iter().map(|(_, r)| r).collect(),
        })
    }

    /// The URL git would fetch for `url`: the longest matching `insteadOf` prefix wins (the first
    /// one read on a tie), and the rewrite is applied once, not repeatedly.
    pub fn rewrite_url(&self, url: &str) -> String {
        let mut best: Option<&Rewrite> = None;
        for rule in &self.rewrites {
            let longer = best.is_none_or(|b| rule.prefix.len() > b.prefix.len());
            if url.starts_with(&rule.prefix) && longer {
                best = Some(rule);
            }
        }
        match best {
            Some(rule) => format!("{}{}", rule.base, &url[rule.prefix.len()..]),
            None => url.to_owned(),
        }
    }

    /// The bytes of upstream's `tar ... -cf NAME .` over nix-prefetch-git's checkout of `url` at
    /// `rev` (the tarball is built in memory).
    pub fn tarball(&self, url: &str, rev: &str) -> Result<Vec<u8>, GitSourceError> {
        let job = Job {
            url,
            fetch_url: self.rewrite_url(url),
            rev,
        };
        let tmp = tempfile::tempdir().map_err(|e| job.io(Path::new("temporary directory"), e))?;
        let repo = job.init_repo(tmp.path())?;
        let tree = job.fetch_tree(&repo)?;
        job.checkout(&repo, &tree)?;
        let workdir = repo
            .workdir()
            .expect("repository is not bare")
            .to_path_buf();
        let root = job.dir_node(&repo, &tree, &workdir, Path::new(""))?;
        gnu_tar::archive(&root).map_err(|source| job.err_tar(source))
    }
}

/// git's config files outside a repository, lowest priority first.
fn default_config_files() -> Vec<(PathBuf, ConfigLevel)> {
    let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    let no_system = env("GIT_CONFIG_NOSYSTEM").is_some_and(|v| git_bool(&v.to_string_lossy()));
    if !no_system {
        let system = env("GIT_CONFIG_SYSTEM")
            .map(PathBuf::from)
            .or_else(|| Config::find_system().ok());
        files.extend(system.map(|p| (p, ConfigLevel::System)));
    }
    if let Some(global) = env("GIT_CONFIG_GLOBAL") {
        files.push((PathBuf::from(global), ConfigLevel::Global));
    } else {
        // git reads $XDG_CONFIG_HOME/git/config (default ~/.config/git/config), then ~/.gitconfig.
        let home = env("HOME").map(PathBuf::from);
        let xdg = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        files.extend(xdg.map(|x| (x.join("git/config"), ConfigLevel::XDG)));
        files.extend(home.map(|h| (h.join(".gitconfig"), ConfigLevel::Global)));
    }
    files
}

/// `url.<base>.insteadof` → `<base>` (section and key are case-insensitive, `<base>` is not).
fn insteadof_base(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    let ok = lower.starts_with("url.") && lower.ends_with(".insteadof") && name.len() > 14;
    ok.then(|| &name[4..name.len() - 10])
}

/// The order in which git reads config levels; later entries override earlier ones.
fn level_rank(level: ConfigLevel) -> i32 {
    match level {
        ConfigLevel::ProgramData => 0,
        ConfigLevel::System => 1,
        ConfigLevel::XDG => 2,
        ConfigLevel::Global => 3,
        ConfigLevel::Local => 4,
        ConfigLevel::Worktree => 5,
        ConfigLevel::App | ConfigLevel::Highest => 6,
    }
}

fn git_bool(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// `insteadOf` rules given as `GIT_CONFIG_COUNT` key/value pairs, which git reads after all files.
fn env_rewrites() -> Result<Vec<Rewrite>, GitSourceError> {
    let Some(count) = std::env::var_os("GIT_CONFIG_COUNT").filter(|c| !c.is_empty()) else {
        return Ok(Vec::new());
    };
    let count: usize = count
        .to_string_lossy()
        .parse()
        .map_err(|_| GitSourceError::ConfigEnv {
            key: "GIT_CONFIG_COUNT".into(),
            message: "not a number".into(),
        })?;
    let mut rules = Vec::new();
    for i in 0..count {
        let get = |key: String| {
            std::env::var(&key).map_err(|_| GitSourceError::ConfigEnv {
                message: format!("missing (GIT_CONFIG_COUNT is {count})"),
                key,
            })
        };
        let key = get(format!("GIT_CONFIG_KEY_{i}"))?;
        let value = get(format!("GIT_CONFIG_VALUE_{i}"))?;
        if let Some(base) = insteadof_base(&key) {
            rules.push(Rewrite {
                base: base.to_owned(),
                prefix: value,
            });
        }
    }
    Ok(rules)
}

/// How nix-prefetch-git reads `--rev`.
#[derive(Debug, PartialEq, Eq)]
enum RevSpec {
    /// `HEAD` or `refs/...`: fetched as that exact remote ref.
    Ref(String),
    /// Only the characters 0-9a-f: an object id, full or abbreviated.
    Hash(String),
}

impl RevSpec {
    fn parse(rev: &str) -> Self {
        if rev == "HEAD" || rev.starts_with("refs/") {
            RevSpec::Ref(rev.to_owned())
        } else if rev
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            RevSpec::Hash(rev.to_owned())
        } else {
            // nix-prefetch-git reads any other rev (e.g. `v1.2.0`, but also `main`) as a tag.
            RevSpec::Ref(format!("refs/tags/{rev}"))
        }
    }
}

struct Job<'a> {
    url: &'a str,
    fetch_url: String,
    rev: &'a str,
}

/// The local ref every fetch writes to, so the wanted object is always reachable afterwards.
const WANTED_REF: &str = "refs/nix-prefetch-git/wanted";

impl Job<'_> {
    fn target(&self) -> Box<GitTarget> {
        Box::new(GitTarget {
            url: self.url.to_owned(),
            fetch_url: self.fetch_url.clone(),
            rev: self.rev.to_owned(),
        })
    }

    /// A throwaway repository whose own config pins everything that would let the user's
    /// config change checkout bytes: nix-prefetch-git runs git with an empty HOME,
    /// XDG_CONFIG_HOME unset and GIT_CONFIG_NOSYSTEM=1, so git's defaults apply there.
    fn init_repo(&self, tmp: &Path) -> Result<Repository, GitSourceError> {
        let mut opts = RepositoryInitOptions::new();
        // Templates could bring `info/attributes`; nix's git has none that matter.
        opts.external_template(false);
        let work = tmp.join("checkout");
        let repo = Repository::init_opts(&work, &opts).map_err(|e| self.err_checkout(e))?;
        let empty_attributes = tmp.join("no-global-attributes");
        std::fs::write(&empty_attributes, b"").map_err(|e| self.io(&empty_attributes, e))?;
        let mut local = repo
            .config()
            .and_then(|c| c.open_level(ConfigLevel::Local))
            .map_err(|e| self.err_checkout(e))?;
        let pins: [(&str, &str); 5] = [
            // Git's defaults on Linux: no CRLF conversion unless .gitattributes asks for it.
            ("core.autocrlf", "false"),
            ("core.eol", "lf"),
            ("core.safecrlf", "false"),
            ("core.symlinks", "true"),
            // Stands in for the user's ~/.config/git/attributes, which the empty HOME hides.
            ("core.attributesfile", &empty_attributes.to_string_lossy()),
        ];
        for (key, value) in pins {
            local
                .set_str(key, value)
                .map_err(|e| self.err_checkout(e))?;
        }
        // libgit2 applies insteadOf from the config it sees (which includes the user's global
        // file) when it creates a remote; an identity rule for the already rewritten URL is the
        // longest possible match, so the URL is rewritten exactly once, as git does.
        let identity = format!("url.{}.insteadof", self.fetch_url);
        local
            .set_str(&identity, &self.fetch_url)
            .map_err(|e| self.err_checkout(e))?;
        Ok(repo)
    }

    /// Fetches what `rev` names and returns the tree nix-prefetch-git would check out.
    fn fetch_tree<'r>(&self, repo: &'r Repository) -> Result<Tree<'r>, GitSourceError> {
        let advertised = self.list_remote(repo)?;
        let object = match RevSpec::parse(self.rev) {
            RevSpec::Ref(name) => {
                let Some((_, oid)) = advertised.iter().find(|(n, _)| *n == name) else {
                    return Err(self.unknown_rev(&name, &advertised));
                };
                // Like `git fetch --depth 1 origin +REF` + `checkout FETCH_HEAD`.
                self.fetch(repo, &format!("+{name}:{WANTED_REF}"), 1)?;
                repo.find_object(*oid, None)
                    .map_err(|e| self.err_fetch(e))?
            }
            RevSpec::Hash(hash) => self.fetch_hash(repo, &hash, &advertised)?,
        };
        self.peel_to_tree(object)
    }

    fn fetch_hash<'r>(
        &self,
        repo: &'r Repository,
        hash: &str,
        advertised: &[(String, Oid)],
    ) -> Result<git2::Object<'r>, GitSourceError> {
        // nix-prefetch-git first looks for a remote ref pointing at the full hash and fetches it
        // shallowly; then it tries a shallow fetch of the hash itself; then all branches and tags.
        let by_ref = advertised.iter().find(|(_, oid)| oid.to_string() == hash);
        if let Some((name, oid)) = by_ref {
            self.fetch(repo, &format!("+{name}:{WANTED_REF}"), 1)?;
            return repo.find_object(*oid, None).map_err(|e| self.err_fetch(e));
        }
        if let (40, Ok(oid)) = (hash.len(), Oid::from_str(hash)) {
            let direct = self.fetch(repo, &format!("+{hash}:{WANTED_REF}"), 1);
            if direct.is_ok() {
                if let Ok(object) = repo.find_object(oid, None) {
                    return Ok(object);
                }
            }
        }
        self.fetch(repo, "+refs/heads/*:refs/remotes/origin/*", 0)?;
        self.fetch(repo, "+refs/tags/*:refs/tags/*", 0)?;
        let object = match Oid::from_str(hash) {
            Ok(oid) if hash.len() == 40 => repo.find_object(oid, None),
            _ => repo.find_object_by_prefix(hash, None),
        };
        object.map_err(|e| match e.code() {
            git2::ErrorCode::Ambiguous => GitSourceError::UnknownRev {
                target: self.target(),
                hint: "the abbreviated hash matches several objects; give the full hash".into(),
            },
            _ => self.unknown_rev(hash, advertised),
        })
    }

    /// Commits and tags check out their commit's tree; a tree hash is checked out as a commit
    /// of that tree (nix-prefetch-git runs `git commit-tree`), which has the same files.
    fn peel_to_tree<'r>(&self, object: git2::Object<'r>) -> Result<Tree<'r>, GitSourceError> {
        let kind = object.kind();
        let peeled = match kind {
            Some(ObjectType::Tag) => object
                .peel(ObjectType::Commit)
                .and_then(|c| c.peel_to_tree()),
            _ => object.peel_to_tree(),
        };
        peeled.map_err(|_| GitSourceError::UnknownRev {
            target: self.target(),
            hint: format!(
                "it names a {}, not a commit, tag or tree",
                kind.map_or("unknown object", |k| k.str())
            ),
        })
    }

    /// The remote's refs, like `git ls-remote origin`.
    fn list_remote(&self, repo: &Repository) -> Result<Vec<(String, Oid)>, GitSourceError> {
        let unreachable = |source| GitSourceError::Unreachable {
            target: self.target(),
            error: source,
        };
        let mut remote = repo
            .remote_anonymous(&self.fetch_url)
            .map_err(unreachable)?;
        let connection = remote
            .connect_auth(Direction::Fetch, Some(callbacks()), None)
            .map_err(unreachable)?;
        let heads = connection.list().map_err(unreachable)?;
        Ok(heads
            .iter()
            .map(|h| (h.name().to_owned(), h.oid()))
            .collect())
    }

    /// `depth` 0 fetches full history; tags are fetched only when the refspec asks for them.
    fn fetch(&self, repo: &Repository, refspec: &str, depth: i32) -> Result<(), GitSourceError> {
        let mut remote = repo
            .remote_anonymous(&self.fetch_url)
            .map_err(|e| self.err_fetch(e))?;
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks());
        opts.download_tags(AutotagOption::None);
        // libgit2's local transport (file:// and paths) cannot fetch shallowly; depth only saves
        // transfer, the checked-out tree is the same.
        let local =
            self.fetch_url.starts_with("file://") || Path::new(&self.fetch_url).is_absolute();
        opts.depth(if local { 0 } else { depth });
        remote
            .fetch(&[refspec], Some(&mut opts), None)
            .map_err(|e| self.err_fetch(e))
    }

    /// Checks `tree` out into the work dir, `.gitattributes` files first: git reads attributes
    /// for a checkout from the new index, so they apply to every file, while libgit2 reads them
    /// from the work tree and index as they are when the file is written, and so misses rules for
    /// files that sort before `.gitattributes` (`!a`, `-a`). Both passes must update the index:
    /// with GIT_CHECKOUT_DONT_UPDATE_INDEX libgit2 applies no attributes at all (tested).
    fn checkout(&self, repo: &Repository, tree: &Tree<'_>) -> Result<(), GitSourceError> {
        let mut attributes = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.name_bytes() == b".gitattributes" && entry.kind() == Some(ObjectType::Blob) {
                let mut path = parent.as_bytes().to_vec();
                path.extend_from_slice(b".gitattributes");
                attributes.push(path);
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| self.err_checkout(e))?;
        if !attributes.is_empty() {
            let mut first = CheckoutBuilder::new();
            first.force().disable_pathspec_match(true);
            for path in &attributes {
                first.path(path.as_slice());
            }
            repo.checkout_tree(tree.as_object(), Some(&mut first))
                .map_err(|e| self.err_checkout(e))?;
        }
        let mut all = CheckoutBuilder::new();
        all.force();
        repo.checkout_tree(tree.as_object(), Some(&mut all))
            .map_err(|e| self.err_checkout(e))
    }

    /// The tar tree of `tree` (checked out at `workdir/rel`), with the modes a checkout under
    /// the Nix builder's umask 022 has.
    fn dir_node(
        &self,
        repo: &Repository,
        tree: &Tree<'_>,
        workdir: &Path,
        rel: &Path,
    ) -> Result<Dir, GitSourceError> {
        // nix-prefetch-git's `mkdir -p $out` and git's mkdir: 0777 & ~022.
        let mut dir = Dir {
            mode: 0o755,
            entries: BTreeMap::new(),
        };
        for entry in tree.iter() {
            let name = entry.name_bytes().to_vec();
            // nix-prefetch-git deletes every `.git` in the checkout (find -name .git); git and
            // libgit2 both refuse to check out such a path, so only this guard is needed.
            if name == b".git" {
                continue;
            }
            let path = rel.join(OsStr::from_bytes(&name));
            let node = match entry.filemode() {
                m if m == i32::from(FileMode::Tree) => {
                    let sub = repo
                        .find_tree(entry.id())
                        .map_err(|e| self.err_checkout(e))?;
                    Node::Dir(self.dir_node(repo, &sub, workdir, &path)?)
                }
                // An uninitialised submodule (no --fetch-submodules) is an empty directory.
                m if m == i32::from(FileMode::Commit) => Node::Dir(Dir {
                    mode: 0o755,
                    ..Dir::default()
                }),
                // Symlink targets are the blob's bytes, unfiltered, as git writes them.
                m if m == i32::from(FileMode::Link) => {
                    let blob = repo
                        .find_blob(entry.id())
                        .map_err(|e| self.err_checkout(e))?;
                    Node::Symlink {
                        target: blob.content().to_vec(),
                    }
                }
                mode => {
                    self.check_filters(repo, &path)?;
                    let full = workdir.join(&path);
                    let data = std::fs::read(&full).map_err(|e| self.io(&full, e))?;
                    // git writes 0777 for executables and 0666 otherwise, minus umask 022.
                    let executable = mode & 0o111 != 0;
                    Node::File {
                        mode: if executable { 0o755 } else { 0o644 },
                        data,
                    }
                }
            };
            dir.entries.insert(name, node);
        }
        Ok(dir)
    }

    /// git applies `working-tree-encoding` on checkout; libgit2 does not, so refuse rather than
    /// produce different bytes.
    fn check_filters(&self, repo: &Repository, path: &Path) -> Result<(), GitSourceError> {
        let encoding = repo
            .get_attr(
                path,
                "working-tree-encoding",
                AttrCheckFlags::FILE_THEN_INDEX,
            )
            .map_err(|e| self.err_checkout(e))?;
        match encoding {
            Some(enc)
                if !matches!(
                    git2::AttrValue::from_string(Some(enc)),
                    git2::AttrValue::False
                ) =>
            {
                Err(GitSourceError::Unsupported {
                    target: self.target(),
                    what: format!("working-tree-encoding={enc} on {}", path.display()),
                })
            }
            _ => Ok(()),
        }
    }

    fn unknown_rev(&self, wanted: &str, advertised: &[(String, Oid)]) -> GitSourceError {
        let hint = if wanted.starts_with("refs/tags/") && !self.rev.starts_with("refs/") {
            let branch = format!("refs/heads/{}", self.rev);
            let is_branch = advertised.iter().any(|(n, _)| *n == branch);
            let extra = if is_branch {
                format!("; it is a branch: use `{branch}`")
            } else {
                String::new()
            };
            format!("nix-prefetch-git reads a rev that is not hexadecimal as the tag {wanted}, which the remote does not have{extra}")
        } else if wanted.starts_with("refs/") || wanted == "HEAD" {
            format!("the remote advertises no ref {wanted}")
        } else {
            "no commit, tag or tree with that hash is reachable from the remote's branches and tags"
                .to_owned()
        };
        GitSourceError::UnknownRev {
            target: self.target(),
            hint,
        }
    }

    fn err_fetch(&self, source: git2::Error) -> GitSourceError {
        GitSourceError::Fetch {
            target: self.target(),
            error: source,
        }
    }

    fn err_checkout(&self, source: git2::Error) -> GitSourceError {
        GitSourceError::Checkout {
            target: self.target(),
            error: source,
        }
    }

    fn err_tar(&self, source: TarError) -> GitSourceError {
        GitSourceError::Tar {
            target: self.target(),
            error: source,
        }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> GitSourceError {
        GitSourceError::Io {
            target: self.target(),
            path: path.to_owned(),
            error: source,
        }
    }
}

/// Credentials as git would find them: the ssh agent for ssh URLs, credential helpers from the
/// user's git config for https. Gives up after a few attempts so a wrong credential cannot loop.
fn callbacks() -> RemoteCallbacks<'static> {
    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0;
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str(
                "authentication failed; check your ssh agent or git credential helper",
            ));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            Cred::ssh_key_from_agent(username.unwrap_or("git"))
        } else if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let cfg = Config::open_default()?;
            Cred::credential_helper(&cfg, url, username)
        } else {
            Cred::default()
        }
    });
    callbacks
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn libgit2_internals_are_not_shown() {
        let target = Box::new(GitTarget {
            url: "https://git.example.invalid/x.git".to_owned(),
            fetch_url: "https://git.example.invalid/x.git".to_owned(),
            rev: "abc".to_owned(),
        });
        let source = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Net,
            "failed to resolve address",
        );
        assert!(source.to_string().contains("class="));
        let shown = GitSourceError::Unreachable {
            target,
            error: source,
        }
        .to_string();
        assert!(
            shown.contains(": failed to resolve address; check the URL"),
            "{shown}"
        );
        assert!(
            !shown.contains("class=") && !shown.contains("code="),
            "{shown}"
        );
    }

    #[test]
    fn revs_are_read_like_nix_prefetch_git_reads_them() {
        let cases = [
            ("HEAD", RevSpec::Ref("HEAD".into())),
            ("refs/heads/main", RevSpec::Ref("refs/heads/main".into())),
            ("v1.2.3", RevSpec::Ref("refs/tags/v1.2.3".into())),
            // Not hexadecimal, so a tag, even when it is really a branch.
            ("main", RevSpec::Ref("refs/tags/main".into())),
            // Upper case is not in nix-prefetch-git's `tr -d 0123456789abcdef` set.
            ("ABCDEF1", RevSpec::Ref("refs/tags/ABCDEF1".into())),
            ("deadbeef", RevSpec::Hash("deadbeef".into())),
            ("cafe", RevSpec::Hash("cafe".into())),
        ];
        for (rev, want) in cases {
            assert_eq!(RevSpec::parse(rev), want, "{rev}");
        }
    }

    #[test]
    fn insteadof_keys_are_case_insensitive_outside_the_base() {
        assert_eq!(
            insteadof_base("url.https://Mirror/.insteadOf"),
            Some("https://Mirror/")
        );
        assert_eq!(insteadof_base("URL.x.INSTEADOF"), Some("x"));
        assert_eq!(insteadof_base("url.x.pushInsteadOf"), None);
        assert_eq!(insteadof_base("url..insteadof"), None);
    }

    /// Our rewrite agrees with `git ls-remote --get-url` for the same config file: longest
    /// prefix wins, the first rule read wins a tie, and a rewritten URL is not rewritten again.
    #[test]
    fn rewrite_matches_git_get_url() {
        if Command::new("git").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "git is required in CI");
            eprintln!("skipping: git is not installed");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        let config = "\
[url \"file:///short/\"]\n\tinsteadOf = https://github.com/\n\
[url \"file:///long/\"]\n\tinsteadOf = https://github.com/owner/\n\
[url \"file:///tie-first/\"]\n\tinsteadOf = git://host/\n\
[url \"file:///tie-second/\"]\n\tinsteadOf = git://host/\n\
[url \"https://github.com/chained/\"]\n\tinsteadOf = ssh://old/\n\
[URL \"file:///Case/\"]\n\tINSTEADOF = https://gitlab.com/\n\tinsteadof = https://bitbucket.org/\n";
        std::fs::write(&path, config).unwrap();
        let fetcher = GitFetcher::with_config(&Config::open(&path).unwrap()).unwrap();
        let urls = [
            "https://github.com/owner/repo.git",
            "https://github.com/other/repo",
            "git://host/x.git",
            "ssh://old/y.git",
            "https://gitlab.com/a/b.git",
            "https://bitbucket.org/a/b.git",
            "https://example.com/untouched.git",
        ];
        for url in urls {
            let out = Command::new("git")
                .args(["ls-remote", "--get-url", url])
                .env("GIT_CONFIG_GLOBAL", &path)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .current_dir(tmp.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let git = String::from_utf8(out.stdout).unwrap();
            assert_eq!(fetcher.rewrite_url(url), git.trim(), "{url}");
        }
        assert_eq!(fetcher.rewrite_url(urls[0]), "file:///long/repo.git");
    }
}
