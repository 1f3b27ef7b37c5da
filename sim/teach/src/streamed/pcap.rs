//! `udplab run --pcap` written as the run goes: the same file [`crate::pcapng::capture`] makes
//! from a whole run, holding only what is in flight.
//!
//! A frame's comment tells its datagram's whole fate (an offer's says whether it was lost,
//! duplicated, overtaken), which is known only once the datagram is finished ([`crate::story::Unfolding`]
//! says when). So frames wait in trace order, with their packet bytes, until their datagram is
//! finished and every frame before them is written; an arrival's frame also waits while the
//! records right after it (its receiver's notes, at the same instant) may still add to it. The
//! section header says whether the run finished, so it is written last, before the body
//! ([`Parts`]).

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use udplab_firmware::AppEvent;
use udplab_sim::net::Captured;
use udplab_sim::trace::{Event, Record};

use crate::files::{Parts, WriteError};
use crate::pcapng::{self, CaptureError};
use crate::story::{Datagram, Words};

/// One frame waiting to be written.
struct Frame {
    key: (usize, u64),
    copy: Option<u8>,
    at_us: u64,
    /// What the receiver noted on an arrival.
    notes: String,
}

/// A finished datagram, kept while frames of it wait.
struct Done {
    datagram: Datagram,
    frames: u32,
}

pub(crate) struct PcapStream<'s> {
    words: Words<'s>,
    file: Parts,
    frames: VecDeque<Frame>,
    /// Frames waiting per datagram not finished yet.
    open: HashMap<(usize, u64), u32>,
    done: HashMap<(usize, u64), Done>,
    packets: HashMap<(usize, u64, Option<u8>), Vec<u8>>,
    /// The last frame is an arrival the records that follow may still add notes to.
    arrival_open: bool,
    /// The first thing that went wrong; from then on nothing more is kept.
    failed: Option<WriteError>,
}

impl<'s> PcapStream<'s> {
    pub(crate) fn create(words: Words<'s>, path: &Path) -> Result<PcapStream<'s>, WriteError> {
        Ok(PcapStream {
            words,
            file: Parts::create(path)?,
            frames: VecDeque::new(),
            open: HashMap::new(),
            done: HashMap::new(),
            packets: HashMap::new(),
            arrival_open: false,
            failed: None,
        })
    }

    pub(crate) fn packets(&mut self, captured: Vec<Captured>) {
        if self.failed.is_some() {
            return;
        }
        for c in captured {
            self.packets.insert((c.link, c.index, c.copy), c.packet);
        }
    }

    /// Takes one record, before [`crate::story::Unfolding`] sees it (a datagram it finishes has its frames
    /// queued already).
    pub(crate) fn record(&mut self, r: &Record) {
        if self.failed.is_some() {
            return;
        }
        if let Some((link, index, copy)) = pcapng::frame_of(r) {
            if link >= self.words.scenario.links.len() {
                return self.fail(pcapng::unknown_datagram(link, index));
            }
            *self.open.entry((link, index)).or_default() += 1;
            self.frames.push_back(Frame { key: (link, index), copy, at_us: r.at_us, notes: String::new() });
            self.arrival_open = copy.is_some();
            return;
        }
        let Event::App { node, app } = r.event else {
            self.arrival_open = false;
            return;
        };
        let Some(last) = self.frames.back_mut().filter(|f| self.arrival_open && f.at_us == r.at_us) else {
            self.arrival_open = false;
            return;
        };
        if let AppEvent::Note(note) = app
            && node == self.words.scenario.links[last.key.0].to
        {
            pcapng::add_note(&mut last.notes, &self.words, node, note);
        }
    }

    /// A datagram [`crate::story::Unfolding`] finished.
    pub(crate) fn finished(&mut self, d: Datagram) {
        if self.failed.is_some() {
            return;
        }
        let key = (d.link, d.index);
        let frames = self.open.remove(&key).unwrap_or(0);
        if frames > 0 {
            self.done.insert(key, Done { datagram: d, frames });
        }
    }

    /// Writes the frames at the front that can be written.
    pub(crate) fn flush(&mut self) {
        while self.failed.is_none() {
            let Some(f) = self.frames.front() else { break };
            if self.arrival_open && self.frames.len() == 1 {
                break;
            }
            let Some(done) = self.done.get_mut(&f.key) else { break };
            let Some(f) = self.frames.pop_front() else { break };
            let Some(packet) = self.packets.remove(&(f.key.0, f.key.1, f.copy)) else {
                return self.fail(pcapng::no_bytes(&self.words, f.key.0, f.key.1, f.copy));
            };
            let written = pcapng::frame(&self.words, &done.datagram, f.copy, f.at_us, &packet, &f.notes)
                .map_err(|e| WriteError { path: self.file.path().to_path_buf(), message: e.0 })
                .and_then(|block| self.file.body().write_all(&block).map_err(|e| self.file.error(&e)));
            if let Err(e) = written {
                self.failed = Some(e);
                break;
            }
            done.frames -= 1;
            if done.frames == 0 {
                self.done.remove(&f.key);
            }
        }
    }

    /// Writes what is left and then the whole file (`incomplete`: why the run stopped early).
    /// Every datagram has been handed to [`PcapStream::finished`] by now.
    pub(crate) fn finish(mut self, incomplete: Option<&str>) -> Result<(), WriteError> {
        self.arrival_open = false;
        self.flush();
        if let Some(e) = self.failed {
            return Err(e);
        }
        if let Some(f) = self.frames.front() {
            let (link, index) = f.key;
            return Err(self.error(pcapng::unknown_datagram(link, index)));
        }
        let head = pcapng::head(&self.words, incomplete).map_err(|e| self.error(e))?;
        self.file.commit(&head)
    }

    fn error(&self, e: CaptureError) -> WriteError {
        WriteError { path: self.file.path().to_path_buf(), message: e.0 }
    }

    fn fail(&mut self, e: CaptureError) {
        self.failed = Some(self.error(e));
        self.frames.clear();
        self.packets.clear();
        self.done.clear();
        self.open.clear();
    }
}
