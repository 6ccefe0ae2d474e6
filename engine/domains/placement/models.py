"""The placement domain has no tables: a plan is computed from the instance and handed back (to
the CLI, or into the process as the operator's result), never stored here. Migration 0008,
reserved for saved plans, stays empty. This module exists because every installed domain has one
(``engine.domains.load_models``)."""
