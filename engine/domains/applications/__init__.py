"""The applications domain: resource applications, their process, their ports and status rules.

``models`` (applications, items, attachments), ``status`` (statuses and transitions), ``service``
(drafts, reading), ``attachments`` (files), ``flow`` (submit, withdraw, resubmit, cancel, decide,
urge through the ``application`` process), ``ports`` (the applications, quota and orders ports
the operators call), ``hooks`` (what it adds to every save and to the notices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Register the applications, quota and orders ports, the save hooks (refused submissions,
    quota back when an application's process is cancelled), the notice subject, and the
    processes only this domain starts (``Runtime.internal_keys``)."""
    from engine.domains.applications import flow, hooks, ports

    engine.ports.register("applications", ports.Applications)
    engine.ports.register("quota", ports.Quotas)
    engine.ports.register("orders", ports.Orders)
    for hook in (ports.refuse_short_submissions, hooks.release_on_cancel):
        if hook not in engine.runtime.save_hooks:
            engine.runtime.save_hooks.append(hook)
    engine.notices.subjects.append(hooks.application_subject)
    engine.runtime.internal_keys.update(flow.INTERNAL_PROCESSES)
