"""The sending tab's deferral of the collector's full passes, with two tabs sending at once."""

from __future__ import annotations

import gc
import weakref

import pytest

from tuiapp.widgets.send_run import FullCollectionsDeferred

DEFERRED = FullCollectionsDeferred.DEFERRED


@pytest.fixture
def thresholds():
    """The process's thresholds, put back whatever the test did (and these numbers meanwhile, to
    tell them apart from the deferred ones)."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield (700, 10, 10)
    finally:
        FullCollectionsDeferred._running = 0
        gc.set_threshold(*before)


@pytest.mark.parametrize("first_to_end", ["A", "B"])
def test_two_tabs_sending_at_once_leave_the_thresholds_as_they_were(thresholds, first_to_end):
    """A saved the thresholds, B saved A's deferred ones and put them back last: the full
    passes stayed deferred for the rest of the session."""
    tabs = {"A": FullCollectionsDeferred(), "B": FullCollectionsDeferred()}
    tabs["A"].start()
    tabs["B"].start()
    assert gc.get_threshold() == (700, 10, DEFERRED)
    last = "B" if first_to_end == "A" else "A"
    tabs[first_to_end].end()
    assert gc.get_threshold() == (700, 10, DEFERRED)  # the other tab still sends
    tabs[last].end()
    assert gc.get_threshold() == thresholds


def test_a_tab_that_ends_twice_or_starts_twice_counts_once(thresholds):
    """The tab's end comes twice when it closes during its batch (its unmount, then the batch's end)."""
    a, b = FullCollectionsDeferred(), FullCollectionsDeferred()
    a.start()
    a.start()
    b.start()
    a.end()
    a.end()
    assert gc.get_threshold() == (700, 10, DEFERRED)
    b.end()
    assert gc.get_threshold() == thresholds
    b.end()
    assert gc.get_threshold() == thresholds


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def old_garbage() -> weakref.ref:
    """An object in a cycle, moved to the oldest generation while alive, then dropped: only a full
    pass frees it (as the cycles a long batch leaves behind)."""
    node = Node()
    gc.collect(1)  # survives the younger passes: in the oldest generation now
    return weakref.ref(node)


def test_the_garbage_of_a_deferred_batch_is_freed_when_it_ends(thresholds):
    """The end of a batch froze every object the collector tracked, the dead cycles of the batch
    included: kept until the tab closed, more with each batch."""
    a, b = FullCollectionsDeferred(), FullCollectionsDeferred()
    frozen = gc.get_freeze_count()
    a.start()
    b.start()
    dropped = old_garbage()
    gc.collect(1)
    assert dropped() is not None  # deferred: no full pass during the batches
    a.end()
    assert dropped() is not None  # b still sends
    b.end()
    assert dropped() is None
    assert gc.get_freeze_count() == frozen
