//! `udplab-bench`: the same echo workload on bare smoltcp, turmoil and udplab (see the library's
//! doc for what each system does and why the measurements are made this way).
//!
//! ```text
//! cargo build --release -p udplab-bench     (then target/release/udplab-bench ...)
//! udplab-bench wall [--n N] [--rounds R]   wall time per datagram (default N 100000, R 5)
//! udplab-bench instructions [--n N]        instructions per datagram, callgrind (default N 50000)
//! ```
//!
//! Exit status: 0 done; 1 a workload did not deliver exactly N replies; 2 usage; 3 a valgrind
//! run failed or said nothing we could read; 4 valgrind is not installed.

use std::process::{Command, ExitCode};
use std::time::Instant;

use udplab_bench::{Row, Run, System, cases, median, run, table};

const USAGE: &str = "usage: udplab-bench wall [--n N] [--rounds R]\n       udplab-bench instructions [--n N]";

/// Why the benchmark stopped, and its exit status.
struct Failure(u8, String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("wall") => options(&args[1..], &["--n", "--rounds"])
            .and_then(|o| wall(o[0].unwrap_or(100_000), o[1].unwrap_or(5))),
        Some("instructions") => {
            options(&args[1..], &["--n"]).and_then(|o| instructions(o[0].unwrap_or(50_000)))
        }
        // What `instructions` runs under valgrind: one case, once.
        Some("one") => one(&args[1..]),
        _ => Err(Failure(2, USAGE.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("udplab-bench: {message}");
            ExitCode::from(code)
        }
    }
}

/// The values of `names` (each `--name VALUE`, a positive number) in that order.
fn options(args: &[String], names: &[&str]) -> Result<Vec<Option<u32>>, Failure> {
    let usage = |m: String| Failure(2, format!("{m}\n{USAGE}"));
    let mut values = vec![None; names.len()];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let i = names.iter().position(|n| n == a).ok_or_else(|| usage(format!("unknown argument {a}")))?;
        let v = it.next().ok_or_else(|| usage(format!("{a} needs a value")))?;
        values[i] = Some(
            v.parse().ok().filter(|&v: &u32| v > 0).ok_or_else(|| usage(format!("{a} {v}: not a count")))?,
        );
    }
    Ok(values)
}

fn checked(system: System, row: Row, n: u32) -> Result<Run, Failure> {
    let r = run(system, row, n).map_err(|e| Failure(1, format!("{} on {}: {e}", system.key(), row.key())))?;
    r.check(system.workload_for(row), n)
        .map_err(|e| Failure(1, format!("{} on {}: {e}", system.key(), row.key())))?;
    Ok(r)
}

fn wall(n: u32, rounds: u32) -> Result<(), Failure> {
    let cases = cases();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    // Round 0 warms up (caches, allocator, page faults) and is not counted. Every round runs every
    // case once, starting one case later each round, so no case always follows the same one.
    for round in 0..=rounds {
        for k in 0..cases.len() {
            let i = (k + round as usize) % cases.len();
            let (row, system) = cases[i];
            let start = Instant::now();
            let r = checked(system, row, n)?;
            let ns = start.elapsed().as_nanos() as f64 / r.datagrams as f64;
            if round > 0 {
                samples[i].push(ns);
            }
        }
        eprintln!("round {round}/{rounds} done{}", if round == 0 { " (warm-up)" } else { "" });
    }
    let results: Vec<_> = cases.iter().copied().zip(samples.iter_mut().map(|s| median(s))).collect();
    println!(
        "Wall time per datagram (`udplab-bench wall --n {n} --rounds {rounds}`: {n} messages, median \
         of {rounds} interleaved rounds after one warm-up)\n"
    );
    print!("{}", table(&results, |v| format!("{v:.0} ns")));
    Ok(())
}

fn instructions(n: u32) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure(3, format!("cannot find my own binary: {e}")))?;
    match Command::new("valgrind").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(_) | Err(_) => {
            return Err(Failure(
                4,
                "valgrind is not installed (or does not run), so instructions cannot be counted: \
                 apt-get install valgrind"
                    .to_string(),
            ));
        }
    }
    let (n1, n2) = ((n / 5).max(1), n);
    if n1 == n2 {
        return Err(Failure(2, format!("--n {n} is too small to take a difference of two sizes")));
    }
    let measure = |system: System, row: Row, n: u32| -> Result<(u64, u64), Failure> {
        let out = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .args(["one", system.key(), row.key(), &n.to_string()])
            .output()
            .map_err(|e| Failure(3, format!("valgrind did not start: {e}")))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let what = format!("{} on {} with {n} messages", system.key(), row.key());
        if !out.status.success() {
            let code = if out.status.code() == Some(1) { 1 } else { 3 };
            return Err(Failure(code, format!("{what} failed under valgrind ({}):\n{stderr}", out.status)));
        }
        let collected = stderr
            .lines()
            .find_map(|l| l.split_once("Collected :").map(|(_, v)| v.trim().replace(',', "")))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                Failure(3, format!("{what}: no \"Collected :\" line in valgrind's output:\n{stderr}"))
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let datagrams = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("datagrams="))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| Failure(3, format!("{what}: no datagram count in {stdout:?}")))?;
        Ok((collected, datagrams))
    };
    let mut results = Vec::new();
    for (row, system) in cases() {
        let (i1, d1) = measure(system, row, n1)?;
        let (i2, d2) = measure(system, row, n2)?;
        let per = (i2 as f64 - i1 as f64) / (d2 as f64 - d1 as f64);
        eprintln!(
            "{:16} {:13} {per:8.0} instructions/datagram ({i1} for {d1}, {i2} for {d2})",
            system.key(),
            row.key()
        );
        results.push(((row, system), per));
    }
    println!(
        "Instructions per datagram (`udplab-bench instructions --n {n}`: callgrind, (I({n2}) - I({n1})) / \
         (datagrams({n2}) - datagrams({n1})), so start-up and setup cancel)\n"
    );
    print!("{}", table(&results, |v| format!("{v:.0}")));
    Ok(())
}

/// `one SYSTEM ROW N`: one run, checked, its counts on stdout.
fn one(args: &[String]) -> Result<(), Failure> {
    let usage = || Failure(2, "usage: udplab-bench one SYSTEM ROW N".to_string());
    let [system, row, n] = args else { return Err(usage()) };
    let system = System::parse(system).ok_or_else(usage)?;
    let row = Row::parse(row).ok_or_else(usage)?;
    let n = n.parse().map_err(|_| usage())?;
    let r = checked(system, row, n)?;
    println!("datagrams={} replies={} virtual_us={}", r.datagrams, r.replies, r.virtual_us);
    Ok(())
}
