"""The tamper-evident audit log: append-only rows chained by HMAC-SHA256, anchored by checkpoints.

Rows. Each tenant (and the platform) has its own chain: a row's hash covers its content and the
hash of the previous row of the same chain, so editing or deleting any row breaks the chain from
there on. The hash is an HMAC keyed with the audit key (``AICMP_AUDIT_KEY``, else ``var/audit-key``,
generated on first use), which is never stored in the database: whoever can write the database but
not read the key cannot recompute a chain that verifies. A row's ``scheme`` names the key
(``hmac:<key id>``); rows written before keyed hashing (``sha256``) are checked with plain SHA-256
and accepted only up to their chain's first checkpoint, which anchors them (they are never
re-keyed: that would launder whatever was done to them before). Appends to one chain are
serialized (a PostgreSQL advisory lock per chain; SQLite write transactions are serial already)
so two writers can never chain onto the same predecessor, while tenants never wait on each other.

Checkpoints. A chain alone cannot show that its newest rows, or all of them, were removed. A
checkpoint records one chain's head (its last row id, that row's hash, how many rows the chain
has) at a time, signed with the key. ``checkpoint()`` writes one for every chain that grew since
its last one: hourly from the periodic runner, and after every ``aicmp audit verify``.
Checkpoints are chained themselves (ids 1, 2, 3… with no gaps, each MAC covering the previous
one's) in the ``audit_checkpoints`` table, so removing or editing one is detected, and each is
also appended to ``var/audit-checkpoints-<database>.jsonl``: a witness outside the database that
still has the newest checkpoints when someone deletes them from the table together with the rows
they anchor. The table serves every host; the file is each var directory's own (a subset).

``verify()`` walks every chain against every checkpoint (table and file) and reports each problem
in one line, saying since which checkpoint (time, row) the chain is broken. Limits: rows appended
after a chain's newest checkpoint and removed before the next leave no trace; whoever holds the
key (or the var directory with the key file) can rewrite everything.
"""

from engine.audit.chain import GENESIS, LEGACY, Keyring, install, record, witness_path
from engine.audit.checkpoints import Checkpoint, checkpoint, write_checkpoints
from engine.audit.verify import Problem, VerifyResult, has_keyed_rows, verify, verify_and_checkpoint

__all__ = ["GENESIS", "LEGACY", "Checkpoint", "Keyring", "Problem", "VerifyResult", "checkpoint", "has_keyed_rows",
           "install", "record", "verify", "verify_and_checkpoint", "witness_path", "write_checkpoints"]
