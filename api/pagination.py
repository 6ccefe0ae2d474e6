"""List endpoints: ``page``/``page_size`` in, ``{items, total, page, page_size}`` out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

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
