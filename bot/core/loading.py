"""Read a YAML text safely and validate it, reporting every fault with its file and line.

Admins edit these files by hand: an error must say where (file, line, step, field) and what
was expected, in French, all at once. The French wording lives in ``erreurs.yaml``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core.texts import typography

if TYPE_CHECKING:  # the parser is imported by read_yaml: a start with the library cached reads no YAML
    from ruamel.yaml.nodes import Node

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 256 * 1024
# A flow nests about six levels (steps, a step, its options, an option, a condition); the
# parser's time grows with depth (16 kB of "[" took 7.4 s), so deeper files are refused unread.
MAX_NESTING = 32
_COMPACT_ITEM = re.compile(r"[-?:] +")
_PLAIN_TAGS = {
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


class ValidationTexts(BaseModel):
    """The model of ``erreurs.yaml``: how load errors are worded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    with_line: str
    without_line: str
    step: str
    field: str
    item: str
    faults: dict[str, str]


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int | None
    where: str
    message: str

    def render(self, texts: ValidationTexts) -> str:
        template = texts.with_line if self.line else texts.without_line
        where = f", {self.where}" if self.where else ""
        return template.format(file=self.file, line=self.line, where=where, message=self.message)


class InvalidFile(Exception):
    """A file that cannot be used; carries every error found in it."""

    def __init__(self, errors: list[LoadError], texts: ValidationTexts) -> None:
        self.errors = errors
        self.texts = texts
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [error.render(self.texts) for error in self.errors]


def _fault(texts: ValidationTexts, kind: str, fallback: str, **values: object) -> str:
    template = texts.faults.get(kind)
    if template is None:
        # A fault erreurs.yaml does not word yet: say it in French, with the library's detail.
        other = texts.faults.get("other")
        return other.format(detail=fallback) if other else fallback
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def _check_nodes(node: Node, file: str, texts: ValidationTexts) -> list[LoadError]:
    """Refuse anchors, aliases and custom tags: plain data only (no billion-laughs, no objects)."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    errors: list[LoadError] = []
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue  # an alias: composed into its anchor's node, its line is found in read_yaml
        seen.add(id(current))
        line = current.start_mark.line + 1
        if getattr(current, "anchor", None):
            errors.append(LoadError(file, line, "", _fault(texts, "yaml_alias", "anchor")))
        if current.tag not in _PLAIN_TAGS:
            errors.append(LoadError(file, line, "", _fault(texts, "yaml_tag", "tag", tag=_short_tag(current.tag))))
        if isinstance(current, MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
        elif not isinstance(current, ScalarNode):
            errors.append(LoadError(file, line, "", _fault(texts, "yaml_tag", "tag", tag=_short_tag(current.tag))))
    return errors


def _short_tag(tag: str | None) -> str:
    """A tag as the admin wrote it: ``!!python/object``, not ``tag:yaml.org,2002:python/object``."""
    return str(tag).replace("tag:yaml.org,2002:", "!!", 1)


def _compact_items(content: str) -> int:
    """How many compact items (``- - x``, ``? x``, ``: x``) a line's content opens with."""
    count = position = 0
    while item := _COMPACT_ITEM.match(content, position):
        count, position = count + 1, item.end()
    return count


def nesting_bound(text: str) -> int:
    """An upper bound of how deep a YAML text nests, read without parsing it: indentation
    levels, compact items (``- - x``) and open brackets and braces, wherever they are (even
    quoted: a bound, not a parse)."""
    deepest = brackets = 0
    indents: list[int] = []
    for line in text.splitlines():
        content = line.lstrip(" ")
        if content and not content.startswith("#"):
            indent = len(line) - len(content)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
        items = _compact_items(content)
        for character in line if brackets or "[" in line or "{" in line else ():
            if character in "[{":
                brackets += 1
                deepest = max(deepest, brackets + len(indents) + items)
            elif character in "]}" and brackets:
                brackets -= 1
        deepest = max(deepest, brackets + len(indents) + items)
    return deepest


