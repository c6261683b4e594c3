"""A fast SMTP sink for the send benchmark, in its own process: speaks just enough SMTP (EHLO,
MAIL, RCPT, DATA, RSET, NOOP, QUIT) to take messages on many connections and count them, so the
benchmark measures guanxi and not the server (an aiosmtpd sink tops out near 400 messages/s)."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from multiprocessing.sharedctypes import Synchronized
from typing import Any

REPLIES = {
    b"EHLO": b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
    b"QUIT": b"221 bye\r\n",
}


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: Any) -> None:
    writer.write(b"220 sink ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            with count.get_lock():
                count.value += 1
            writer.write(b"250 OK queued\r\n")
        else:
            writer.write(REPLIES.get(verb, b"250 OK\r\n"))
            if verb == b"QUIT":
                break
        await writer.drain()
    writer.close()


def _serve(sock: socket.socket, count: Any) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _session(r, w, count), sock=sock, limit=2**20
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Sink:
    """``with Sink() as sink``: a sink process on ``sink.port``; ``sink.count`` messages taken."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port: int = self.sock.getsockname()[1]
        self._count: Synchronized[int] = multiprocessing.Value("q", 0)  # type: ignore[assignment]
        self.proc = multiprocessing.Process(
            target=_serve, args=(self.sock, self._count), daemon=True
        )

    @property
    def count(self) -> int:
        return int(self._count.value)

    def __enter__(self) -> Sink:
        self.proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.join()
        self.sock.close()
