//! The console's commands: the banner, parsing, and dispatch to scenario mode or a network mode.

use alloc::string::String;

use crate::clock::{now_us, sleep_us};
use crate::console::Console;
#[cfg(feature = "radio")]
use crate::netapp::Impairments;
#[cfg(feature = "radio")]
use crate::radio::{self, Radio};
use crate::{Image, say, scenario_mode};
#[cfg(feature = "radio")]
use crate::{ap, wifi};

/// How long the board waits for a command after the banner before it runs `all`.
const DEFAULT_AFTER_US: u64 = 2_000_000;
#[cfg(feature = "radio")]
const USAGE: &str = "list | run NAME [SEED] | all | wifi [NAME [SEED]] | ap [NAME [SEED]]";
/// An image with apps of its own also says which scenario node the board plays on the radio.
#[cfg(feature = "radio")]
const USAGE_NODES: &str =
    "list | run NAME [SEED] | all | wifi [NAME [SEED] [NODE]] | ap [NAME [SEED] [NODE]]";
/// Without the radio feature the image has scenario mode only; `wifi` and `ap` are still
/// known, so that they can say which build has them.
#[cfg(not(feature = "radio"))]
const USAGE: &str = "list | run NAME [SEED] | all";
#[cfg(not(feature = "radio"))]
const USAGE_NODES: &str = USAGE;
/// What `wifi` and `ap` answer in an image built without the radio feature.
#[cfg(not(feature = "radio"))]
const NO_RADIO: &str =
    "this image has no radio (scenario mode only): build it with `--features radio` for `wifi` and `ap`";

/// `NAME [SEED] [NODE]` after `wifi` or `ap`: the scenario whose links sit in the radio's path,
/// and which of its nodes the board plays.
#[cfg(feature = "radio")]
pub struct Target<'a> {
    pub name: &'a str,
    pub seed: Option<u64>,
    pub node: Option<&'a str>,
}

enum Command<'a> {
    List,
    Run {
        name: &'a str,
        seed: Option<u64>,
    },
    All,
    /// Station mode, optionally with a scenario's links in the radio's path.
    #[cfg(feature = "radio")]
    Wifi(Option<Target<'a>>),
    #[cfg(feature = "radio")]
    Ap(Option<Target<'a>>),
    /// `wifi` or `ap`, whatever follows, in an image without the radio.
    #[cfg(not(feature = "radio"))]
    NoRadio,
    Help,
}

/// `nodes`: the image has apps, so `wifi` and `ap` take a node (read only with the radio).
fn parse<'a>(
    line: &'a str,
    usage: &str,
    #[cfg_attr(not(feature = "radio"), allow(unused_variables))] nodes: bool,
) -> Result<Command<'a>, String> {
    let mut words = line.split_ascii_whitespace();
    let cmd = words.next().unwrap_or("");
    let command = match cmd {
        "list" => Command::List,
        "all" => Command::All,
        #[cfg(feature = "radio")]
        "wifi" => Command::Wifi(target(&mut words, nodes)?),
        #[cfg(feature = "radio")]
        "ap" => Command::Ap(target(&mut words, nodes)?),
        // Its arguments are not read: the answer is the same whatever they are.
        #[cfg(not(feature = "radio"))]
        "wifi" | "ap" => return Ok(Command::NoRadio),
        "help" => Command::Help,
        "run" => {
            let Some(name) = words.next() else {
                return Err("`run` needs a scenario name: run NAME [SEED]".into());
            };
            let seed = match words.next() {
                None => None,
                Some(s) => Some(parse_seed(s).ok_or_else(|| {
                    alloc::format!("bad seed `{s}`: expected 0..=18446744073709551615 or 0x...")
                })?),
            };
            Command::Run { name, seed }
        }
        other => return Err(alloc::format!("unknown command `{other}` ({usage})")),
    };
    if let Some(extra) = words.next() {
        return Err(alloc::format!("unexpected `{extra}` after `{cmd}` ({usage})"));
    }
    Ok(command)
}

