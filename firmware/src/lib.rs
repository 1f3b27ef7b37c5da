//! The firmware every runner executes: a UDP server, a UDP client and a reliable (ARQ) mode on
//! top of both, written sans-IO against smoltcp sockets so the same code runs in virtual time,
//! on a host TAP device and on the ESP32.
//!
//! The runner owns the clock, the smoltcp interface and the device; the app only ever sees a
//! [`smoltcp::iface::SocketSet`] and `now`, and answers with the next instant it wants to be
//! polled at. It never reads a clock or draws a random number itself, which is what keeps a
//! scenario + seed byte-for-byte reproducible.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod app;
pub mod wire;

pub use app::{
    App, AppConfig, AppError, AppEvent, ArqConfig, ClientConfig, Reply, Role, ServerConfig, SmoltcpSocket,
    Socket, add_smoltcp_socket,
};
