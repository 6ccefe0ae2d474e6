"""Spec objects for a running instance: restored once per definition and shared.

A definition's spec never changes after deploy, so restored specs are cached by what
identifies their content (key, parser, content hash) rather than by row id: two databases (or a
re-created one) can never hand each other the wrong spec.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import immutable
from engine.models import ProcessDefinition
from engine.spiff.serializer import serializer

_Key = tuple[str, str, str]


class SpecCache:
    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[_Key, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: _Key) -> tuple[Any, dict[str, Any]] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def _put(self, key: _Key, value: tuple[Any, dict[str, Any]]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def specs_for(self, session: Session, definition_ids: list[int]) -> dict[int, tuple[str, str, Any, dict]]:
        """definition id -> (key, parser, spec, inner specs), fetching spec JSON only on a miss."""
        known = immutable(session)  # a definition row's identity never changes once deployed
        missing = [i for i in definition_ids if ("definition", i) not in known]
        if missing:
            for def_id, *identity in session.execute(
                    select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.parser,
                           ProcessDefinition.content_hash).where(ProcessDefinition.id.in_(missing))):
                known[("definition", def_id)] = tuple(identity)
        out = {}
        for def_id, key, parser, content_hash in [(i, *known[("definition", i)]) for i in definition_ids
                                                  if ("definition", i) in known]:
            cache_key = (key, parser, content_hash)
            found = self._get(cache_key)
            if found is None:
                spec_json, inner_json = session.execute(
                    select(ProcessDefinition.spec_json, ProcessDefinition.inner_specs_json)
                    .where(ProcessDefinition.id == def_id)).one()
                registry = serializer(parser).registry
                found = (registry.restore(json.loads(spec_json)),
                         {n: registry.restore(d) for n, d in json.loads(inner_json).items()})
                self._put(cache_key, found)
            out[def_id] = (key, parser, *found)
        return out


SPECS = SpecCache()
