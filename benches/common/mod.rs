//! What the end-to-end benchmarks share: a sandbox process, timing the release binary with
//! its peak RSS, and the summary line with medians and the ratio to the latency floor.
#![allow(dead_code)] // each benchmark uses a part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A sandbox process on a free port started with `args`; its URL.
pub fn sandbox(exe: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(exe)
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    (
        child,
        line.trim().trim_start_matches("listening on ").to_owned(),
    )
}

/// The sandbox's `/sandbox/stats` at `url` (`http://127.0.0.1:PORT`), read over plain HTTP.
pub fn stats(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("sandbox reachable");
    write!(
        stream,
        "GET /sandbox/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).expect("stats JSON")
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The median of `values` (sorted here).
pub fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// A benchmark's median against its floor.
pub struct Against {
    /// The median time.
    pub median: Duration,
    /// The median over the floor.
    pub ratio: f64,
    /// The median, extremes and peak RSS, for printing.
    pub line: String,
}

/// The timed rounds of a benchmark.
#[derive(Default)]
pub struct Rounds {
    times: Vec<Duration>,
    rss_kb: Vec<u64>,
}

impl Rounds {
    /// `exe` as a command whose peak RSS is reported (through `/usr/bin/time` where it
    /// exists).
    pub fn command(exe: &str) -> Command {
        if Path::new("/usr/bin/time").exists() {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", exe]);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Runs `cmd` (from [`Rounds::command`]) to its end, timing it; it must succeed.
    pub fn run(&mut self, cmd: &mut Command) -> Output {
        cmd.stderr(Stdio::piped());
        let started = Instant::now();
        let out = cmd.output().expect("the binary runs");
        self.times.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(kb) = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
        {
            self.rss_kb.push(kb);
        }
        out
    }

    /// The median and its ratio to `floor`, with a line of the median, extremes and peak
    /// RSS in milliseconds.
    pub fn against(mut self, floor: Duration) -> Against {
        self.times.sort();
        let n = self.times.len();
        let median = self.times[n / 2];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Against {
            median,
            ratio: median.as_secs_f64() / floor.as_secs_f64(),
            line: format!(
                "median {:.0} ms over {n} rounds (min {:.0}, max {:.0}); peak RSS {}",
                ms(median),
                ms(self.times[0]),
                ms(self.times[n - 1]),
                self.rss()
            ),
        }
    }

    /// The median peak RSS.
    fn rss(&self) -> String {
        let mut kb = self.rss_kb.clone();
        kb.sort_unstable();
        kb.get(kb.len() / 2)
            .map_or("n/a (no /usr/bin/time)".into(), |kb| {
                format!("{:.1} MB", *kb as f64 / 1024.0)
            })
    }

    /// `what: median … over N rounds (min, max); floor …; ratio …; peak RSS …`.
    pub fn summary(mut self, what: &str, floor: Duration) -> String {
        self.times.sort();
        let n = self.times.len();
        let median = self.times[n / 2];
        format!(
            "{what}: median {:.2} s over {n} rounds (min {:.2}, max {:.2}); floor {:.2} s; ratio {:.3}; peak RSS {}",
            median.as_secs_f64(),
            self.times[0].as_secs_f64(),
            self.times[n - 1].as_secs_f64(),
            floor.as_secs_f64(),
            median.as_secs_f64() / floor.as_secs_f64(),
            self.rss(),
        )
    }
}
