"""The one error hierarchy every connector raises, each class carrying its BPMN error code.

A connector never lets a provider SDK's own exception escape (botocore ``ClientError``,
``keystoneauth1`` failures, ``vim.fault.*``, ``kubernetes.client.ApiException``, ``NVMLError``,
``requests`` / ``urllib3`` connection errors): it translates it into exactly one of these, keeping
the provider's message (secrets removed) and, where useful, its code in ``details``. Callers catch
``ConnectorError`` and read ``code``; the ``connector/*`` operators raise
``OperatorError(error.code, ...)``, which a BPMN error boundary event with that ``errorCode``
catches.

=========================  ================================  ==========  =========================================
class                      BPMN error code                   retryable   raised when
=========================  ================================  ==========  =========================================
``ConnectorError``         ``CONNECTOR_ERROR``               no          anything else the provider refused
``Unreachable``            ``CONNECTOR_UNREACHABLE``         yes         DNS, refused/reset connection, TLS, 5xx,
                                                                         no driver / library (NVML)
``Unauthorised``           ``CONNECTOR_UNAUTHORISED``        no          bad or expired credentials, 401/403
``ProviderQuotaExceeded``  ``CONNECTOR_QUOTA_EXCEEDED``      no          the provider's own quota / capacity is
                                                                         exhausted (not the platform's quota)
``NotFound``               ``CONNECTOR_NOT_FOUND``           no          the provider does not know that id
``Conflict``               ``CONNECTOR_CONFLICT``            no          the resource's state forbids the call
                                                                         (resize while running, start a deleted
                                                                         one), or a name/token clash
``Timeout``                ``CONNECTOR_TIMEOUT``             yes         the provider did not answer (or did not
                                                                         reach the wanted state) in time; the call
                                                                         MAY have taken effect: retry ``create``
                                                                         with the same client token
``InvalidSpec``            ``CONNECTOR_INVALID_SPEC``        no          the spec cannot be met by this provider
                                                                         (unknown image/flavor/template, bad size)
``Unsupported``            ``CONNECTOR_UNSUPPORTED``         no          the provider type cannot do this at all
                                                                         (NVML cannot create a VM)
``UnknownProvider``        ``CONNECTOR_UNKNOWN_PROVIDER``    no          ``registry.connect`` for a type that is
                                                                         not registered or whose module is absent
=========================  ================================  ==========  =========================================

``retryable`` says whether repeating the same call later can succeed without anyone changing
anything; the operators retry only those.

Messages and ``details`` must never contain credentials: they are shown to operators, written
to logs and to process data.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConnectorError(Exception):
    """Base of every connector failure. ``code`` is the BPMN error code."""

    code: ClassVar[str] = "CONNECTOR_ERROR"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, provider: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.details: dict[str, Any] = dict(details or {})

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for process data and API bodies."""
        return {"code": self.code, "message": self.message, "provider": self.provider,
                "retryable": self.retryable, "details": self.details}


class Unreachable(ConnectorError):
    code = "CONNECTOR_UNREACHABLE"
    retryable = True


class Unauthorised(ConnectorError):
    code = "CONNECTOR_UNAUTHORISED"


class ProviderQuotaExceeded(ConnectorError):
    code = "CONNECTOR_QUOTA_EXCEEDED"


class NotFound(ConnectorError):
    code = "CONNECTOR_NOT_FOUND"


class Conflict(ConnectorError):
    code = "CONNECTOR_CONFLICT"


class Timeout(ConnectorError):
    code = "CONNECTOR_TIMEOUT"
    retryable = True


class InvalidSpec(ConnectorError):
    code = "CONNECTOR_INVALID_SPEC"


class Unsupported(ConnectorError):
    code = "CONNECTOR_UNSUPPORTED"


class UnknownProvider(ConnectorError):
    code = "CONNECTOR_UNKNOWN_PROVIDER"


ERRORS: tuple[type[ConnectorError], ...] = (
    ConnectorError, Unreachable, Unauthorised, ProviderQuotaExceeded, NotFound, Conflict, Timeout,
    InvalidSpec, Unsupported, UnknownProvider)
BY_CODE: dict[str, type[ConnectorError]] = {cls.code: cls for cls in ERRORS}


def from_dict(data: dict[str, Any]) -> ConnectorError:
    """Rebuild an error from ``as_dict`` (an async operator's result crossing Celery)."""
    cls = BY_CODE.get(str(data.get("code")), ConnectorError)
    return cls(str(data.get("message", "")), provider=data.get("provider"), details=data.get("details") or {})
