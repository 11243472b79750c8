//! `cargo xtask dev-services`: starts the dev services the way `.nix/process-compose.yaml`
//! describes them, on this machine, from Debian's packages (mariadb-server, redis-server):
//! each process's exact `command` under `bash -c`, in `depends_on` order, with its
//! readiness probe polled as written (initial delay, period, timeout, thresholds). Then the
//! example app must answer HTTP with working MySQL and Redis. Prints the time to all-ready.
//!
//! MySQL 8 (what process-compose.yaml runs, nixpkgs' mysql84) is in none of the registries
//! this machine reaches, so Debian's MariaDB stands in for it (Debian's mariadb-server ships
//! `mysqld` and `mysqladmin` as links to `mariadbd` and `mariadb-admin`): the two MySQL-only
//! parts of the mysql commands are swapped (`MARIADB_STAND_IN`), and each adapted command is
//! printed. Everything else runs as written.
//!
//! Needs root only to apt-get install what is missing. Mailpit is in no registry this
//! machine reaches (not in Debian; npm and PyPI only have API clients), so when `mailpit`
//! is not on PATH that one process is skipped with the reason printed.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::example_copy::copy_example;
use crate::process_compose::{Condition, HttpProbe, Probe, Project};
use crate::{project_root, tool_install};

/// Hard limit for the whole bring-up, so a hung service cannot hang CI.
const BRING_UP_LIMIT: Duration = Duration::from_secs(600);

pub fn run(sh: &Shell) -> Result<()> {
    let root = project_root();
    let mut project = Project::load(&root.join(".nix/process-compose.yaml"))?;
    mariadb_stand_in(&mut project)?;
    let skipped = install_service_programs(sh)?;

    // A scratch copy of example/ keeps .dev-data/ and node_modules out of the checkout and
    // the socket paths short.
    let work = tempfile::Builder::new()
        .prefix("dev-services")
        .tempdir_in("/tmp")?;
    copy_example(&root.join("example"), &work.path().join("example"))?;
    fs::create_dir_all(work.path().join(".dev-data"))?;

    let mut running = Running {
        children: Vec::new(),
        work: work.path().to_path_buf(),
    };
    let result = bring_up(&project, &skipped, &mut running).and_then(|report| {
        check_app(&project)?;
        Ok(report)
    });
    running.stop_all(&project);
    let report = result?;
    println!("{report}");
    Ok(())
}

/// MySQL 8.4 → Debian MariaDB. `--initialize-insecure` (root without password) is
/// mariadb-install-db with normal authentication and no test database; MariaDB has no X
/// Plugin, so it refuses `--mysqlx`.
const MARIADB_STAND_IN: &[(&str, &str)] = &[
    (
        "mysqld --no-defaults --initialize-insecure",
        "mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db --basedir=/usr",
    ),
    (" --mysqlx=OFF", ""),
];

/// Swaps MySQL 8.4 for the MariaDB stand-in in every command and exec probe, printing
/// what changed; refuses a MySQL command the table does not cover.
fn mariadb_stand_in(project: &mut Project) -> Result<()> {
    println!("dev-services: MySQL 8.4 is not installable here; Debian's MariaDB stands in for it (the dev shell and `nix run .#dev` run MySQL 8.4)");
    for (name, process) in project.processes.iter_mut() {
        let probes = [&mut process.readiness_probe, &mut process.liveness_probe];
        let probe_commands = probes
            .into_iter()
            .flatten()
            .filter_map(|p| p.exec.as_mut())
            .map(|e| &mut e.command);
        for command in process.command.iter_mut().chain(probe_commands) {
            let adapted = MARIADB_STAND_IN
                .iter()
                .fold(command.clone(), |c, (from, to)| c.replace(from, to));
            ensure!(
                !adapted.contains("--initialize") && !adapted.contains("mysqlx"),
                "process `{name}`: no MariaDB stand-in for this MySQL command (extend MARIADB_STAND_IN in xtask/src/dev_services.rs): {command}"
            );
            if adapted != *command {
                println!("dev-services: `{name}` with MariaDB: {adapted}");
                *command = adapted;
            }
        }
    }
    Ok(())
}

