"""The placement domain: cost-, performance- and balance-first plans from one MILP, explained.

Where the solver lives, and why here: placing copies on pools is pure computation over one JSON
instance (``instance``: requests and pools; no database, no clock), so its modules import nothing
of the engine and are tested as functions. It sits in this package because two callers need it:
``aicmp placement solve`` (``api/cli.py``, which may import engine packages) and the
``placement/solve`` operator, which may not (tasks never import engine). The operator reaches it
through the ``placement`` port (``ports``, registered by ``install``) like every other operator
reaches the platform, and the port is also where an instance will be built from the resource
pools for an application once the resources domain offers its pool read.

Modules, one job each: ``instance`` (parse and check the JSON), ``shapes`` (identical requests
folded; where a copy may go), ``model`` (the MILP rows and objectives), ``milp`` (one honest
solve: HiGHS, CBC as the fallback), ``search`` (one stage: LP bound, repair, dive, threshold
search, full MILP), ``repair`` (an LP plan rounded into whole copies), ``solve`` (the
lexicographic stages of every plan), ``plan`` (exact figures), ``explain`` (binding constraints,
why copies are left out, runner-up), ``whatif`` (drain a pool, change a capacity, re-solve),
``service`` (JSON in and out, for the CLI and the port), ``text`` (plans for a terminal),
``pools`` (resource pools as instance pools), ``ports`` (the operator's way in), ``models`` and
``choices`` (the placement step of an application: plans offered, pick, confirmed choice; migration
0012), shown on the application detail (``choices.detail``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Register the ``placement`` port the ``placement/*`` operators call, and the application
    detail's ``placement`` (plans while deciding, the choice after)."""
    from engine.domains.applications import service as applications
    from engine.domains.placement import choices, ports

    engine.ports.register("placement", ports.Placement)
    if choices.detail not in applications.DETAIL_HOOKS:
        applications.DETAIL_HOOKS.append(choices.detail)
