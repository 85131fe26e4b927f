"""Reading YAML and JSON documents that may be hostile: every limit is a located PolicyError.

The limits, and what each one refuses:

* **size**: at most ``max_bytes`` bytes are read (10 MiB by default); a larger file is refused
  after reading ``max_bytes + 1`` bytes at most. Anything but a regular file (a directory, a FIFO,
  ``/dev/zero``) is refused before a byte is read.
* **aliases**: a YAML alias stands for a copy of what its anchor names; the values the document
  holds once every alias is expanded are counted (without expanding them) and a document over
  :data:`MAX_VALUES` is refused before it is built, so an alias bomb is refused at once.
* **nesting**: mappings and lists nested deeper than :data:`MAX_DEPTH` are refused (YAML, JSON and
  mappings alike), so no stage of loading can run out of stack.
* **text**: a string with a lone surrogate (``"\\ud800"`` in YAML) cannot be written as UTF-8, so
  it is refused where it is rather than when a notice is written.
* **values YAML cannot build** (``!!float x``, ``2024-02-30``, an integer of more than 4,300
  digits) are refused at their line and column.
* **messages**: an input quoted in a message is cut at :data:`MAX_SHOWN` characters, a message at
  :data:`MAX_MESSAGE`, and at most :data:`MAX_PROBLEMS` problems are listed, then "and N more".
"""

from __future__ import annotations

import functools
import os
import reprlib
import stat
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import ConfigurationError, PolicyError, Problem, WrongTypeError
from ._yaml_plain import NotPlain, build_plain

# Nothing here is public: model._loading (load_policy, load_datamap, read_document) uses it.
__all__: list[str] = []

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""The largest file read by default (10 MiB); ``max_bytes=`` raises or lowers it."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists accepted (the example policy needs 6)."""
MAX_VALUES = 250_000
"""The most values (scalars, mappings and lists, YAML aliases expanded) one document may hold."""
MAX_SHOWN = 200
"""An input quoted in a message is cut at this many characters."""
MAX_MESSAGE = 1000
"""A problem's message is cut at this many characters."""
MAX_PROBLEMS = 50
"""At most this many problems are listed; the rest are counted ("and N more problems")."""


# -- messages -------------------------------------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxstring = MAX_SHOWN
_REPR.maxother = MAX_SHOWN
_REPR.maxlong = MAX_SHOWN
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def shorten(value: Any) -> str:
    """``repr(value)``, never longer than :data:`MAX_SHOWN` characters, even for a huge value.

    Nested and shared values (a YAML alias bomb) are not expanded to be shown.

    Example:
        >>> shorten("x" * 1000)[:12], len(shorten("x" * 1000)) <= 200
        ("'xxxxxxxxxxx", True)
        >>> shorten([[1, 2], "a"])
        "[[1, 2], 'a']"
    """
    try:
        text = _REPR.repr(value)
    except (RecursionError, ValueError):  # a huge int repr() refuses, a cycle too deep
        text = f"<{type(value).__name__}>"
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return text


def bounded(problems: list[Problem]) -> list[Problem]:
    """At most :data:`MAX_PROBLEMS` problems, each message at most :data:`MAX_MESSAGE` long.

    Example:
        >>> many = [Problem(f"x[{i}]", "bad") for i in range(60)]
        >>> out = bounded(many)
        >>> len(out), str(out[-1])
        (51, 'and 10 more problems')
    """
    out = []
    for problem in problems[:MAX_PROBLEMS]:
        message = problem.message
        if len(message) > MAX_MESSAGE:
            message = f"{message[: MAX_MESSAGE - 30]}... ({len(message):,} characters)"
        location = problem.location
        if len(location) > MAX_SHOWN:
            location = location[: MAX_SHOWN - 3] + "..."
        out.append(Problem(location, message))
    if len(problems) > MAX_PROBLEMS:
        out.append(Problem("", f"and {len(problems) - MAX_PROBLEMS} more problems"))
    return out


def _refuse(name: str, where: str, message: str) -> PolicyError:
    return PolicyError(name, [Problem(where, message)])


# -- reading a file -------------------------------------------------------------------------------


