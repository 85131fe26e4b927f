"""Building a composed YAML node graph fast, when it is plain: the path most documents take.

:mod:`._reading`'s strict loader checks every node in Python while PyYAML constructs it
(duplicate keys, values that cannot be built, located errors), which costs several times what
libyaml's parsing does. Most documents are plain: mappings whose keys are distinct strings,
lists, and scalars PyYAML builds without complaint. :func:`build_plain` builds such a graph in
one recursive pass (strings as they are, other scalars by PyYAML's own safe constructors,
aliases as the same object, as PyYAML does), checking the limits on the way, and raises
:class:`NotPlain` at the first thing that is not plain or not within the limits. The caller
then builds the document with the strict loader, which reports exactly what it always did, at
its line and column. Nothing here is public.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NotPlain", "build_plain"]

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_OPEN = object()  # a collection being built: an alias to it is a recursive document


class NotPlain(Exception):  # noqa: N818 - a signal to take the strict path, not an error
    """The graph needs the strict loader: a key that is not a distinct string, a tag other than
    a plain mapping or list, a value PyYAML cannot build, or a limit exceeded."""


def build_plain(yaml: Any, node: Any, *, max_values: int, max_depth: int) -> Any:
    """The value of ``node`` as PyYAML's safe loader builds it, or :class:`NotPlain`.

    Within the limits means: at most ``max_values`` values once aliases are expanded, mappings
    and lists nested at most ``max_depth`` deep, no alias to a value containing it.

    Example:
        >>> import yaml
        >>> node = yaml.compose("a: [1, x, 2026-01-01]\\nb: &s {c: null}\\nd: *s\\n")
        >>> data = build_plain(yaml, node, max_values=100, max_depth=10)
        >>> data["a"], data["b"] is data["d"]
        ([1, 'x', datetime.date(2026, 1, 1)], True)
        >>> build_plain(yaml, yaml.compose("a: 1\\na: 2\\n"), max_values=100, max_depth=10)
        Traceback (most recent call last):
        ...
        privacy_kit.model._yaml_plain.NotPlain: a key that is not a distinct string
    """
    scalar_t, mapping_t = yaml.ScalarNode, yaml.MappingNode
    scalars = yaml.constructor.SafeConstructor()
    built: dict[int, tuple[Any, int, int]] = {}  # id(collection) -> (value, values, depth)

    def build(node: Any, level: int) -> tuple[Any, int, int]:
        if node.__class__ is scalar_t:
            if node.tag == _STR:
                return node.value, 1, 0
            try:
                return scalars.construct_object(node, deep=True), 1, 0
            except Exception as exc:  # any failure: the strict loader says what and where
                raise NotPlain("a value PyYAML cannot build") from exc
        key = id(node)
        found = built.get(key)
        if found is not None:
            if found[0] is _OPEN:
                raise NotPlain("an alias to a value containing it")
            if level + found[2] > max_depth:
                raise NotPlain("nested too deep")
            return found
        if level >= max_depth:
            raise NotPlain("nested too deep")
        built[key] = (_OPEN, 0, 0)
        values, depth = 1, 1
        if node.__class__ is mapping_t:
            if node.tag != _MAP:
                raise NotPlain("a mapping with a tag of its own")
            value: Any = {}
            for key_node, item_node in node.value:
                name = key_node.value
                if key_node.__class__ is not scalar_t or key_node.tag != _STR or name in value:
                    raise NotPlain("a key that is not a distinct string")
                item, count, height = build(item_node, level + 1)
                value[name] = item
                values += count + 1
                depth = max(depth, height + 1)
        else:
            if node.tag != _SEQ:
                raise NotPlain("a list with a tag of its own")
            value = []
            for item_node in node.value:
                item, count, height = build(item_node, level + 1)
                value.append(item)
                values += count
                depth = max(depth, height + 1)
        if values > max_values:
            raise NotPlain("too many values")
        built[key] = (value, values, depth)
        return value, values, depth

    return build(node, 0)[0]
