//! Free-form events of an app's own: a label and up to four named numbers.
//!
//! Fixed size and `Copy`, with `'static` names, so a note costs no allocation on the chip and
//! a trace record stays a plain value; anything that varies goes in the numbers.

use core::fmt;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Most numbers one note carries.
pub const NOTE_VALUES: usize = 4;

/// An app's own event, printed in the timeline as `label name=value ...`.
///
/// ```
/// use udplab_firmware::Note;
/// let n = Note::new("reading stored").with("id", 7).with("celsius_x10", 215);
/// assert_eq!(n.to_string(), "reading stored id=7 celsius_x10=215");
/// assert_eq!(n.value("id"), Some(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Note {
    label: &'static str,
    values: [(&'static str, i64); NOTE_VALUES],
    len: u8,
}

impl Note {
    pub const fn new(label: &'static str) -> Note {
        Note { label, values: [("", 0); NOTE_VALUES], len: 0 }
    }

    /// Adds a named number. Past [`NOTE_VALUES`] numbers the extra ones are ignored (a note
    /// never fails on the chip).
    pub const fn with(mut self, name: &'static str, value: i64) -> Note {
        if (self.len as usize) < NOTE_VALUES {
            self.values[self.len as usize] = (name, value);
            self.len += 1;
        }
        self
    }

    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The numbers, in the order they were added.
    pub fn values(&self) -> &[(&'static str, i64)] {
        &self.values[..usize::from(self.len)]
    }

    /// The first number called `name`.
    pub fn value(&self, name: &str) -> Option<i64> {
        self.values().iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label)?;
        for (name, value) in self.values() {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

impl Serialize for Note {
    /// `{"label": "...", "values": {"name": value, ...}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Values<'a>(&'a [(&'static str, i64)]);
        impl Serialize for Values<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("label", self.label)?;
        m.serialize_entry("values", &Values(self.values()))?;
        m.end()
    }
}
