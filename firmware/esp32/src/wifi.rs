//! Station mode: join the settings' network (`UDPLAB_WIFI_SSID`, default Wokwi-GUEST, open,
//! channel 6), get an address with smoltcp's DHCP client, print `wifi: ip A.B.C.D/PREFIX gw
//! G.G.G.G`, then run the board's app: the image's app for the scenario node the board plays,
//! else the built-in one (echo server on `UDPLAB_PORT`, or a client towards `UDPLAB_PEER`).

use esp_hal::peripherals::WIFI;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController};
use smoltcp::socket::dhcpv4;

use crate::console::Console;
use crate::netapp::{self, AppNode, BoardApp, Impairments, Net, RadioLink, block_on, now_us, sleep_us};
use crate::{Image, say};

/// Frames the driver queues for the stack, and frames in flight to the radio (bounded).
pub const RX_QUEUE: usize = 5;
pub const TX_QUEUE: usize = 3;

/// Runs station mode for ever; returns only if the Wi-Fi driver could not start.
pub fn run(image: &Image, console: &mut Console, wifi: WIFI<'static>, impair: Option<Impairments>) {
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
    let mut controller = match WifiController::new(wifi, config) {
        Ok(c) => c,
        Err(e) => {
            say!(console, "error: wifi: the driver did not start: {e:?}");
            return;
        }
    };
    let iface = Interface::station();
    let mac = iface.mac_address();
    let security = if settings.wifi_password.is_empty() { "open" } else { "WPA2" };
    say!(
        console,
        "wifi: station {} joining `{}` ({security}, channel {})",
        netapp::Mac(mac),
        settings.wifi_ssid,
        settings.wifi_channel
    );
    connect(console, &mut controller);

    let board_app = BoardApp::choose(image, impair.as_ref());
    let device = netapp::wrap(image, iface, impair.as_ref(), board_app.port(settings, true));
    let mut net = Net::new(device, mac, netapp::random_seed());
    if let Some(i) = &impair {
        i.describe(console);
    }
    let dhcp = net.sockets.add(dhcpv4::Socket::new());
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
                say!(console, "wifi: address lost, asking DHCP again");
            }
            None => {}
        }
        if !RadioLink::link_up(&mut net.device) {
            say!(console, "wifi: disconnected");
            net.clear_ipv4();
            connect(console, &mut controller);
            net.sockets.get_mut::<dhcpv4::Socket>(dhcp).reset();
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

/// Connects, retrying every 2 s until the access point accepts.
fn connect(console: &mut Console, controller: &mut WifiController<'_>) {
    loop {
        match block_on(controller.connect_async()) {
            Ok(info) => {
                say!(console, "wifi: connected to `{}` (channel {})", info.ssid.as_str(), info.channel);
                return;
            }
            Err(e) => {
                say!(console, "wifi: connect failed ({e:?}), retrying in 2 s");
                sleep_us(2_000_000);
            }
        }
    }
}
