"""core.gcpause: the collector is off inside, back on after (once, by the last one out), and left
off when it was off before."""

import gc
import threading

import pytest

from core import gcpause


def test_paused_restores_the_collector_after_nesting_and_errors():
    assert gc.isenabled()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gcpause.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_re_enable_once_the_last_one_leaves():
    inside, release = threading.Event(), threading.Event()

    def hold():
        with gcpause.paused():
            inside.set()
            release.wait(timeout=30)

    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(timeout=30)
    with gcpause.paused():
        pass
    assert not gc.isenabled()  # the thread is still inside
    release.set()
    t.join(timeout=30)
    assert gc.isenabled()


def test_as_a_decorator():
    @gcpause.paused()
    def work():
        return gc.isenabled()

    assert work() is False and gc.isenabled()
