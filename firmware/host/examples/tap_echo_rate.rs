//! Echo rate through the TAP path next to kernel loopback, measured in the same namespace.
//!
//! `sudo cargo run --release -p udplab-host --example tap_echo_rate [COUNT]`
//!
//! A kernel UDP socket plays ping-pong (send one datagram, wait for its echo) with (1) the
//! firmware echo server on the TAP, perfect link; (2) the same with 10% loss each way (a lost
//! ping times out and counts as lost; the rate counts answered exchanges only); (3) a kernel echo
//! server on 127.0.0.1. Numbers and the machine they came from go in the README; nothing here
//! asserts a speed.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use udplab_host::{Hooks, Ready, TapOptions, run_tap};
use udplab_sim::Scenario;
use udplab_sim::pair::Pair;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Impairment, Loss};

fn scenario(loss_ppb: u64) -> Scenario {
    let imp = Impairment {
        loss: if loss_ppb == 0 {
            Loss::None
        } else {
            Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() }
        },
        ..Impairment::default()
    };
    Pair { count: 1, port: 7, up: imp.clone(), down: imp, duration_us: 3_600_000_000, ..Pair::default() }
        .build()
}

/// Ping-pong `count` datagrams from `from` to `to`; returns (answered, lost, time spent on the
/// answered exchanges). Time spent waiting out lost ones is left out: socket timeouts are
/// rounded to the kernel's tick, which would make the number measure the timer, not the path.
fn ping_pong(from: SocketAddrV4, to: SocketAddrV4, count: u32, timeout: Duration) -> (u32, u32, Duration) {
    let sock = UdpSocket::bind(from).expect("bind");
    sock.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 2048];
    let payload = [0x55u8; 64];
    let (mut ok, mut lost, mut busy) = (0, 0, Duration::ZERO);
    for _ in 0..count {
        let start = Instant::now();
        sock.send_to(&payload, to).expect("send");
        match sock.recv_from(&mut buf) {
            Ok(_) => {
                ok += 1;
                busy += start.elapsed();
            }
            Err(_) => lost += 1,
        }
    }
    (ok, lost, busy)
}

fn report(what: &str, (ok, lost, t): (u32, u32, Duration)) {
    let rate = f64::from(ok) / t.as_secs_f64();
    println!("{what:<44} {rate:>9.0} echoes/s  ({ok} answered in {:.3} s, {lost} lost)", t.as_secs_f64());
}

/// A kernel echo server on 127.0.0.1 (in the calling thread's namespace) and a ping-pong to it.
fn loopback(count: u32) -> (u32, u32, Duration) {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind loopback echo");
    let std::net::SocketAddr::V4(addr) = server.local_addr().unwrap() else { unreachable!() };
    server.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], peer);
        }
    });
    let r = ping_pong(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), addr, count, Duration::from_millis(100));
    let _ = echo.join();
    r
}

/// Holds the firmware on a TAP and measures from a thread inside its namespace.
fn measure(loss_ppb: u64, count: u32) -> ((u32, u32, Duration), (u32, u32, Duration)) {
    let s = scenario(loss_ppb);
    let stop = Arc::new(AtomicBool::new(false));
    let opts = TapOptions { hold: true, stop: Some(stop.clone()), ..TapOptions::default() };
    let (tx, rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let mut ready = |r: &Ready| {
            let to = SocketAddrV4::new(Ipv4Addr::from(r.firmware_addr), r.firmware_port);
            let from = SocketAddrV4::new(Ipv4Addr::from(r.kernel_addrs[0].1), 40000);
            let tx = tx.clone();
            // Started from the run's thread, so it lives in the run's namespace.
            std::thread::spawn(move || {
                let tap = ping_pong(from, to, count, Duration::from_millis(2));
                let lo = loopback(count);
                let _ = tx.send((tap, lo));
            });
        };
        run_tap(&s, 1, &opts, Hooks { ready: &mut ready, live: &mut |_| {} })
    });
    let result = rx.recv().expect("measurement finished");
    stop.store(true, Ordering::Relaxed);
    runner.join().expect("no panic").expect("TAP run (needs root)");
    result
}

fn main() {
    let count: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    println!("ping-pong of {count} 64-byte datagrams from a kernel socket");
    let (tap, lo) = measure(0, count);
    report("TAP, firmware echo (smoltcp), perfect link", tap);
    report("kernel loopback echo, same namespace", lo);
    let (tap, lo) = measure(100_000_000, count);
    report("TAP, firmware echo, 10% loss each way", tap);
    report("kernel loopback echo, same namespace", lo);
}
