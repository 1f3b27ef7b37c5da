# A classroom UDP echo server, as students write it for an ESP32 board in MicroPython or for
# the laptop in Python: bind, then recvfrom and sendto in a loop, forever.
#
#   python3 udp_server.py [PORT]
#
# Under `udplab tap --firmware laptop --exec board='python3 udp_server.py'` the firmware is the
# client and this server answers it through the scenario's links; udplab stops it at the end.
import socket
import sys

try:
    import os
    getenv = os.getenv
except (ImportError, AttributeError):
    def getenv(name, default=None):
        return default

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(getenv("UDPLAB_PORT", "3333"))

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(socket.getaddrinfo("0.0.0.0", PORT)[0][-1])
print("listening on UDP port %d" % PORT)



def sender_ip(sender):
    # CPython and MicroPython on a board give (ip, port); MicroPython's Unix port gives the
    # raw sockaddr bytes, which sendto takes back as they are and socket.sockaddr unpacks.
    if isinstance(sender, bytes):
        ip = socket.sockaddr(sender)[1]
        return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])
    return sender[0]


while True:
    data, sender = s.recvfrom(2048)
    print("from %s: %d bytes" % (sender_ip(sender), len(data)))
    s.sendto(data, sender)
