//! Sweeps that outgrow one machine: `--shard K/N` runs every N-th run of the grid (in grid
//! order, starting with the K-th), and `--merge` reads the shards' CSVs back into the rows one
//! unsharded sweep makes, so the table, CSV and plot are the same bytes.
//!
//! Runs are dealt out round-robin rather than in blocks because the grid's expensive corner
//! (the longest `count`, the slowest `interval`) sits together in grid order: a block would give
//! it all to one shard. Every run is deterministic, so which machine ran it does not matter.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use udplab_sim::report::Spread;

use super::output::{COLUMNS, header};
use super::{Plan, Row, point_name};

/// One slice of a sweep: the `index`-th (from 1) of `count`. Made by [`Shard::new`] or parsed
/// from `K/N`, so that 1 <= index <= count always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Most shards a sweep may be cut into.
    pub const MAX: usize = 100_000;

    /// The `index`-th (from 1) of `count` shards.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if index == 0 || index > count || count > Shard::MAX {
            return Err(format!(
                "shard {index} of {count} does not exist: expected K/N with 1 <= K <= N <= {}, e.g. 2/8",
                Shard::MAX
            ));
        }
        Ok(Shard { index, count })
    }

    /// Which shard this is, from 1.
    pub fn index(self) -> usize {
        self.index
    }

    /// How many shards the sweep is cut into.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether run `i` (its place in grid order) is this shard's.
    pub fn has(self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, 1 <= K <= N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("`{s}` is not a shard: expected K/N with 1 <= K <= N <= {}, e.g. 2/8", Shard::MAX);
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        Shard::new(index, count).map_err(|_| bad())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Reads the shards' CSVs (`(path, contents)`, in any order) back into every row of `plan`, in
/// grid order. Every run must be in exactly one file; a file made with other `--vary` or
/// `--seeds` is refused by its header, a damaged line with its file, line and column.
pub fn merge(plan: &Plan, files: &[(PathBuf, String)]) -> Result<Vec<Row>, String> {
    let runs = plan.runs();
    let keys: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, (values, seed))| {
            let mut key: Vec<String> = values.iter().map(|v| v.csv()).collect();
            key.push(seed.to_string());
            (key.join(","), i)
        })
        .collect();
    let expected_header = header(plan);
    let fields = plan.dims.len() + COLUMNS.len();
    let mut rows: Vec<Option<(Row, &Path, usize)>> = vec![None; runs.len()];
    for (path, text) in files {
        let at =
            |line: usize, column: usize, what: String| format!("{}:{line}:{column}: {what}", path.display());
        let mut lines = text.lines().enumerate().map(|(n, l)| (n + 1, l));
        match lines.next() {
            Some((_, h)) if h == expected_header => {}
            _ => {
                return Err(at(
                    1,
                    1,
                    format!(
                        "expected the header `{expected_header}`: merge with the --vary and --seeds \
                         the shards ran with"
                    ),
                ));
            }
        }
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != fields {
                return Err(at(
                    n,
                    1,
                    format!("expected {fields} comma-separated fields, found {}", cells.len()),
                ));
            }
            let key_len = plan.dims.len() + 1;
            let key = cells[..key_len].join(",");
            let Some(&i) = keys.get(&key) else {
                return Err(at(
                    n,
                    1,
                    format!("`{key}` is not a run of this sweep (its grid point and seed)"),
                ));
            };
            if let Some((_, other, other_line)) = &rows[i] {
                return Err(at(
                    n,
                    1,
                    format!("run `{key}` is also at {}:{other_line}: a shard given twice?", other.display()),
                ));
            }
            // Column of cell c, from 1: the cells before it and their commas.
            let column = |c: usize| cells[..c].iter().map(|x| x.len() + 1).sum::<usize>() + 1;
            let number = |c: usize| -> Result<u64, String> {
                cells[c].parse().map_err(|_| {
                    at(
                        n,
                        column(c),
                        format!("expected a whole number for {}, found `{}`", name(plan, c), cells[c]),
                    )
                })
            };
            let field = |name: &str| key_len + COLUMNS.iter().position(|c| *c == name).unwrap_or(0) - 1;
            let samples = number(field("latency_samples"))?;
            let latency = if samples == 0 {
                Spread::default()
            } else {
                Spread {
                    count: samples,
                    min_us: number(field("latency_min_us"))?,
                    max_us: number(field("latency_max_us"))?,
                    sum_us: number(field("latency_sum_us"))?,
                }
            };
            let expectations_hold = match cells[field("expectations")] {
                "pass" => true,
                "fail" => false,
                other => {
                    let c = field("expectations");
                    return Err(at(n, column(c), format!("expected `pass` or `fail`, found `{other}`")));
                }
            };
            let (values, seed) = &runs[i];
            let row = Row {
                values: values.clone(),
                seed: *seed,
                sent: number(field("sent"))?,
                delivered: number(field("delivered"))?,
                lost: number(field("lost"))?,
                duplicates: number(field("duplicates"))?,
                out_of_order: number(field("out_of_order"))?,
                latency,
                goodput_bps: number(field("goodput_bps"))?,
                retransmissions: number(field("retransmissions"))?,
                expectations_hold,
            };
            rows[i] = Some((row, path, n));
        }
    }
    let missing = rows.iter().filter(|r| r.is_none()).count();
    if let Some(first) = rows.iter().position(Option::is_none) {
        let (values, seed) = &runs[first];
        let point = point_name(&plan.dims, values);
        let point = if point.is_empty() { format!("seed={seed}") } else { format!("{point} seed={seed}") };
        return Err(format!(
            "the shards lack {missing} of the sweep's {} runs; the first is {point} (run {} in grid order): \
             a shard missing or not finished?",
            runs.len(),
            first + 1
        ));
    }
    Ok(rows.into_iter().flatten().map(|(row, _, _)| row).collect())
}

/// The name of field `c` of a CSV line.
fn name(plan: &Plan, c: usize) -> String {
    match plan.dims.get(c) {
        Some(d) => d.param.column(),
        None => COLUMNS.get(c - plan.dims.len()).map_or_else(String::new, |s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_deal_every_run_to_exactly_one() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard::new(2, 8).unwrap());
        assert!(Shard::new(0, 0).is_err() && Shard::new(3, 2).is_err());
        for bad in ["0/3", "4/3", "3", "a/3", "1/0", "1/100001", "-1/3"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected K/N"), "{bad}: {e}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::new(k, 3).unwrap()).collect();
        for i in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.has(i)).count(), 1, "run {i}");
        }
        assert!(shards[0].has(0) && shards[1].has(1) && shards[0].has(3));
    }
}
