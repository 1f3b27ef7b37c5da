#!/usr/bin/env bash
# What a tagged release carries, built the same way by the release workflow and by the tests
# (sim/cli/tests/release.rs), so the bundles a class downloads are the ones CI has opened:
#
#   scripts/release.sh binary BIN NAME OUTDIR   OUTDIR/NAME.tar.gz (or .zip for a .exe): the
#       binary, the README, the lessons' scenarios, the classroom programs, the Wireshark files
#   scripts/release.sh lessons BIN NAME OUTDIR  OUTDIR/NAME.zip: every lesson's HTML report,
#       capture and SVG ladder, rendered by BIN, with the guide and the Wireshark files
#
# Nothing outside OUTDIR is written; a failing step leaves no bundle behind.
set -euo pipefail
cd "$(dirname "$0")/.."

# Git Bash on the Windows runners has 7-Zip rather than zip.
archive() { # archive NAME.zip DIR, in the current directory
    if command -v zip >/dev/null; then zip -qr "$1" "$2"; else 7z a -bd "$1" "$2" >/dev/null; fi
}

usage() { echo "usage: $0 binary|lessons BIN NAME OUTDIR" >&2; exit 2; }
[ $# -eq 4 ] || usage
what=$1 bin=$2 name=$3 out=$4
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir="$work/$name"
mkdir "$dir"

case "$what" in
binary)
    cp "$bin" README.md "$dir/"
    mkdir -p "$dir/examples"
    cp -r scenarios wireshark "$dir/"
    cp -r examples/classroom "$dir/examples/"
    cp docs/lessons.md "$dir/"
    case "$bin" in
    *.exe) (cd "$work" && archive "$name.zip" "$name") && mv "$work/$name.zip" "$out/" ;;
    *) tar -C "$work" -czf "$work/$name.tar.gz" "$name" && mv "$work/$name.tar.gz" "$out/" ;;
    esac
    ;;
lessons)
    for f in scenarios/*.toml; do
        n=$(basename "$f" .toml)
        "$bin" run "$f" --summary --html "$dir/$n.html" --pcap "$dir/$n.pcapng" --svg "$dir/$n.svg" >/dev/null
    done
    cp docs/lessons.md "$dir/"
    cp -r wireshark "$dir/"
    (cd "$work" && archive "$name.zip" "$name") && mv "$work/$name.zip" "$out/"
    ;;
*) usage ;;
esac
echo "wrote $(ls "$out"/"$name".* | head -1)"
