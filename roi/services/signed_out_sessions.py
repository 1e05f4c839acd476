"""Dashboard sessions signed out before they expired, as every worker of `roi serve` sees them (the store)."""

from __future__ import annotations

import time

from ..store import Store, signed_out_sessions


def sign_out_session(store: Store, session_id: str, expires: int) -> None:
    """Remember until `expires` (Unix seconds) that the session `session_id` was signed out."""
    signed_out_sessions.record_sign_out(store.engine, session_id, expires, int(time.time()))


def session_signed_out(store: Store, session_id: str) -> bool:
    return signed_out_sessions.is_signed_out(store.engine, session_id)
