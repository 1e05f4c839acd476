"""A month's valued cells, computed once per data version and kept for every question.

`ValuedMonths` keeps them keyed by (month, the store's data version, the config hash): a
new batch, a replaced batch, a closed month or a changed config gives a new key, so nothing
stale is ever answered. In memory per process, and in `[service] cache_dir` as one file per
key, so another process (the other API worker, the next `roi report`) loads a month in
milliseconds instead of valuing it again. The files are written whole (a temporary file,
then a rename) and a month's older files are removed when a new one is written; the folder
is safe to delete. The API keeps one ValuedMonths per process and warms it in the background
at start and after each new data version; the CLI makes one per command.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from importlib.metadata import version as package_version
from pathlib import Path

from ..config import Settings
from ..domain import Period
from ..errors import RoiError
from ..store import Store
from ..valuation import value_cells
from ..valuation.cohorts import ValuedMonth
from ..valuation.fingerprint import data_fingerprint
from .caching import LruCache
from .files import write_atomically
from .periods import PeriodState, months_with_data, period_state

log = logging.getLogger("roi.reports")

WARM_MONTHS = 13  # the month asked most, and the 12 a trend shows by default


def value_month(settings: Settings, store: Store, period: Period) -> ValuedMonth:
    """Read a month's cells and value each once (model version of its day, fixed-cost shares, money)."""
    cells = store.cells(period.start, period.end)
    return _valued(settings, cells, data_fingerprint(cells))


def _valued(settings: Settings, cells, fingerprint: str) -> ValuedMonth:
    valuation = value_cells(
        cells, models=settings.value_models, assignments=settings.assignments, fixed_costs=settings.fixed_costs
    )
    return ValuedMonth.of(valuation, fingerprint)


class ValuedMonths:
    """Valued months of one process, bounded by their size in memory (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, *, max_bytes: int = 1 << 30, files: bool = True):
        """`files=False`: months are valued here and kept in memory only (closing a month does, so a
        revision never rests on a file another build wrote)."""
        self.settings = settings
        self.store = store
        self.files = files
        self._cache: LruCache[ValuedMonth] = LruCache(256, weigh=lambda month: month.nbytes, max_weight=max_bytes)
        self._states: LruCache[PeriodState] = LruCache(512)
        self._warming: threading.Thread | None = None
        self._lock = threading.Lock()
        self._told = False  # a cache folder that cannot be written is said once
        self._again: Iterable[Period] | None = None  # a warm-up asked while one ran
        self._again_asked = False

    def get(self, period: Period, version: str | None = None) -> ValuedMonth:
        """The month valued at the store's data version (asked now unless given)."""
        version = self.store.data_version() if version is None else version
        key = (period, version, self.settings.config_hash)
        return self._cache.get_or_make(key, lambda: self._load_or_value(period, version))

    def _file(self, period: Period, version: str) -> Path | None:
        folder = self.settings.service.cache_dir
        if not folder or not self.files:
            return None
        key = "|".join([str(period), version, self.settings.config_hash, self.settings.service.database_url,
                        _build()])
        return Path(folder) / f"valued-{period}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"

    def _load_or_value(self, period: Period, version: str) -> ValuedMonth:
        path = self._file(period, version)
        if path is None:
            return value_month(self.settings, self.store, period)
        with _month_lock(path):  # processes sharing the folder value a month once: the others wait, then load
            try:
                return ValuedMonth.from_bytes(path.read_bytes(), self.settings.fixed_costs)
            except FileNotFoundError:
                pass
            except Exception as exc:  # noqa: BLE001 - damaged, cut short or of another layout: value it again
                log.warning("valued cells in %s cannot be read (%s); valuing %s again", path, exc, period)
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            month = value_month(self.settings, self.store, period)
            self._keep(path, period, month)
            return month

    def _keep(self, path: Path, period: Period, month: ValuedMonth) -> None:
        """Write the month's file and remove the month's older ones; a failure only costs speed."""
        try:
            write_atomically(path, month.to_bytes(), durable=False)
            for old in path.parent.glob(f"valued-{period}-*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
        except (OSError, RoiError) as exc:
            if not self._told:
                log.warning("cannot keep valued months in %s (%s): each process values them itself",
                            path.parent, exc)
                self._told = True

    def state(self, period: Period, version: str | None = None) -> PeriodState:
        """The month's state (open, or closed as which revision), asked once per data version: closing a
        month and new data both give a new version."""
        version = self.store.data_version() if version is None else version
        return self._states.get_or_make((period, version), lambda: period_state(self.store, period))

    def months_with_data(self) -> list[Period]:
        return months_with_data(self.store)

    def warm(self, periods: Iterable[Period] | None = None) -> threading.Thread | None:
        """Value the newest months (or `periods`) in a background thread; questions asked meanwhile wait
        for the month they need, never for the others. One warm-up runs at a time: asked while one
        runs, it runs once more when that one ends (for the newer data version)."""
        with self._lock:
            if self._warming is not None and self._warming.is_alive():
                self._again = periods if periods is not None else self._again
                self._again_asked = True
                return None
            self._warming = threading.Thread(target=self._warm, args=(periods,), name="roi-warm", daemon=True)
            self._warming.start()
            return self._warming

    def _warm(self, periods: Iterable[Period] | None) -> None:
        while True:
            try:
                version = self.store.data_version()
                months = list(periods) if periods is not None else self.months_with_data()[-WARM_MONTHS:][::-1]
                for period in months:
                    self.get(period, version)
            except Exception as exc:  # noqa: BLE001 - a background thread: questions value the month themselves
                log.warning("could not value the months ahead of questions: %s", exc)
            with self._lock:
                if not self._again_asked:
                    return
                periods, self._again, self._again_asked = self._again, None, False

    @property
    def ready(self) -> bool:
        """No warm-up is running (the months it values are ready, or it has not been asked for)."""
        return self._warming is None or not self._warming.is_alive()

    def clear(self) -> None:
        self._cache.clear()
        self._states.clear()


@functools.cache
def _build() -> str:
    """What valued a month: roi's version and the code that reads, values and stores cells, hashed
    (a build that values differently never loads another build's files)."""
    digest = hashlib.sha256(package_version("roi").encode())
    here = Path(__file__).resolve().parents[1]
    for name in ("valuation/__init__.py", "valuation/cohorts.py", "valuation/fingerprint.py", "store/__init__.py",
                 "services/valued.py", "domain.py", "config.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _month_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the month's lock file while it is read or valued (none if it cannot be made)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.parent / f"{path.name.rsplit('-', 1)[0]}.lock", "a+b")  # noqa: SIM115
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def value_month_coarse(settings: Settings, store: Store, period: Period, dimensions: Iterable[str]) -> ValuedMonth:
    """A month valued from its cells summed over every dimension not named (and over the days
    between value-model version changes): the same figures for any question that groups and
    filters by the named dimensions only, when those include every dimension an assignment rule
    or a fixed cost matches on, from far fewer rows."""
    shaping = set(dimensions)
    for rule in [*settings.assignments, *settings.fixed_costs]:
        shaping.update(rule.match)
    changes = [version.effective_from for model in settings.value_models.values() for version in model.versions
               if period.start < version.effective_from < period.end]
    # its figures are all that is asked of it (the Trend sheet): no fingerprint of summed-over cells
    return _valued(settings, store.cells_by(period.start, period.end, shaping, changes), "")
