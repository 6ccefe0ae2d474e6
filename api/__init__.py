"""HTTP API (flask-smorest): blueprints, schemas and authentication; no business rules."""

from api.app import create_app

__all__ = ["create_app"]
