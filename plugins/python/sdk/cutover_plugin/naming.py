"""Names as the Airbyte Python CDK makes them, so a plugin can predict the stream names a
connector derives (from class names, from the names of reports a config defines).

Here the CDK's own regular expressions are the implementation; the Rust SDK reimplements
them without a regex engine, and the parity tests hold the two to the same answers.
"""

import re

from .types import InvalidInput

__all__ = ["camel_to_snake", "config_stream_names"]

_FIRST = re.compile("(.)([A-Z][a-z]+)")
_SECOND = re.compile("([a-z0-9])([A-Z])")


def camel_to_snake(name):
    """The CDK's `casing.camel_to_snake`."""
    return _SECOND.sub(r"\1_\2", _FIRST.sub(r"\1_\2", name)).lower()


def config_stream_names(config, key, class_prefix):
    """The stream names of the reports a config defines as a list under `key` (each with a
    `name`), as a Python CDK connector derives them: `camel_to_snake(class_prefix + name)`."""
    if key not in config:
        return []
    reports = config[key]
    if not isinstance(reports, list):
        raise InvalidInput(f"/{key} must be an array")
    names = []
    for i, report in enumerate(reports):
        name = report.get("name") if isinstance(report, dict) else None
        if not isinstance(name, str):
            raise InvalidInput(f"/{key}/{i}/name must be a string")
        names.append(camel_to_snake(class_prefix + name))
    return names
