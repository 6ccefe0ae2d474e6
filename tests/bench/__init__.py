"""Benchmarks (``python -m tests.bench.<name>``): not part of the test run.

Their engines are throwaway: on PostgreSQL or with a broker an engine needs the credentials key
every process shares (``AICMP_CREDENTIALS_KEY``), so a benchmark run without one gets its own.
"""

import os
import secrets

os.environ.setdefault("AICMP_CREDENTIALS_KEY", secrets.token_urlsafe(48))
