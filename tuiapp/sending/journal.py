"""The send journal: what the server answered, kept on disk until the database holds it.

Before a message is handed over, a slot is reserved for its send record: one
small file of a fixed size (``SLOT_SIZE``) in a folder beside the database,
``<database file>.send-journal/``, written whole under a temporary name then
renamed, so that another process never reads half a slot. The server's reply
is written into it in place (no new block to allocate, so a full disk cannot
refuse it); the slot is deleted once the database holds the outcome. If the
database cannot be written (another workstation's long write, a full disk),
the slot is synced to the disk (file and folder) and survives, and the next
start of any tuiapp process applies it (``recovery.recover_interrupted``); a slot
without a reply means the outcome is unknown.

Only that last case syncs. The claim is already durable in the database
(``synchronous=FULL``) before the slot is reserved, so after a power cut a
``sending`` record without its slot, or with a slot that lost its reply, ends
``unknown``: never sent again without the operator's decision. Syncing every
slot and every reply cost three disk syncs per message (about 1.2 ms of the
engine's 26 ms per message in ``benchmarks/send_bench.py``) and protected
nothing more.

The folder is shared by the database's users: it is made ``rwxrws---`` (its
group the database folder's, and setgid so that every slot gets it too) and
its files ``rw-rw----``, whatever the creator's umask.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tuiapp.locations import SHARED_FILE_MODE as FILE_MODE
from tuiapp.locations import SHARED_FOLDER_MODE

SLOT_SIZE = 4096
#: Setgid: a slot another operator's process writes gets the folder's group, so that the
#: sender service and the other operators can read and remove it.
FOLDER_MODE = SHARED_FOLDER_MODE | stat.S_ISGID
_SUFFIX = ".slot"

#: Records this process is sending right now: their slots are not applied by
#: a recovery run in this same process (the TUI's periodic refresh, say).
_in_flight: set[int] = set()
#: (record id, message id) of every slot this process tried to reserve: a claim of its own
#: that is not here was never handed over (``recovery.requeue_own_unstarted``).
_tried: set[tuple[int, str]] = set()
_lock = threading.Lock()


def current_folder() -> Path:
    """The journal of the database open now (``tuiapp.locations.journal_dir``)."""
    from tuiapp.db.database import current_target
    from tuiapp.locations import journal_dir

    return journal_dir(current_target())


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _encode(content: dict) -> bytes:
    """The slot's content, padded to ``SLOT_SIZE``; long server texts are cut to fit
    (the refused addresses' replies first, then the reply and the error)."""
    original = dict(content)
    for text_limit, refused_limit in ((None, None), (1000, 200), (1000, 60), (1000, 0), (300, 0), (80, 0), (0, 0)):
        content = dict(original)
        if text_limit is not None:
            for key in ("reply", "error"):
                content[key] = (content.get(key) or "")[:text_limit]
            refused = content.get("refused") or {}
            content["refused"] = {address[:refused_limit]: reply[:refused_limit]
                                  for address, reply in refused.items()} if refused_limit else {}
        raw = json.dumps(content, ensure_ascii=True).encode("ascii")
        if len(raw) < SLOT_SIZE:
            return raw + b" " * (SLOT_SIZE - 1 - len(raw)) + b"\n"
    raise ValueError("journal slot too small")


@dataclass
class Slot:
    """One record's slot; ``record`` the outcome, then ``discard`` once the database has it."""

    record_id: int
    path: Path
    content: dict = field(default_factory=dict)

    def record(self, status: str, *, reply: str = "", refused: dict[str, str] | None = None,
               error: str | None = None) -> None:
        """Write the known outcome in place (best effort: the database write comes
        next; ``sync`` if it fails)."""
        self.content.update(status=status, reply=reply or "", refused=dict(refused or {}), error=error)
        try:
            descriptor = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(descriptor, _encode(self.content), 0)
            finally:
                os.close(descriptor)
        except OSError:
            pass

    def sync(self) -> None:
        """The database could not take the outcome: put the slot on the disk (best effort)."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            _sync_folder(self.path.parent)
        except OSError:
            pass

    def discard(self) -> None:
        """The database holds the outcome: the slot goes."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        self.keep()

    def keep(self) -> None:
        """This process no longer works on the record; the slot stays for a recovery."""
        with _lock:
            _in_flight.discard(self.record_id)


def reserve(record_id: int, *, message_id: str, claimed_by: str) -> Slot:
    """Reserve the record's slot; raises ``OSError`` (a full disk, say) if it cannot."""
    with _lock:
        _tried.add((int(record_id), message_id))
    folder = current_folder()
    if not folder.is_dir():
        if not folder.parent.is_dir():  # a PostgreSQL base's journals, in this account's data directory
            folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)
        _sync_folder(folder.parent)
    path = folder / f"{int(record_id)}{_SUFFIX}"
    content = {"record": int(record_id), "message_id": message_id, "claimed_by": claimed_by, "status": None}
    temporary = folder / f"{int(record_id)}.{os.getpid()}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)
            data = _encode(content)
            if os.write(descriptor, data) != len(data):
                raise OSError("short write")
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    with _lock:
        _in_flight.add(int(record_id))
    return Slot(int(record_id), path, content)


def tried_here(record_id: int, message_id: str) -> bool:
    """Whether this process tried to reserve a slot for this claim (from memory: the folder
    may be unreadable, or shared with another process that discards a slot)."""
    with _lock:
        return (int(record_id), message_id) in _tried


def in_flight(record_id: int) -> bool:
    with _lock:
        return record_id in _in_flight


def pending() -> dict[int, Slot]:
    """The slots left on disk, by record id (an unreadable one reads as "no reply")."""
    folder = current_folder()
    slots: dict[int, Slot] = {}
    try:
        paths = list(folder.glob(f"*{_SUFFIX}"))
    except OSError:
        return slots
    for path in paths:
        try:
            record_id = int(path.name.removesuffix(_SUFFIX))
        except ValueError:
            continue
        try:
            content = json.loads(path.read_bytes().decode("ascii"))
            if not isinstance(content, dict):
                raise ValueError
        except (OSError, ValueError):
            content = {"record": record_id, "status": None, "unreadable": True}
        slots[record_id] = Slot(record_id, path, content)
    return slots
