//! A typed model of `.nix/process-compose.yaml` and the checks process-compose itself only
//! reports at run time (or never): unknown keys, dangling or cyclic `depends_on`, probes that
//! can never succeed, `process_healthy` on a process without a readiness probe.
//!
//! The keys are process-compose's (src/types/project.go, process.go, health/probe.go).
//! Every accepted key is modelled so that `deny_unknown_fields` catches typos; the checks
//! read only some of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub version: Option<String>,
    #[serde(default)]
    pub is_strict: bool,
    #[serde(default)]
    pub disable_env_expansion: bool,
    pub log_location: Option<String>,
    pub log_level: Option<String>,
    pub log_length: Option<u32>,
    pub log_configuration: Option<serde_yaml::Mapping>,
    pub log_format: Option<String>,
    #[serde(default)]
    pub environment: Vec<String>,
    pub shell: Option<ShellConfig>,
    pub vars: Option<serde_yaml::Mapping>,
    pub is_tui_disabled: Option<bool>,
    pub extends: Option<String>,
    pub env_cmds: Option<BTreeMap<String, String>>,
    pub processes: BTreeMap<String, Process>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellConfig {
    pub shell_command: String,
    pub shell_argument: String,
    pub elevated_shell_command: Option<String>,
    pub elevated_shell_argument: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub command: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub description: Option<String>,
    pub working_dir: Option<String>,
    #[serde(default)]
    pub environment: Vec<String>,
    #[serde(default)]
    pub depends_on: BTreeMap<String, Dependency>,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
    pub ready_log_line: Option<String>,
    pub availability: Option<Availability>,
    pub shutdown: Option<Shutdown>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub is_daemon: bool,
    pub log_location: Option<String>,
    pub log_configuration: Option<serde_yaml::Mapping>,
    pub disable_ansi_colors: Option<bool>,
    pub namespace: Option<String>,
    pub replicas: Option<u32>,
    pub vars: Option<serde_yaml::Mapping>,
    pub is_foreground: Option<bool>,
    pub is_tty: Option<bool>,
    pub is_elevated: Option<bool>,
    pub launch_timeout_seconds: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub condition: Condition,
}

// Named as process-compose names them (`process_healthy`, ...).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ProcessStarted,
    ProcessHealthy,
    ProcessCompleted,
    ProcessCompletedSuccessfully,
    ProcessLogReady,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub exec: Option<ExecProbe>,
    pub http_get: Option<HttpProbe>,
    pub initial_delay_seconds: Option<u64>,
    pub period_seconds: Option<u64>,
    pub timeout_seconds: Option<u64>,
    pub success_threshold: Option<u32>,
    pub failure_threshold: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecProbe {
    pub command: String,
    pub working_dir: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub host: Option<String>,
    pub scheme: Option<String>,
    pub path: Option<String>,
    pub port: Option<serde_yaml::Value>,
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    pub status_code: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    pub restart: Option<Restart>,
    pub backoff_seconds: Option<u32>,
    pub max_restarts: Option<u32>,
    pub exit_on_end: Option<bool>,
    pub exit_on_skipped: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    Always,
    OnFailure,
    ExitOnFailure,
    No,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    pub command: Option<String>,
    pub signal: Option<i32>,
    pub timeout_seconds: Option<u64>,
    pub parent_only: Option<bool>,
}

/// The probe timing process-compose applies (health/probe.go `ValidateAndSetDefaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTiming {
    pub initial_delay_seconds: u64,
    pub period_seconds: u64,
    pub timeout_seconds: u64,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Probe {
    pub fn timing(&self) -> ProbeTiming {
        ProbeTiming {
            initial_delay_seconds: self.initial_delay_seconds.unwrap_or(0),
            period_seconds: self.period_seconds.filter(|&p| p >= 1).unwrap_or(10),
            timeout_seconds: self.timeout_seconds.filter(|&t| t >= 1).unwrap_or(1),
            success_threshold: self.success_threshold.filter(|&s| s >= 1).unwrap_or(1),
            failure_threshold: self.failure_threshold.filter(|&f| f >= 1).unwrap_or(3),
        }
    }
}

impl HttpProbe {
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or("127.0.0.1")
    }
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("/")
    }
    pub fn expected_status(&self) -> u16 {
        self.status_code
            .filter(|s| (1..=400).contains(s))
            .unwrap_or(200)
    }
    /// The port as a number; process-compose accepts `2368` and `"2368"`.
    pub fn port(&self) -> Option<u16> {
        match self.port.as_ref()? {
            serde_yaml::Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            serde_yaml::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .filter(|&p| p != 0)
    }
}

