//! Throughput of `common::pnpm::store` on generated packages: pass 1 (gunzip, parse,
//! sha512, index files) and pass 2 (the sorted entry stream, contents re-read), with the
//! peak RSS. `cargo run --release -p common --example pnpm_store_bench -- [MB] [packages]`.
//! Reports only; speed is never asserted.

use std::io::{Read, Write};
use std::time::Instant;

use common::pnpm::store::{PackageTarball, Store, StoreSink, TarballSource};
use sha2::{Digest, Sha256};

/// Consumes entries like a tar writer would: every byte read and hashed.
struct Drain(Sha256, u64);

impl StoreSink for Drain {
    fn dir(&mut self, path: &str, _mode: u32) -> std::io::Result<()> {
        self.0.update(path);
        Ok(())
    }
    fn file(
        &mut self,
        path: &str,
        _mode: u32,
        _size: u64,
        data: &mut dyn Read,
    ) -> std::io::Result<()> {
        self.0.update(path);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = data.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.0.update(&buf[..n]);
            self.1 += n as u64;
        }
    }
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// A ustar entry `package/<name>` (mode 0644 or 0755) with a valid checksum.
fn entry(tar: &mut Vec<u8>, name: &str, exec: bool, data: &[u8]) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(if exec { b"0000755" } else { b"0000644" });
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    tar.extend_from_slice(&h);
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total_mb = args.first().copied().unwrap_or(300);
    let packages = args.get(1).copied().unwrap_or(1000) as usize;
    let per_package = (total_mb << 20) / packages as u64;
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut inputs = Vec::new();
    let t = Instant::now();
    for p in 0..packages {
        let mut tar = Vec::new();
        let manifest = format!("{{\"name\":\"pkg{p}\",\"version\":\"1.0.0\"}}");
        entry(&mut tar, "package/package.json", false, manifest.as_bytes());
        let mut left = per_package;
        let mut i = 0;
        while left > 0 {
            let size = (left).min(4096 + (seed % 60_000)) as usize;
            // Text-like, compressible content, distinct per file.
            let data: Vec<u8> = (0..size)
                .map(|k| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"abcdefghij klmnop\n"[((seed >> 59) as usize + k % 3) % 18]
                })
                .collect();
            entry(&mut tar, &format!("package/f{i}.js"), i % 7 == 0, &data);
            left -= size as u64;
            i += 1;
        }
        tar.resize(tar.len() + 1024, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let path = dir.path().join(format!("{p}.tgz"));
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        inputs.push(PackageTarball {
            pkg_id: format!("pkg{p}@1.0.0"),
            integrity: Some(format!("sha512-{}", "A".repeat(86) + "==")),
            source: TarballSource::File(path),
        });
    }
    eprintln!(
        "generated {total_mb} MB in {packages} packages in {:.1?}",
        t.elapsed()
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let t = Instant::now();
    let store = Store::build(inputs, threads).unwrap();
    let pass1 = t.elapsed();
    let t = Instant::now();
    let mut drain = Drain(Sha256::new(), 0);
    store.write(&mut drain, 256 << 20, threads).unwrap();
    let pass2 = t.elapsed();
    let mb = store.content_bytes() as f64 / 1e6;
    println!(
        "{} files, {mb:.0} MB: pass 1 {pass1:.2?} ({:.0} MB/s), pass 2 {pass2:.2?} ({:.0} MB/s), {threads} threads, peak RSS {} MB",
        store.file_count(),
        mb / pass1.as_secs_f64(),
        mb / pass2.as_secs_f64(),
        peak_rss_mb()
    );
}
