"""aicmp's adapter around SpiffWorkflow: parsers, specs, serializer, script engine, XML checks.

Importing the package routes SpiffWorkflow's timer clock through ``engine.clock``.
"""

from engine.spiff import clock_shim  # noqa: F401
