"""The data version the API caches by: asked in line once, then refreshed in the background."""

from __future__ import annotations

import threading

import pytest

from roi.api.context import DataVersion


class Store:
    def __init__(self):
        self.version = "v1"
        self.asked = 0
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def data_version(self) -> str:
        self.asked += 1
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("database is gone")
        return self.version


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_within_ttl_the_known_version_is_served_without_asking():
    store, clock = Store(), Clock()
    version = DataVersion(store, 1.0, clock)
    assert version.current() == "v1" and store.asked == 1
    store.version = "v2"
    clock.now += 0.5
    assert version.current() == "v1" and store.asked == 1


def test_after_ttl_a_request_never_waits_for_the_database():
    store, clock = Store(), Clock()
    version = DataVersion(store, 1.0, clock)
    version.current()
    store.version, store.gate = "v2", threading.Event()  # the database stalls
    clock.now += 1.5
    assert version.current() == "v1"  # answered at once with the version known so far
    assert version.current() == "v1" and store.asked == 2  # one refresh in flight, not one per request
    store.gate.set()
    version.wait(10)
    assert version.current() == "v2"


def test_a_failed_refresh_is_logged_once_then_requests_ask_in_line(caplog):
    store, clock = Store(), Clock()
    version = DataVersion(store, 1.0, clock)
    version.current()
    store.fail = True
    for _ in range(3):  # steady traffic: the known version, refreshes in the background fail
        clock.now += 0.4
        assert version.current() == "v1"
        version.wait(10)
    assert caplog.text.count("could not read the data version") == 1
    clock.now += 1  # two ttls since the last answer: the request asks itself, and gets the error
    with pytest.raises(RuntimeError):
        version.current()
    store.fail, store.version = False, "v3"
    assert version.current() == "v3"


def test_after_a_quiet_spell_the_first_request_gets_the_new_version():
    store, clock = Store(), Clock()
    version = DataVersion(store, 1.0, clock)
    version.current()
    store.version = "v2"
    clock.now += 60
    assert version.current() == "v2"


def test_ttl_zero_asks_on_every_request_and_raises_what_it_meets():
    store, clock = Store(), Clock()
    version = DataVersion(store, 0, clock)
    version.current()
    version.current()
    assert store.asked == 2
    store.fail = True
    with pytest.raises(RuntimeError):
        version.current()
