"""Process registry: deploy file sets, resolve a key for a tenant, export the exact bytes.

Versions count up per key. A definition is platform-wide (``tenant_id`` NULL) or belongs to one
tenant, where it shadows the platform's versions of that key and is invisible to all others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from engine import audit
from engine.db import Database
from engine.errors import Conflict, DeploymentRejected, NotFound
from engine.models import BpmnFile, Deployment, DeploymentFile, ProcessDefinition
from engine.spiff.serializer import spec_to_json, specs_to_json
from engine.spiff.xmlcheck import Finding
from engine.validation import Validation, validate_files


@dataclass(frozen=True)
class DeployedDefinition:
    key: str
    version: int
    id: int
    tenant_id: str | None
    created: bool  # False: identical bytes were deployed before; this is the existing version


@dataclass
class DeploymentResult:
    deployment_id: int | None
    definitions: list[DeployedDefinition] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _content_hash(validation: Validation, bpmn_file: str) -> str:
    """What makes two deployments of one key identical: its file, its forms and the DMN set."""
    parts = [bpmn_file, *validation.form_refs.get(bpmn_file, []),
             *sorted(n for n, k in validation.kinds.items() if k == "dmn")]
    digest = hashlib.sha256()
    for name in parts:
        digest.update(name.encode() + b"\0" + sha256(validation.files[name]).encode() + b"\0")
    return digest.hexdigest()


def _scope(query: Any, tenant_id: str | None) -> Any:
    column = ProcessDefinition.tenant_id
    return query.where(column.is_(None) if tenant_id is None else column == tenant_id)


def latest_in_scope(session: Session, key: str, tenant_id: str | None) -> ProcessDefinition | None:
    q = _scope(select(ProcessDefinition).where(ProcessDefinition.key == key), tenant_id)
    return session.scalars(q.order_by(ProcessDefinition.version.desc()).limit(1)).first()


def _in_scope_first(tenant_id: str | None) -> tuple[Any, ...]:
    """Order of preference among a key's versions: the tenant's own before the platform's, newest first."""
    own = [ProcessDefinition.tenant_id.is_(None)] if tenant_id is not None else []
    return (*own, ProcessDefinition.version.desc())


def _visible(query: Any, tenant_id: str | None) -> Any:
    column = ProcessDefinition.tenant_id
    return query.where(column.is_(None) if tenant_id is None else (column.is_(None) | (column == tenant_id)))


# a definition's parsed spec comes from the spec cache (engine.runtime.specs), which reads these
# columns itself on a miss: resolving a key never needs them
_WITHOUT_SPECS = (defer(ProcessDefinition.spec_json), defer(ProcessDefinition.inner_specs_json))


def resolve(session: Session, key: str, tenant_id: str | None) -> ProcessDefinition:
    """The version a new instance of ``key`` uses inside ``tenant_id``: the tenant's own latest
    if it has one, else the platform's latest. One statement."""
    q = _visible(select(ProcessDefinition).where(ProcessDefinition.key == key), tenant_id)
    found = session.scalars(q.options(*_WITHOUT_SPECS).order_by(*_in_scope_first(tenant_id)).limit(1)).first()
    if found is None:
        raise NotFound(f"no process definition with key {key!r}")
    return found


def resolve_keys(session: Session, keys: set[str], tenant_id: str | None) -> dict[str, ProcessDefinition]:
    """``resolve`` for several keys in one statement (a key that is not deployed is absent)."""
    if not keys:
        return {}
    rank = func.row_number().over(partition_by=ProcessDefinition.key, order_by=_in_scope_first(tenant_id))
    ranked = _visible(select(ProcessDefinition.id, rank.label("rank"))
                      .where(ProcessDefinition.key.in_(sorted(keys))), tenant_id).subquery()
    rows = session.scalars(select(ProcessDefinition).join(ranked, ranked.c.id == ProcessDefinition.id)
                           .where(ranked.c.rank == 1).options(*_WITHOUT_SPECS))
    return {row.key: row for row in rows}


def resolve_with_calls(session: Session, key: str, tenant_id: str | None) -> tuple[ProcessDefinition, dict[str, int]]:
    """``resolve(key)`` and the version each key it calls binds to, recursively: one statement for
    the key and one per level of call activities, each reading only the versions of its keys.
    Raises NotFound for ``key`` and Conflict for a called key that is not deployed."""
    definition = resolve(session, key, tenant_id)
    bound: dict[str, int] = {}
    pending = set(definition.called_keys) - {key}
    while pending:
        found = resolve_keys(session, pending, tenant_id)
        missing = sorted(pending - set(found))
        if missing:
            raise Conflict(f"process {key!r} calls {missing[0]!r}, which is not deployed")
        bound.update({called_key: called.id for called_key, called in found.items()})
        pending = {k for called in found.values() for k in called.called_keys} - set(bound) - {key}
    return definition, bound


def _registry_stamp() -> Any:
    """What changes whenever a definition is deployed: definitions are only ever added (a tenant
    that has any cannot be deleted), so their count and highest id never come back to a value
    they had. The count catches a deploy that commits after one with a higher id."""
    return select(func.count(ProcessDefinition.id), func.max(ProcessDefinition.id))


