#!/usr/bin/env python3
"""Writes star-100.toml and star-1000.toml: N-1 clients at 10 Hz to one echo server for 60 s.

The engine's classroom-scale measurements (sim/bench/README.md) run these files."""

HEADER = '''# A classroom star for measuring the engine at scale: {c} clients each send a numbered datagram
# to one echo server ten times a second for a minute (doc: sim/bench/README.md). Every link is
# a default (perfect) one. Regenerate with sim/bench/scenarios/star.py.
description = "{c} clients at 10 Hz to one echo server for 60 s, over perfect links."
seed = 1
duration = "60s"

[[node]]
name = "server"
role = "server"
port = 3333
reply = "echo"
'''

CLIENT = '''
[[node]]
name = "c{i}"
role = "client"
server = "server"
count = 600
interval = "100ms"
'''

for n in (100, 1000):
    text = HEADER.format(c=n - 1) + "".join(CLIENT.format(i=i) for i in range(1, n))
    with open(f"star-{n}.toml", "w") as f:
        f.write(text)
