#!/usr/bin/env bash
# Runs every fuzz target (fuzz/README.md) for a bounded time on the nightly toolchain. A crash,
# hang or out-of-memory input is copied into fuzz/regressions/<target>/, where stable
# `cargo test -p udplab-fuzz` replays it from then on; the script then says what to commit and
# fails. Usage: bash .ci/fuzz.sh [TARGET...]; FUZZ_SECONDS (default 60) is the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario wire app_receive capture)
cargo_fuzz_version=0.13.2

# Nothing installed by hand is assumed: nightly (for -Z sanitizer flags) and cargo-fuzz, pinned.
# RUSTUP_AUTO_INSTALL=0 on these machines, so the toolchain is installed explicitly.
rustup toolchain list | grep -q '^nightly-' || rustup toolchain install nightly --profile minimal
rustup component add --toolchain nightly rustfmt clippy
if ! cargo +nightly fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $cargo_fuzz_version"; then
    cargo +nightly install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

cd fuzz
cargo +nightly fmt -- --check
cargo +nightly clippy --all-targets -- -D warnings
# No sanitizer: udplab and its dependencies are safe Rust, so what the fuzzer hunts is panics
# (debug assertions on, so overflows too), hangs and runaway memory; without ASan it runs 2-3x
# more inputs in the same time and needs no std rebuild.
cargo +nightly fuzz build --sanitizer none
failed=()
for target in "${targets[@]}"; do
    seeds=(seeds/"$target")
    [ "$target" != scenario ] || seeds+=(../scenarios)
    mkdir -p corpus/"$target" artifacts/"$target"
    before=$(mktemp)
    ls artifacts/"$target" > "$before"
    echo "fuzz: $target for ${seconds}s"
    # -timeout: an input that runs 10 s is a hang (a normal one takes a millisecond or less).
    if cargo +nightly fuzz run --sanitizer none "$target" corpus/"$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 2> "artifacts/$target.log"; then
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)|DONE' "artifacts/$target.log" || true
    else
        tail -n 60 "artifacts/$target.log"
        found=$(ls artifacts/"$target" | grep -vxF -f "$before" || true)
        [ -n "$found" ] || found=$(ls -t artifacts/"$target" | head -n 1)
        for name in $found; do
            cp "artifacts/$target/$name" "regressions/$target/$name"
            failed+=("fuzz/regressions/$target/$name")
        done
        [ -n "$found" ] || failed+=("$target (no artifact: see fuzz/artifacts/$target.log)")
    fi
    rm -f "$before"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo >&2
    echo "fuzzing found inputs that fail; they are now in the working tree:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    echo "reproduce on stable: cargo test -p udplab-fuzz --test replay" >&2
    echo "fix the bug, then commit them: git add fuzz/regressions/ (see fuzz/README.md)" >&2
    exit 1
fi
