"""aiosmtpd as a bench peer: receives on 127.0.0.1:PORT and stores every
message durably in SPOOL/<local part>/ the way tinymx does: create in tmp/
(O_EXCL), write (CRLF → LF), fsync, close, link into new/, fsync new/,
unlink tmp/, and only then 250. The handler is synchronous, as in
aiosmtpd's own examples: the event loop waits for each fsync.

Usage: PYTHON aiosmtpd_maildir.py PORT SPOOL   (run with bench/.venv's Python)
Prints "ready" once listening; SIGTERM stops it.
"""
import asyncio
import itertools
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP

HOST = "aiosmtpd.bench"


class MaildirHandler:
    def __init__(self, root):
        self.root = root
        self.dirs = {}  # mailbox -> (tmp fd, new fd)
        self.seq = itertools.count()
        self.pid = os.getpid()

    def mailbox(self, name):
        if name not in self.dirs:
            box = os.path.join(self.root, name)
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(box, sub), mode=0o700, exist_ok=True)
            self.dirs[name] = tuple(os.open(os.path.join(box, sub), os.O_RDONLY | os.O_DIRECTORY)
                                    for sub in ("tmp", "new"))
        return self.dirs[name]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rpartition("@")[0].lower()
        if not local or "/" in local or local.startswith("."):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = (f"Return-Path: <{envelope.mail_from}>\n".encode()
                + envelope.original_content.replace(b"\r\n", b"\n"))
        for rcpt in envelope.rcpt_tos:
            tmp, new = self.mailbox(rcpt.rpartition("@")[0].lower())
            now = time.time()
            name = f"{int(now)}.M{int(now % 1 * 1e6)}P{self.pid}Q{next(self.seq)}.{HOST}"
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=tmp)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(name, name, src_dir_fd=tmp, dst_dir_fd=new)
            os.fsync(new)
            os.unlink(name, dir_fd=tmp)
        return "250 2.0.0 OK stored"


def main():
    port, spool = int(sys.argv[1]), sys.argv[2]
    os.makedirs(spool, mode=0o700, exist_ok=True)
    handler = MaildirHandler(spool)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname=HOST, data_size_limit=20 << 20, loop=loop),
        "127.0.0.1", port, backlog=1024))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    print("ready", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
