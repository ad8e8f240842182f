"""The real ``tuiapp`` command run in the test process: ``tuiapp.cli.main`` with its own
standard streams, environment and working directory, all given back afterwards.

Starting Python and importing tuiapp costs a quarter of a second of CPU per process; a test that
needs nothing of a separate process (no concurrency, no signal, no other Unix user, no check of
the interpreter's own exit) runs the command here. What ``main`` lets escape (a traceback in a
real run) propagates: the test fails with it.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import getpass
import io
import itertools
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

#: Seconds a command may run in the test process (a subprocess run had a timeout of 60 to 180 s).
TIMEOUT = 180


@dataclass
class CliResult:
    """What ``subprocess.run(..., capture_output=True, text=True)`` gives back."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = field(repr=False, default=b"")
    stderr_bytes: bytes = field(repr=False, default=b"")


def run_cli(*args: str | os.PathLike, stdin: str | None = None, env: Mapping[str, str | None] | None = None,
            cwd: Path | str | None = None) -> CliResult:
    """``tuiapp ARGS`` in this process. ``stdin``: the text it reads (none: an empty input, like
    /dev/null). ``env``: variables set for the call (a value of None unsets it); the rest of the
    environment is the test's, as for a subprocess started with ``{**os.environ, ...}``.
    ``cwd``: its working directory."""
    from tuiapp.cli import main

    argv = [os.fspath(arg) if isinstance(arg, os.PathLike) else str(arg) for arg in args]  # a base: its path or URL
    out, err = _capture(), _capture()
    with _environment(env), contextlib.chdir(cwd or os.getcwd()), _own_database(), _signal_handlers(), _process_of_its_own(), \
            _streams(_input(stdin or ""), out, err), _no_terminal_password():
        # A command that hangs ends the worker with every thread's stack on stderr, rather than
        # hold it forever (the subprocesses these runs replace had a timeout).
        faulthandler.dump_traceback_later(TIMEOUT, exit=True, file=sys.__stderr__)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors 2, --help and --version 0
            code = _exit_code(exc.code, err)
        finally:
            faulthandler.cancel_dump_traceback_later()
    out.flush()
    err.flush()
    stdout_bytes, stderr_bytes = out.buffer.getvalue(), err.buffer.getvalue()  # type: ignore[attr-defined]
    return CliResult(argv, code, stdout_bytes.decode("utf-8"), stderr_bytes.decode("utf-8"),
                     stdout_bytes, stderr_bytes)


def _exit_code(code, err) -> int:
    """The interpreter's rule for ``raise SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)
    return 1


def _capture() -> io.TextIOWrapper:
    """An output stream like a pipe's: UTF-8, a byte ``buffer`` underneath, no file descriptor."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def _input(text: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8")


@contextmanager
def _streams(stdin, stdout, stderr) -> Iterator[None]:
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@contextmanager
def _no_terminal_password() -> Iterator[None]:
    """getpass reads /dev/tty before standard input: here it reads the given input, never the terminal."""
    saved = getpass.getpass

    def from_stdin(prompt: str = "Password: ", stream=None) -> str:
        print(prompt, end="", file=sys.stderr, flush=True)
        return sys.stdin.readline().rstrip("\r\n")

    getpass.getpass = from_stdin
    try:
        yield
    finally:
        getpass.getpass = saved


@contextmanager
def _environment(env: Mapping[str, str | None] | None) -> Iterator[None]:
    with mock.patch.dict(os.environ):  # the whole environment given back afterwards
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield


@contextmanager
def _signal_handlers() -> Iterator[None]:
    """The handlers of Ctrl+C and SIGTERM (``tuiapp send`` sets its own and puts them back: checked)."""
    watched = (signal.SIGINT, signal.SIGTERM)
    saved = {signum: signal.getsignal(signum) for signum in watched}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if signal.getsignal(signum) is not handler:
                signal.signal(signum, handler)


_runs = itertools.count(1)


@contextmanager
def _process_of_its_own() -> Iterator[None]:
    """What the send path knows of "this process", as if the command ran in a process of its own
    that has ended since: its claims tagged ``host:pid:start`` with a start of its own (a later run,
    like a later process, sees them as a dead process's: the pid reused), and its records in
    flight forgotten after it. The test process keeps its own tag: alive, as for a subprocess.
    So a real tuiapp process running *at the same time* would take the run for a dead one: a test
    of concurrent senders runs them as real processes."""
    from tuiapp.sending import journal, outbox

    pid = os.getpid()
    saved_tags, saved_in_flight = dict(outbox._process_tags), set(journal._in_flight)
    host, _, ticks = outbox.process_tag().rsplit(":", 2)
    outbox._process_tags[pid] = f"{host}:{pid}:{ticks}+run{next(_runs)}"
    try:
        yield
    finally:
        outbox._process_tags.clear()
        outbox._process_tags.update(saved_tags)
        with journal._lock:
            journal._in_flight.clear()
            journal._in_flight.update(saved_in_flight)


@contextmanager
def _own_database() -> Iterator[None]:
    """The command opens ``tuiapp.db.database.db`` as a process would: a connection of the test is
    closed for the call (one connection per thread), the command's closed after it, and the
    test's binding (file, pragmas, open or not) given back."""
    from tuiapp.db.database import db

    binding = ("database", "_pragmas", "_timeout", "connect_params", "deferred")  # what ``db.init`` sets
    was_open = not db.is_closed()
    engine = db.obj  # the proxy's database: SQLite, or a PostgreSQL one
    saved = {name: copy.copy(getattr(engine, name)) for name in binding if hasattr(engine, name)}
    if was_open:
        db.close()
    try:
        yield
    finally:
        from tuiapp.db.database import release

        release()  # the command's connection, or its PostgreSQL pool
        db.initialize(engine)
        for name, value in saved.items():
            setattr(engine, name, value)
        if was_open:
            db.connect()
