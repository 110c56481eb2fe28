"""A name server for benchmarks on loopback: answers `_xmpp-server._tcp.DOMAIN` SRV queries for the domains given
(target 127.0.0.1, the given port) and NXDOMAIN for anything else, so ejabberd finds its peer without real DNS.

usage: python3 srv-responder.py PORT DOMAIN=S2SPORT [DOMAIN=S2SPORT ...]
"""
import socket
import struct
import sys

port = int(sys.argv[1])
places = {}
for entry in sys.argv[2:]:
    domain, s2s_port = entry.split("=")
    places[f"_xmpp-server._tcp.{domain}".lower()] = int(s2s_port)

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", port))
target = b"".join(bytes([len(label)]) + label for label in b"127.0.0.1".split(b".")) + b"\x00"
while True:
    query, sender = server.recvfrom(512)
    if len(query) < 17:
        continue
    labels, offset = [], 12
    while offset < len(query) and query[offset] != 0:
        length = query[offset]
        labels.append(query[offset + 1:offset + 1 + length].decode(errors="replace"))
        offset += 1 + length
    question_end = offset + 5
    qtype = struct.unpack(">H", query[offset + 1:offset + 3])[0] if offset + 3 <= len(query) else 0
    name = ".".join(labels).lower()
    found = places.get(name) if qtype == 33 else None
    header = query[:2] + struct.pack(">HHHHH", 0x8180 if found else 0x8183, 1, 1 if found else 0, 0, 0)
    answer = b""
    if found:
        data = struct.pack(">HHH", 0, 0, found) + target
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(data)) + data
    server.sendto(header + query[12:question_end] + answer, sender)