class StartBindings:
    """``resolve_with_calls`` remembered between starts, per key and tenant, for as long as nothing
    new is deployed. A start that finds its binding remembered reads its definition in one
    statement that also compares the registry's stamp (``_registry_stamp``), instead of one per
    level of call activities; any deploy, by any process, changes the stamp and the next start
    resolves afresh. Only a key that calls others is remembered (without calls the resolve is one
    statement already); the stamp is read before the resolve it is stored with, so a deploy in
    between costs one more resolve later, never a stale binding."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._known: dict[tuple[str, str | None], tuple[tuple[int, int | None], int, dict[str, int]]] = {}

    def resolve(self, session: Session, key: str, tenant_id: str | None) -> tuple[ProcessDefinition, dict[str, int]]:
        known = self._known.get((key, tenant_id))
        if known is not None:
            (count, highest), definition_id, bound = known
            stamp = _registry_stamp().subquery()
            row = session.scalars(
                select(ProcessDefinition).options(*_WITHOUT_SPECS)
                .where(ProcessDefinition.id == definition_id, ProcessDefinition.key == key,
                       select(stamp).where(stamp.c[0] == count, stamp.c[1] == highest).exists())).first()
            if row is not None:
                return row, dict(bound)
        definition, bound = resolve_with_calls(session, key, tenant_id)
        if not bound:  # without calls the resolve is one statement already: nothing to remember
            return definition, bound
        count, highest = session.execute(_registry_stamp()).one()  # before the resolve it is stored with
        definition, bound = resolve_with_calls(session, key, tenant_id)
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known[key, tenant_id] = ((count, highest), definition.id, dict(bound))
        return definition, bound


def visible_definition(session: Session, key: str, version: int, tenant_id: str | None) -> ProcessDefinition:
    """A definition version the caller may see (platform-wide or its own tenant's)."""
    row = session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if row is None or (row.tenant_id is not None and row.tenant_id != tenant_id):
        raise NotFound(f"no process definition {key!r} version {version}")
    return row


def export_xml(session: Session, definition: ProcessDefinition) -> bytes:
    """The bytes the designer uploaded, unchanged."""
    digest = session.scalars(select(DeploymentFile.sha256).where(
        DeploymentFile.deployment_id == definition.deployment_id,
        DeploymentFile.filename == definition.filename)).one()
    return session.get(BpmnFile, digest).content


class Registry:
    def __init__(self, db: Database, *, max_bytes: int, known_operators: Any = None) -> None:
        self.db = db
        self.max_bytes = max_bytes
        self.known_operators = known_operators  # callable returning names, or None

    def validate(self, files: dict[str, bytes]) -> Validation:
        names = self.known_operators() if self.known_operators else None
        return validate_files(files, max_bytes=self.max_bytes, known_operators=names)

    def deploy(self, files: dict[str, bytes], *, tenant_id: str | None = None, actor: str | None = None,
               name: str = "", ip: str | None = None) -> DeploymentResult:
        if not files:
            raise DeploymentRejected("a deployment needs at least one file", errors=[])
        validation = self.validate(files)
        if not validation.ok:
            raise DeploymentRejected(
                f"deployment rejected: {len(validation.errors)} error(s); first: {validation.errors[0]}",
                errors=validation.errors)
        if not validation.processes:
            raise DeploymentRejected("the deployment holds no executable process", errors=[])
        for attempt in range(3):
            try:
                return self._store(validation, tenant_id, actor, name, ip)
            except IntegrityError as exc:  # a concurrent deploy took the same version number
                if attempt == 2:
                    raise Conflict("another deployment of the same key is in progress; retry") from exc
        raise AssertionError("unreachable")

    def _store(self, v: Validation, tenant_id: str | None, actor: str | None, name: str,
               ip: str | None) -> DeploymentResult:
        result = DeploymentResult(None, warnings=v.warnings)
        with self.db.write() as s:
            deployment: Deployment | None = None
            for proc in v.processes:
                digest = _content_hash(v, proc.file)
                latest = latest_in_scope(s, proc.key, tenant_id)
                if latest is not None and latest.content_hash == digest:
                    result.definitions.append(DeployedDefinition(proc.key, latest.version, latest.id,
                                                                 tenant_id, created=False))
                    continue
                if deployment is None:
                    deployment = self._new_deployment(s, v, tenant_id, actor, name)
                version = (s.scalar(select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.key == proc.key)) or 0) + 1
                row = ProcessDefinition(
                    key=proc.key, version=version, tenant_id=tenant_id, name=proc.name,
                    deployment_id=deployment.id, filename=proc.file, parser=proc.parser,
                    content_hash=digest, spec_json=spec_to_json(proc.parser, proc.spec),
                    inner_specs_json=specs_to_json(proc.parser, proc.inner_specs),
                    called_keys=proc.called_keys,
                    start_roles=None if proc.start.roles is None else list(proc.start.roles),
                    start_form=proc.start.form)
                s.add(row)
                s.flush()
                result.definitions.append(DeployedDefinition(proc.key, version, row.id, tenant_id, created=True))
            result.deployment_id = deployment.id if deployment else None
            if deployment is not None:
                audit.record(s, action="process-definition.deploy", actor=actor, tenant_id=tenant_id,
                             target_type="deployment", target_id=str(deployment.id), ip=ip,
                             detail={"definitions": [f"{d.key} v{d.version}" for d in result.definitions if d.created],
                                     "files": sorted(v.files)})
        return result

    def _new_deployment(self, s: Session, v: Validation, tenant_id: str | None, actor: str | None,
                        name: str) -> Deployment:
        deployment = Deployment(tenant_id=tenant_id, created_by=actor, name=name,
                                warnings=[str(w) for w in v.warnings])
        s.add(deployment)
        s.flush()
        for filename, data in v.files.items():
            digest = sha256(data)
            if s.get(BpmnFile, digest) is None:
                s.add(BpmnFile(sha256=digest, size=len(data), content=data))
                s.flush()
            s.add(DeploymentFile(deployment_id=deployment.id, filename=filename,
                                 kind=v.kinds.get(filename, "form"), sha256=digest))
        return deployment