impl Project {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and validates; every problem found is reported at once.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        // serde_yaml's message carries the line and column and names the unknown key.
        let project: Project = serde_yaml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}\nfix: use the keys process-compose defines (see xtask/src/process_compose.rs)",
                path.display()
            )
        })?;
        let problems = project.problems();
        if !problems.is_empty() {
            bail!("{}:\n  {}", path.display(), problems.join("\n  "));
        }
        Ok(project)
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.version.is_none() {
            out.push("no `version`: add `version: \"0.5\"`".to_string());
        }
        if self.processes.is_empty() {
            out.push("no processes".to_string());
        }
        for (name, process) in &self.processes {
            process_problems(self, name, process, &mut out);
        }
        if let Some(cycle) = self.dependency_cycle() {
            out.push(format!("depends_on forms a cycle: {}", cycle.join(" -> ")));
        }
        out
    }

    /// Processes in an order where each comes after everything it depends on.
    pub fn start_order(&self) -> Vec<String> {
        let mut order = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        fn visit(
            p: &Project,
            name: &str,
            seen: &mut std::collections::BTreeSet<String>,
            order: &mut Vec<String>,
        ) {
            if !seen.insert(name.to_string()) {
                return;
            }
            if let Some(proc_) = p.processes.get(name) {
                for dep in proc_.depends_on.keys() {
                    visit(p, dep, seen, order);
                }
            }
            order.push(name.to_string());
        }
        for name in self.processes.keys() {
            visit(self, name, &mut seen, &mut order);
        }
        order
    }

    fn dependency_cycle(&self) -> Option<Vec<String>> {
        fn walk(p: &Project, name: &str, stack: &mut Vec<String>) -> Option<Vec<String>> {
            if let Some(at) = stack.iter().position(|n| n == name) {
                let mut cycle = stack[at..].to_vec();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            stack.push(name.to_string());
            let deps = p.processes.get(name).map(|pr| pr.depends_on.keys());
            for dep in deps.into_iter().flatten() {
                if let Some(c) = walk(p, dep, stack) {
                    return Some(c);
                }
            }
            stack.pop();
            None
        }
        self.processes
            .keys()
            .find_map(|name| walk(self, name, &mut Vec::new()))
    }
}

fn process_problems(project: &Project, name: &str, process: &Process, out: &mut Vec<String>) {
    match (&process.command, &process.entrypoint) {
        (None, None) => out.push(format!(
            "processes.{name}: needs `command` (or `entrypoint`)"
        )),
        (Some(_), Some(_)) => out.push(format!(
            "processes.{name}: set `command` or `entrypoint`, not both"
        )),
        (Some(c), None) if c.trim().is_empty() => {
            out.push(format!("processes.{name}.command is empty"))
        }
        _ => {}
    }
    for entry in process.environment.iter().chain(&project.environment) {
        if !entry.contains('=') {
            out.push(format!(
                "processes.{name}: environment entry {entry:?} is not NAME=VALUE"
            ));
        }
    }
    for (dep, how) in &process.depends_on {
        let Some(target) = project.processes.get(dep) else {
            let known: Vec<&str> = project.processes.keys().map(String::as_str).collect();
            out.push(format!(
                "processes.{name}.depends_on: `{dep}` is not a process (processes: {})",
                known.join(", ")
            ));
            continue;
        };
        if dep == name {
            out.push(format!("processes.{name} depends on itself"));
        }
        if how.condition == Condition::ProcessHealthy && target.readiness_probe.is_none() {
            out.push(format!(
                "processes.{name}.depends_on.{dep}: process_healthy needs a readiness_probe on `{dep}`"
            ));
        }
        if how.condition == Condition::ProcessLogReady && target.ready_log_line.is_none() {
            out.push(format!(
                "processes.{name}.depends_on.{dep}: process_log_ready needs `ready_log_line` on `{dep}`"
            ));
        }
    }
    let probes = [
        ("readiness_probe", &process.readiness_probe),
        ("liveness_probe", &process.liveness_probe),
    ];
    for (key, probe) in probes {
        if let Some(probe) = probe {
            probe_problems(&format!("processes.{name}.{key}"), probe, out);
        }
    }
}

