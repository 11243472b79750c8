//! The GitHub workflows: schema-valid (check-jsonschema's vendored schema), and every
//! `run:` script shellcheck-clean with no `${{ }}` spliced into it (an expression pasted
//! into a script is a script-injection hole; pass it through `env:`). `packages: write`
//! is granted only to jobs that push images, and some job runs `nix flake check`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use xshell::{cmd, Shell};

use crate::tool_install;

/// One `run:` script and where it came from.
#[derive(Debug, PartialEq, Eq)]
pub struct RunScript {
    /// e.g. `jobs.image.steps[3] (Is the image already in the cache?)`
    pub location: String,
    /// 1-based line of the script's first line in the workflow file, when found.
    pub line: Option<usize>,
    pub shell: Option<String>,
    pub script: String,
}

pub fn check(sh: &Shell, files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let jsonschema = tool_install::pip_tool(sh, "check-jsonschema", "check-jsonschema")?;
    cmd!(
        sh,
        "{jsonschema} --builtin-schema vendor.github-workflows {files...}"
    )
    .run()
    .context("a workflow does not match GitHub's workflow schema (see above)")?;

    let shellcheck = tool_install::apt_tool(sh, "shellcheck", "shellcheck")?;
    let scratch = tempfile::tempdir()?;
    let mut scripts = Vec::new();
    let mut flake_checked = false;
    for file in files {
        let text =
            fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let problems = package_write_problems(&text)?;
        if !problems.is_empty() {
            bail!("{}: {}", file.display(), problems.join("; "));
        }
        flake_checked |= runs_flake_check(&text)?;
        for (i, run) in run_scripts(&text)?.into_iter().enumerate() {
            let at = format!(
                "{}:{} {}",
                file.display(),
                run.line.unwrap_or(0),
                run.location
            );
            if run.script.contains("${{") {
                bail!("{at}: the script contains `${{{{ ... }}}}`; pass the value through the step's `env:` and use \"$NAME\"");
            }
            if !matches!(run.shell.as_deref(), None | Some("bash") | Some("sh")) {
                continue;
            }
            let path = scratch.path().join(format!("{}-{i}.sh", stem(file)));
            fs::write(&path, as_shell_file(&at, &run))?;
            scripts.push(path);
        }
    }
    if !flake_checked {
        bail!("no workflow runs `nix flake check`, so checks.* are built nowhere: add a job that runs it");
    }
    if !scripts.is_empty() {
        let files = &scripts;
        cmd!(sh, "{shellcheck} --shell=bash --severity=style {files...}")
            .run()
            .context("shellcheck found problems in a workflow `run:` script; each file above starts with a comment naming the step")?;
    }
    println!(
        "workflows: {} file(s) schema-valid, {} run scripts shellcheck-clean",
        files.len(),
        scripts.len()
    );
    Ok(())
}

/// GitHub runs bash steps as `bash --noprofile --norc -eo pipefail {0}`.
fn as_shell_file(at: &str, run: &RunScript) -> String {
    format!(
        "#!/usr/bin/env bash\n# {at}\nset -eo pipefail\n{}\n",
        run.script
    )
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every `run:` of every step of every job, in file order.
pub fn run_scripts(text: &str) -> Result<Vec<RunScript>> {
    let doc: Value = serde_yaml::from_str(text).context("workflow is not valid YAML")?;
    let jobs = doc
        .get("jobs")
        .and_then(Value::as_mapping)
        .context("workflow has no `jobs` mapping")?;
    let mut out = Vec::new();
    for (job_name, job) in jobs {
        let job_name = job_name.as_str().unwrap_or("?");
        let default_shell = job
            .get("defaults")
            .and_then(|d| d.get("run"))
            .and_then(|r| r.get("shell"))
            .or_else(|| {
                doc.get("defaults")
                    .and_then(|d| d.get("run"))
                    .and_then(|r| r.get("shell"))
            })
            .and_then(Value::as_str);
        let steps = job
            .get("steps")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (i, step) in steps.iter().enumerate() {
            let Some(script) = step.get("run").and_then(Value::as_str) else {
                continue;
            };
            let name = step.get("name").and_then(Value::as_str).unwrap_or("");
            let shell = step.get("shell").and_then(Value::as_str).or(default_shell);
            out.push(RunScript {
                location: format!("jobs.{job_name}.steps[{i}] ({name})"),
                line: line_of(text, script),
                shell: shell.map(str::to_string),
                script: script.trim_end().to_string(),
            });
        }
    }
    Ok(out)
}

/// Jobs granted `packages: write` (job-level or workflow-level) that push no image, and
/// jobs that push one without it. The right to publish stays where images are published.
pub fn package_write_problems(text: &str) -> Result<Vec<String>> {
    let doc: Value = serde_yaml::from_str(text).context("workflow is not valid YAML")?;
    let writes = |v: Option<&Value>| {
        v.and_then(|p| p.get("packages")).and_then(Value::as_str) == Some("write")
    };
    let top_level = writes(doc.get("permissions"));
    let mut problems = Vec::new();
    if top_level {
        problems.push("`packages: write` at workflow level gives it to every job: grant it in the jobs that push images only".to_string());
    }
    let scripts = run_scripts(text)?;
    for (name, job) in doc
        .get("jobs")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap_or("?");
        let prefix = format!("jobs.{name}.");
        let pushes = scripts.iter().any(|r| {
            r.location.starts_with(&prefix)
                && (r.script.contains("docker push") || r.script.contains("imagetools create"))
        });
        let granted = writes(job.get("permissions"));
        if granted && !pushes {
            problems.push(format!(
                "job `{name}` has `packages: write` but pushes no image: drop it"
            ));
        }
        let push_only = job
            .get("if")
            .and_then(Value::as_str)
            .is_some_and(|c| c.contains("github.event_name == 'push'"));
        if granted && !push_only {
            problems.push(format!("job `{name}` has `packages: write` on every event: give the pushing to a job with `if: github.event_name == 'push' && ...`, so pull-request runs never hold the right to publish"));
        }
        if pushes && !granted {
            problems.push(format!(
                "job `{name}` pushes an image without `packages: write`"
            ));
        }
    }
    Ok(problems)
}

