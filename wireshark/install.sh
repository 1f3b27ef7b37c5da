#!/bin/sh
# Installs udplab's Wireshark dissector (a personal Lua plugin) and the `udplab` profile
# (colouring rules, columns, UDP checksum validation) for the current user, Linux or macOS:
#   sh wireshark/install.sh
# then in Wireshark: Edit > Configuration Profiles > udplab (or `wireshark -C udplab FILE`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
plugins="$HOME/.local/lib/wireshark/plugins"
profile="${XDG_CONFIG_HOME:-$HOME/.config}/wireshark/profiles/udplab"
mkdir -p "$plugins" "$profile"
cp "$here/udplab.lua" "$plugins/udplab.lua"
cp "$here/colorfilters" "$here/preferences" "$profile/"
echo "installed: $plugins/udplab.lua and the profile $profile"
