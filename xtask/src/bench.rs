//! `cargo xtask bench`: every benchmark the issues ask for, measured in one run on
//! Ghost's real lockfile, written to BENCHMARKS.md.
//!
//! Cold runs download ~387 MB from the npm registry; everything else is local. Timing
//! is wall-clock on whatever machine runs it, so the file records the machine too.
//! `cargo xtask bench pnpm` runs only the pnpm part ([`pnpm`]) and rewrites only its section.

mod pnpm;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// One measured run of a child process.
struct Measured {
    wall: Duration,
    /// Kernel CPU time (`ru_stime`).
    system: Duration,
    /// User CPU time (`ru_utime`): what the work costs, whatever else shares the machine.
    user: Duration,
    max_rss_kib: i64,
    stdout: String,
}

/// Runs `cmd` to completion, taking its wall time and peak RSS (from `wait4`).
///
/// The disks are synced first, untimed: a run that wrote a gigabyte (the replay's pnpm
/// store, a cold cache) leaves its writeback to the kernel, and the next run must not
/// compete with it.
fn measure(mut cmd: Command) -> Result<Measured> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let shown = format!("{cmd:?}");
    cmd.stdout(std::process::Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot run {shown}"))?;
    let pid = child.id() as libc::pid_t;
    let output = child.wait_with_output_rusage(pid)?;
    let wall = start.elapsed();
    if output.status != 0 {
        bail!("{shown} exited with status {}", output.status);
    }
    Ok(Measured {
        wall,
        system: output.system,
        user: output.user,
        max_rss_kib: output.max_rss_kib,
        stdout: output.stdout,
    })
}

struct RusageOutput {
    status: i32,
    system: Duration,
    user: Duration,
    max_rss_kib: i64,
    stdout: String,
}

trait WaitRusage {
    fn wait_with_output_rusage(self, pid: libc::pid_t) -> Result<RusageOutput>;
}

