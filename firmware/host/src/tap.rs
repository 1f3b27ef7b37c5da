//! A TAP device as a smoltcp device that never panics.
//!
//! smoltcp's own `TunTapInterface` panics on EIO (a TAP that is down or freshly created).
//! Here every I/O error is counted and the frame dropped; a device that has gone away (ENODEV,
//! EBADFD, ...) is flagged so the runner can stop cleanly.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Ethernet MTU of the TAP (frame without FCS).
pub const FRAME_MTU: usize = 1514;
/// Frames queued for injection into the stack before real ones (bounded).
const INJECT_LIMIT: usize = 16;

/// Counters of what went wrong on the device.
#[derive(Debug, Default, Clone)]
pub struct DeviceErrors {
    pub rx: u64,
    pub tx: u64,
    pub last: Option<String>,
    /// The device is gone: the runner should stop.
    pub gone: bool,
}

pub struct TapDevice {
    iface: tun_tap::Iface,
    buf: Vec<u8>,
    inject: VecDeque<Vec<u8>>,
    pub errors: DeviceErrors,
}

impl TapDevice {
    /// Opens (creates) TAP `name` in the current network namespace, non-blocking.
    pub fn open(name: &str) -> io::Result<TapDevice> {
        let iface = tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tap)?;
        iface.set_non_blocking()?;
        Ok(TapDevice {
            iface,
            buf: vec![0; FRAME_MTU + 64],
            inject: VecDeque::new(),
            errors: DeviceErrors::default(),
        })
    }

    pub fn name(&self) -> &str {
        self.iface.name()
    }

    /// Queues a frame to be handed to the stack as if it had arrived (used to teach smoltcp the
    /// kernel's MAC address before the run, so no ARP happens on the impaired link).
    pub fn inject(&mut self, frame: Vec<u8>) {
        if self.inject.len() < INJECT_LIMIT {
            self.inject.push_back(frame);
        }
    }

    fn note(&mut self, e: &io::Error, rx: bool) {
        if rx {
            self.errors.rx += 1;
        } else {
            self.errors.tx += 1;
        }
        if matches!(
            e.raw_os_error(),
            Some(libc_codes::ENODEV | libc_codes::EBADFD | libc_codes::EBADF | libc_codes::ENXIO)
        ) {
            self.errors.gone = true;
        }
        self.errors.last = Some(e.to_string());
    }

    fn read_frame(&mut self) -> Option<Vec<u8>> {
        if let Some(f) = self.inject.pop_front() {
            return Some(f);
        }
        match self.iface.recv(&mut self.buf) {
            Ok(n) => Some(self.buf[..n].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => None,
            Err(e) => {
                self.note(&e, true);
                None
            }
        }
    }

    /// Reads out what the kernel queued towards the firmware but the run never took, and says
    /// how many of those frames were IPv4 UDP datagrams: at the end of a run they are neither
    /// dropped by the kernel nor offered to a link, and a run that counts every datagram must
    /// count them too. Bounded, so a peer still flooding the TAP cannot keep the run from ending.
    pub fn drain_unread(&mut self) -> u64 {
        let mut udp = 0;
        for _ in 0..DRAIN_LIMIT {
            match self.iface.recv(&mut self.buf) {
                Ok(n) => udp += u64::from(is_ipv4_udp(&self.buf[..n])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        udp
    }

    fn write_frame(&mut self, frame: &[u8]) {
        if let Err(e) = self.iface.send(frame) {
            self.note(&e, false);
        }
    }
}

/// At most this many frames are read out at the end of a run: the TAP's queue holds 1 000
/// (its `txqueuelen`), so this is ample for what was queued when the run stopped.
const DRAIN_LIMIT: usize = 100_000;

/// Whether an Ethernet frame carries an IPv4 UDP datagram (EtherType 0x0800, protocol 17).
fn is_ipv4_udp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x00]) && frame.get(14 + 9) == Some(&17)
}

/// The errno values the device treats as "gone" (kept here so no libc dependency is needed).
mod libc_codes {
    pub const EBADF: i32 = 9;
    pub const ENXIO: i32 = 6;
    pub const ENODEV: i32 = 19;
    pub const EBADFD: i32 = 77;
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.iface.as_raw_fd()
    }
}

pub struct RxToken(Vec<u8>);
pub struct TxToken<'a>(&'a mut TapDevice);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.write_frame(&frame);
        r
    }
}

impl Device for TapDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let frame = self.read_frame()?;
        Some((RxToken(frame), TxToken(self)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MTU;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::is_ipv4_udp;

    fn frame(ethertype: [u8; 2], protocol: u8) -> Vec<u8> {
        let mut f = vec![0; 14 + 20 + 8];
        f[12..14].copy_from_slice(&ethertype);
        f[14 + 9] = protocol;
        f
    }

    #[test]
    fn only_ipv4_udp_frames_count_as_datagrams_left_in_the_queue() {
        assert!(is_ipv4_udp(&frame([0x08, 0x00], 17)));
        assert!(!is_ipv4_udp(&frame([0x08, 0x00], 6)), "TCP");
        assert!(!is_ipv4_udp(&frame([0x08, 0x06], 17)), "ARP");
        assert!(!is_ipv4_udp(&frame([0x86, 0xdd], 17)), "IPv6");
        assert!(!is_ipv4_udp(&[0x08; 20]), "cut short");
    }
}
