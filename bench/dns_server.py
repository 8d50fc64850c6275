#!/usr/bin/env python3
"""A fixed-zone DNS server for `make bench`'s sender-check row: UDP on a
loopback address, answers at once from a table in memory, counts what it
answered. Python standard library only.

It has no upstream and no recursion: a name outside its table is NXDOMAIN
(a known name without the asked type: no data), both with the zone's SOA
in the authority section so a resolver can cache them (RFC 2308). Only
the TTL changes between phases (`ttl`, read for every answer): 0 for a
cold cache (a TTL-0 answer is not cached), 3600 for a warm one. The
records are small, so no answer needs TC and TCP; a query with anything
but one IN question in a standard QUERY gets FORMERR / NOTIMP.

  python3 bench/dns_server.py   serves the bench zone on 127.0.0.1 (a
                                free port, printed) until Ctrl-C
"""
import socket
import struct
import threading
import time

TYPE = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
CLASS_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
APEX = "test"  # RFC 2606: reserved, never delegated in the real DNS


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode("ascii")
            assert len(b) < 64, name
            out += bytes([len(b)]) + b
    return out + b"\0"


def txt(*strings):
    """TXT rdata: each string ≤ 255 bytes, as one character-string
    (long_txt splits a longer value)."""
    out = b""
    for s in strings:
        b = s.encode("ascii")
        assert len(b) < 256, s
        out += bytes([len(b)]) + b
    return ("TXT", out)


def long_txt(value):
    """TXT rdata for a value of any length, in 255-byte strings (a DKIM
    key record: the reader joins them)."""
    return txt(*[value[i:i + 255] for i in range(0, len(value), 255)] or [""])


def a(addr):
    return ("A", socket.inet_pton(socket.AF_INET, addr))


def aaaa(addr):
    return ("AAAA", socket.inet_pton(socket.AF_INET6, addr))


def mx(pref, host):
    return ("MX", struct.pack("!H", pref) + wire_name(host))


def ptr(host):
    return ("PTR", wire_name(host))


class ZoneServer:
    """ZoneServer({name: [rdata, ...]}, ttl).start() serves in a thread on
    host:port (port 0: the kernel picks one; see .port). .queries counts
    answered queries, .by_name per (name, type); .cpu is the serving
    thread's CPU seconds (time.thread_time) after its last answer, so it
    is not charged to the SMTP server it answers."""

    def __init__(self, zone, ttl=3600, host="127.0.0.1", port=0):
        self.ttl = ttl
        self.table = {}
        for name, rdatas in zone.items():
            for rtype, data in rdatas:
                self.table.setdefault((name.lower().rstrip("."), TYPE[rtype]), []).append(data)
        self.names = {name for name, _ in self.table}
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)  # how often the thread looks at .halt
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.errors = 0
        self.by_name = {}
        self.cpu = 0.0
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.serve, name="dns", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.halt.set()
        self.thread.join(5)
        self.sock.close()

    def add(self, zone):
        """More records ({name: [rdata, ...]}), e.g. keys made at run time
        (call while no query is in flight)."""
        for name, rdatas in zone.items():
            for rtype, data in rdatas:
                self.table.setdefault((name.lower().rstrip("."), TYPE[rtype]), []).append(data)
        self.names = {name for name, _ in self.table}

    def reset(self):
        """Counters to zero (call while no query is in flight)."""
        self.queries = self.errors = 0
        self.by_name = {}

    def serve(self):
        while not self.halt.is_set():
            try:
                packet, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            reply = self.answer(packet)
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    self.errors += 1
            self.cpu = time.thread_time()

    def soa(self, ttl):
        rdata = wire_name("ns." + APEX) + wire_name("hostmaster." + APEX) + \
            struct.pack("!IIIII", 1, 3600, 600, 86400, ttl)
        return wire_name(APEX) + struct.pack("!HHIH", TYPE["SOA"], CLASS_IN, ttl,
                                             len(rdata)) + rdata

    def answer(self, packet):
        """The response to one query packet (None: not a query, dropped)."""
        if len(packet) < 12:
            self.errors += 1
            return None
        qid, flags, qd = struct.unpack("!HHH", packet[:6])
        if flags & 0x8000:  # a response: never answer those
            self.errors += 1
            return None
        rd = flags & 0x0100

        def reply(rcode, question=b"", answers=(), authority=()):
            head = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | rcode,
                               1 if question else 0, len(answers), len(authority), 0)
            return head + question + b"".join(answers) + b"".join(authority)

        if (flags >> 11) & 0xF != 0:
            self.errors += 1
            return reply(NOTIMP)
        # The question: uncompressed labels (a query has nothing to point at).
        labels, pos = [], 12
        try:
            while True:
                n = packet[pos]
                pos += 1
                if n == 0:
                    break
                if n > 63:
                    raise ValueError("compressed or bad label")
                labels.append(packet[pos:pos + n].decode("ascii").lower())
                pos += n
            qtype, qclass = struct.unpack("!HH", packet[pos:pos + 4])
            pos += 4
        except (IndexError, ValueError, UnicodeDecodeError, struct.error):
            self.errors += 1
            return reply(FORMERR)
        if qd != 1 or qclass != CLASS_IN:
            self.errors += 1
            return reply(FORMERR)
        question = packet[12:pos]
        name = ".".join(labels)
        self.queries += 1
        key = (name, qtype)
        self.by_name[key] = self.by_name.get(key, 0) + 1
        ttl = self.ttl
        records = self.table.get(key)
        if records:
            # The owner name as a pointer to the question (offset 12).
            answers = [struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, ttl, len(d)) + d
                       for d in records]
            return reply(NOERROR, question, answers)
        rcode = NOERROR if name in self.names else NXDOMAIN
        return reply(rcode, question, authority=[self.soa(ttl)])


# The bench's sender domain: a realistic SPF shape, one include (so a
# check makes 2 TXT lookups), passing for the loopback clients.
SENDER_DOMAIN = "example.test"
SENDER_SPF = "v=spf1 include:_spf.example.test ~all"
INCLUDE_SPF = "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
# DMARC for the same domain (the DKIM row adds the keys at run time:
# bench/dkim_sign.py makes them fresh).
DMARC_RECORD = "v=DMARC1; p=reject"
BENCH_ZONE = {
    SENDER_DOMAIN: [txt(SENDER_SPF), mx(10, "mx.example.test")],
    "_spf.example.test": [txt(INCLUDE_SPF)],
    "mx.example.test": [a("127.0.0.1"), aaaa("::1")],
    "1.0.0.127.in-addr.arpa": [ptr("mx.example.test")],
    "_dmarc.example.test": [txt(DMARC_RECORD)],
}


if __name__ == "__main__":
    srv = ZoneServer(BENCH_ZONE).start()
    print(f"serving the bench zone on 127.0.0.1:{srv.port} (TTL {srv.ttl}); Ctrl-C stops",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
        print(f"{srv.queries} queries answered: {srv.by_name}")