/// Installs MariaDB and Redis from Debian when missing; returns the processes to skip.
fn install_service_programs(sh: &Shell) -> Result<BTreeMap<String, String>> {
    for bin in ["mysqld", "mariadb-install-db", "mysqladmin"] {
        tool_install::apt_tool(sh, bin, "mariadb-server")?;
    }
    for bin in ["redis-server", "redis-cli"] {
        tool_install::apt_tool(sh, bin, "redis-server")?;
    }
    if tool_install::find("yarn").is_none() {
        cmd!(sh, "npm install -g yarn@1.22.22")
            .run()
            .context("yarn is missing: run `npm install -g yarn@1.22.22`")?;
    }
    let mut skipped = BTreeMap::new();
    if tool_install::find("mailpit").is_none() {
        let reason = "mailpit is not installable here: not in Debian (apt-cache policy mailpit: no candidate), and npm/PyPI only carry API clients for it";
        println!("dev-services: skipping process `mailpit`: {reason}; the app's dependency on it is dropped for this run (the app connects to SMTP only when sending)");
        skipped.insert("mailpit".to_string(), reason.to_string());
    }
    // The app runs `node`, which the dev shell provides; here it must be on PATH.
    tool_install::find("node").context("node is missing: install Node.js 20 or newer")?;
    Ok(skipped)
}

struct Running {
    children: Vec<(String, Child)>,
    work: PathBuf,
}

impl Running {
    fn spawn(&mut self, project: &Project, name: &str) -> Result<()> {
        let process = &project.processes[name];
        let command = process
            .command
            .as_deref()
            .context("only `command` processes are supported")?;
        let log = File::create(self.work.join(format!(".dev-data/{name}.log")))?;
        if process.is_daemon || process.entrypoint.is_some() {
            bail!("process `{name}`: is_daemon and entrypoint are not supported by this test; use `command`");
        }
        let dir = process
            .working_dir
            .as_deref()
            .map_or_else(|| self.work.clone(), |d| self.work.join(d));
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(command).current_dir(dir);
        for entry in project.environment.iter().chain(&process.environment) {
            let (k, v) = entry.split_once('=').expect("validated NAME=VALUE");
            cmd.env(k, v);
        }
        // Own process group, so stopping reaches everything the command started.
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start process `{name}`"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    fn child(&mut self, name: &str) -> &mut Child {
        &mut self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("spawned")
            .1
    }