fn probe_problems(at: &str, probe: &Probe, out: &mut Vec<String>) {
    match (&probe.exec, &probe.http_get) {
        (None, None) => out.push(format!("{at}: needs `exec` or `http_get`")),
        (Some(_), Some(_)) => out.push(format!("{at}: set `exec` or `http_get`, not both")),
        (Some(exec), None) if exec.command.trim().is_empty() => {
            out.push(format!("{at}.exec.command is empty"))
        }
        (None, Some(http)) => {
            if http.port().is_none() {
                out.push(format!("{at}.http_get.port: needs a port from 1 to 65535"));
            }
            if !http.path().starts_with('/') {
                out.push(format!("{at}.http_get.path must start with `/`"));
            }
            if let Some(scheme) = &http.scheme {
                if scheme != "http" && scheme != "https" {
                    out.push(format!(
                        "{at}.http_get.scheme: `{scheme}` is not http or https"
                    ));
                }
            }
        }
        _ => {}
    }
    // Zero or negative values are silently replaced by defaults in process-compose, so
    // writing them is always a mistake.
    let positive = [
        ("period_seconds", probe.period_seconds),
        ("timeout_seconds", probe.timeout_seconds),
        ("success_threshold", probe.success_threshold.map(u64::from)),
        ("failure_threshold", probe.failure_threshold.map(u64::from)),
    ];
    for (key, value) in positive {
        if value == Some(0) {
            out.push(format!("{at}.{key} is 0: process-compose would replace it by its default; write at least 1"));
        }
    }
    let t = probe.timing();
    if t.timeout_seconds > t.period_seconds {
        out.push(format!(
            "{at}: timeout_seconds ({}) exceeds period_seconds ({})",
            t.timeout_seconds, t.period_seconds
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Project> {
        Project::parse(text, Path::new("test.yaml"))
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("should be rejected"))
    }

    const GOOD: &str = r#"
version: "0.5"
processes:
  db:
    command: mariadbd
    readiness_probe:
      exec: { command: "mariadb-admin ping" }
      period_seconds: 1
  web:
    command: node server.js
    depends_on:
      db: { condition: process_healthy }
    readiness_probe:
      http_get: { host: 127.0.0.1, port: 8080, path: /health }
"#;

    #[test]
    fn the_repository_file_passes() {
        let path = crate::project_root().join(".nix/process-compose.yaml");
        let project = Project::load(&path).unwrap();
        for name in ["mysql-init", "mysql", "redis", "mailpit", "app"] {
            assert!(project.processes.contains_key(name), "{name} missing");
        }
        let order = project.start_order();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("mysql-init") < pos("mysql") && pos("mysql") < pos("app"));
    }

    #[test]
    fn a_well_formed_file_passes_and_probe_defaults_match_process_compose() {
        let p = parse(GOOD).unwrap();
        let t = p.processes["db"].readiness_probe.as_ref().unwrap().timing();
        assert_eq!(
            (t.period_seconds, t.timeout_seconds, t.failure_threshold),
            (1, 1, 3)
        );
        let web = p.processes["web"].readiness_probe.as_ref().unwrap();
        assert_eq!(web.http_get.as_ref().unwrap().port(), Some(8080));
        assert_eq!(web.timing().period_seconds, 10);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e = err(&GOOD.replace("period_seconds: 1", "period: 1"));
        assert!(
            e.contains("unknown field `period`") && e.contains("line"),
            "{e}"
        );
        let e = err(&GOOD.replace("command: node server.js", "cmd: node server.js"));
        assert!(e.contains("unknown field `cmd`"), "{e}");
    }

    #[test]
    fn depends_on_must_name_a_process() {
        let e = err(&GOOD.replace("db: { condition", "database: { condition"));
        assert!(
            e.contains("`database` is not a process (processes: db, web)"),
            "{e}"
        );
    }

    #[test]
    fn unknown_condition_is_rejected() {
        let e = err(&GOOD.replace("process_healthy", "healthy"));
        assert!(e.contains("unknown variant `healthy`"), "{e}");
    }

    #[test]
    fn healthy_dependency_needs_a_readiness_probe() {
        let text = GOOD.replace(
            "    readiness_probe:\n      exec: { command: \"mariadb-admin ping\" }\n      period_seconds: 1\n",
            "",
        );
        let e = err(&text);
        assert!(
            e.contains("process_healthy needs a readiness_probe on `db`"),
            "{e}"
        );
    }

    #[test]
    fn probes_must_be_well_formed() {
        let e = err(&GOOD.replace("port: 8080", "port: 0"));
        assert!(e.contains("http_get.port: needs a port"), "{e}");
        let e = err(&GOOD.replace("path: /health", "path: health"));
        assert!(e.contains("must start with `/`"), "{e}");
        let e = err(&GOOD.replace("period_seconds: 1", "period_seconds: 0"));
        assert!(e.contains("period_seconds is 0"), "{e}");
        let both = GOOD.replace(
            "exec: { command: \"mariadb-admin ping\" }",
            "exec: { command: \"x\" }\n      http_get: { port: 1 }",
        );
        assert!(err(&both).contains("not both"));
        let e = err(&GOOD.replace(
            "period_seconds: 1",
            "period_seconds: 1\n      timeout_seconds: 5",
        ));
        assert!(e.contains("exceeds period_seconds"), "{e}");
    }

    #[test]
    fn cycles_are_reported() {
        let text = GOOD.replace(
            "  db:\n    command: mariadbd\n",
            "  db:\n    command: mariadbd\n    depends_on:\n      web: { condition: process_started }\n",
        );
        let e = err(&text);
        assert!(e.contains("cycle: db -> web -> db"), "{e}");
    }
}
