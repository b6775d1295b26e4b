"""A dict as a YAML pipeline, for pwalk.run(dict).

The engine parses pipelines with libyaml and reports problems as
file:line:column plus the key; emitting block style, one key per line, keeps
those positions meaningful for a dict too.  No third-party YAML module is
used (the package installs offline with only the standard library).
"""

import json
import os
import re

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _scalar(value, where):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"{where}: bytes that are not UTF-8 cannot go into a YAML pipeline "
                "(give such roots through the roots= argument)") from None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: {value!r} cannot be written as UTF-8 YAML") from None
        # A JSON string is a valid YAML double-quoted scalar (same escapes).
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"{where}: cannot put a {type(value).__name__} into a pipeline")


def _key(k, where):
    if not isinstance(k, str):
        raise TypeError(f"{where}: keys must be str, not {type(k).__name__}")
    return k if _PLAIN_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _emit(value, indent, lines, where):
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            lines[-1] += " {}"
            return
        for k, v in value.items():
            key = _key(k, where)
            sub = f"{where}.{k}" if where else k
            if isinstance(v, (dict, list, tuple)) and v:
                lines.append(f"{pad}{key}:")
                _emit(v, indent + 1, lines, sub)
            elif isinstance(v, dict):
                lines.append(f"{pad}{key}: {{}}")
            elif isinstance(v, (list, tuple)):
                lines.append(f"{pad}{key}: []")
            else:
                lines.append(f"{pad}{key}: {_scalar(v, sub)}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            sub = f"{where}[{i}]"
            if isinstance(v, dict) and v:
                first = True
                for k, item in v.items():
                    key = _key(k, sub)
                    lead = f"{pad}- " if first else f"{pad}  "
                    first = False
                    if isinstance(item, (dict, list, tuple)) and item:
                        lines.append(f"{lead}{key}:")
                        _emit(item, indent + 2, lines, f"{sub}.{k}")
                    elif isinstance(item, dict):
                        lines.append(f"{lead}{key}: {{}}")
                    elif isinstance(item, (list, tuple)):
                        lines.append(f"{lead}{key}: []")
                    else:
                        lines.append(f"{lead}{key}: {_scalar(item, f'{sub}.{k}')}")
            elif isinstance(v, (list, tuple)):
                raise TypeError(f"{sub}: nested lists do not occur in a pipeline")
            else:
                lines.append(f"{pad}- {_scalar(v, sub)}")
    else:
        raise TypeError(f"{where or 'pipeline'}: expected a mapping")


def dump(pipeline):
    """The YAML text of a pipeline given as a dict."""
    if not isinstance(pipeline, dict):
        raise TypeError("a pipeline is a dict (or a YAML file path)")
    if not pipeline:
        return "{}\n"
    lines = []
    _emit(pipeline, 0, lines, "")
    return "\n".join(lines) + "\n"