def require_max_bytes(max_bytes: object) -> int:
    """``max_bytes`` if it is a positive integer, else the error that says so."""
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool):
        raise WrongTypeError(
            f"max_bytes must be a positive integer, got {type(max_bytes).__name__}"
        )
    if max_bytes < 1:
        raise ConfigurationError(f"max_bytes must be a positive integer, got {max_bytes}")
    return max_bytes


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], name: str, max_bytes: int, suffix_ok: bool) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` bytes.

    A FIFO is opened without blocking and every kind of file is refused before a byte is read
    unless it is a regular file; at most ``max_bytes + 1`` bytes are ever read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _refuse(name, "", f"cannot read file: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _file_kind(info.st_mode)
            raise _refuse(name, "", f"cannot read file: {kind} is not a regular file")
        if not suffix_ok:
            raise _refuse(name, "", "unsupported file type; use .yaml, .yml or .json")
        too_large = _refuse(
            name,
            "",
            f"the file is larger than {max_bytes:,} bytes, the limit (raise it with max_bytes=)",
        )
        if info.st_size > max_bytes:
            raise too_large
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise too_large  # the file grew while it was read
        return b"".join(chunks)
    except OSError as exc:
        raise _refuse(name, "", f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


# -- parsing --------------------------------------------------------------------------------------


def parse_document(raw: bytes, name: str, *, json: bool) -> Any:
    """Decode ``raw`` (UTF-8), parse it as JSON or YAML and check the limits on what it holds."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(
            name, "", f"file is not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}"
        ) from exc
    if json:
        import orjson  # noqa: PLC0415 - only a JSON document needs it (not a first use's YAML)

        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise _refuse(name, where, f"invalid JSON: {exc.msg}") from exc
    else:
        data = parse_yaml(text, name)
    problems = data_problems(data)
    if problems:
        raise PolicyError(name, bounded(problems))
    return data


def parse_yaml(text: str, name: str, *, libyaml: bool | None = None) -> Any:
    """Parse YAML with the safe loader (libyaml's when installed), refusing what :mod:`_reading` lists.

    ``libyaml=False`` forces the pure-Python parser (the same checks; for tests).
    """
    try:
        import yaml  # noqa: PLC0415 - optional dependency, imported only when a YAML file is read
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise _refuse(
            name, "", "reading YAML needs PyYAML: pip install 'privacy-kit[yaml]'"
        ) from exc
    use_c = yaml.__with_libyaml__ if libyaml is None else libyaml
    if use_c and not yaml.__with_libyaml__:
        raise ConfigurationError("libyaml=True, but PyYAML was installed without libyaml")
    try:
        return _build(yaml, text, libyaml=use_c)
    except _LimitError as exc:
        raise _refuse(name, _at(exc.mark), exc.message) from None
    except yaml.YAMLError as exc:
        error = exc
    syntax = (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.reader.ReaderError)
    if use_c and isinstance(error, syntax) and len(text) <= _REPARSE_LIMIT:
        # libyaml words its syntax errors its own way; PyYAML's words are the documented ones,
        # so a syntax error is read again by PyYAML's parser to report it.
        try:
            _build(yaml, text, libyaml=False)
        except (yaml.YAMLError, _LimitError) as again:
            if isinstance(again, _LimitError):
                raise _refuse(name, _at(again.mark), again.message) from None
            error = again
    where = _at(getattr(error, "problem_mark", None))
    problem = getattr(error, "problem", None) or str(error)
    context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and start is not None:
        # e.g. an unclosed '[': PyYAML notices it lines later; say where it was opened
        problem += f" ({context} at line {start.line + 1}, column {start.column + 1})"
    raise _refuse(name, where, f"invalid YAML: {problem}") from error


class _LimitError(Exception):
    """A YAML document over a limit, at ``mark`` (raised before the document is built)."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


_REPARSE_LIMIT = 1024 * 1024
"""Up to this size, a YAML syntax error libyaml found is reported in PyYAML's words."""
_COUNT_FIRST = 1024 * 1024
"""Above this size, the parser's events are counted before a node is built."""


def _count_events(yaml: Any, loader: Any) -> None:
    """Refuse a (large) document with more values than allowed before building it."""
    values = (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
    try:
        count = 0
        while loader.check_event():
            event = loader.get_event()
            count += isinstance(event, values)
            if count > MAX_VALUES:
                raise _LimitError(
                    event.start_mark, f"the document holds more than {MAX_VALUES:,} values"
                )
    finally:
        loader.dispose()


def _build(yaml: Any, text: str, *, libyaml: bool) -> Any:
    """Compose ``text``, then build it: a plain graph in one pass (:mod:`._yaml_plain`), any
    other with the strict loader, which checks every node and locates what it refuses."""
    if len(text) > _COUNT_FIRST:
        _count_events(yaml, _strict_yaml_loader(libyaml)(text))
    loader = _strict_yaml_loader(libyaml)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return build_plain(yaml, node, max_values=MAX_VALUES, max_depth=MAX_DEPTH)
        except NotPlain:
            pass  # the strict loader reports what is wrong, or builds what is merely unusual
        _check_nodes(node, yaml)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_nodes(root: Any, yaml: Any) -> None:
    """Refuse a node graph that expands to too many values, nests too deep or is recursive.

    Each node is visited once: the size and depth of what an alias stands for are computed once
    and added wherever the alias is used, so an alias bomb costs as little as its text.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    open_nodes: set[int] = set()
    aliased = False
    distinct = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node, yaml)
        if finished:
            open_nodes.discard(key)
            values, depth = 1, (0 if isinstance(node, yaml.ScalarNode) else 1)
            for child in children:
                child_values, child_depth = sizes[id(child)]
                values += child_values
                depth = max(depth, child_depth + 1)
            if values > MAX_VALUES:
                message = f"the document holds more than {MAX_VALUES:,} values"
                if aliased:
                    message += " once its aliases are expanded (an alias bomb?)"
                raise _LimitError(node.start_mark, message)
            if depth > MAX_DEPTH:
                raise _LimitError(node.start_mark, f"nested more than {MAX_DEPTH} levels deep")
            sizes[key] = (values, depth)
            continue
        if key in sizes:
            aliased = True
            continue
        if key in open_nodes:
            raise _LimitError(node.start_mark, "an alias refers to a value that contains it")
        open_nodes.add(key)
        distinct += 1
        if distinct > MAX_VALUES:  # before expanding anything: enough already
            raise _LimitError(
                node.start_mark, f"the document holds more than {MAX_VALUES:,} values"
            )
        stack.append((node, True))
        for child in children:
            if id(child) in sizes:
                aliased = True
            else:
                stack.append((child, False))


def _children(node: Any, yaml: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_KINDS = {"int": "integer", "float": "number", "timestamp": "date or time", "bool": "boolean"}


def _constructor_problem(node: Any, exc: Exception) -> str:
    """Why YAML could not build a value: ``invalid date or time '2024-02-30': day is out of range``."""
    tag = str(getattr(node, "tag", "") or "")
    kind = tag.rsplit(":", 1)[-1]
    what = _KINDS.get(kind, f"{kind} value" if kind else "value")
    value = node.value if isinstance(getattr(node, "value", None), str) else None
    shown = f" {shorten(value)}" if value is not None else ""
    detail = str(exc)
    if kind == "int" and "digits" in detail:
        return f"invalid integer: more than {sys.get_int_max_str_digits():,} digits"
    if isinstance(exc, ValueError) and (value is None or value not in detail) and len(detail) < 80:
        return f"invalid {what}{shown}: {detail}"
    return f"invalid {what}{shown}"


# What PyYAML's constructors raise on a value they cannot build, besides its own ConstructorError.
_UNBUILDABLE = (ValueError, TypeError, AttributeError, OverflowError, LookupError)


def _unbuildable(node: Any, exc: Exception) -> Exception:
    import yaml  # noqa: PLC0415 - optional dependency

    return yaml.constructor.ConstructorError(
        None, None, _constructor_problem(node, exc), node.start_mark
    )


def _located(generator: Iterator[Any], node: Any) -> Iterator[Any]:
    try:
        yield from generator
    except _UNBUILDABLE as exc:
        raise _unbuildable(node, exc) from exc


@functools.cache
def _strict_yaml_loader(libyaml: bool) -> Any:
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last one) and turns a
    value it cannot build into a located error rather than a bare ``ValueError``."""
    import yaml  # noqa: PLC0415 - optional dependency

    base: Any = yaml.CSafeLoader if libyaml else yaml.SafeLoader

    class StrictLoader(base):  # type: ignore[misc]
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self.depth = 0

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            pending = len(self.state_generators)
            try:
                data = super().construct_object(node, deep=deep)
            except _UNBUILDABLE as exc:
                raise _unbuildable(node, exc) from exc
            if len(self.state_generators) == pending + 1:
                # A collection is built in two steps, the second after this returns: locate its
                # errors too (``!!set x``, ``!!map [1]``).
                self.state_generators[-1] = _located(self.state_generators[-1], node)
            return data

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: PyYAML reports it itself
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {shorten(key)}", key_node.start_mark
                    )
            return super().construct_mapping(node, deep=deep)

        if not libyaml:
            # The pure-Python composer recurses once per level: stop before the stack does.
            # (libyaml refuses more than 1000 levels itself; the node check then applies.)
            def compose_node(self, parent: Any, index: Any) -> Any:
                self.depth += 1
                try:
                    if self.depth > MAX_DEPTH + 1:  # the containers, then a scalar
                        raise _LimitError(
                            self.peek_event().start_mark,
                            f"nested more than {MAX_DEPTH} levels deep",
                        )
                    return super().compose_node(parent, index)
                finally:
                    self.depth -= 1

    return StrictLoader


# -- what a parsed document (or a mapping given directly) holds -----------------------------------


def _where(path: tuple[int | str, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{shorten(part)}]"
    return out


def _surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``, or ``None``."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _surrogate_problem(path: tuple[int | str, ...], text: str, index: int, what: str) -> Problem:
    return Problem(
        _where(path),
        f"{what} has a lone surrogate {text[index]!r} at character {index}, which cannot be "
        "written as UTF-8",
    )


def data_problems(data: Any) -> list[Problem]:
    """What a document holds that no loader should go on with: nesting deeper than
    :data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values, text with a lone surrogate.

    Iterative, and it stops at the limits: a cyclic or shared structure cannot make it loop.

    Example:
        >>> data_problems({"title": {"en": "ok", "ar": "\\ud800"}})[0].location
        'title.ar'
        >>> data_problems({"a": [1, 2]})
        []
    """
    if not _may_have_problems(data):
        return []
    problems: list[Problem] = []
    count = 0
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        count += 1
        if count > MAX_VALUES:
            problems.append(
                Problem(_where(path), f"the document holds more than {MAX_VALUES:,} values")
            )
            break
        if isinstance(value, str):
            index = _surrogate(value)
            if index is not None:
                problems.append(_surrogate_problem(path, value, index, "text"))
            continue
        if isinstance(value, Mapping):
            items: list[tuple[int | str, Any]] = []
            for key, item in value.items():
                if isinstance(key, str):
                    index = _surrogate(key)
                    if index is not None:
                        problems.append(_surrogate_problem(path, key, index, f"key {shorten(key)}"))
                        continue
                items.append((key if isinstance(key, str | int) else str(key), item))
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        else:
            continue
        if len(path) >= MAX_DEPTH:
            problems.append(Problem(_where(path), f"nested more than {MAX_DEPTH} levels deep"))
            continue
        stack.extend((item, (*path, key)) for key, item in reversed(items))
    return problems


def _may_have_problems(data: Any) -> bool:
    """Whether :func:`data_problems` would find anything: the same walk, without the path of
    each value (kept only to locate a problem), so a sound document, nearly every one, is
    checked at a fraction of the cost; one that is not is walked again, locating each problem."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return True
        if isinstance(value, str):
            if not value.isascii() and _surrogate(value) is not None:
                return True
            continue
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and not key.isascii() and _surrogate(key) is not None:
                    return True
            items: Any = value.values()
        elif isinstance(value, list | tuple):
            items = value
        else:
            continue
        if depth >= MAX_DEPTH:
            return True
        depth += 1
        stack.extend((item, depth) for item in items)
    return False
