//! The app under test and the firmware every runner executes.
//!
//! [`App`] is the contract between a node's code and a runner: sans-IO, polled with the time
//! and a socket with the two calls of the classroom program (`recv_from`, `send_to`), reporting
//! what it did as [`AppEvent`]s. Your own protocol implements it without knowing smoltcp,
//! without `std` and without udplab's wire format; the built-in apps (a UDP echo/sink
//! [`Server`], a numbered [`Client`] and the reliable ARQ pair) implement it too, so the same
//! code runs in virtual time, on a host TAP device and on the ESP32.
//!
//! The runner owns the clock, the network stack and the device. An app never reads a clock or
//! draws a random number itself, which is what keeps a scenario + seed byte-for-byte
//! reproducible.
//!
//! [`wait`] is a runner's helper, not an app's: the deadlines that bound the ESP32's waits for a
//! network (joining, DHCP, the radio's start), here so the host can test them.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod app;
pub mod crc32;
pub mod text;
pub mod wait;
pub mod wire;

pub use app::{
    App, AppError, AppEvent, ArqConfig, Client, ClientConfig, Context, Endpoint, Note, ReliableReceiver,
    ReliableSender, Reply, Role, SendFailure, Server, ServerConfig, SmoltcpSocket, Socket,
    add_smoltcp_socket,
};
