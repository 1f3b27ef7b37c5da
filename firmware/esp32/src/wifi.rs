//! Station mode: join the settings' network (`UDPLAB_WIFI_SSID`, default Wokwi-GUEST, open,
//! channel 6), get an address with smoltcp's DHCP client, print `wifi: ip A.B.C.D/PREFIX gw
//! G.G.G.G`, then run the board's app: the image's app for the scenario node the board plays,
//! else the built-in one (echo server on `UDPLAB_PORT`, or a client towards `UDPLAB_PEER`).
//!
//! Every wait on something outside the board is bounded: the radio's start
//! (`Settings::radio_timeout_s`, see `radio.rs`), joining (`join_timeout_s`, at the start and
//! after the network is lost) and DHCP (`dhcp_timeout_s`, after each join and after a lost
//! lease). When one runs out, [`run`] prints `error: wifi: ...` saying which and returns, the
//! radio is switched off, and the console takes commands again.

use alloc::string::String;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config, ConnectionError, ControllerConfig, DisconnectReason, Interface,
    WifiController,
};
use smoltcp::socket::dhcpv4;
use udplab_firmware::wait::{Deadline, Retry};

use crate::clock::{now_us, sleep_us};
use crate::console::Console;
use crate::netapp::{self, AppNode, BoardApp, Impairments, Net, RadioLink, block_on_until};
use crate::radio::{Mode, Radio};
use crate::{Image, say, timeout_s};

/// Frames the driver queues for the stack, and frames in flight to the radio (bounded).
pub const RX_QUEUE: usize = 5;
pub const TX_QUEUE: usize = 3;

/// Pause after a failed join attempt before the next (the driver's own scan already takes a
/// few seconds, so this only keeps a refusing access point from being hammered).
const JOIN_PAUSE_US: u64 = 2_000_000;

/// Runs station mode until a bounded wait runs out (or for ever, while the network stays).
pub fn run(image: &Image, console: &mut Console, radio: &mut Radio, impair: Option<Impairments>) {
    let settings = &image.settings;
    let Ok(ssid) = settings.wifi_ssid.try_into() else {
        say!(console, "error: wifi: bad SSID `{}`", settings.wifi_ssid);
        return;
    };
    let auth = if settings.wifi_password.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        match settings.wifi_password.try_into() {
            Ok(p) => AuthenticationMethodConfig::Wpa2Personal(p),
            Err(_) => {
                say!(console, "error: wifi: bad password");
                return;
            }
        }
    };
    let mut station = StationConfig::default().with_ssid(ssid).with_authentication(auth);
    if settings.wifi_channel != 0 {
        station = station.with_channel(settings.wifi_channel);
    }
    let config = ControllerConfig::default()
        .with_initial_config(Config::Station(station))
        .with_rx_queue_size(RX_QUEUE)
        .with_tx_queue_size(TX_QUEUE);
    // Declared before the interface and the stack, so it is dropped after them: the driver frees
    // their frames while it is still alive.
    let Some(mut controller) = radio.start(console, Mode::Station, config, settings.radio_timeout_s) else {
        return;
    };
    let Some(iface) = Interface::try_station() else {
        say!(console, "error: wifi: the station interface is still in use");
        return;
    };
    let mac = iface.mac_address();
    let security = if settings.wifi_password.is_empty() { "open" } else { "WPA2" };
    let join_s = timeout_s(settings.join_timeout_s);
    say!(
        console,
        "wifi: station {} joining `{}` ({security}, channel {}, at most {join_s} s)",
        netapp::Mac(mac),
        settings.wifi_ssid,
        settings.wifi_channel
    );
    if let Err(failure) = join(console, &mut controller, join_s) {
        say!(console, "error: wifi: could not join `{}` in {join_s} s ({failure})", settings.wifi_ssid);
        return;
    }

    let board_app = BoardApp::choose(image, impair.as_ref());
    let device = netapp::wrap(image, iface, impair.as_ref(), board_app.port(settings, true));
    let mut net = Net::new(device, mac, netapp::random_seed());
    if let Some(i) = &impair {
        i.describe(console);
    }
    let dhcp = net.sockets.add(dhcpv4::Socket::new());
    let dhcp_s = timeout_s(settings.dhcp_timeout_s);
    let dhcp_us = u64::from(dhcp_s) * 1_000_000;
    say!(console, "wifi: asking DHCP for an address (at most {dhcp_s} s)");
    // `Some` while the station has no address: the time DHCP has to give one.
    let mut address_by = Some(Deadline::after(now_us(), dhcp_us));
    let mut app: Option<AppNode> = None;
    loop {
        let now = now_us();
        net.device.pump(now);
        net.poll(now);
        let event = match net.sockets.get_mut::<dhcpv4::Socket>(dhcp).poll() {
            Some(dhcpv4::Event::Configured(c)) => Some(Some((c.address, c.router))),
            Some(dhcpv4::Event::Deconfigured) => Some(None),
            None => None,
        };
        match event {
            Some(Some((cidr, router))) => {
                address_by = None;
                net.set_ipv4(cidr, router);
                match router {
                    Some(gw) => say!(console, "wifi: ip {}/{} gw {gw}", cidr.address(), cidr.prefix_len()),
                    None => say!(console, "wifi: ip {}/{} gw none", cidr.address(), cidr.prefix_len()),
                }
                if app.is_none() {
                    app = netapp::start_app(console, &mut net, settings, &board_app, true, now);
                }
            }
            Some(None) => {
                net.clear_ipv4();
                address_by = Some(Deadline::after(now, dhcp_us));
                say!(console, "wifi: address lost, asking DHCP again (at most {dhcp_s} s)");
            }
            None => {}
        }
        if address_by.is_some_and(|d| d.expired(now)) {
            say!(console, "error: wifi: no DHCP answer in {dhcp_s} s");
            return;
        }
        if !RadioLink::link_up(&mut net.device) {
            say!(console, "wifi: disconnected, joining `{}` again (at most {join_s} s)", settings.wifi_ssid);
            net.clear_ipv4();
            if let Err(failure) = join(console, &mut controller, join_s) {
                say!(
                    console,
                    "error: wifi: lost `{}` and could not join again in {join_s} s ({failure})",
                    settings.wifi_ssid
                );
                return;
            }
            net.sockets.get_mut::<dhcpv4::Socket>(dhcp).reset();
            say!(console, "wifi: asking DHCP for an address (at most {dhcp_s} s)");
            address_by = Some(Deadline::after(now_us(), dhcp_us));
            continue;
        }
        let app_wake = app.as_mut().and_then(|a| a.poll(&mut net, console, now));
        net.poll(now);
        if let Some(line) = console.poll_line() {
            match line {
                Ok(l) => netapp::command(console, &net, &l, "wifi"),
                Err(e) => say!(console, "error: {}", e.message()),
            }
        }
        netapp::show_links(&mut net, impair.as_ref(), console);
        let iface_wake = net.poll_at_us(now);
        netapp::idle(now_us(), &[app_wake, iface_wake, net.device.next_release_us()]);
    }
}

