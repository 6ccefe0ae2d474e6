"""flask-smorest blueprints, one module per resource.

Make each with ``Blueprint`` from here: its ``@blp.arguments`` read JSON bodies through
``api.input_limits`` (the one parse, with depth, number and text limits).
"""

from __future__ import annotations

import flask_smorest

from api.input_limits import Parser


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
