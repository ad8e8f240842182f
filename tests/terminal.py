"""The real app in a real terminal: a subprocess in a pty at 80x24, read back through a terminal emulator.

Pilot hands key events straight to the app; here the keys go through the pty,
the driver's input thread and Textual's key parser, as they do in real use,
and arrive at the pace they are sent (several may arrive in one read).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pyte

COLUMNS, LINES = 80, 24

#: What an xterm sends for each key the tests press (Textual's key names).
KEYS = {
    "enter": "\r",
    "tab": "\t",
    "shift+tab": "\x1b[Z",
    "escape": "\x1b",
    "backspace": "\x7f",
    "end": "\x1b[F",
    "home": "\x1b[H",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "ctrl+s": "\x13",
    "ctrl+q": "\x11",
}
#: ``Terminal.play`` holds the keys pressed from HOLD and hands them over together at RELEASE.
HOLD, RELEASE = "<hold>", "<release>"
# After a lone ESC the parser waits this long for the rest of a sequence (Textual's ESCDELAY is 100 ms).
AFTER_ESCAPE = 0.3


#: Textual asks whether the terminal draws a frame at once (synchronized output, mode 2026) and, when it
#: does, brackets each frame. The emulator then shows whole frames only: a frame read in two pieces
#: would otherwise be seen half drawn (a title that is being redrawn looks gone).
ASKS_SYNC, SAYS_SYNC = "\x1b[?2026$p", "\x1b[?2026;2$y"
SYNC_START, SYNC_END = "\x1b[?2026h", "\x1b[?2026l"


def whole_frames(text: str) -> tuple[str, str]:
    """``text`` cut after its last whole frame: what can be drawn now, and what waits for the rest."""
    start = text.rfind(SYNC_START)
    if start != -1 and text.find(SYNC_END, start) == -1:
        return text[:start], text[start:]  # a frame begun, not ended
    for keep in range(len(SYNC_START) - 1, 0, -1):  # a frame's start cut in two
        if text.endswith(SYNC_START[:keep]):
            return text[:-keep], text[-keep:]
    return text, ""


class Terminal:
    """``tuiapp`` running in a pty; ``text()`` is what the operator would see."""

    def __init__(self, args: list[str], *, cwd: Path, cpus: set[int] | None = None) -> None:
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
        self._screen = pyte.Screen(COLUMNS, LINES)
        self._stream = pyte.Stream(self._screen)
        self._lock = threading.Lock()
        self.child = pexpect.spawn(
            sys.executable, ["-m", "tuiapp", *args], cwd=str(cwd), env=env,
            dimensions=(LINES, COLUMNS), encoding="utf-8", codec_errors="replace",
        )
        # pexpect sleeps 50 ms before each send by default: the keys would never come closer
        # together than that, whatever the timetable of ``play``.
        self.child.delaybeforesend = None
        if cpus:
            os.sched_setaffinity(self.child.pid, cpus)  # its threads, started later, inherit it
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = ""
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                return
            if ASKS_SYNC in data:  # as a modern terminal: "I draw whole frames"
                self.child.send(SAYS_SYNC)
            whole, pending = whole_frames(pending + data)
            with self._lock:
                self._stream.feed(whole)

    def text(self) -> str:
        with self._lock:
            return "\n".join(line.rstrip() for line in self._screen.display)

    def press(self, *keys: str, gap: float = 0.05) -> None:
        """Send keys by name (``KEYS``) or as the characters themselves, ``gap`` seconds apart."""
        for key in keys:
            self.child.send(KEYS.get(key, key))
            time.sleep(AFTER_ESCAPE if key == "escape" else gap)

    def play(self, keys: Iterable[tuple[str, float]]) -> None:
        """Press each key (a name or a character) ``gap`` seconds after the one before, on a fixed timetable.

        A key is due at the time the timetable says: when this process wakes up
        late, the keys that are due go out together. Between ``HOLD`` and
        ``RELEASE`` the keys are pressed on time but reach the app together at
        ``RELEASE``, as they do on a loaded machine or a slow link, where a
        terminal hands over in one read the keys pressed while the app was not
        reading.
        """
        due = time.monotonic()
        held: list[str] | None = None
        for key, gap in keys:
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if key == HOLD:
                held = []
            elif key == RELEASE:
                self.child.send("".join(held or ()))
                held = None
            elif held is not None:
                held.append(KEYS.get(key, key))
            else:
                self.child.send(KEYS.get(key, key))
            due += max(gap, AFTER_ESCAPE) if key == "escape" else gap
        if held:
            self.child.send("".join(held))

    def wait_for(self, shown: str | None = None, *, gone: str | None = None, timeout: float = 30) -> None:
        """Wait until ``shown`` is on screen and ``gone`` is not; fail with the screen if they never are."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if (shown is None or shown in screen) and (gone is None or gone not in screen):
                return
            if not self.child.isalive():
                break
            time.sleep(0.05)
        raise AssertionError(f"waited for {shown!r} (and {gone!r} gone); the screen:\n{self.text()}")

    def wait_exit(self, timeout: float = 15) -> int | None:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.child.isalive():
            raise AssertionError(f"the app did not exit; the screen:\n{self.text()}")
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self._reader.join(timeout=2)


@contextmanager
def app_in_terminal(db: Path, *, cwd: Path, cpus: set[int] | None = None) -> Iterator[Terminal]:
    terminal = Terminal(["--db", str(db)], cwd=cwd, cpus=cpus)
    try:
        yield terminal
    finally:
        terminal.close()


def one_processor() -> set[int] | None:
    """One processor for the app and the load to share (``None`` where affinity cannot be set):
    on a machine with many processors, load spread over all of them would leave the app untouched."""
    return {min(os.sched_getaffinity(0))} if hasattr(os, "sched_setaffinity") else None


@contextmanager
def busy_processor(cpus: set[int] | None, count: int = 2, seconds: float = 120) -> Iterator[None]:
    """``count`` CPU-bound processes on ``cpus``, as on a busy shared server; each ends by itself after ``seconds``."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    processes = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]
    try:
        for process in processes:
            if cpus:
                os.sched_setaffinity(process.pid, cpus)
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
