"""Login throttling: how many failed logins an address and an account may have, and why one hostile
address can never keep an account locked.

Every failed login (unknown user, wrong password or tenant, locked or disabled account) is kept for
a sliding window (``Settings.login_window_minutes``, 15) in ``login_failures``: when, from which
client address (``api.security.client_ip``: the peer, or what a trusted proxy reports), for which
username as typed. It lives in the database, so every gunicorn worker and every API server sees the
same counts. Three limits read it:

1. Per address: an address with ``login_address_limit`` (50) failures in the window, whatever the
   usernames, gets 429 for every login. This bounds password spraying from one address.
2. Per address and account: an address with ``login_account_limit`` (3) failures for one username
   in the window gets 429 for that username. Unknown usernames are treated like known ones, so a
   429 does not tell which usernames exist.
3. Per account, the lockout: the account locks for ``lockout_minutes`` once it has
   ``lockout_failures`` (5) failures in the window that count towards it (a wrong password or
   tenant; attempts on a locked account are recorded for 1 and 2 but do not count).

A 429 (``LoginThrottled``, with Retry-After: when the failure that tipped the limit leaves the
window) is answered before the password is checked and is not recorded, so it neither costs an
argon2 run nor moves any count: the failures an address can add to an account's count are capped
by 2. ``Settings`` keeps ``login_account_limit`` below ``lockout_failures``, so any window holds
fewer counted failures from one address than a lockout needs: **a single address can never lock an
account**, however long it keeps trying, and the owner, from an address with its own budget, still
gets in. It takes failures from several addresses (a distributed attack) to lock an account, which
is what the lockout is for.

A successful login (or a right but expired password) forgets the username's failures from that
address and starts the account's lockout count afresh; the other addresses keep their failures for
limits 1 and 2, so the owner logging in does not renew a hostile address's budget. A lockout also
starts the count afresh; an administrator's password reset forgets all of the username's failures.

The limits are checked before the password hash is verified and again in the write transaction
that records the outcome, after the user row is locked, so parallel attempts on one account cannot
overshoot them. (Parallel attempts on unknown usernames hold no row lock: on PostgreSQL they may
pass the per-address limit by the number in flight.) Behind a reverse proxy set
``AICMP_TRUSTED_PROXIES``: otherwise every client has the proxy's address and shares its budgets.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.errors import TooManyRequests
from engine.models import LoginFailure

UNKNOWN_ADDRESS = "unknown"  # no peer address (not over TCP): such clients share one budget


class LoginThrottled(TooManyRequests):
    pass


def window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_window_minutes)


def check(session: Session, settings: Settings, address: str | None, username: str, now: datetime) -> None:
    """Raise ``LoginThrottled`` when ``address`` is over its limit overall or for ``username``."""
    address = address or UNKNOWN_ADDRESS
    since = now - window(settings)
    for limit, where, what in (
            (settings.login_address_limit, LoginFailure.address == address, "from this address"),
            (settings.login_account_limit, and_(LoginFailure.address == address, LoginFailure.username == username),
             "for this username from this address")):
        newest = session.scalars(select(LoginFailure.at).where(where, LoginFailure.at > since)
                                 .order_by(LoginFailure.at.desc()).limit(limit)).all()
        if len(newest) >= limit:  # one more is allowed once the limit-th newest leaves the window
            wait = max(1, math.ceil((newest[limit - 1] + window(settings) - now).total_seconds()))
            raise LoginThrottled(f"too many failed logins {what}; try again in {wait} seconds",
                                 retry_after=wait)


def record(session: Session, address: str | None, username: str, now: datetime, *, locking: bool) -> None:
    """Keep a failure (``locking``: it counts towards the account's lockout)."""
    session.add(LoginFailure(at=now, address=address or UNKNOWN_ADDRESS, username=username, locking=locking))
    session.flush()


def account_failures(session: Session, settings: Settings, username: str, now: datetime) -> int:
    """The failures in the window that count towards ``username``'s lockout."""
    return session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.username == username, LoginFailure.locking.is_(True),
        LoginFailure.at > now - window(settings))) or 0


def restart_count(session: Session, username: str) -> None:
    """The account was locked: its next lockout needs as many new failures again."""
    session.execute(update(LoginFailure).where(LoginFailure.username == username, LoginFailure.locking.is_(True))
                    .values(locking=False))


def succeeded(session: Session, address: str | None, username: str) -> None:
    """The password was proven from ``address``: forget the failures from there, restart the lockout count."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                               LoginFailure.address == (address or UNKNOWN_ADDRESS)))
    restart_count(session, username)


def forget(session: Session, username: str) -> None:
    """An administrator set a new password: forget all of the username's failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


def purge(session: Session, settings: Settings, now: datetime) -> int:
    """Drop failures that have left the window (the periodic housekeeping)."""
    return session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window(settings))).rowcount or 0
