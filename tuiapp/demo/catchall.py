"""The demo's mail server: accepts everything on the loopback, delivers nothing.

Each message is written as an ``.eml`` file in a folder (which any mail reader
opens), so that the demo sends for real without ever reaching anybody.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import time
from pathlib import Path

HOST = "127.0.0.1"


class EmlFolderHandler:
    """aiosmtpd handler: one .eml file per message, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sequence = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{os.getpid()}-{next(self._sequence):05d}.eml"
        header = (
            f"X-Demo-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Demo-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        partial = self.folder / (name + ".part")
        partial.write_bytes(header + envelope.original_content)
        partial.replace(self.folder / name)
        return "250 2.0.0 Message enregistré (serveur de démonstration)"


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether a server listens on the port. The probe binds as the server will (asyncio's
    ``create_server`` sets SO_REUSEADDR on Unix): the connections a demo that just quit left
    in TIME_WAIT do not count, else the port looked taken for a minute after it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def start_catchall(folder: Path, port: int, host: str = HOST):
    """Start the server in a background thread; returns its controller, or ``None``
    when the port is already taken (by another demo running on this machine)."""
    from aiosmtpd.controller import Controller

    if port_in_use(port, host):
        return None
    controller = Controller(EmlFolderHandler(folder), hostname=host, port=port)
    controller.start()
    return controller
