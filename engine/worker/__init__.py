"""Background work: the Celery app that runs jobs, and ``aicmp worker`` (jobs plus periodic sweeps)."""
