"""List endpoints: ``page``/``page_size`` in, ``{items, total, page, page_size}`` out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000  # keeps OFFSET inside a 64-bit integer (and any sane listing)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A response schema for one page of ``item``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "page_size": fields.Integer(),
    }, name=name)


def page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


def offset(args: dict[str, Any]) -> int:
    return (args["page"] - 1) * args["page_size"]


def query_page(s: Session, q: Select, order_by: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The page ``args`` asks for of a query's rows in ``order_by`` order, with the total it selects."""
    total = s.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = s.scalars(q.order_by(order_by).limit(args["page_size"]).offset(offset(args))).all()
    return page(list(rows), int(total or 0), args)
