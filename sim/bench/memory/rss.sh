#!/usr/bin/env bash
# Max RSS of `udplab run` for every streamed output mode at growing run lengths: the numbers in
# README.md's "Speed and memory". An echo (a message every 1 ms, 1 ms each way; a client per
# million messages), so a run of N messages is 2N datagrams. Output goes to /dev/null, the
# capture to a temporary folder.
# usage: sim/bench/memory/rss.sh [DATAGRAMS...]   (default: 100000 1000000 10000000)
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -q -p udplab-cli
bin=target/release/udplab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 10000000)
printf '| datagrams | mode | max RSS (MB) | wall (s) |\n| --- | --- | --- | --- |\n'
for datagrams in "${sizes[@]}"; do
    messages=$((datagrams / 2))
    # A client sends at most 1 000 000 messages: more messages, more clients, one server.
    clients=$(((messages + 999999) / 1000000))
    each=$((messages / clients))
    file=$work/echo.toml
    {
        printf 'description = "Memory benchmark: %s echoed messages from %s client(s)."\n' "$messages" "$clients"
        printf 'seed = 1\nduration = "%ss"\n' "$((each / 1000 + 2))"
        printf '\n[[node]]\nname = "server"\nrole = "server"\nport = 3333\nreply = "echo"\n'
        for c in $(seq 1 "$clients"); do
            printf '\n[[node]]\nname = "c%s"\nrole = "client"\nserver = "server"\ncount = %s\ninterval = "1ms"\nsize = 32\n' "$c" "$each"
            printf '\n[[link]]\nbetween = ["c%s", "server"]\ndelay = "1ms"\n' "$c"
        done
    } > "$file"
    for mode in "--summary" "" "--json" "-q --pcap $work/run.pcapng" "--ladder --color never"; do
        # shellcheck disable=SC2086
        /usr/bin/time -v -o "$work/time" "$bin" run "$file" $mode --max-events 1000000000 > /dev/null
        rss=$(awk -F: '/Maximum resident set size/ {print $2}' "$work/time")
        wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$work/time")
        label=${mode:-"(timeline)"}
        label=${label//$work\//}
        printf '| %s | %s | %.1f | %s |\n' "$datagrams" "$label" "$(echo "$rss / 1024" | bc -l)" "$wall"
        rm -f "$work/run.pcapng"
    done
done
