"""The use cases, the one door to data for the CLI, the API, the scheduler and the demo.

- ingest: every source once now, the windowed pull (batches: one source's batches into cells)
- reports: a period's report for any grouping and filters, open or closed; formats; exports
- trend: each month's figures per cohort; valued: a month's valued cells, computed once
- periods: months and their state; closing: a month's stored revision
- jobs: the scheduled jobs, claimed, locked and recorded; files: atomic writes
- validation: the config as entry points load it (load_checked_config), fully checked
"""

from __future__ import annotations

from ..config import Settings
from ..store import DatabaseError, DatabaseUnavailable, Store, database_failure, open_store

__all__ = ["DatabaseError", "DatabaseUnavailable", "Store", "database_failure", "store_for"]


def store_for(settings: Settings) -> Store:
    """The configured store, its schema made if new."""
    return open_store(settings.service.database_url)
