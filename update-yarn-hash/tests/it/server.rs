//! A real HTTP server on 127.0.0.1 serving fixture tarballs, with scripted failures.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub enum Route {
    Ok(Vec<u8>),
    Status(u16),
    /// Answer `status` to the first `failures` requests, then serve `body`.
    FailFirst {
        failures: usize,
        status: u16,
        body: Vec<u8>,
    },
    /// Announce the full length but send only `sent` bytes, then close.
    Truncated {
        body: Vec<u8>,
        sent: usize,
    },
    /// Answer `status` with `Location: location` (a path on this server).
    Redirect {
        status: u16,
        location: String,
    },
    /// Wait before answering.
    Slow {
        body: Vec<u8>,
        delay: Duration,
    },
    /// Answer `status` with `Retry-After: after` to the first `failures` requests,
    /// then serve `body`.
    RetryAfter {
        failures: usize,
        status: u16,
        after: String,
        body: Vec<u8>,
    },
    /// Announce the length, then send one byte every `interval`.
    Drip {
        body: Vec<u8>,
        interval: Duration,
    },
    /// No Content-Length: the body ends when the connection closes.
    Unsized(Vec<u8>),
    /// Send the head and the first `sent` bytes, then go silent for `stall`: a
    /// download caught in flight.
    Stall {
        body: Vec<u8>,
        sent: usize,
        stall: Duration,
    },
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: HashMap<String, usize>,
    times: HashMap<String, Vec<Instant>>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let s = s.clone();
                    thread::spawn(move || serve(conn, &s));
                }
            }
        });
        Self { base, state, stop }
    }

    pub fn route(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_owned(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// When each request for `path` arrived.
    pub fn request_times(&self, path: &str) -> Vec<Instant> {
        let state = self.state.lock().unwrap();
        state.times.get(path).cloned().unwrap_or_default()
    }

    pub fn total_hits(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(
            self.base
                .trim_start_matches("http://")
                .trim_end_matches('/'),
        );
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader
        .read_line(&mut header)
        .map(|n| n > 2)
        .unwrap_or(false)
    {
        header.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let route = {
        let mut s = state.lock().unwrap();
        s.times
            .entry(path.clone())
            .or_default()
            .push(Instant::now());
        let n = s.hits.entry(path.clone()).or_default();
        *n += 1;
        let n = *n;
        match s.routes.get(&path).cloned() {
            Some(Route::FailFirst {
                failures, status, ..
            }) if n <= failures => Route::Status(status),
            Some(Route::FailFirst { body, .. }) => Route::Ok(body),
            Some(Route::RetryAfter { failures, body, .. }) if n > failures => Route::Ok(body),
            Some(r) => r,
            None => Route::Status(404),
        }
    };
    let head = |status: u16, len: usize| {
        format!("HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match route {
        Route::Ok(body) => conn
            .write_all(head(200, body.len()).as_bytes())
            .and_then(|_| conn.write_all(&body)),
        Route::Status(code) => conn.write_all(head(code, 0).as_bytes()),
        Route::Redirect { status, location } => conn.write_all(
            format!(
                "HTTP/1.1 {status} X\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        ),
        Route::Truncated { body, sent } => conn
            .write_all(head(200, body.len()).as_bytes())
            .and_then(|_| conn.write_all(&body[..sent])),
        Route::Slow { body, delay } => {
            thread::sleep(delay);
            conn.write_all(head(200, body.len()).as_bytes())
                .and_then(|_| conn.write_all(&body))
        }
        Route::RetryAfter { status, after, .. } => conn.write_all(
            format!(
                "HTTP/1.1 {status} X\r\nRetry-After: {after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        ),
        Route::Drip { body, interval } => {
            let mut sent = conn.write_all(head(200, body.len()).as_bytes());
            for byte in &body {
                if sent.is_err() {
                    break;
                }
                thread::sleep(interval);
                sent = conn.write_all(std::slice::from_ref(byte));
            }
            sent
        }
        Route::Unsized(body) => conn
            .write_all(b"HTTP/1.1 200 X\r\nConnection: close\r\n\r\n")
            .and_then(|_| conn.write_all(&body)),
        Route::Stall { body, sent, stall } => {
            let sent = conn
                .write_all(head(200, body.len()).as_bytes())
                .and_then(|_| conn.write_all(&body[..sent]))
                .and_then(|_| conn.flush());
            thread::sleep(stall);
            sent
        }
        Route::FailFirst { .. } => unreachable!("resolved above"),
    };
    let _ = conn.flush();
}
