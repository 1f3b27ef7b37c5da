//! Access-point mode: an open network `UDPLAB_AP_SSID` (default "udplab") with the board at
//! 192.168.4.1/24 and the board's app: the image's app for the scenario node the board plays,
//! else the udplab echo server on `UDPLAB_PORT` (default 3333).
//!
//! smoltcp has no DHCP server: a laptop or phone that joins must be given a static address in
//! 192.168.4.0/24 (for example 192.168.4.2, netmask 255.255.255.0, no gateway).
//!
//! The access point must be up within `Settings::radio_timeout_s` of the command (the driver's
//! start is bounded by a watchdog, `radio.rs`; the network coming up by a deadline here); if it
//! is not, [`run`] prints `error: ap: ...` and returns, and the console takes commands again.

use esp_radio::wifi::ap::AccessPointConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface};
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};
use udplab_firmware::wait::Deadline;

use crate::clock::{now_us, sleep_us};
use crate::console::Console;
use crate::netapp::{self, BoardApp, Impairments, Net, RadioLink};
use crate::radio::{Mode, Radio};
use crate::wifi::{RX_QUEUE, TX_QUEUE};
use crate::{Image, say, timeout_s};

/// The board's address on its own network.
pub const ADDRESS: Ipv4Address = Ipv4Address::new(192, 168, 4, 1);
pub const PREFIX: u8 = 24;

/// Runs access-point mode for ever; returns (having printed why) if it does not come up.
pub fn run(image: &Image, console: &mut Console, radio: &mut Radio, impair: Option<Impairments>) {
    let settings = &image.settings;
    let Ok(ssid) = settings.ap_ssid.try_into() else {
        say!(console, "error: ap: bad SSID `{}`", settings.ap_ssid);
        return;
    };
    let ap = AccessPointConfig::default()
        .with_ssid(ssid)
        .with_authentication(AuthenticationMethodConfig::Open)
        .with_channel(settings.ap_channel);
    let config = ControllerConfig::default()
        .with_initial_config(Config::AccessPoint(ap))
        .with_rx_queue_size(RX_QUEUE)
        .with_tx_queue_size(TX_QUEUE);
    let limit_s = timeout_s(settings.radio_timeout_s);
    let up_by = Deadline::after(now_us(), u64::from(limit_s) * 1_000_000);
    // Dropping the controller would stop Wi-Fi: it lives as long as this function, and is
    // declared before the interface so that it is dropped after it.
    let Some(_controller) = radio.start(console, Mode::AccessPoint, config, limit_s) else {
        return;
    };
    let Some(iface) = Interface::try_access_point() else {
        say!(console, "error: ap: the access-point interface is still in use");
        return;
    };
    let mac = iface.mac_address();
    let board_app = BoardApp::choose(image, impair.as_ref());
    let device = netapp::wrap(image, iface, impair.as_ref(), board_app.port(settings, false));
    let mut net = Net::new(device, mac, netapp::random_seed());
    if let Some(i) = &impair {
        i.describe(console);
    }
    // The driver reports the access point started from its own task, soon after the start.
    while !RadioLink::link_up(&mut net.device) {
        if up_by.expired(now_us()) {
            say!(console, "error: ap: the access point did not come up in {limit_s} s");
            return;
        }
        sleep_us(10_000);
    }
    net.set_ipv4(Ipv4Cidr::new(ADDRESS, PREFIX), None);
    say!(
        console,
        "ap: ssid `{}` open, channel {}, bssid {}, ip {ADDRESS}/{PREFIX}",
        settings.ap_ssid,
        settings.ap_channel,
        netapp::Mac(mac)
    );
    say!(console, "ap: no DHCP server: give clients a static address in 192.168.4.0/24 (e.g. 192.168.4.2)");
    let mut app = netapp::start_app(console, &mut net, settings, &board_app, false, now_us());
    loop {
        let now = now_us();
        net.device.pump(now);
        net.poll(now);
        let app_wake = app.as_mut().and_then(|a| a.poll(&mut net, console, now));
        net.poll(now);
        if let Some(line) = console.poll_line() {
            match line {
                Ok(l) => netapp::command(console, &net, &l, "ap"),
                Err(e) => say!(console, "error: {}", e.message()),
            }
        }
        netapp::show_links(&mut net, impair.as_ref(), console);
        let iface_wake = net.poll_at_us(now);
        netapp::idle(now_us(), &[app_wake, iface_wake, net.device.next_release_us()]);
    }
}