/// Why joining gave up: how many attempts were made, and the last one's error (`None` when the
/// only attempts were still waiting for an answer when time ran out).
struct JoinFailure {
    attempts: u32,
    last_error: Option<String>,
}

impl core::fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        match &self.last_error {
            Some(e) => write!(f, "{} attempt{plural}, last error: {e}", self.attempts),
            None => write!(f, "{} attempt{plural}, no answer from the network", self.attempts),
        }
    }
}

/// Joins the network, trying again `JOIN_PAUSE_US` after each failure (each printed with its
/// reason) until `limit_s` seconds have passed in all.
fn join(console: &mut Console, controller: &mut WifiController<'_>, limit_s: u32) -> Result<(), JoinFailure> {
    let mut retry = Retry::new(now_us(), u64::from(limit_s) * 1_000_000, JOIN_PAUSE_US);
    let mut last_error = None;
    while let Some(until) = retry.start_attempt(now_us()) {
        // `None`: the attempt was still waiting when time ran out. Dropping it is enough: the
        // caller returns and dropping the controller stops the driver's connect as well.
        let Some(result) = block_on_until(controller.connect_async(), until) else { break };
        match result {
            Ok(info) => {
                say!(console, "wifi: connected to `{}` (channel {})", info.ssid.as_str(), info.channel);
                return Ok(());
            }
            Err(e) => {
                let why = reason(&e);
                let attempt = retry.attempts();
                match retry.pause_after_failure(now_us()) {
                    Some(resume) => {
                        let pause_s = JOIN_PAUSE_US / 1_000_000;
                        say!(
                            console,
                            "wifi: join attempt {attempt} failed: {why}; trying again in {pause_s} s"
                        );
                        sleep_us(resume.saturating_sub(now_us()));
                    }
                    None => say!(console, "wifi: join attempt {attempt} failed: {why}"),
                }
                last_error = Some(why);
            }
        }
    }
    Err(JoinFailure { attempts: retry.attempts(), last_error })
}

/// A join error in words, with the driver's name for it (what a search finds).
fn reason(e: &ConnectionError) -> String {
    use DisconnectReason as R;
    match e {
        ConnectionError::Failed(info) => {
            let hint = match info.reason {
                R::NoAccessPointFound
                | R::NoAccessPointFoundInRssiThreshold
                | R::NoAccessPointFoundInAuthmodeThreshold => "network not found",
                R::NoAccessPointFoundWithCompatibleSecurity => "network found, but not with this security",
                R::FourWayHandshakeTimeout
                | R::HandshakeTimeout
                | R::MicFailure
                | R::AuthenticationFailed => "refused: wrong password?",
                _ => "the access point ended the attempt",
            };
            alloc::format!("{hint} ({:?})", info.reason)
        }
        ConnectionError::WifiError(w) => alloc::format!("driver error ({w:?})"),
        other => alloc::format!("{other:?}"),
    }
}
