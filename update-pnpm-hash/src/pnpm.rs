//! pnpm as the shared CLI layer sees it: `common::pnpm::prefetch` behind [`Ecosystem`],
//! with the target (fetcherVersion, pnpm) from the command line or the record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use common::fetch::tarball_fetch::FetchProgress;
use common::pnpm::prefetch::{PrefetchError, PrefetchOptions, Prefetched, Prefetcher};
use common::pnpm::profile::Profile;
use common::pnpm::target_hint;
use common::pnpm::workspace_filter::FilterError;
use common::record::fetcher_call::{FetcherCall, FoundCall};
use common::record::hash_record::Fetcher;
use hash_cli::lockfile_kind::Kind;
use hash_cli::{Computed, Ecosystem, Failure, Lockfile, Settings};

/// The lockfile name pnpm writes, looked for at the repository root by default.
pub const LOCKFILE_NAME: &str = "pnpm-lock.yaml";

#[derive(Clone)]
pub struct Pnpm {
    /// `--fetcher-version`, over the record's.
    pub fetcher_version: Option<u32>,
    /// `--pnpm`, over the record's.
    pub pnpm: Option<String>,
    /// `--node`, over the record's.
    pub node: Option<u32>,
    /// `--workspace` (pnpmWorkspaces), over the record's; with `--nix-file`, the call's.
    pub workspaces: Option<Vec<String>>,
}

impl Ecosystem for Pnpm {
    const TOOL: &'static str = "update-pnpm-hash";
    const LOCKFILE_NAME: &'static str = LOCKFILE_NAME;
    const PACKAGE_MANAGER: &'static str = "pnpm";
    const KIND: Kind = Kind::Pnpm;
    const CALL: FetcherCall = FetcherCall::FetchPnpmDeps;
    const CALL_LOCKFILE_ATTR: &'static str = "src";

    fn owns(fetcher: &Fetcher) -> bool {
        matches!(fetcher, Fetcher::FetchPnpmDeps { .. })
    }

    /// fetchPnpmDeps reads `pnpm-lock.yaml` in its `src`.
    fn call_lockfile(call: &FoundCall) -> Option<PathBuf> {
        call.src
            .as_ref()
            .map(|src| Path::new(src).join(LOCKFILE_NAME))
    }

    fn target_differs(&self, recorded: &Fetcher) -> bool {
        let Fetcher::FetchPnpmDeps {
            fetcher_version,
            pnpm,
            node,
            workspaces,
        } = recorded
        else {
            return true;
        };
        self.fetcher_version.is_some_and(|v| v != *fetcher_version)
            || self.pnpm.as_ref().is_some_and(|p| p != pnpm)
            || self.node.is_some_and(|n| Some(n) != *node)
            || self.workspaces.as_ref().is_some_and(|w| w != workspaces)
    }