def read_yaml(text: str | bytes, file: str, texts: ValidationTexts) -> Any:
    """Parse YAML text into plain, line-annotated data, or raise :class:`InvalidFile`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.events import AliasEvent
    from ruamel.yaml.reader import ReaderError

    # Measured in bytes even for text: a str's length counts characters, and accented French
    # takes two bytes each, so the limit would let through up to twice the size.
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "replace"))
    if size > MAX_FILE_BYTES:
        raise InvalidFile(
            [LoadError(file, None, "", _fault(texts, "file_too_large", "too large", max=MAX_FILE_BYTES // 1024))], texts
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidFile([LoadError(file, None, "", _fault(texts, "not_utf8", "not utf-8"))], texts) from None
    if nesting_bound(text) > MAX_NESTING:
        raise InvalidFile([LoadError(file, None, "", _fault(texts, "yaml_too_deep", "too deep"))], texts)
    yaml = YAML(typ="rt", pure=True)
    try:
        node = yaml.compose(io.StringIO(text))
        if node is None:
            raise InvalidFile([LoadError(file, None, "", _fault(texts, "empty_file", "empty"))], texts)
        node_errors = _check_nodes(node, file, texts)
        if node_errors:
            # Composed, an alias is its anchor's node: read the events to report each alias at
            # its own line, once per line, in the order of the file.
            alias = _fault(texts, "yaml_alias", "alias")
            node_errors += [
                LoadError(file, event.start_mark.line + 1, "", alias)
                for event in yaml.parse(io.StringIO(text))
                if isinstance(event, AliasEvent)
            ]
            raise InvalidFile(sorted(dict.fromkeys(node_errors), key=lambda e: e.line or 0), texts)
        # From the node already composed: parsing the text again doubled the library's load,
        # most of the bot's start-up (bench/README.md).
        data = yaml.constructor.construct_document(node)
    except ReaderError as error:
        # A control or NUL character: a binary file, not text. Its position gives the line.
        line = text.count("\n", 0, max(error.position, 0)) + 1
        code = f"U+{error.character:04X}" if isinstance(error.character, int) else repr(error.character)
        raise InvalidFile(
            [LoadError(file, line, "", _fault(texts, "yaml_character", str(error), code=code))], texts
        ) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        context = error.context or ""
        if error.context_mark is not None and (
            mark is None or not text[mark.index :].strip() or "flow" in context or "quoted" in context
        ):
            # An unclosed quote or bracket is noticed lines later, often at the end of the
            # file: point at where it was opened, the line the admin must fix.
            mark = error.context_mark
        problem = error.problem or error.context or ""
        at = mark.line + 1 if mark else None
        raise InvalidFile(
            [LoadError(file, at, "", _fault(texts, "yaml_syntax", problem, problem=problem))], texts
        ) from None
    except YAMLError as error:
        raise InvalidFile(
            [LoadError(file, None, "", _fault(texts, "yaml_syntax", str(error), problem=str(error)))], texts
        ) from None
    except RecursionError:
        # Thousands of nested brackets fit in 256 KiB and exhaust the parser's recursion.
        raise InvalidFile([LoadError(file, None, "", _fault(texts, "yaml_too_deep", "too deep"))], texts) from None
    if not isinstance(data, Mapping):
        # The line where the document starts, after any comments heading the file.
        raise InvalidFile(
            [LoadError(file, node.start_mark.line + 1, "", _fault(texts, "not_a_mapping", "not a mapping"))], texts
        )
    return data


def typeset_texts(data: Any) -> None:
    """Give every text of the file French typography, in place: the one place every YAML text
    passes, so admins need not type narrow no-break spaces (keys and line numbers are kept)."""
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, str):
                node[key] = typography(value)
            elif isinstance(value, (Mapping, list)):
                stack.append(value)


def _line_of(data: Any, loc: Sequence[int | str]) -> int | None:
    """Follow a pydantic error location into the ruamel data to find the closest line."""
    line, node = None, data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and part in node:
                line = lc.key(part)[0] + 1 if lc else line
                node = node[part]
            elif isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
                line = lc.item(part)[0] + 1 if lc else line
                node = node[part]
            elif isinstance(node, Mapping):
                continue  # a union tag pydantic adds (e.g. "text"), not a key of the file
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    if line is None and getattr(data, "lc", None) is not None:
        line = data.lc.line + 1
    return line


_STEP_KINDS = {"text", "choice", "yes_no", "number", "date"}


def _where(data: Any, loc: Sequence[int | str], texts: ValidationTexts) -> str:
    """Name the place of an error the way an admin reads the file: step id, then field."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
            item = node[part] if part < len(node) else None
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                # 'étape "duree"' says enough: drop the '"steps"' that named the list.
                parts[-1:] = [texts.step.format(step=item["id"])]
            else:
                parts.append(texts.item.format(index=part + 1))
            node = item
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
            parts.append(texts.field.format(field=part))
        elif isinstance(part, str) and (not isinstance(node, Mapping) or part not in _STEP_KINDS):
            # pydantic names the step kind in the location of a step's errors: not a field.
            parts.append(texts.field.format(field=part))
    return ", ".join(parts)


def error_at(data: Any, loc: Sequence[int | str], file: str, texts: ValidationTexts, message: str) -> LoadError:
    """An error at ``loc`` in the loaded ``data``, with its line and place as the admin reads them."""
    return LoadError(file, _line_of(data, loc), _where(data, loc, texts), message)


def validate(model: type[M], data: Any, file: str, texts: ValidationTexts, context: dict[str, Any] | None = None) -> M:
    """Validate loaded data against a model; raise :class:`InvalidFile` with every fault."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        errors = []
        for detail in error.errors(include_url=False):
            loc = [part for part in detail["loc"] if not str(part).startswith("function-")]
            if detail["type"] == "union_tag_invalid":
                # Point at the misspelled tag ("kind: texte"), not at the first line of the step.
                loc.append(str(detail["ctx"]["discriminator"]).strip("'"))
            context = {k: v for k, v in (detail.get("ctx") or {}).items() if isinstance(v, (str, int, float))}
            message = _fault(texts, detail["type"], detail["msg"], **context)
            errors.append(error_at(data, loc, file, texts, message))
        raise InvalidFile(errors, texts) from None


def load(
    model: type[M],
    text: str | bytes,
    file: str,
    texts: ValidationTexts,
    context: dict[str, Any] | None = None,
    *,
    typeset: bool = True,
) -> M:
    """Read and validate one YAML text; ``context`` carries what other files define.

    Its texts get French typography unless ``typeset`` is False (erreurs.yaml, whose wording
    quotes YAML as it must be typed, « nom: valeur »).
    """
    data = read_yaml(text, file, texts)
    if typeset:
        typeset_texts(data)
    return validate(model, data, file, texts, context)
