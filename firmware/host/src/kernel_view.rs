//! What the kernel of the run's namespace says about the TAP, read from
//! `/proc/thread-self/net/*` (the files of *this thread's* network namespace; `/sys/class/net`
//! would show the namespace it was mounted in).
//!
//! Two facts the device's file descriptor cannot tell: whether the link is still up (a TAP
//! set down keeps its descriptor, and the kernel silently removes the routes through it), and
//! how many frames the kernel dropped in the TAP's queue before the firmware could read them.

/// Frames towards the firmware (the kernel's "transmit" side of the TAP) that the kernel
/// dropped, its queue full, from `/proc/thread-self/net/dev`; `None` when the device no longer
/// exists (or /proc is unreadable).
pub fn tx_dropped(dev: &str) -> Option<u64> {
    parse_tx_dropped(&std::fs::read_to_string("/proc/thread-self/net/dev").ok()?, dev)
}

fn parse_tx_dropped(text: &str, dev: &str) -> Option<u64> {
    text.lines().skip(2).find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != dev {
            return None;
        }
        // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit:
        // bytes packets errs drop ...
        let n: Vec<u64> = rest.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        n.get(11).copied()
    })
}

/// Whether the host route to `addr` through `dev` (which the runner added) is still there:
/// the kernel removes it when the link goes down. `None` when /proc is unreadable.
pub fn route_present(dev: &str, addr: [u8; 4]) -> Option<bool> {
    Some(parse_route(&std::fs::read_to_string("/proc/thread-self/net/route").ok()?, dev, addr))
}

fn parse_route(text: &str, dev: &str, addr: [u8; 4]) -> bool {
    // Destinations are the address's bytes in memory order, printed as one hex u32.
    let want = format!("{:08X}", u32::from_le_bytes(addr));
    text.lines().skip(1).any(|line| {
        let mut f = line.split_whitespace();
        f.next() == Some(dev) && f.next().is_some_and(|d| d.eq_ignore_ascii_case(&want))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
udplab0:    9130     101    0    0    0     0          0         0   862340   10000    0 2800    0     0       0          0
";

    #[test]
    fn reads_the_transmit_side_of_the_named_device() {
        assert_eq!(parse_tx_dropped(DEV, "udplab0"), Some(2_800));
        assert_eq!(parse_tx_dropped(DEV, "udplab1"), None);
    }

    #[test]
    fn finds_the_host_route_through_the_device() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
udplab0\t020200C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0
";
        assert!(parse_route(route, "udplab0", [192, 0, 2, 2]));
        assert!(!parse_route(route, "udplab0", [192, 0, 2, 1]));
        assert!(!parse_route(route, "eth0", [192, 0, 2, 2]));
    }
}
