"""Tenant accounts and their ledger: balance, credit limit, one row per change.

``models`` (accounts, ledger entries), ``ledger`` (posting a row under the account's lock: the one
way a balance moves), ``service`` (what the API calls: open, read, top up, adjust, refund, limits).
Other domains (vouchers: a redemption's credit) post through ``ledger.post`` inside their own
transaction, so the credit and whatever it pays for commit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Nothing to register: accounts have no process and no port of their own (the vouchers port
    posts a redemption's credit through ``ledger.post``)."""
    del engine
