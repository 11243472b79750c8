//! Benchmark: `precache-package --check` on a fully cached closure served over loopback HTTP.
//!
//! Run: `cargo bench -p precache-package --bench check [-- --paths N --rounds R --json]`.
//! It makes a flake whose output is never built, a signed binary cache of N narinfos whose
//! `References` form that output's closure (a DAG several levels deep, so the walk has to
//! discover paths level by level as a real one does), serves it from 127.0.0.1 and times
//! the real binary. `querySeconds` is the binary's own measure of the closure walk, which
//! excludes `nix eval`; requests/s is the server's request count over that time.

#[path = "../tests/it/http_server.rs"]
#[allow(dead_code)] // the status overrides are for the tests
mod http_server;
#[path = "../tests/it/signed_narinfo.rs"]
mod signed_narinfo;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::binary_cache::narinfo::SecretKey;
use common::binary_cache::store_path::StorePath;
use common::nix::nix_base32;
use common::nix::nix_hash::Sha256Hash;
use signed_narinfo::{new_cache_dir, write_signed, Nar};

const NIX_CONFIG: &str =
    "experimental-features = nix-command flakes\nsandbox = false\nsubstituters = ";

struct Opts {
    paths: usize,
    rounds: usize,
    json: bool,
}

fn main() {
    let opts = parse_args();
    for tool in ["nix", "git"] {
        if which::which(tool).is_err() {
            println!("skipping: `{tool}` is not installed");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let attr = format!("packages.{}-linux.root", std::env::consts::ARCH);
    let out = make_flake(&repo, tmp.path());
    let eval_started = Instant::now();
    let evaluated = sh(
        &repo,
        "nix",
        &["eval", "--raw", &format!(".#{attr}.outPath")],
    );
    let eval_seconds = eval_started.elapsed().as_secs_f64();
    assert_eq!(evaluated.trim(), out.to_string());

    let cache = tmp.path().join("cache");
    new_cache_dir(&cache);
    let key = SecretKey::from_seed("bench-1", [42; 32]);
    write_closure(&cache, &key, &out, opts.paths);
    let server = http_server::CacheServer::serve(cache);
    let public = key.public().to_string();

    let mut rounds = Vec::new();
    for _ in 0..opts.rounds {
        let before = server.requests();
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_precache-package"))
            .current_dir(&repo)
            .env("NIX_CONFIG", NIX_CONFIG)
            .args([
                "--check",
                "--json",
                "--from",
                &server.url(),
                "--trusted-public-key",
                &public,
            ])
            .args([".", &attr])
            .output()
            .unwrap();
        let wall = started.elapsed().as_secs_f64();
        let v: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&output.stderr)));
        assert!(output.status.success(), "{v}");
        assert_eq!(v["closurePaths"].as_u64(), Some(opts.paths as u64), "{v}");
        let query = v["querySeconds"].as_f64().unwrap();
        let requests = server.requests() - before;
        rounds.push((wall, query, requests));
    }
    report(&opts, eval_seconds, &rounds);
}

fn report(opts: &Opts, eval_seconds: f64, rounds: &[(f64, f64, usize)]) {
    let median = |f: fn(&(f64, f64, usize)) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let wall = median(|r| r.0);
    let query = median(|r| r.1);
    let requests = rounds[0].2;
    let rps = requests as f64 / query;
    if opts.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "precache-package --check",
                "paths": opts.paths,
                "rounds": opts.rounds,
                "medianWallSeconds": wall,
                "medianQuerySeconds": query,
                "nixEvalSeconds": eval_seconds,
                "requestsPerRound": requests,
                "narinfoRequestsPerSecond": rps,
            })
        );
    } else {
        println!("precache-package --check, fully cached closure over loopback HTTP");
        println!("  paths:                  {}", opts.paths);
        println!("  rounds:                 {}", opts.rounds);
        println!("  wall (median, all):     {wall:.3} s");
        println!("  closure query (median): {query:.3} s   (excludes nix eval; target < 0.5 s)");
        println!("  one `nix eval --raw`:   {eval_seconds:.3} s");
        println!("  narinfo requests/round: {requests}");
        println!("  narinfo requests/s:     {rps:.0}");
    }
}

fn parse_args() -> Opts {
    let mut opts = Opts {
        paths: 300,
        rounds: 5,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--paths" => opts.paths = args.next().and_then(|n| n.parse().ok()).expect("--paths N"),
            "--rounds" => {
                opts.rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rounds N")
            }
            "--json" => opts.json = true,
            // `cargo bench` passes `--bench`; anything else is ignored likewise.
            _ => {}
        }
    }
    opts.paths = opts.paths.max(2);
    opts.rounds = opts.rounds.max(1);
    opts
}

/// A flake with one never-built output; returns its output path.
fn make_flake(repo: &Path, salt: &Path) -> StorePath {
    std::fs::create_dir_all(repo).unwrap();
    let flake = format!(
        r#"{{
  outputs = {{ self }}: {{
    packages.{arch}-linux.root = derivation {{
      name = "root"; system = "{arch}-linux"; builder = "/bin/sh";
      args = [ "-c" "echo {salt} > $out" ];
    }};
  }};
}}
"#,
        arch = std::env::consts::ARCH,
        salt = salt.display()
    );
    std::fs::write(repo.join("flake.nix"), flake).unwrap();
    sh(repo, "git", &["init", "-q"]);
    sh(repo, "git", &["add", "flake.nix"]);
    sh(
        repo,
        "git",
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qm",
            "bench",
        ],
    );
    let attr = format!(".#packages.{}-linux.root.outPath", std::env::consts::ARCH);
    sh(repo, "nix", &["eval", "--raw", &attr])
        .trim()
        .parse()
        .unwrap()
}

/// Path 0 is the output; path i references 2i+1, 2i+2 and a shared deeper path, so every
/// path is reachable and the closure is discovered level by level.
fn write_closure(cache: &Path, key: &SecretKey, out: &StorePath, n: usize) {
    let paths: Vec<StorePath> = (0..n)
        .map(|i| {
            if i == 0 {
                return out.clone();
            }
            let digest = Sha256Hash::of(format!("bench-path-{i}").as_bytes());
            let hash = nix_base32::encode(&digest.0[..20]);
            format!("/nix/store/{hash}-dep-{i}").parse().unwrap()
        })
        .collect();
    for (i, path) in paths.iter().enumerate() {
        let mut refs: Vec<StorePath> = [2 * i + 1, 2 * i + 2, (i * 7 + 5) % n]
            .into_iter()
            .filter(|&j| j > i && j < n)
            .map(|j| paths[j].clone())
            .collect();
        refs.sort();
        refs.dedup();
        let nar = Nar {
            compression: "xz",
            file_size: 1000 + i as u64,
            size: 4096 + i as u64,
        };
        write_signed(cache, key, path, refs, nar);
    }
}

fn sh(cwd: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .current_dir(cwd)
        .env("NIX_CONFIG", NIX_CONFIG)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
