"""The test mail server (``tests/smtp_server.py``) in a process of its own, as a real
(remote) server would be: its processor time is then not the measured process's."""

from __future__ import annotations

import multiprocessing
from pathlib import Path


class ServerProcess:
    """``port`` and ``ca_file`` as the server's; ``received()`` counts and forgets what it got."""

    def __init__(self, folder: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(folder, child), daemon=True)
        self._process.start()
        if not self._control.poll(60):
            self._process.kill()
            raise RuntimeError("the mail server process did not start")
        self.port, ca_file = self._control.recv()
        self.ca_file = Path(ca_file)

    def received(self) -> int:
        """How many messages arrived since the last call (they are then dropped)."""
        self._control.send("received")
        return self._control.recv()

    def stop(self) -> None:
        self._control.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def _serve(folder: Path, control) -> None:
    from tests.smtp_server import SmtpTestServer

    server = SmtpTestServer(folder).start()
    control.send((server.port, str(server.ca_file)))
    while (command := control.recv()) != "stop":
        if command == "received":
            with server.handler.lock:
                count = len(server.received)
                server.received.clear()
            control.send(count)
    server.stop()
