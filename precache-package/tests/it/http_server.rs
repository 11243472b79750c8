//! A tiny HTTP/1.1 server on 127.0.0.1 that serves a binary cache directory, with
//! per-file status overrides (to play a failing cache), files generated on request (to play
//! an endless one) and a request counter. Keep-alive is
//! supported so the benchmark measures the client, not reconnects. Shared by the tests and
//! the benchmark example.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub struct CacheServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    overrides: Arc<Mutex<HashMap<String, u16>>>,
    requests: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
}

/// Makes the body of a requested file (`None`: 404) instead of reading it from the root.
pub type Generator = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

struct Shared {
    root: PathBuf,
    generator: Option<Generator>,
    overrides: Arc<Mutex<HashMap<String, u16>>>,
    requests: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CacheServer {
    pub fn serve(root: PathBuf) -> Self {
        Self::start(root, None)
    }

    /// Serves what `generator` makes of each requested path.
    pub fn serve_generated(generator: Generator) -> Self {
        Self::start(PathBuf::new(), Some(generator))
    }

    fn start(root: PathBuf, generator: Option<Generator>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let overrides = Arc::new(Mutex::new(HashMap::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let authorized = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            root,
            generator,
            overrides: overrides.clone(),
            requests: requests.clone(),
            authorized: authorized.clone(),
            stop: stop.clone(),
        });
        thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let shared = shared.clone();
                    thread::spawn(move || handle(conn, &shared));
                }
            }
        });
        Self {
            addr,
            stop,
            overrides,
            requests,
            authorized,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer `status` (with an empty body) for `file` (e.g. `<hash>.narinfo`); status 0
    /// means never answer (the connection is dropped after 3 s), to play a timeout.
    pub fn set_status(&self, file: &str, status: u16) {
        self.overrides
            .lock()
            .unwrap()
            .insert(file.to_owned(), status);
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests that carried an `Authorization` header.
    pub fn authorized_requests(&self) -> usize {
        self.authorized.load(Ordering::SeqCst)
    }
}

impl Drop for CacheServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(conn: TcpStream, shared: &Shared) {
    // Idle connections end by themselves: nothing here outlives a test by more than this.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    // Without this, Nagle plus delayed ACKs add ~40 ms to every keep-alive response.
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn.try_clone().expect("clone socket"));
    let mut out = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = false;
        let mut authorized = false;
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
            authorized |= lower.starts_with("authorization:");
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
        }
        let mut body = vec![0; content_length];
        let _ = reader.read_exact(&mut body);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        shared.requests.fetch_add(1, Ordering::SeqCst);
        if authorized {
            shared.authorized.fetch_add(1, Ordering::SeqCst);
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts
            .next()
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_owned();
        let (status, body) = respond(shared, method, &path);
        if status == 0 {
            return;
        }
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/x-nix-narinfo\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        let mut response = head.into_bytes();
        response.extend_from_slice(&body);
        if out.write_all(&response).is_err() || close {
            return;
        }
    }
}

fn respond(shared: &Shared, method: &str, path: &str) -> (u16, Vec<u8>) {
    let status = shared.overrides.lock().unwrap().get(path).copied();
    match status {
        Some(0) => {
            thread::sleep(Duration::from_secs(3));
            return (0, Vec::new());
        }
        Some(status) => return (status, Vec::new()),
        None => {}
    }
    if method != "GET" && method != "HEAD" || path.contains("..") {
        return (404, Vec::new());
    }
    if let Some(generate) = &shared.generator {
        return match generate(path) {
            Some(bytes) if method == "GET" => (200, bytes),
            Some(_) => (200, Vec::new()),
            None => (404, Vec::new()),
        };
    }
    match std::fs::read(shared.root.join(path)) {
        Ok(bytes) if method == "GET" => (200, bytes),
        Ok(_) => (200, Vec::new()),
        Err(_) => (404, Vec::new()),
    }
}
