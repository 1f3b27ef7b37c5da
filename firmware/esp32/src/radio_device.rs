//! An `embassy_net_driver::Driver` (what esp-radio's Wi-Fi `Interface` implements) as a plain
//! `smoltcp::phy::Device`, so the board runs the same smoltcp + udplab app as the host.
//!
//! The driver API is async-flavoured: `receive`/`transmit` take a task `Context` and register
//! its waker for "a frame is ready". The main loop here polls on a timer instead, so it passes
//! a no-op waker. Frames are never queued here: the driver's own queues are the only buffers
//! (bounded by `ControllerConfig::rx_queue_size` / `tx_queue_size`, see `wifi.rs`). Anything
//! that does not fit is dropped and counted; nothing in this module panics.

use alloc::vec;
use core::task::{Context, Waker};
use embassy_net_driver::{Checksum as DrvChecksum, Driver};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Frames this adapter dropped, for the status line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drops {
    /// The stack asked to send a frame longer than the driver's MTU.
    pub tx_too_long: u32,
}

/// A Wi-Fi (or any embassy-net) driver seen as a smoltcp device.
pub struct RadioDevice<D> {
    driver: D,
    mtu: usize,
    pub drops: Drops,
}

impl<D: Driver> RadioDevice<D> {
    pub fn new(driver: D) -> RadioDevice<D> {
        let mtu = driver.capabilities().max_transmission_unit;
        RadioDevice { driver, mtu, drops: Drops::default() }
    }

    /// Whether the link (association with the access point, or the AP itself) is up.
    pub fn link_up(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.driver.link_state(&mut cx) == embassy_net_driver::LinkState::Up
    }
}

pub struct RxToken<T>(T);

impl<T: embassy_net_driver::RxToken> phy::RxToken for RxToken<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(|buf| f(buf))
    }
}

pub struct TxToken<'a, T> {
    token: T,
    mtu: usize,
    drops: &'a mut Drops,
}

impl<T: embassy_net_driver::TxToken> phy::TxToken for TxToken<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if len > self.mtu {
            // smoltcp keeps to the MTU we report, so this should not happen; if it does, let
            // the stack build the frame in scratch memory and drop it instead of handing the
            // driver a length it would index out of bounds with.
            self.drops.tx_too_long = self.drops.tx_too_long.saturating_add(1);
            let mut scratch = vec![0u8; len];
            return f(&mut scratch);
        }
        self.token.consume(len, f)
    }
}

fn checksum(c: DrvChecksum) -> Checksum {
    match c {
        DrvChecksum::Both => Checksum::Both,
        DrvChecksum::Rx => Checksum::Rx,
        DrvChecksum::Tx => Checksum::Tx,
        DrvChecksum::None => Checksum::None,
    }
}

impl<D: Driver> phy::Device for RadioDevice<D> {
    type RxToken<'a>
        = RxToken<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let mut cx = Context::from_waker(Waker::noop());
        let (rx, tx) = self.driver.receive(&mut cx)?;
        Some((RxToken(rx), TxToken { token: tx, mtu: self.mtu, drops: &mut self.drops }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        let mut cx = Context::from_waker(Waker::noop());
        let tx = self.driver.transmit(&mut cx)?;
        Some(TxToken { token: tx, mtu: self.mtu, drops: &mut self.drops })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let d = self.driver.capabilities();
        let mut caps = DeviceCapabilities::default();
        caps.medium = match self.driver.hardware_address() {
            embassy_net_driver::HardwareAddress::Ip => Medium::Ip,
            _ => Medium::Ethernet,
        };
        caps.max_transmission_unit = d.max_transmission_unit;
        caps.max_burst_size = d.max_burst_size;
        let mut cs = ChecksumCapabilities::default();
        cs.ipv4 = checksum(d.checksum.ipv4);
        cs.udp = checksum(d.checksum.udp);
        cs.tcp = checksum(d.checksum.tcp);
        cs.icmpv4 = checksum(d.checksum.icmpv4);
        caps.checksum = cs;
        caps
    }
}
