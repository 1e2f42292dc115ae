"""Who is asking: the values every compiled policy reads besides the row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Caller:
    """A request's caller. Anonymous when `user_id` is None.

    `tenant_id` is the tenant the caller acts in (the API sets it only after
    checking the membership) and `roles` are the caller's roles there. `now`
    is the request's clock, so that `now()` and `today()` in a rule mean the
    same instant in SQL, Python and TypeScript.
    """

    user_id: UUID | None = None
    tenant_id: UUID | None = None
    roles: frozenset[str] = frozenset()
    now: dt.datetime = field(default_factory=_utc_now)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(dt.UTC).date()


ANONYMOUS = Caller()
