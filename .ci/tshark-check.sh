#!/usr/bin/env bash
# Opens the pcapng capture of every lesson with tshark (Wireshark's command line), as a student
# would open it in Wireshark, and checks for each one:
#   - tshark reads it without a warning or error (a cut-short or damaged file is reported);
#   - no malformed frame, and no expert-info warning or error;
#   - one frame per datagram offered to a link plus one per copy that came out of a link: the
#     number of Offer and Arrive events in the run's trace (`udplab run --json`);
#   - every frame carries a comment, and as many say LOST as the trace has lost datagrams.
# Installs tshark (Debian) when it is missing. Needs the release binary: `cargo build --release
# -p udplab-cli` (.ci/run builds it before calling this).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=./target/release/udplab
if [ ! -x "$bin" ]; then
    echo "tshark-check: $bin is missing: run 'cargo build --release -p udplab-cli' first" >&2
    exit 1
fi
if ! command -v tshark >/dev/null 2>&1; then
    echo "tshark-check: installing tshark"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tshark
fi
tshark --version | head -n 1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# tshark's own chatter that is not about the file.
quiet_stderr() { grep -v -e '^Running as user "root"' "$1" || true; }

failed=0
fail() {
    printf 'tshark-check: %s: %s\n' "$1" "$2" >&2
    failed=1
}

checked=0
for f in scenarios/*.toml; do
    name=$(basename "$f" .toml)
    pcap="$out/$name.pcapng"
    # The same run twice: the JSON trace to count events, the capture to check.
    "$bin" run "$f" --json > "$out/$name.json"
    "$bin" run "$f" --pcap "$pcap" --quiet

    offers=$(grep -c '"event": "offer"' "$out/$name.json" || true)
    arrivals=$(grep -c '"event": "arrive"' "$out/$name.json" || true)
    lost=$(grep -c '"fate": "lost"' "$out/$name.json" || true)
    want=$((offers + arrivals))

    # Read the whole file: any complaint on stderr is a failure.
    tshark -r "$pcap" -q 2> "$out/read.err" > /dev/null || fail "$name" "tshark cannot read the capture"
    complaints=$(quiet_stderr "$out/read.err")
    [ -z "$complaints" ] || fail "$name" "tshark says: $complaints"

    frames=$(tshark -r "$pcap" -T fields -e frame.number 2> /dev/null | wc -l)
    [ "$frames" -eq "$want" ] ||
        fail "$name" "$frames frames, but the trace has $offers offers and $arrivals arrivals ($want)"

    malformed=$(tshark -r "$pcap" -Y '_ws.malformed' 2> /dev/null | wc -l)
    [ "$malformed" -eq 0 ] || fail "$name" "$malformed malformed frame(s)"

    expert=$(tshark -r "$pcap" -q -z expert,warn 2> /dev/null | grep -E '^(Errors|Warnings) \(' || true)
    [ -z "$expert" ] || fail "$name" "expert info: $(echo "$expert" | tr '\n' ' ')"

    commented=$(tshark -r "$pcap" -Y 'frame.comment' 2> /dev/null | wc -l)
    [ "$commented" -eq "$frames" ] || fail "$name" "$commented of $frames frames have a comment"
    lost_frames=$(tshark -r "$pcap" -Y 'frame.comment contains ": LOST, "' 2> /dev/null | wc -l)
    [ "$lost_frames" -eq "$lost" ] || fail "$name" "$lost_frames frames say LOST, the trace lost $lost"

    printf '%s: %d frames (%d offered, %d arrived, %d lost), all commented, no warnings\n' \
        "$name" "$frames" "$offers" "$arrivals" "$lost"
    checked=$((checked + 1))
done

[ "$checked" -gt 0 ] || fail "scenarios" "no lesson found"
if [ "$failed" -ne 0 ]; then
    echo "tshark-check: FAILED" >&2
    exit 1
fi
echo "tshark-check: $checked captures open cleanly in tshark"
