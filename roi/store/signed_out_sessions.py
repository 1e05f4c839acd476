"""Dashboard sessions that were signed out before they expired.

A dashboard session is a signed cookie: the server keeps nothing of it, so a copy of the cookie
would outlive a sign-out. Signing out therefore records the session's random id here until the
session would have expired anyway, and every request with a session looks its id up (the
primary key: one indexed lookup). Every worker of `roi serve` shares the database, so a session
signed out at one worker is dead at all of them. Expired rows are removed whenever one is added.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel


class SignedOutSessionRecord(SQLModel, table=True):
    """One signed-out session: its id, and when it would have expired (Unix seconds, UTC)."""

    __tablename__ = "roi_signed_out_sessions"

    session_id: str = Field(primary_key=True)
    expires: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


def record_sign_out(engine: Engine, session_id: str, expires: int, now: int) -> None:
    """Record `session_id` as signed out until `expires`, and drop the rows expired by `now`.

    Signing out the same session twice (two tabs, a repeated POST) records it once."""
    table = SignedOutSessionRecord.__table__
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.expires <= now))
        if expires <= now:
            return  # over anyway: nothing to remember
        try:
            with connection.begin_nested():
                connection.execute(table.insert().values(session_id=session_id, expires=expires))
        except IntegrityError:  # signed out already (maybe by another worker meanwhile)
            pass


def is_signed_out(engine: Engine, session_id: str) -> bool:
    table = SignedOutSessionRecord.__table__
    with engine.connect() as connection:
        found = connection.execute(select(table.c.session_id).where(table.c.session_id == session_id)).first()
    return found is not None
