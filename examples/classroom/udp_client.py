# A classroom UDP client, as students write it for an ESP32 board in MicroPython or for the
# laptop in Python: socket(AF_INET, SOCK_DGRAM), sendto, recvfrom with a timeout. It runs
# unchanged on the board, under CPython and under MicroPython's Unix port.
#
#   python3 udp_client.py [SERVER_IP [PORT [COUNT]]]
#
# Under `udplab tap --exec laptop='python3 udp_client.py'` the server is the firmware, reached
# through the scenario's links: udplab says where in UDPLAB_FIRMWARE_ADDR and _PORT.
import socket
import sys

try:
    import os
    getenv = os.getenv
except (ImportError, AttributeError):  # MicroPython on a board has no environment
    def getenv(name, default=None):
        return default

args = sys.argv[1:]
SERVER_IP = args[0] if len(args) > 0 else getenv("UDPLAB_FIRMWARE_ADDR", "192.168.4.1")
PORT = int(args[1]) if len(args) > 1 else int(getenv("UDPLAB_FIRMWARE_PORT", "3333"))
COUNT = int(args[2]) if len(args) > 2 else 10

# A fixed local port, as board examples often bind: the same program then sends the same
# datagrams every run, and udplab gives them the same fates every run.
LOCAL_PORT = int(getenv("UDPLAB_PORT", "0"))

addr = socket.getaddrinfo(SERVER_IP, PORT)[0][-1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(socket.getaddrinfo("0.0.0.0", LOCAL_PORT)[0][-1])
s.settimeout(0.5)

replies = 0
stale = 0
for i in range(COUNT):
    message = "hello %d" % i
    s.sendto(message.encode(), addr)
    try:
        data, sender = s.recvfrom(1024)
        if data == message.encode():
            replies += 1
            print("sent %r, reply %r" % (message, data.decode()))
        else:
            # A late, duplicated or reordered reply to another message: UDP does not say.
            stale += 1
            print("sent %r, but the reply was %r" % (message, data))
    except OSError:  # socket.timeout is an OSError; MicroPython raises OSError(ETIMEDOUT)
        print("sent %r, no reply within 0.5 s (lost?)" % message)

print("%d sent, %d replies, %d without a reply, %d replies to another message"
      % (COUNT, replies, COUNT - replies - stale, stale))
s.close()
