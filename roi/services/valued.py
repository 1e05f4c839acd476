"""A month's valued cells, computed once per data version and kept for every question.

`ValuedMonths` is a per-process cache keyed by (month, the store's data version, the
config hash): a new batch, a replaced batch, a closed month or a changed config gives a
new key, so nothing stale is ever answered. The API keeps one for its process and warms
it in the background at start and after each new data version; the CLI makes one per
command.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ..config import Settings
from ..domain import Period
from ..store import Store
from ..valuation import value_cells
from ..valuation.cohorts import ValuedMonth
from ..valuation.fingerprint import data_fingerprint
from .caching import LruCache
from .periods import PeriodState, months_with_data, period_state

log = logging.getLogger("roi.reports")

WARM_MONTHS = 13  # the month asked most, and the 12 a trend shows by default


def value_month(settings: Settings, store: Store, period: Period) -> ValuedMonth:
    """Read a month's cells and value each once (model version of its day, fixed-cost shares, money)."""
    cells = store.cells(period.start, period.end)
    valuation = value_cells(
        cells, models=settings.value_models, assignments=settings.assignments, fixed_costs=settings.fixed_costs
    )
    return ValuedMonth.of(valuation, data_fingerprint(cells))


class ValuedMonths:
    """Valued months of one process, bounded by their size in memory (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, *, max_bytes: int = 1 << 30):
        self.settings = settings
        self.store = store
        self._cache: LruCache[ValuedMonth] = LruCache(256, weigh=lambda month: month.nbytes, max_weight=max_bytes)
        self._states: LruCache[PeriodState] = LruCache(512)
        self._warming: threading.Thread | None = None
        self._lock = threading.Lock()

    def get(self, period: Period, version: str | None = None) -> ValuedMonth:
        version = self.store.data_version() if version is None else version
        key = (period, version, self.settings.config_hash)
        return self._cache.get_or_make(key, lambda: value_month(self.settings, self.store, period))

    def state(self, period: Period, version: str | None = None) -> PeriodState:
        """The month's state (open, or closed as which revision), asked once per data version: closing a
        month and new data both give a new version."""
        version = self.store.data_version() if version is None else version
        return self._states.get_or_make((period, version), lambda: period_state(self.store, period))

    def months_with_data(self) -> list[Period]:
        return months_with_data(self.store)

    def warm(self, periods: Iterable[Period] | None = None) -> threading.Thread | None:
        """Value the newest months (or `periods`) in a background thread; questions asked meanwhile wait
        for the month they need, never for the others. One warm-up runs at a time."""
        with self._lock:
            if self._warming is not None and self._warming.is_alive():
                return None
            self._warming = threading.Thread(target=self._warm, args=(periods,), name="roi-warm", daemon=True)
            self._warming.start()
            return self._warming

    def _warm(self, periods: Iterable[Period] | None) -> None:
        try:
            version = self.store.data_version()
            months = list(periods) if periods is not None else self.months_with_data()[-WARM_MONTHS:][::-1]
            for period in months:
                self.get(period, version)
        except Exception as exc:  # noqa: BLE001 - a background thread: questions value the month themselves
            log.warning("could not value the months ahead of questions: %s", exc)

    @property
    def ready(self) -> bool:
        """No warm-up is running (the months it values are ready, or it has not been asked for)."""
        return self._warming is None or not self._warming.is_alive()

    def clear(self) -> None:
        self._cache.clear()
        self._states.clear()


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
    cells = store.cells_by(period.start, period.end, shaping, changes)
    valuation = value_cells(
        cells, models=settings.value_models, assignments=settings.assignments, fixed_costs=settings.fixed_costs
    )
    return ValuedMonth.of(valuation, data_fingerprint(cells))
