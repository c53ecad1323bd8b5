"""Jinja2 environments: HTML with autoescaping always on, and plain text (config.toml) without.

Templates ship in the package (``frontdoor/templates``), loaded through importlib.resources so an
installed wheel finds them.  Nothing user-supplied is ever marked ``|safe``.
"""

from __future__ import annotations

from functools import cache

import jinja2

TEMPLATE_PACKAGE = ("frontdoor", "templates")


@cache
def html_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(*TEMPLATE_PACKAGE),
        autoescape=True,  # every {{ }} in every template, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def text_environment() -> jinja2.Environment:
    """For TOML: values are encoded by the caller (``webui_config.toml_value``), not HTML-escaped."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(*TEMPLATE_PACKAGE),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