    fn log_tail(&self, name: &str) -> String {
        let text =
            fs::read_to_string(self.work.join(format!(".dev-data/{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// SIGTERM to each process group, newest first, then SIGKILL after the shutdown timeout.
    fn stop_all(&mut self, project: &Project) {
        while let Some((name, mut child)) = self.children.pop() {
            let timeout = project.processes[&name]
                .shutdown
                .as_ref()
                .and_then(|s| s.timeout_seconds)
                .unwrap_or(10);
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-TERM", "--", &group])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(timeout);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
        }
    }
}

/// What a started process is waiting for.
enum Phase {
    /// One-shot (others wait for it to complete): ready when it exits 0.
    Completing,
    /// A service with a readiness probe, polled as process-compose does it.
    Probing {
        probe: Box<Probe>,
        next_check: Instant,
        successes: u32,
        failures: u32,
    },
    Ready(Duration),
}

/// process-compose's scheduling: every process starts as soon as its `depends_on`
/// conditions hold (independent ones together), and each readiness probe runs after its
/// initial delay, once per period, bounded by its timeout; ready after `success_threshold`
/// consecutive successes, failed after `failure_threshold` consecutive failures.
fn bring_up(
    project: &Project,
    skipped: &BTreeMap<String, String>,
    running: &mut Running,
) -> Result<String> {
    let started = Instant::now();
    let mut phases: BTreeMap<String, Phase> = BTreeMap::new();
    let wanted: Vec<String> = project
        .start_order()
        .into_iter()
        .filter(|n| !skipped.contains_key(n))
        .collect();
    loop {
        for name in &wanted {
            let deps_ready = project.processes[name].depends_on.keys().all(|dep| {
                skipped.contains_key(dep) || matches!(phases.get(dep), Some(Phase::Ready(_)))
            });
            if phases.contains_key(name) || !deps_ready {
                continue;
            }
            running.spawn(project, name)?;
            phases.insert(name.clone(), initial_phase(project, name));
        }
        for (name, phase) in phases.iter_mut() {
            advance(name, phase, running, started).with_context(|| {
                format!(
                    "process `{name}` did not become ready; its output:\n{}",
                    running.log_tail(name)
                )
            })?;
        }
        if wanted
            .iter()
            .all(|n| matches!(phases.get(n), Some(Phase::Ready(_))))
        {
            break;
        }
        ensure!(
            started.elapsed() < BRING_UP_LIMIT,
            "not all ready after {BRING_UP_LIMIT:?}"
        );
        sleep(Duration::from_millis(20));
    }
    let total = started.elapsed();
    let mut detail: Vec<(Duration, &String)> = phases
        .iter()
        .filter_map(|(n, p)| {
            if let Phase::Ready(t) = p {
                Some((*t, n))
            } else {
                None
            }
        })
        .collect();
    detail.sort();
    let detail: Vec<String> = detail
        .iter()
        .map(|(t, n)| format!("{n} {:.2}s", t.as_secs_f64()))
        .collect();
    let skipped_note = if skipped.is_empty() {
        String::new()
    } else {
        format!(
            "; skipped: {}",
            skipped.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    Ok(format!(
        "dev-services: all ready in {:.2}s from start ({}){skipped_note}",
        total.as_secs_f64(),
        detail.join(", ")
    ))
}

fn initial_phase(project: &Project, name: &str) -> Phase {
    let one_shot = project.processes.values().any(|p| {
        p.depends_on.get(name).is_some_and(|d| {
            matches!(
                d.condition,
                Condition::ProcessCompleted | Condition::ProcessCompletedSuccessfully
            )
        })
    });
    match &project.processes[name].readiness_probe {
        _ if one_shot => Phase::Completing,
        Some(probe) => Phase::Probing {
            next_check: Instant::now() + Duration::from_secs(probe.timing().initial_delay_seconds),
            probe: Box::new(probe.clone()),
            successes: 0,
            failures: 0,
        },
        // `process_started` is all anyone can wait for.
        None => Phase::Ready(Duration::ZERO),
    }
}

fn advance(name: &str, phase: &mut Phase, running: &mut Running, started: Instant) -> Result<()> {
    let exited = running.child(name).try_wait()?;
    match phase {
        Phase::Ready(_) => {}
        Phase::Completing => {
            if let Some(status) = exited {
                ensure!(status.success(), "exited with {status}");
                println!(
                    "dev-services: {name} completed after {:.2}s",
                    started.elapsed().as_secs_f64()
                );
                *phase = Phase::Ready(started.elapsed());
            }
        }
        Phase::Probing {
            probe,
            next_check,
            successes,
            failures,
        } => {
            if let Some(status) = exited {
                bail!("exited with {status} before its readiness probe passed");
            }
            if Instant::now() < *next_check {
                return Ok(());
            }
            let t = probe.timing();
            *next_check = Instant::now() + Duration::from_secs(t.period_seconds);
            let timeout = Duration::from_secs(t.timeout_seconds);
            let outcome = match (&probe.exec, &probe.http_get) {
                (Some(exec), _) => exec_probe(
                    &exec.command,
                    exec.working_dir.as_deref(),
                    &running.work,
                    timeout,
                ),
                (None, Some(http)) => http_probe(http, timeout).map(|_| ()),
                (None, None) => bail!("probe has neither exec nor http_get"),
            };
            match outcome {
                Ok(()) => {
                    *successes += 1;
                    *failures = 0;
                }
                Err(e) => {
                    *successes = 0;
                    *failures += 1;
                    ensure!(
                        *failures < t.failure_threshold,
                        "readiness probe failed {failures} times in a row; last: {e:#}"
                    );
                }
            }
            if *successes >= t.success_threshold {
                println!(
                    "dev-services: {name} ready after {:.2}s",
                    started.elapsed().as_secs_f64()
                );
                *phase = Phase::Ready(started.elapsed());
            }
        }
    }
    Ok(())
}

fn exec_probe(
    command: &str,
    working_dir: Option<&str>,
    work: &Path,
    timeout: Duration,
) -> Result<()> {
    let dir = working_dir.map_or_else(|| work.to_path_buf(), |d| work.join(d));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            ensure!(status.success(), "`{command}` exited with {status}");
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{command}` timed out after {timeout:?}");
        }
        sleep(Duration::from_millis(20));
    }
}

/// One HTTP GET; Ok(body) when the status is the one the probe expects.
fn http_probe(probe: &HttpProbe, timeout: Duration) -> Result<String> {
    let port = probe.port().context("probe has no port")?;
    ensure!(
        probe.scheme.as_deref().unwrap_or("http") == "http",
        "only http probes are supported here"
    );
    let (status, body) = http_get(probe.host(), port, probe.path(), timeout)?;
    ensure!(
        status == probe.expected_status(),
        "GET {} answered {status}",
        probe.path()
    );
    Ok(body)
}

fn http_get(host: &str, port: u16, path: &str, timeout: Duration) -> Result<(u16, String)> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .context("host does not resolve")?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // HTTP/1.0: the answer comes unchunked and the server closes the connection.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("not an HTTP response")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The app must reach both stores: /health pings them, and `/` writes a row to MySQL and
/// increments a Redis counter, so two requests must show both counters moving.
fn check_app(project: &Project) -> Result<()> {
    let http = project.processes["app"]
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .context("the app has no http_get readiness probe")?;
    let (host, port, timeout) = (
        http.host(),
        http.port().context("app probe port")?,
        Duration::from_secs(5),
    );
    let (status, health) = http_get(host, port, "/health", timeout)?;
    ensure!(
        status == 200 && health.contains(r#""mysql":"ok""#) && health.contains(r#""redis":"ok""#),
        "GET /health: {status} {health}"
    );
    let first = counters(&http_get(host, port, "/", timeout)?.1)?;
    let second = counters(&http_get(host, port, "/", timeout)?.1)?;
    ensure!(
        second.0 == first.0 + 1 && second.1 == first.1 + 1,
        "GET / twice: MySQL visits {} -> {}, Redis hits {} -> {} (each should grow by 1)",
        first.0,
        second.0,
        first.1,
        second.1
    );
    println!(
        "dev-services: app answered /health {health:?}; MySQL visits {} -> {}, Redis hits {} -> {}",
        first.0, second.0, first.1, second.1
    );
    Ok(())
}

/// (visits, hits) from `{"visits":N,"hits":M}`.
fn counters(body: &str) -> Result<(u64, u64)> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(body.trim()).with_context(|| format!("not JSON: {body}"))?;
    let get = |k: &str| {
        value[k]
            .as_u64()
            .with_context(|| format!("no `{k}` in {body}"))
    };
    Ok((get("visits")?, get("hits")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project::load(&project_root().join(".nix/process-compose.yaml")).unwrap()
    }

    #[test]
    fn the_mysql_commands_run_on_the_mariadb_stand_in() {
        let mut p = project();
        let mysql = p.processes["mysql"].command.clone().unwrap();
        assert!(
            mysql.contains("exec mysqld ") && mysql.contains("--mysqlx=OFF"),
            "{mysql}"
        );
        mariadb_stand_in(&mut p).unwrap();
        let init = p.processes["mysql-init"].command.as_deref().unwrap();
        assert!(
            init.contains(
                "mariadb-install-db --no-defaults --auth-root-authentication-method=normal"
            ),
            "{init}"
        );
        let mysql = p.processes["mysql"].command.as_deref().unwrap();
        assert!(
            mysql.contains("exec mysqld --no-defaults") && !mysql.contains("mysqlx"),
            "{mysql}"
        );
        let probe = &p.processes["mysql"]
            .readiness_probe
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command;
        assert!(probe.starts_with("mysqladmin --no-defaults"), "{probe}");
        // Redis and the app are left exactly as written.
        assert_eq!(
            p.processes["redis"].command,
            project().processes["redis"].command
        );
    }

    #[test]
    fn a_mysql_command_without_a_stand_in_is_refused() {
        let mut p = project();
        p.processes.get_mut("mysql").unwrap().command =
            Some("mysqld --initialize --mysqlx-port=0".into());
        let err = mariadb_stand_in(&mut p).unwrap_err().to_string();
        assert!(
            err.contains("process `mysql`") && err.contains("MARIADB_STAND_IN"),
            "{err}"
        );
    }
}
