#!/usr/bin/env python3
"""What takes the bytes of an ESP32 image: the loadable sections' bytes split by owner.

usage: .ci/esp32-size-report.py ELF

Owners: each Rust crate (by the first path segment of the demangled symbol, or the type an
`impl` is for), "C and unmangled symbols" for the non-Rust symbols (in a radio image almost
all Espressif's precompiled Wi-Fi/PHY libraries, with the unnamed bytes of the `.wifi` sections;
without the radio, the runtime's entry points and memcpy and the like), and "unnamed" for the rest no
symbol names (string literals, the embedded scenarios' JSON, alignment padding). Only sections the image loads count (the ones .ci/esp32-size.sh sums), so
the total equals that script's. Needs binutils (nm, readelf) with Rust demangling (nm -C).
"""

import collections
import re
import subprocess
import sys

LOADED = re.compile(r"^\.(trap|rwtext|data|flash\.appdesc|rodata|text)(\.wifi)?$")
CRATE = re.compile(r"^<?(?:&(?:mut )?)?(?:dyn )?([A-Za-z_][A-Za-z0-9_]*)(?:::|<|>| |$)")
TRAIT = re.compile(r" as ([A-Za-z_][A-Za-z0-9_]*)::")


def sections(elf):
    """(name, start, size) of every loaded section."""
    out = subprocess.run(["readelf", "-SW", elf], check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m and LOADED.match(m.group(1)):
            found.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    return found


def owner(name):
    if "::" not in name and not name.startswith("<"):
        return "C and unmangled symbols" if not name.startswith(".L") else "unnamed"
    m = CRATE.match(name)
    crate = m.group(1) if m else "?"
    if len(crate) == 1 and crate.isupper():
        # A blanket impl (`<&T as core::fmt::Debug>`): the trait's crate.
        t = TRAIT.search(name)
        crate = t.group(1) if t else "?"
    # Primitive types' impls (`<u32 as core::fmt::Display>`, `char::...`) are core's.
    if crate in {"u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize", "char",
                 "str", "bool", "f32", "f64"}:
        crate = "core"
    return crate


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    elf = sys.argv[1]
    secs = sections(elf)
    total = sum(size for _, _, size in secs)
    out = subprocess.run(["nm", "-S", "-C", elf], check=True, capture_output=True, text=True).stdout
    by_owner = collections.Counter()
    seen = set()
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) \S (.*)$", line)
        if not m:
            continue  # symbols without a size (labels, section markers)
        addr, size, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        if (addr, size) in seen:
            continue  # aliases of one body
        if any(start <= addr < start + length for _, start, length in secs):
            seen.add((addr, size))
            by_owner[owner(name)] += size
    # What no symbol covers: in the Wi-Fi sections, the blobs' constant data; elsewhere string
    # literals and padding.
    covered = collections.Counter()
    for addr, size in seen:
        for sec, start, length in secs:
            if start <= addr < start + length:
                covered[sec] += size
    for sec, _, length in secs:
        gap = length - covered[sec]
        by_owner["C and unmangled symbols" if sec.endswith(".wifi") else "unnamed"] += gap
    print(f"{'bytes':>8}  {'share':>6}  owner")
    for name, size in by_owner.most_common():
        if size >= 1024:
            print(f"{size:8d}  {100 * size / total:5.1f}%  {name}")
    small = sum(s for s in by_owner.values() if s < 1024)
    print(f"{small:8d}  {100 * small / total:5.1f}%  (owners under 1 KiB each)")
    print(f"{total:8d}  100.0%  total loaded ({', '.join(n for n, _, _ in secs)})")


if __name__ == "__main__":
    main()
