"""JSON text exactly as the host and the Rust SDK write it.

The host parses what a plugin returns and compares it byte for byte with what the Rust
version of the same migration returns, and plugins put JSON values into notes and errors.
So Python plugins must write JSON as serde_json does: compact, keys in insertion order,
only `"`, `\\` and control characters escaped, and floats as serde_json formats them. Both
write the shortest digits that read back exactly, and mostly alike (`0.1`, `1e+16`), but
for small numbers serde_json writes `1.5e-7` and `0.00001` where Python's `repr` writes
`1.5e-07` and `1e-05`. The standard library's C encoder does everything else; a document
whose text holds such an exponent is written again by a Python encoder that formats floats
the serde_json way.

Reading refuses what serde_json refuses and Python would take: `NaN`, `Infinity` and numbers
beyond a double.
"""

import json
import math
import re

__all__ = ["loads", "dumps", "string", "number", "equal", "JSONDecodeError"]

JSONDecodeError = json.JSONDecodeError


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text}")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False)

#: The escape serde_json gives a string (the C implementation where there is one).
string = json.encoder.encode_basestring

#: Python's repr of a float wrote an exponent serde_json writes otherwise: `2.5e-05`.
_PYTHON_EXPONENT = re.compile(r"[0-9]e-0")


def loads(text):
    """Parses JSON text; a `ValueError` (a `JSONDecodeError` for bad syntax) if it is not JSON."""
    return _DECODER.decode(text)


def dumps(value):
    """Compact JSON text of `value`, byte for byte as serde_json writes the same value."""
    text = _ENCODER.encode(value)
    if _PYTHON_EXPONENT.search(text) is None:
        return text
    parts = []
    _write(value, parts.append)
    return "".join(parts)


def number(value):
    """A float as serde_json writes it: the digits Python's `repr` chooses (both pick the
    shortest that reads back exactly), in decimal notation while the point falls within 16
    digits before or 5 zeros after them, else as `<d>[.<digits>]e<exponent>`, the exponent
    signed (`e+16`, `e-7`) and without leading zeros."""
    if value != value or value in (math.inf, -math.inf):
        raise ValueError(f"{value!r} is not JSON")
    text = repr(value)
    sign = "-" if text[0] == "-" else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    # value = int(digits) * 10**k, with no leading or trailing zeros in digits.
    digits = (whole + fraction).lstrip("0")
    k = int(exponent or 0) - len(fraction)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    if not digits:
        return sign + "0.0"
    point = len(digits) + k  # 10**(point-1) <= |value| < 10**point
    if k >= 0 and point <= 16:
        return f"{sign}{digits}{'0' * k}.0"
    if 0 < point <= 16:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -5 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    return f"{sign}{head}e{'+' if exponent > 0 else ''}{exponent}"


def _write(value, out):
    if value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, str):
        out(string(value))
    elif isinstance(value, int):
        out(int.__repr__(value))
    elif isinstance(value, float):
        out(number(value))
    elif isinstance(value, dict):
        out("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if not first:
                out(",")
            first = False
            out(string(key))
            out(":")
            _write(item, out)
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for i, item in enumerate(value):
            if i:
                out(",")
            _write(item, out)
        out("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON")


def equal(a, b):
    """Whether two values are equal as serde_json's `Value`s compare: like `==`, except that
    `true` is not `1`, and an integer is never equal to a float (`1` and `1.0` differ)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int) != isinstance(b, int) or isinstance(a, float) != isinstance(b, float):
        return False
    if isinstance(a, dict):
        return isinstance(b, dict) and len(a) == len(b) and all(k in b and equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(b, (dict, list)):
        return False
    return a == b
