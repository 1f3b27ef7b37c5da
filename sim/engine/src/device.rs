//! A smoltcp device that is two queues: frames the network hands in, frames the stack sends.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::RefCell;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// IP MTU of the simulated interfaces (links may impose a smaller one as an impairment).
pub const MTU: usize = 1500;

/// Most received frames a device keeps for sending: enough for a burst, so a node that only
/// receives does not hoard the network's buffers.
const SPARE_FRAMES: usize = 16;

#[derive(Debug, Default)]
pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
    /// Frames already received, reused for the next frames sent: a datagram then costs no
    /// allocation and no free (about 300 instructions of ~5 000 at ping-pong, `udplab-bench`).
    /// A cell because smoltcp holds the receive and the transmit token at once.
    spare: RefCell<Vec<Vec<u8>>>,
}

pub struct RxToken<'a>(Vec<u8>, &'a RefCell<Vec<Vec<u8>>>);
pub struct TxToken<'a>(&'a mut Vec<Vec<u8>>, &'a RefCell<Vec<Vec<u8>>>);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        let mut spare = self.1.borrow_mut();
        if spare.len() < SPARE_FRAMES {
            spare.push(self.0);
        }
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = self.1.borrow_mut().pop().unwrap_or_default();
        // Zeroed as a fresh frame would be: smoltcp writes every byte it sends, but a frame must
        // never carry an earlier datagram's bytes whatever a future version does.
        frame.clear();
        frame.resize(len, 0);
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl phy::Device for QueueDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((RxToken(frame, &self.spare), TxToken(&mut self.tx, &self.spare)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx, &self.spare))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{Device, RxToken as _, TxToken as _};

    /// A frame sent after one was received reuses its buffer, and carries none of its bytes.
    #[test]
    fn a_received_frame_is_reused_zeroed_for_the_next_send() {
        let mut dev = QueueDevice::default();
        dev.rx.push_back(alloc::vec![0xAB; 200]);
        let (rx, _) = dev.receive(Instant::ZERO).unwrap();
        assert_eq!(rx.consume(|f| f.len()), 200);
        let tx = dev.transmit(Instant::ZERO).unwrap();
        tx.consume(40, |f| assert!(f.iter().all(|&b| b == 0), "{f:?}"));
        let sent = dev.tx.pop().unwrap();
        assert_eq!(sent.len(), 40);
        assert!(sent.capacity() >= 200, "the received buffer, not a fresh one");
        // With nothing spare, a send allocates as before.
        dev.transmit(Instant::ZERO).unwrap().consume(8, |f| f[0] = 1);
        assert_eq!(dev.tx.pop().unwrap(), [1, 0, 0, 0, 0, 0, 0, 0]);
        // Spares are bounded.
        for _ in 0..SPARE_FRAMES + 5 {
            dev.rx.push_back(alloc::vec![0; 10]);
            dev.receive(Instant::ZERO).unwrap().0.consume(|_| ());
        }
        assert_eq!(dev.spare.borrow().len(), SPARE_FRAMES);
    }
}
