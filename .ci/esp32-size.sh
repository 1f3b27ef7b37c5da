#!/usr/bin/env bash
# Fails when the ESP32 app image grows past its budget (README.md, "ESP32").
# Image size = the bytes the ELF's loadable segments put in the image (sum of PT_LOAD FileSiz),
# which is what espflash writes to flash, give or take segment headers and padding.
# usage: .ci/esp32-size.sh ELF [BUDGET_BYTES]
set -euo pipefail
elf=$1
# The lesson image (no radio): 512 KiB. Radio images (`--features radio`) pass their own,
# 704 KiB (firmware/esp32/README.md, "Size budget").
budget=${2:-524288}
total=0
while read -r type _off _virt _phys filesz _rest; do
    [ "$type" = "LOAD" ] || continue
    total=$((total + filesz))
done < <(readelf -lW "$elf")
# Static RAM: initialised data, zeroed data and code copied to RAM (the *_dummy sections only
# reserve address space).
ram=$(size -A "$elf" | awk '$1 !~ /dummy/ && $1 ~ /^\.(data|bss|noinit|rwtext|trap)/ {s += $2} END {print s+0}')
printf 'ESP32 image %s: %d bytes in loadable segments (budget %d), %d bytes of static RAM sections\n' \
    "$elf" "$total" "$budget" "$ram"
if [ "$total" -gt "$budget" ]; then
    echo "FAIL: the image is $((total - budget)) bytes over its budget" >&2
    exit 1
fi
