//! A kernel UDP socket (tokio) as an app socket: the scenario's other nodes run the same app
//! code as the firmware, but over Linux's network stack.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use udplab_firmware::Socket;
use udplab_firmware::app::{Endpoint, SendFailure};

pub struct KernelSocket<'a>(pub &'a tokio::net::UdpSocket);

impl Socket for KernelSocket<'_> {
    fn recv_from(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)> {
        loop {
            match self.0.try_recv_from(buf) {
                Ok((n, SocketAddr::V4(from))) => {
                    return Some((n, Endpoint { addr: from.ip().octets(), port: from.port() }));
                }
                Ok((_, SocketAddr::V6(_))) => continue,
                Err(_) => return None,
            }
        }
    }

    fn send_to(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure> {
        let to = SocketAddrV4::new(Ipv4Addr::from(to.addr), to.port);
        match self.0.try_send_to(bytes, to.into()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(SendFailure::BufferFull),
            Err(_) => Err(SendFailure::Refused),
        }
    }
}