impl WaitRusage for std::process::Child {
    /// Reads stdout to the end, then reaps the child with `wait4` for its own rusage.
    fn wait_with_output_rusage(mut self, pid: libc::pid_t) -> Result<RusageOutput> {
        use std::io::Read;
        let mut stdout = String::new();
        if let Some(mut out) = self.stdout.take() {
            out.read_to_string(&mut stdout)?;
        }
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped != pid {
            bail!("wait4 failed: {}", std::io::Error::last_os_error());
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Ok(RusageOutput {
            status: code,
            system: time(usage.ru_stime),
            user: time(usage.ru_utime),
            max_rss_kib: usage.ru_maxrss,
            stdout,
        })
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn shared_dir() -> PathBuf {
    std::env::var_os("NIXCI_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("../shared"))
}

pub fn run(sh: &Shell, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None => run_all(sh),
        Some("pnpm") => run_pnpm(sh, &pnpm::targets_from_args(&args[1..])?),
        Some(other) => {
            bail!("unknown bench part `{other}`: `cargo xtask bench` or `cargo xtask bench pnpm`")
        }
    }
}

/// The pnpm part alone: its section of BENCHMARKS.md replaced, the rest kept.
fn run_pnpm(sh: &Shell, targets: &[pnpm::Target]) -> Result<()> {
    cmd!(sh, "cargo build --release --locked -p update-pnpm-hash").run()?;
    let figures = pnpm::run_all(sh, targets)?;
    let path = crate::project_root().join("BENCHMARKS.md");
    let old = fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let section = pnpm::section(&machine(sh), &today(sh), &figures);
    crate::atomic_file::write(&path, &pnpm::splice(&old, &section))?;
    print!("{section}");
    println!("wrote the pnpm section of BENCHMARKS.md");
    Ok(())
}

fn run_all(sh: &Shell) -> Result<()> {
    let ghost = shared_dir().join("fixtures/ghost");
    if !ghost.join("yarn.registry-only.lock").is_file() {
        println!(
            "skipping benchmarks: {} is missing (set NIXCI_SHARED_DIR)",
            ghost.display()
        );
        return Ok(());
    }
    cmd!(
        sh,
        "cargo build --release --locked -p update-yarn-hash -p update-pnpm-hash -p hooks -p precache-package"
    )
    .run()?;
    let mut report = String::new();
    let yarn = yarn_hash(sh, &ghost, &mut report)?;
    let hooks = hook_latency(sh, &ghost)?;
    let precache = precache_check(sh)?;
    let pnpm = pnpm::run_all(sh, &pnpm::default_targets())?;
    let machine = machine(sh);
    let text = benchmarks_text(&machine, &yarn, &hooks, &precache);
    let text = pnpm::splice(&text, &pnpm::section(&machine, &today(sh), &pnpm));
    crate::atomic_file::write(&crate::project_root().join("BENCHMARKS.md"), &text)?;
    print!("{report}");
    println!("wrote BENCHMARKS.md");
    Ok(())
}

fn release_bin(name: &str) -> PathBuf {
    crate::project_root().join("target/release").join(name)
}

struct YarnFigures {
    hash: String,
    cold: Measured,
    cold_median: Duration,
    cold_system: Duration,
    /// The download floor: the same tarballs with the same parallelism, to a sink.
    floor: Option<Duration>,
    /// nixpkgs' prefetch-yarn-deps + `nix hash path`, and whether it agreed.
    peer: Option<(Duration, bool)>,
    downloaded_bytes: u64,
    warm: Duration,
    warm_recomputed: Duration,
    warm_rss: i64,
    incremental: Duration,
    incremental_downloaded: u64,
    check: Duration,
    nix_hash_path: Option<(Duration, bool)>,
}

fn yarn_hash(sh: &Shell, ghost: &Path, report: &mut String) -> Result<YarnFigures> {
    let work = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    fs::copy(
        ghost.join("yarn.registry-only.lock"),
        work.path().join("yarn.lock"),
    )?;
    let uyh = |args: &[&str]| {
        let mut c = Command::new(release_bin("update-yarn-hash"));
        c.current_dir(work.path())
            .args(["--lockfile", "yarn.lock", "--record", "record.toml"])
            .args(args)
            .env("UPDATE_YARN_HASH_CACHE", cache.path());
        c
    };
    let json = |m: &Measured| -> Result<serde_json::Value> {
        serde_json::from_str(&m.stdout).context("update-yarn-hash --json output")
    };

    // Cold, floor and peer interleaved, so all three see the same network.
    let lockfile = work.path().join("yarn.lock");
    let urls = tarball_urls(sh, &lockfile)?;
    let (mut colds, mut floors, mut peers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..COLD_ROUNDS {
        let fresh = tempfile::tempdir()?;
        let mut c = uyh(&["--json"]);
        c.env("UPDATE_YARN_HASH_CACHE", fresh.path());
        colds.push(measure(c)?);
        floors.extend(download_floor(&urls)?);
        peers.extend(peer(&lockfile)?);
    }
    let cold_median = median(colds.iter().map(|m| m.wall).collect());
    let cold_system = median(colds.iter().map(|m| m.system).collect());
    let floor = (!floors.is_empty()).then(|| median(floors));
    let peer = (!peers.is_empty()).then(|| {
        let agrees = peers.iter().all(|(_, h)| h.trim() == hash_of(&colds[0]));
        (median(peers.into_iter().map(|(d, _)| d).collect()), agrees)
    });
    let cold = measure(uyh(&["--json"]))?;
    let cold_json = json(&cold)?;
    let hash = cold_json["lockfiles"][0]["current"]["hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let downloaded_bytes = cold_json["lockfiles"][0]["downloaded_bytes"]
        .as_u64()
        .unwrap_or(0);
    let _ = writeln!(report, "cold: {} ({hash})", secs(cold.wall));

    let warm_runs: Vec<Measured> = (0..5)
        .map(|_| measure(uyh(&["--json"])))
        .collect::<Result<_>>()?;
    let warm_rss = warm_runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0);
    let warm = median(warm_runs.iter().map(|m| m.wall).collect());
    let warm_recomputed = median(
        (0..5)
            .map(|_| measure(uyh(&["--json", "--recompute"])).map(|m| m.wall))
            .collect::<Result<_>>()?,
    );

    // "One package added": a lockfile never hashed before, one tarball not cached.
    let full_lock = fs::read(work.path().join("yarn.lock"))?;
    let mut incremental_runs = Vec::new();
    let mut incremental_downloaded = 0;
    for round in 0..3 {
        evict_one(cache.path())?;
        let mut lock = full_lock.clone();
        lock.extend_from_slice(format!("# bench round {round}\n").as_bytes());
        fs::write(work.path().join("yarn.lock"), lock)?;
        let m = measure(uyh(&["--json"]))?;
        incremental_downloaded = json(&m)?["lockfiles"][0]["downloaded_files"]
            .as_u64()
            .unwrap_or(0);
        incremental_runs.push(m.wall);
    }
    let incremental = median(incremental_runs);
    fs::write(work.path().join("yarn.lock"), &full_lock)?;
    measure(uyh(&["--json"]))?;

    let check = median(
        (0..20)
            .map(|_| measure(uyh(&["--check", "--quiet"])).map(|m| m.wall))
            .collect::<Result<_>>()?,
    );
    let nix_hash_path = nix_hash_path(work.path(), cache.path(), &hash)?;
    Ok(YarnFigures {
        hash,
        cold,
        cold_median,
        cold_system,
        floor,
        peer,
        downloaded_bytes,
        warm,
        warm_recomputed,
        warm_rss,
        incremental,
        incremental_downloaded,
        check,
        nix_hash_path,
    })
}

const COLD_ROUNDS: usize = 3;

fn hash_of(m: &Measured) -> String {
    serde_json::from_str::<serde_json::Value>(&m.stdout)
        .ok()
        .and_then(|j| {
            j["lockfiles"][0]["current"]["hash"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// The lockfile's tarball URLs, as update-yarn-hash would download them: its own plan,
/// printed by a `common` example (xtask does not build the library itself).
fn tarball_urls(sh: &Shell, lockfile: &Path) -> Result<Vec<String>> {
    let out = cmd!(
        sh,
        "cargo run --release --locked --quiet -p common --example yarn_tarball_urls -- {lockfile}"
    )
    .read()
    .context("listing the lockfile's tarball URLs")?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Downloads every URL with `curl --parallel` (64 at once, HTTP/2, to /dev/null): as
/// fast as this machine and network fetch those bytes. `None` without curl.
fn download_floor(urls: &[String]) -> Result<Option<Duration>> {
    if which::which("curl").is_err() {
        return Ok(None);
    }
    let config = tempfile::NamedTempFile::new()?;
    let mut text = String::new();
    for url in urls {
        let _ = writeln!(text, "url = \"{url}\"\noutput = \"/dev/null\"");
    }
    fs::write(config.path(), text)?;
    let mut c = Command::new("curl");
    c.args([
        "--parallel",
        "--parallel-max",
        "64",
        "--http2",
        "--no-progress-meter",
        "--fail",
    ])
    .args(["--retry", "4", "--config"])
    .arg(config.path());
    Ok(Some(measure(c)?.wall))
}

/// nixpkgs' prefetch-yarn-deps, as the fetchYarnDeps builder runs it, then `nix hash
/// path` (`../shared/peers/prefetch-yarn-deps/run.sh`). `None` without it or node.
fn peer(lockfile: &Path) -> Result<Option<(Duration, String)>> {
    let script = shared_dir().join("peers/prefetch-yarn-deps/run.sh");
    if !script.is_file() || which::which("node").is_err() || which::which("nix").is_err() {
        return Ok(None);
    }
    let mut c = Command::new(script);
    c.arg(lockfile);
    let m = measure(c)?;
    Ok(Some((m.wall, m.stdout)))
}

/// Deletes one cached tarball: the next run is "one package added".
fn evict_one(cache: &Path) -> Result<()> {
    let dir = cache.join("v1/sha512");
    let victim = fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .context("empty tarball cache")?;
    fs::remove_file(victim)?;
    Ok(())
}

/// `nix hash path` over the materialized output: its time, and whether it agrees.
fn nix_hash_path(work: &Path, cache: &Path, hash: &str) -> Result<Option<(Duration, bool)>> {
    if which::which("nix").is_err() {
        return Ok(None);
    }
    let out = work.join("materialized");
    let status = Command::new(release_bin("update-yarn-hash"))
        .current_dir(work)
        .args([
            "--lockfile",
            "yarn.lock",
            "--offline",
            "--quiet",
            "--materialize",
        ])
        .arg(&out)
        .env("UPDATE_YARN_HASH_CACHE", cache)
        .status()?;
    if !status.success() {
        bail!("--materialize failed");
    }
    let mut runs = Vec::new();
    let mut agrees = true;
    for _ in 0..3 {
        let mut c = Command::new("nix");
        c.args(["hash", "path"]).arg(&out).env(
            "NIX_CONFIG",
            "experimental-features = nix-command flakes\nsubstituters = ",
        );
        let m = measure(c)?;
        agrees &= m.stdout.trim() == hash;
        runs.push(m.wall);
    }
    Ok(Some((median(runs), agrees)))
}

fn hook_latency(sh: &Shell, ghost: &Path) -> Result<serde_json::Value> {
    let lock = ghost.join("yarn.lock");
    let bin = release_bin("nix-hooks");
    let out = cmd!(sh, "{bin} bench --lockfile {lock} --runs 20 --json").read()?;
    serde_json::from_str(&out).context("nix-hooks bench --json output")
}

fn precache_check(sh: &Shell) -> Result<Option<serde_json::Value>> {
    if which::which("nix").is_err() {
        return Ok(None);
    }
    let out = cmd!(
        sh,
        "cargo bench --locked -q -p precache-package --bench check -- --paths 300 --json"
    )
    .read()?;
    let line = out.lines().last().unwrap_or_default();
    Ok(Some(
        serde_json::from_str(line).context("precache-package bench --json output")?,
    ))
}

fn machine(sh: &Shell) -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let nix = cmd!(sh, "nix --version")
        .quiet()
        .ignore_status()
        .read()
        .unwrap_or_default();
    format!("{cores} cores ({cpu}); {}", nix.trim())
}

/// Today's date, UTC (`date -u +%F`), for the pnpm section.
fn today(sh: &Shell) -> String {
    cmd!(sh, "date -u +%F")
        .quiet()
        .read()
        .unwrap_or_else(|_| "an unknown date".into())
}

/// The yarn, hook and precache part of BENCHMARKS.md.
fn benchmarks_text(
    machine: &str,
    y: &YarnFigures,
    hooks: &serde_json::Value,
    precache: &Option<serde_json::Value>,
) -> String {
    let mib = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let hook = |k: &str| {
        hooks["median_ms"][k]
            .as_f64()
            .map_or("n/a".into(), |v| format!("{v:.1} ms"))
    };
    let nix_row = match &y.nix_hash_path {
        Some((d, agrees)) => format!(
            "| `nix hash path` on the materialized output | {} | reference | {} |",
            secs(*d),
            if *agrees {
                "same hash"
            } else {
                "DIFFERENT HASH"
            }
        ),
        None => "| `nix hash path` | not measured (nix not installed) | | |".into(),
    };
    let precache_rows = match precache {
        Some(p) => format!(
            "| `precache-package --check`, {} paths over loopback HTTP (excl. `nix eval`) | {} | < 0.5 s | a narinfo GET and a NAR HEAD per path, {} requests at {:.0}/s; {} incl. `nix eval` |",
            p["paths"],
            p["medianQuerySeconds"].as_f64().map_or("n/a".into(), |s| format!("{s:.3} s")),
            p["requestsPerRound"],
            p["requestsPerSecond"].as_f64().unwrap_or(0.0),
            p["medianWallSeconds"].as_f64().map_or("n/a".into(), |s| format!("{s:.3} s")),
        ),
        None => "| `precache-package --check` | not measured (nix not installed) | | |".into(),
    };
    let floor = y.floor.map_or("not measured (no curl)".into(), secs);
    let (peer, peer_note) = match y.peer {
        Some((d, agrees)) => (
            secs(d),
            if agrees {
                "same hash"
            } else {
                "DIFFERENT HASH"
            },
        ),
        None => (
            "not measured (needs node, nix and ../shared/peers)".into(),
            "",
        ),
    };
    let cold = y.cold_median.as_secs_f64();
    let mut ratios = Vec::new();
    if let Some(f) = y.floor {
        ratios.push(format!("{:.2}× the floor", cold / f.as_secs_f64()));
    }
    if let Some((p, _)) = y.peer {
        ratios.push(format!(
            "{:.2}× faster than the peer",
            p.as_secs_f64() / cold
        ));
    }
    let ratios = ratios.join(", ");
    format!(
        "# Benchmarks\n\n\
Measured by `cargo xtask bench` (it rewrites this file) on {machine}.\n\
Input: Ghost's real lockfile, registry-only variant (4,055 tarballs) from `../shared/fixtures/ghost/`; \
hook latency uses the full lockfile. Cold runs download from the public npm registry, so they depend on the network, \
and on the filesystem: right after a large cache was deleted, ext4 spends much of a cold run finding inodes to reuse \
(`recently_deleted` in `perf`). So the cold run, the download floor and the peer are measured in the same run, \
interleaved, {COLD_ROUNDS} rounds each (medians), each cold run into a fresh cache.\n\n\
| what | measured | target | notes |\n|---|---|---|---|\n\
| download floor: `curl --parallel --parallel-max 64 --http2` of the same tarballs to /dev/null | {floor} | reference | what the network gives this machine |\n\
| nixpkgs' prefetch-yarn-deps + `nix hash path` (`../shared/peers/prefetch-yarn-deps/run.sh`) | {peer} | reference | {peer_note} |\n\
| `update-yarn-hash`, cold (empty cache, median of {COLD_ROUNDS}) | {} | ≤ 1.6× the floor and ≥ 3× faster than the peer | {ratios}; system time {}; downloaded {}; peak RSS {} MiB; hash `{}` |\n\
| `update-yarn-hash`, warm (all cached, median of 5) | {} | < 0.4 s and faster than `nix hash path` | peak RSS {} MiB; no network; the NAR hash remembered for these exact inputs |\n\
| `update-yarn-hash --recompute`, warm (median of 5) | {} | | every cached tarball streamed into SHA-256 again: the floor is one SHA-256 pass over 385 MB (~0.18 s here) |\n\
| `update-yarn-hash`, incremental (one tarball added, median of 3) | {} | < 0.5 s | downloaded {} file(s) |\n\
| `update-yarn-hash --check` (median of 20) | {} | < 20 ms | lockfile digest vs record |\n\
{nix_row}\n\
| `nix-hooks pre-commit`, staged unchanged (median of 20) | {} | < 50 ms | |\n\
| `nix-hooks pre-commit`, staged changed, stale (median of 20) | {} | < 50 ms | rejects the commit |\n\
| `nix-hooks envrc` (median of 20) | {} | < 20 ms | |\n\
{precache_rows}\n",
        secs(y.cold_median),
        secs(y.cold_system),
        mib(y.downloaded_bytes),
        y.cold.max_rss_kib / 1024,
        y.hash,
        secs(y.warm),
        y.warm_rss / 1024,
        secs(y.warm_recomputed),
        secs(y.incremental),
        y.incremental_downloaded,
        ms(y.check),
        hook("staged-unchanged"),
        hook("staged-changed-stale"),
        hook("envrc-fresh"),
    )
}
