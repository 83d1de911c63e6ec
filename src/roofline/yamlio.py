"""Safe YAML loading and schema validation with errors that name the file, key and line."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from roofline.errors import InputError

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 64 * 1024 * 1024
# A document with more aliases than this is refused.
MAX_YAML_ALIASES = 10_000
# Anchors that expand into each other ("billion laughs": nine lines of ten aliases each make 1e9
# nodes) cost nothing to compose, but anything that walks the data — validation, an error message
# quoting it — walks the expansion: 11 GB and a hang, measured. The expanded tree may exceed the
# written one by at most this many nodes.
MAX_YAML_EXPANSION = 100_000
# The composer recurses per level: a 500-deep "[[[[…" was a RecursionError. Configs nest < 10.
MAX_YAML_DEPTH = 64
_FLOAT_TAG = "tag:yaml.org,2002:float"


def read_text(path: Path, *, what: str, max_bytes: int = MAX_YAML_BYTES) -> str:
    if not path.exists():
        raise InputError("file not found", file=path, fix=f"check the path of the {what}")
    if path.is_dir():
        raise InputError("is a directory, not a file", file=path, fix=f"give the {what} file itself")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise InputError("is not a regular file", file=path, fix=f"give the {what} file itself")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit for a {what}",
            file=path,
            fix="check that this is the right file",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start})", file=path, fix=f"a {what} must be a YAML text file"
        ) from None


# libyaml (PyYAML's C extension) parses the 19 bundled specs in ~0.02 s where the pure-Python
# parser took 0.44 s on every run; both build the same nodes (with line marks, for the messages)
# and the same safe constructor runs on them, so the data is what yaml.safe_load returns.
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path, *, what: str) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file with ``yaml.safe_load`` semantics; return data and its node tree."""
    text = read_text(path, what=what)
    if not text.strip():
        raise InputError("file is empty", file=path, fix=f"write a {what} (see docs/)")
    try:
        _check_events(text, path)
        loader = SAFE_LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise InputError("file holds no YAML document", file=path, fix=f"write a {what} (see docs/)")
            _check_nodes(node, path)
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                raise _yaml_error(exc, path, "plain YAML only; tags are not allowed") from None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path, "fix the YAML syntax") from None
    return data, node


def _yaml_error(exc: yaml.YAMLError, path: Path, fix: str) -> InputError:
    mark = getattr(exc, "problem_mark", None)
    place = f"line {mark.line + 1}" if mark else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InputError(f"invalid YAML: {problem}", file=path, place=place, fix=fix)


def _check_events(text: str, path: Path) -> None:
    """Depth and alias count from the event stream, which the parser produces without recursing:
    before the (recursive) composer sees the document."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=SAFE_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise InputError(f"nested more than {MAX_YAML_DEPTH} levels deep", file=path,
                                 place=f"line {event.start_mark.line + 1}", fix="flatten the document")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise InputError(f"more than {MAX_YAML_ALIASES:,} YAML aliases", file=path,
                                 place=f"line {event.start_mark.line + 1}", fix="expand anchors by hand")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_nodes(root: yaml.Node, path: Path) -> None:
    """Refuse alias bombs (the expanded tree much larger than the written one), self-referencing
    anchors, and non-finite floats (``.inf``, ``.nan``, ``1.0e+999``): a number no config means,
    which would reach the output as NaN."""
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            if size[key] - len(size) > MAX_YAML_EXPANSION:
                raise InputError(f"YAML aliases expand to more than {MAX_YAML_EXPANSION:,} extra values (an alias "
                                 "bomb?)", file=path, place=f"line {node.start_mark.line + 1}",
                                 fix="expand anchors by hand")
            continue
        if key in size:
            continue
        if key in visiting:
            raise InputError("a YAML anchor refers to itself", file=path, place=f"line {node.start_mark.line + 1}",
                             fix="remove the recursive alias")
        if isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT_TAG and not _finite(node.value):
            raise InputError(f"'{node.value}' is not a finite number", file=path,
                             place=f"line {node.start_mark.line + 1}", fix="write a finite number")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text.replace("_", "")))
    except ValueError:  # .inf, .nan, sexagesimal 1:30.5 (finite; the constructor reads it)
        return ":" in text


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the key at ``loc`` in a composed YAML tree (nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == str(part):
                    line = key.start_mark.line + 1
                    current = value
                    break
            else:
                return line
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
            line = current.start_mark.line + 1
        else:
            return line
    return line


def format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose fields hold the last key of ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return None
        annotation = fields[part].annotation
        current = _unwrap_model(annotation)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def validate(model: type[M], data: Any, *, path: Path, node: yaml.Node | None, what: str) -> M:
    """Validate ``data`` against ``model``; the first problem becomes a one-line InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, model=model, path=path, node=node, what=what) from None


def validation_to_input_error(
    exc: ValidationError, *, model: type[BaseModel], path: Path, node: yaml.Node | None, what: str
) -> InputError:
    errors = exc.errors()
    # A typo'd key shows up twice (unknown key + missing key); the unknown one carries the fix.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    key = format_loc(loc)
    line = line_of(node, loc)
    place = f"line {line}" if line else None
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc)
        options = sorted(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), options, n=1)
        fix = f"did you mean '{guess[0]}'?" if guess else f"allowed keys: {', '.join(options)}"
        return InputError(f"unknown key '{key}' in {what}", file=path, place=place, fix=fix)
    if kind == "missing":
        return InputError(f"missing required key '{key}' in {what}", file=path, place=place, fix="add it")
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "literal_error" and loc and loc[-1] == "schema_version":
        return InputError(
            f"unsupported schema_version {error.get('input')!r}",
            file=path,
            place=place,
            fix="this roofline reads schema_version 1; upgrade roofline or convert the file",
        )
    subject = f"'{key}'" if key else "document"
    return InputError(f"{subject}: {message}", file=path, place=place, fix=f"see the {what} format in docs/")