    /// With `--nix-file`, the call's `pnpmWorkspaces` is the selection; `--workspace`
    /// may only repeat it.
    fn for_call(&self, call: &FoundCall) -> Result<Option<Self>, Failure> {
        let from_call = call.workspaces.clone().unwrap_or_default();
        if let Some(given) = self.workspaces.as_ref().filter(|w| **w != from_call) {
            return Err(Failure::bad_input(anyhow!(
                "--workspace {} differs from the call's pnpmWorkspaces = [ {} ]: with --nix-file the selection is the call's; drop --workspace or change the call",
                given.join(" --workspace "),
                from_call.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" ")
            )));
        }
        Ok(Some(Self {
            workspaces: Some(from_call),
            ..self.clone()
        }))
    }

    /// The target given, else (for a lockfile not yet recorded) the one the project's
    /// pnpm fits ([`target_hint`]: its packageManager).
    fn fix_flags(&self, unrecorded: Option<&Path>) -> String {
        let w: String = match &self.workspaces {
            Some(w) if w.is_empty() => " --no-workspace".to_owned(),
            w => w
                .iter()
                .flatten()
                .map(|w| format!(" --workspace {}", hash_cli::shell_word(w)))
                .collect(),
        };
        match (self.fetcher_version, &self.pnpm, unrecorded) {
            (None, None, Some(lockfile)) => target_hint::hint_for(lockfile).flags + &w,
            (v, p, _) => {
                let v = v.map(|v| format!(" --fetcher-version {v}"));
                let p = p
                    .as_ref()
                    .map(|p| format!(" --pnpm {}", hash_cli::shell_word(p)));
                let n = self.node.map(|n| format!(" --node {n}"));
                v.unwrap_or_default() + &p.unwrap_or_default() + &n.unwrap_or_default() + &w
            }
        }
    }

    fn hash(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        recorded: Option<&Fetcher>,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure> {
        let profile = self.profile(lockfile, recorded)?;
        let prefetched = prefetcher(settings)?
            .hash(&lockfile.path, bytes, &profile, progress)
            .map_err(failure)?;
        Ok(computed(&profile, prefetched))
    }

    fn materialize(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        recorded: Option<&Fetcher>,
        dir: &Path,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure> {
        let profile = self.profile(lockfile, recorded)?;
        let prefetched = prefetcher(settings)?
            .materialize(&lockfile.path, bytes, &profile, dir, progress)
            .map_err(failure)?;
        Ok(computed(&profile, prefetched))
    }

    fn materialized(&self, computed: &Computed, dir: &Path) -> String {
        format!(
            "wrote .fetcher-version and pnpm-store.tar.zst ({} packages) to {}",
            computed.packages.unwrap_or(0),
            dir.display()
        )
    }
}

impl Pnpm {
    /// The target for `lockfile`: the command line's, completed from its record entry.
    fn profile(&self, lockfile: &Lockfile, recorded: Option<&Fetcher>) -> Result<Profile, Failure> {
        let recorded = match recorded {
            Some(Fetcher::FetchPnpmDeps {
                fetcher_version,
                pnpm,
                node,
                workspaces,
            }) => Some((*fetcher_version, pnpm.clone(), *node, workspaces.clone())),
            _ => None,
        };
        // The selection belongs to the fetchPnpmDeps call, not to the pnpm it runs:
        // a new target on the command line keeps the recorded one.
        let workspaces = self
            .workspaces
            .clone()
            .or(recorded.as_ref().map(|r| r.3.clone()))
            .unwrap_or_default();
        let fetcher_version = self.fetcher_version.or(recorded.as_ref().map(|r| r.0));
        // The recorded Node belongs to the recorded target: another one on the command
        // line does not inherit it.
        let retargeted = self.fetcher_version.is_some() || self.pnpm.is_some();
        let node = self
            .node
            .or(recorded.as_ref().filter(|_| !retargeted).and_then(|r| r.2));
        let pnpm = self.pnpm.clone().or(recorded.map(|r| r.1));
        let (Some(fetcher_version), Some(pnpm)) = (fetcher_version, pnpm) else {
            // The target the project's own pnpm fits (packageManager), not a fixed guess.
            let flags = self.fix_flags(Some(&lockfile.path));
            let note = match (self.fetcher_version, &self.pnpm) {
                (None, None) => target_hint::hint_for(&lockfile.path).note,
                _ => None,
            }
            .map(|n| format!("   ({n})"))
            .unwrap_or_default();
            return Err(Failure::bad_input(anyhow!(
                "{}: no target recorded for it; pass the fetcherVersion and pnpm of its fetchPnpmDeps call\nfix: {} --lockfile {}{flags}{note}",
                lockfile.key,
                Self::TOOL,
                lockfile.shown,
            )));
        };
        let profile = Profile::resolve(fetcher_version, &pnpm, node).map_err(Failure::bad_input)?;
        profile
            .with_workspaces(workspaces.clone())
            .map_err(|e| self.unsupported_selector(lockfile, &workspaces, e))
    }

    /// A selector form not emulated: the error, and the nearest emulated selection (the
    /// name or directory inside it) as the command to run instead.
    fn unsupported_selector(
        &self,
        lockfile: &Lockfile,
        workspaces: &[String],
        e: FilterError,
    ) -> Failure {
        let FilterError::Unsupported { selector, core, .. } = &e else {
            return Failure::bad_input(e);
        };
        let Some(core) = core else {
            return Failure::bad_input(anyhow!(
                "{e}; list the projects by name in pnpmWorkspaces instead"
            ));
        };
        let nearest = Self {
            workspaces: Some(
                workspaces
                    .iter()
                    .map(|w| {
                        if w == selector {
                            core.clone()
                        } else {
                            w.clone()
                        }
                    })
                    .collect(),
            ),
            ..self.clone()
        };
        Failure::bad_input(anyhow!(
            "{e}\nfix: {} --lockfile {}{}   (the nearest emulated selection: put it in the call's pnpmWorkspaces too)",
            Self::TOOL,
            lockfile.shown,
            nearest.fix_flags(None)
        ))
    }
}

fn prefetcher(s: Settings) -> Result<Prefetcher, Failure> {
    Prefetcher::new(PrefetchOptions {
        cache_dir: s.cache_dir,
        fetch: s.fetch,
        offline: s.offline,
        recompute: s.recompute,
    })
    .map_err(failure)
}

fn failure(e: PrefetchError) -> Failure {
    Failure::prefetch(e.is_bad_input(), e)
}

fn computed(profile: &Profile, p: Prefetched) -> Computed {
    Computed {
        hash: p.hash,
        downloaded: p.downloaded,
        from_memo: p.from_memo,
        fetcher: Fetcher::FetchPnpmDeps {
            fetcher_version: profile.fetcher_version,
            pnpm: profile.pnpm.clone(),
            node: profile.node,
            workspaces: profile.workspaces.clone(),
        },
        files: None,
        packages: Some(p.packages),
        git_cloned: None,
        warnings: Vec::new(),
    }
}