fn runs_flake_check(text: &str) -> Result<bool> {
    Ok(run_scripts(text)?.iter().any(|r| {
        r.script
            .lines()
            .any(|l| l.trim_start().starts_with("nix flake check"))
    }))
}

fn line_of(text: &str, script: &str) -> Option<usize> {
    let first = script.lines().find(|l| !l.trim().is_empty())?.trim();
    text.lines().position(|l| l.contains(first)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - name: one
        run: echo "$A"
      - name: two
        shell: python
        run: print(1)
      - run: |
          x=1
          echo "$x"
"#;

    #[test]
    fn extracts_every_run_script_with_its_step_and_line() {
        let runs = run_scripts(WORKFLOW).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].location, "jobs.build.steps[1] (one)");
        assert_eq!(runs[0].line, Some(9));
        assert_eq!(runs[1].shell.as_deref(), Some("python"));
        assert_eq!(runs[2].script, "x=1\necho \"$x\"");
        assert_eq!(runs[2].line, Some(14));
    }

    #[test]
    fn the_repository_workflow_has_scripts_and_no_spliced_expressions() {
        let path = crate::project_root().join(".github/workflows/ci-docker-nix.yml");
        let runs = run_scripts(&fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            runs.len() >= 6,
            "expected the cache check, build, push and ci steps"
        );
        assert!(runs.iter().all(|r| !r.script.contains("${{")));
        assert!(runs
            .iter()
            .any(|r| r.script.contains("precache-package -- --check")));
        assert!(runs.iter().any(|r| r.script.contains("cargo xtask ci")));
    }

    #[test]
    fn packages_write_only_where_images_are_pushed() {
        let job = |name: &str, perms: &str, run: &str| {
            let cond = if perms.is_empty() {
                ""
            } else {
                "    if: github.event_name == 'push'\n"
            };
            format!("  {name}:\n    runs-on: x\n{cond}{perms}    steps:\n      - run: {run}\n")
        };
        let write = "    permissions:\n      packages: write\n";
        let ok = format!(
            "on: push\njobs:\n{}{}",
            job("push", write, "docker push img"),
            job("build", "", "nix build")
        );
        assert!(package_write_problems(&ok).unwrap().is_empty());
        let extra = format!(
            "on: push\njobs:\n{}{}",
            job("push", write, "docker push img"),
            job("build", write, "nix build")
        );
        assert_eq!(
            package_write_problems(&extra).unwrap(),
            ["job `build` has `packages: write` but pushes no image: drop it"]
        );
        let missing = format!("on: push\njobs:\n{}", job("push", "", "docker push img"));
        assert_eq!(package_write_problems(&missing).unwrap().len(), 1);
        let top = format!(
            "on: push\npermissions:\n  packages: write\njobs:\n{}",
            job("push", write, "docker push img")
        );
        assert_eq!(package_write_problems(&top).unwrap().len(), 1);
        let every_event = ok.replace("    if: github.event_name == 'push'\n", "");
        assert_eq!(
            package_write_problems(&every_event).unwrap().len(),
            1,
            "{every_event}"
        );
        assert!(!runs_flake_check(&ok).unwrap());
        assert!(runs_flake_check(&format!(
            "on: push\njobs:\n{}",
            job("c", "", "nix flake check -L")
        ))
        .unwrap());
    }

    #[test]
    fn the_repository_workflow_grants_packages_write_only_to_pushers() {
        let text =
            fs::read_to_string(crate::project_root().join(".github/workflows/ci-docker-nix.yml"))
                .unwrap();
        assert_eq!(package_write_problems(&text).unwrap(), Vec::<String>::new());
        assert!(runs_flake_check(&text).unwrap());
    }

    #[test]
    fn a_workflow_without_jobs_is_an_error() {
        assert!(run_scripts("on: push\n").is_err());
    }
}
