//! `runtime:` archives (Node.js from nodejs.org, as `type: variations` resolutions): the
//! files pnpm 10 stores for the variant of the platform it runs on.
//!
//! pnpm 10's binary fetcher (`fetching/binary-fetcher`, read in pnpm@10.34.5's
//! `dist/pnpm.cjs`) hands a `tarball` archive to the remote tarball fetcher with
//! `appendManifest: {name, version, bin}`; the worker (`addTarballToStore`, `dist/worker.js`)
//! unpacks it with pnpm's own tar parser and, when it holds no `package.json`, adds one:
//! `JSON.stringify(manifest, null, 2)` (no trailing newline), mode 0644, stored and indexed
//! like the archive's files. The index goes to `index/` under the variant's integrity
//! (sha256 for nodejs.org's SHASUMS256.txt) and the id `node@runtime:<version>`.
//!
//! The store reads tarballs, so an archive without `package.json` is handed to it
//! re-packed, uncompressed, with that file added. Verified against real pnpm 10.34.5 with
//! a loopback server standing in for nodejs.org (`node-mirror:release`), which pnpm
//! resolves and downloads from exactly as from nodejs.org
//! (update-pnpm-hash/tests/it/git_packages.rs).

use std::collections::HashSet;

use crate::archive::pax_tar::{compare_paths, PaxTarWriter};
use crate::pnpm::store::extract::{parse_tarball, tar_bytes};

/// The manifest pnpm makes up: `{name, version, bin}` from the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: Option<String>,
    pub bin: Option<String>,
}

impl Manifest {
    /// `JSON.stringify(manifest, null, 2)`: keys in insertion order, undefined ones left out.
    fn to_json(&self) -> String {
        let fields = [
            ("name", Some(&self.name)),
            ("version", self.version.as_ref()),
            ("bin", self.bin.as_ref()),
        ];
        let body: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| {
                let v = serde_json::to_string(v.as_ref()?).ok()?;
                Some(format!("  \"{k}\": {v}"))
            })
            .collect();
        format!("{{\n{}\n}}", body.join(",\n"))
    }
}

/// The archive as the store must read it: `None` when it holds a `package.json` (read as
/// is), else its files and the made-up `package.json`, as an uncompressed tarball whose
/// entries are `./<file>` (the store strips the first component).
pub fn with_manifest(archive: &[u8], manifest: &Manifest) -> Result<Option<Vec<u8>>, String> {
    let tar = tar_bytes(archive).map_err(|e| format!("pnpm cannot unpack it: {e}"))?;
    let entries = parse_tarball(&tar).map_err(|e| format!("pnpm cannot unpack it: {e}"))?;
    if entries.iter().any(|e| e.path == "package.json") {
        return Ok(None);
    }
    let made_up = manifest.to_json();
    let mut files: Vec<(&str, u32, &[u8])> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.mode, e.data(&tar)))
        .collect();
    files.push(("package.json", 0o644, made_up.as_bytes()));
    if let Some((path, mode, _)) = files.iter().find(|(_, m, _)| m & !0o777 != 0) {
        return Err(format!(
            "{path} has mode {mode:o}, which a re-packed archive cannot carry; not emulated"
        ));
    }
    if let Some((path, _, _)) = files.iter().find(|(p, _, _)| {
        p.is_empty() || p.starts_with('/') || p.ends_with('/') || p.contains("//")
    }) {
        return Err(format!(
            "a file named {path:?} in the archive is not emulated"
        ));
    }
    files.sort_by(|a, b| compare_paths(a.0.as_bytes(), b.0.as_bytes()));
    repack(&files)
        .map(Some)
        .map_err(|e| format!("cannot re-pack it: {e}"))
}

fn repack(files: &[(&str, u32, &[u8])]) -> std::io::Result<Vec<u8>> {
    let mut tar = PaxTarWriter::new(Vec::new(), 0)?;
    tar.dir(".", 0o755)?;
    let mut open = HashSet::new();
    for (path, mode, data) in files {
        for (i, _) in path.match_indices('/') {
            if open.insert(&path[..i]) {
                tar.dir(&path[..i], 0o755)?;
            }
        }
        tar.file(path, *mode, data.len() as u64, &mut &data[..])?;
    }
    tar.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_manifest_only_when_the_archive_has_none() {
        let mut raw = PaxTarWriter::new(Vec::new(), 0).unwrap();
        raw.dir(".", 0o755).unwrap();
        raw.dir("node-v1", 0o755).unwrap();
        raw.dir("node-v1/bin", 0o755).unwrap();
        raw.file("node-v1/bin/node", 0o755, 2, &mut &b"#!"[..])
            .unwrap();
        let raw = raw.finish().unwrap();
        let manifest = Manifest {
            name: "node".to_owned(),
            version: Some("1.0.0".to_owned()),
            bin: Some("bin/node".to_owned()),
        };
        let repacked = with_manifest(&raw, &manifest).unwrap().unwrap();
        let entries = parse_tarball(&repacked).unwrap();
        let got: Vec<(&str, u32)> = entries.iter().map(|e| (e.path.as_str(), e.mode)).collect();
        // The writer names members `./…`; the `./` is the component pnpm strips.
        assert_eq!(got, [("node-v1/bin/node", 0o755), ("package.json", 0o644)]);
        let json = entries[1].data(&repacked);
        assert_eq!(
            std::str::from_utf8(json).unwrap(),
            "{\n  \"name\": \"node\",\n  \"version\": \"1.0.0\",\n  \"bin\": \"bin/node\"\n}"
        );
    }
}
