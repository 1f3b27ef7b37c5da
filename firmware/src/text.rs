//! Numbers and padding written straight into any [`fmt::Write`], without `core::fmt`'s
//! argument machinery.
//!
//! Every trace line goes through these: the timeline, the serial protocol's line check and
//! the ESP32's console. Through
//! `write!` a line cost about 3 700 instructions, a third of it in `Formatter::pad_integral`
//! and `pad`; written piece by piece it costs a few hundred. The `Display` impls of the trace
//! types call the same functions, so there is one rendering, not a fast one and a slow one.
//! Generic over the writer so that writing into a `String` inlines to a few stores.

use core::fmt::{self, Write};

const SPACES: &str = "                                                                ";
const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `n` spaces.
#[inline]
pub fn spaces<W: Write + ?Sized>(w: &mut W, n: usize) -> fmt::Result {
    spaces_of(w, ' ', n)
}

/// `n` times `fill` (a space or a zero).
#[inline]
fn spaces_of<W: Write + ?Sized>(w: &mut W, fill: char, mut n: usize) -> fmt::Result {
    let run = if fill == '0' { ZEROS } else { SPACES };
    while n > 0 {
        let k = n.min(run.len());
        w.write_str(&run[..k])?;
        n -= k;
    }
    Ok(())
}

/// `s` followed by spaces up to `width` (what `{:<width$}` does).
#[inline]
pub fn left<W: Write + ?Sized>(w: &mut W, s: &str, width: usize) -> fmt::Result {
    w.write_str(s)?;
    spaces(w, width.saturating_sub(s.chars().count()))
}

/// How many decimal digits `v` has.
#[inline]
pub fn width_of(v: u64) -> usize {
    let mut n = 1;
    let mut v = v / 10;
    while v > 0 {
        n += 1;
        v /= 10;
    }
    n
}

/// `v` in decimal (what `{v}` does).
///
/// Below 1 000 (an address's octets, sizes, attempts, a fraction's digits) the digits go out as
/// characters: into a `String` that is a store each, where a piece costs a `memcpy` call and
/// itoa's set-up (callgrind: an address went from ~320 instructions to ~80).
#[inline]
pub fn uint<W: Write + ?Sized>(w: &mut W, v: u64) -> fmt::Result {
    if v < 1000 {
        return digits(w, v as u32, small_width(v as u32));
    }
    w.write_str(itoa::Buffer::new().format(v))
}

/// How many digits `v` (below 1 000) has: two compares, where `width_of` divides.
#[inline]
fn small_width(v: u32) -> u32 {
    1 + u32::from(v >= 10) + u32::from(v >= 100)
}

/// The last `n` (1 to 3) decimal digits of `v`, as characters.
#[inline]
fn digits<W: Write + ?Sized>(w: &mut W, v: u32, n: u32) -> fmt::Result {
    let digit = |d: u32| char::from(b'0' + (d % 10) as u8);
    if n >= 3 {
        w.write_char(digit(v / 100))?;
    }
    if n >= 2 {
        w.write_char(digit(v / 10))?;
    }
    w.write_char(digit(v))
}

/// `v` in decimal, zero-padded to `width` digits (what `{v:0width$}` does).
#[inline]
pub fn zero_padded<W: Write + ?Sized>(w: &mut W, v: u64, width: usize) -> fmt::Result {
    if v < 1000 && (1..=3).contains(&width) {
        return digits(w, v as u32, small_width(v as u32).max(width as u32));
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v);
    if digits.len() < width {
        spaces_of(w, '0', width - digits.len())?;
    }
    w.write_str(digits)
}

/// `whole.fraction`, the fraction with `places` digits: microseconds as seconds (`places` 6) or
/// as milliseconds (3).
#[inline]
pub fn fixed<W: Write + ?Sized>(w: &mut W, v: u64, places: u32) -> fmt::Result {
    let unit = 10u64.pow(places);
    uint(w, v / unit)?;
    w.write_char('.')?;
    zero_padded(w, v % unit, places as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    #[test]
    fn numbers_read_as_core_fmt_writes_them() {
        // Every number below 1 000 (written as characters), the edges around it, and big ones.
        let values = (0u64..1_001).chain([9_999, 12_345, 999_999, 1_000_000, u64::MAX / 3, u64::MAX]);
        for v in values {
            let mut s = String::new();
            uint(&mut s, v).unwrap();
            assert_eq!(s, format!("{v}"));
            assert_eq!(width_of(v), s.len());
            for width in [0, 1, 2, 3, 4, 6, 25] {
                let mut z = String::new();
                zero_padded(&mut z, v, width).unwrap();
                assert_eq!(z, format!("{v:0width$}"), "{v} {width}");
            }
            for places in [3, 6] {
                let mut f = String::new();
                fixed(&mut f, v, places).unwrap();
                let unit = 10u64.pow(places);
                assert_eq!(f, format!("{}.{:0p$}", v / unit, v % unit, p = places as usize));
            }
        }
        let mut s = String::new();
        left(&mut s, "ab", 5).unwrap();
        spaces(&mut s, 70).unwrap();
        left(&mut s, "long name", 3).unwrap();
        assert_eq!(s, format!("{:<5}{:70}{:<3}", "ab", "", "long name"));
    }
}