/// `[NAME [SEED]]` after `wifi` or `ap`, and in an image with apps `[NAME [SEED] [NODE]]`: after
/// NAME, a word that reads as a seed (decimal or `0x` hex) is the seed, any other word names the
/// node (to name a node called `42`, give the seed first: `wifi NAME SEED 42`).
#[cfg(feature = "radio")]
fn target<'a>(words: &mut impl Iterator<Item = &'a str>, nodes: bool) -> Result<Option<Target<'a>>, String> {
    let Some(name) = words.next() else { return Ok(None) };
    let mut target = Target { name, seed: None, node: None };
    let Some(word) = words.next() else { return Ok(Some(target)) };
    match parse_seed(word) {
        Some(seed) => {
            target.seed = Some(seed);
            if nodes {
                target.node = words.next();
            }
        }
        None if nodes => target.node = Some(word),
        None => return Err(alloc::format!("bad seed `{word}`")),
    }
    Ok(Some(target))
}

fn parse_seed(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The banner, then commands for ever. A network mode returns here only when one of its bounded
/// waits ran out (it has printed which); the radio is off again and can be started anew.
pub fn run(image: &Image, mut console: Console, #[cfg(feature = "radio")] mut radio: Radio) -> ! {
    let usage = if image.apps.is_empty() { USAGE } else { USAGE_NODES };
    if image.apps.is_empty() {
        say!(console, "udplab-esp32 ready: {} scenarios ({usage})", image.scenarios.len());
    } else {
        let mut nodes = String::new();
        for (name, _) in image.apps {
            nodes.push(' ');
            nodes.push_str(name);
        }
        say!(console, "udplab-esp32 ready: {} scenarios, apps for{nodes} ({usage})", image.scenarios.len());
    }
    // After a radio start that the watchdog ended, a person was typing: wait for them.
    #[cfg(feature = "radio")]
    let mut waiting_for_first = !radio::report_watchdog_reset(&mut console);
    #[cfg(not(feature = "radio"))]
    let mut waiting_for_first = true;
    let deadline = now_us() + DEFAULT_AFTER_US;
    loop {
        let Some(line) = console.poll_line() else {
            if waiting_for_first && now_us() >= deadline {
                waiting_for_first = false;
                scenario_mode::run_all(image, &mut console);
            }
            sleep_us(10_000);
            continue;
        };
        waiting_for_first = false;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                say!(console, "error: {}", e.message());
                continue;
            }
        };
        match parse(&line, usage, !image.apps.is_empty()) {
            Err(msg) => say!(console, "error: {msg}"),
            Ok(Command::Help) => say!(console, "commands: {usage}"),
            Ok(Command::List) => scenario_mode::list(image, &mut console),
            Ok(Command::All) => scenario_mode::run_all(image, &mut console),
            Ok(Command::Run { name, seed }) => scenario_mode::run(image, &mut console, name, seed),
            #[cfg(feature = "radio")]
            Ok(Command::Wifi(target)) => match Impairments::load(image, target, true) {
                Err(e) => say!(console, "error: {e}"),
                Ok(impair) => {
                    wifi::run(image, &mut console, &mut radio, impair);
                    say!(console, "wifi: stopped, radio off; commands: {usage}");
                }
            },
            #[cfg(feature = "radio")]
            Ok(Command::Ap(target)) => match Impairments::load(image, target, false) {
                Err(e) => say!(console, "error: {e}"),
                Ok(impair) => {
                    ap::run(image, &mut console, &mut radio, impair);
                    say!(console, "ap: stopped, radio off; commands: {usage}");
                }
            },
            #[cfg(not(feature = "radio"))]
            Ok(Command::NoRadio) => say!(console, "error: {NO_RADIO}"),
        }
    }
}
