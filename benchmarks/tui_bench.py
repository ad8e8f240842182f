"""The sending tab under load (run on demand): time to open it, and event-loop stalls while sending.

    .venv/bin/python benchmarks/tui_bench.py [--open 2000] [--send 500]

1. A period with OPEN invoices that can be mailed: how long the sending tab
   takes to appear with all its rows (Textual headless, 80x24).
2. A period with SEND invoices sent through the tab to a loopback aiosmtpd
   server with STARTTLS and AUTH, pacing off: the longest gap between two
   ticks of a 10 ms timer on the event loop while the batch runs (what an
   operator would feel as a frozen screen), with the median and the 99th
   percentile, and the longest garbage collection of each generation
   (wall and processor time). Prints figures; asserts nothing.

With --server-process the mail server runs in a process of its own, as a
real (remote) server would: the stalls are then the app's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_process import ServerProcess  # noqa: E402

from tests.smtp_server import PASSWORD, USERNAME, SmtpTestServer  # noqa: E402
from tuiapp.app import create_app  # noqa: E402
from tuiapp.db.database import db, open_database  # noqa: E402
from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, Structure  # noqa: E402
from tuiapp.mail import secrets  # noqa: E402


def build(path: Path, server: SmtpTestServer | ServerProcess, open_count: int, send_count: int) -> None:
    open_database(path)
    association = Association.get_solo()
    association.smtp_host, association.smtp_port, association.smtp_security = "127.0.0.1", server.port, "starttls"
    association.smtp_username, association.smtp_ca_file = USERNAME, str(server.ca_file)
    association.smtp_rate_per_minute = 0
    association.save()
    structure = Structure.create(code="BENCH", name="Foyer de mesure", sender_email="facturation@example.org")
    with db.atomic():
        for index in range(max(open_count, send_count)):
            resident = Resident.create(structure=structure, last_name=f"NOM{index:05d}", first_name="Prénom",
                                       email=f"r{index}@example.org")
            for month, wanted in ((10, open_count), (9, send_count)):
                if index < wanted:
                    invoice = Invoice.create(resident=resident, structure=structure, period_year=2024,
                                             period_month=month, number=f"B{month}-{index:05d}",
                                             issue_date=date(2024, month, 28), amount_ht="1752.00")
                    InvoiceLine.create(invoice=invoice, label="Hébergement", quantity=30, unit_price="58.40",
                                       amount="1752.00")
    db.close()


class StallMeter:
    """Ticks every 10 ms on the app's event loop; the delays are how late each tick came."""

    PERIOD = 0.01

    def __init__(self, app) -> None:
        self.app = app
        self.delays: list[float] = []

    def __enter__(self) -> StallMeter:
        self.last = time.perf_counter()
        self.timer = self.app.set_interval(self.PERIOD, self._tick)
        return self

    def _tick(self) -> None:
        now = time.perf_counter()
        self.delays.append(now - self.last - self.PERIOD)
        self.last = now

    def __exit__(self, *exc) -> None:
        self.timer.stop()

    @property
    def longest(self) -> float:
        return max(self.delays, default=0.0)


class GcMeter:
    """How long each garbage collection held the interpreter (and so the event loop)."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}

    def __enter__(self) -> GcMeter:
        import gc

        gc.callbacks.append(self._callback)
        return self

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = (time.perf_counter(), time.thread_time())
        elif hasattr(self, "_start"):
            wall, cpu = self._start
            self.pauses[info["generation"]].append((time.perf_counter() - wall, time.thread_time() - cpu))

    def __exit__(self, *exc) -> None:
        import gc

        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        parts = []
        for generation, pauses in self.pauses.items():
            longest = max(pauses, default=(0.0, 0.0))
            parts.append(f"generation {generation}: {len(pauses)}, longest {longest[0] * 1000:.0f} ms "
                         f"(CPU {longest[1] * 1000:.0f} ms)")
        return "; ".join(parts)


async def measure(path: Path, open_count: int, send_count: int) -> None:
    app = create_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        start = time.perf_counter()
        app.action_contributions()  # what the "c" key does
        while not app.screen.query("#invoices") or app.screen.query_one("#invoices").row_count == 0:
            await asyncio.sleep(0.001)
        print(f"Édition des contributions with {open_count} invoices: first rows shown after "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")
        await pilot.pause()
        start = time.perf_counter()
        app.screen.action_open_sending()  # what the "e" key does
        while not app.screen.query("SendingPanel DataTable") or app.screen.query_one(
                "SendingPanel DataTable").row_count == 0:
            await asyncio.sleep(0.001)
        shown = time.perf_counter() - start
        panel = app.screen.query_one("SendingPanel")
        with StallMeter(app) as loading:
            while not panel.loaded:
                await asyncio.sleep(0.005)
        loaded = time.perf_counter() - start
        print(f"sending tab with {open_count} invoices: first rows shown after {shown * 1000:.0f} ms, "
              f"all rows after {loaded * 1000:.0f} ms (longest stall meanwhile {loading.longest * 1000:.0f} ms)")

        await pilot.press("ctrl+w", "minus", "e")  # septembre: the batch to send
        await pilot.pause()
        panel = app.screen.query_one("SendingPanel")
        with StallMeter(app) as sending, GcMeter() as collections:
            start = time.perf_counter()
            await pilot.press("e", "o")
            await pilot.pause()
            while panel.sending:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - start
        delays = sorted(sending.delays)
        print(f"batch of {send_count} through the tab: {elapsed:.1f} s ({send_count / elapsed:.1f} messages/s)")
        print(f"event-loop stall while sending: longest {delays[-1] * 1000:.0f} ms, "
              f"99th percentile {delays[int(len(delays) * 0.99)] * 1000:.0f} ms, "
              f"median {statistics.median(delays) * 1000:.1f} ms")
        print(f"garbage collections while sending: {collections.summary()}")
        sent = sum(1 for state in panel.states.values() if state == "sent")
        assert sent == send_count, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=2000)
    parser.add_argument("--send", type=int, default=500)
    parser.add_argument("--server-process", action="store_true", help="the mail server in a process of its own")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(folder / "keyring.cfg")
    keyring.set_keyring(backend)
    server = ServerProcess(folder) if args.server_process else SmtpTestServer(folder).start()
    try:
        build(folder / "bench.db", server, args.open, args.send)
        secrets.set_password("127.0.0.1", USERNAME, PASSWORD)
        asyncio.run(measure(folder / "bench.db", args.open, args.send))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
