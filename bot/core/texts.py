"""Templates for every text the bot shows, written by admins in the YAML files.

Texts are Telegram HTML (admins may write ``<b>`` or ``<i>``). Values put into them are
escaped unless they are already :class:`Html`, so a partner called ``<Ma & Co>`` shows as
typed. Placeholders are plain names checked when the file is loaded: a template that asks
for ``{nombre}`` where only ``{number}`` exists is rejected before it reaches a member, and
``{x.__class__}``-style attribute access is impossible.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_FORMATTER = string.Formatter()
_TAG = re.compile(r"<[^>]+>")
# How long members' answers may stay, longest first, when a message showing them would pass
# the length Telegram accepts: answers are shortened, the message is still sent.
PREVIEWS = (None, 400, 200, 100, 50)


class Html(str):
    """A fragment that is already valid Telegram HTML and must not be escaped again."""


def placeholders(template: str) -> set[str]:
    """Return the placeholder names a template uses.

    A conversion or format spec stays part of the name, so ``{number!r}`` or ``{number:>9}``
    is refused as unknown: a spec can pad a text to gigabytes, or nest a placeholder
    (``{number:{number.__class__}}``) that this check would not see and render would crash on.
    """
    try:
        return {
            field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            for _, field, spec, conversion in _FORMATTER.parse(template)
            if field is not None
        }
    except ValueError as error:  # a lone "{" or "}"
        raise PydanticCustomError("template_syntax", "template_syntax") from error


@dataclass(frozen=True, init=False)
class Placeholders:
    """Makes a str field a template whose placeholders must be among ``names``:
    ``Annotated[str, Placeholders("min", "max")]``, refused when its file is loaded otherwise."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", names)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        unknown = placeholders(value) - set(self.names)
        if unknown:
            raise PydanticCustomError(
                "template_placeholder",
                "template_placeholder",
                {"unknown": ", ".join(sorted(unknown)), "allowed": ", ".join(self.names) or "-"},
            )
        return value


# A template that takes no placeholder, as most texts are.
Template = Annotated[str, Placeholders()]


# French typography: a narrow no-break space (U+202F) before ? ! : ; and » and after «, so
# that Telegram never wraps the sign alone onto the next line. Never inside what is not
# prose: HTML tags and entities, addresses, placeholders, commands (/aide), times (14:30).
NARROW_NBSP = "\u202f"
_NOT_PROSE = re.compile(
    r"<[^>]*>|&#?\w+;|https?://[^\s<>\"]+|\{[^{}]*\}|(?<![\w/])/[A-Za-z]\w*(?:@\w+)?|\d{1,2}:\d{2}|[:;]-?[()]"
)
_CLOSING = re.compile(r"[ \t\u00a0\u202f]*([?!:;»])")
_OPENING = re.compile(r"«[ \t\u00a0\u202f]*")


def typography(text: str) -> str:
    """``text`` with French typography's narrow no-break spaces; applying it twice changes nothing."""

    def closing(text: str, match: re.Match[str]) -> str:
        mark, previous = match.group(1), text[match.start() - 1] if match.start() > 0 else "\n"
        if match.start() == match.start(1) and (previous == "\n" or (mark != "»" and previous in "?!:;")):
            return match.group()  # a line's first sign, or the second of « ?! »
        return NARROW_NBSP + mark

    def opening(text: str, match: re.Match[str]) -> str:
        return match.group() if text[match.end() : match.end() + 1] in ("", "\n") else "«" + NARROW_NBSP

    for pattern, space in ((_CLOSING, closing), (_OPENING, opening)):
        text = _spaced(text, pattern, space)
    return text


def _spaced(text: str, pattern: re.Pattern[str], space: Callable[[str, re.Match[str]], str]) -> str:
    """``text`` with each match of ``pattern`` replaced by ``space``'s, except where it is not prose."""
    protected = [match.span() for match in _NOT_PROSE.finditer(text)]

    def replacement(match: re.Match[str]) -> str:
        if any(start <= match.end() - 1 < end for start, end in protected):
            return match.group()
        return space(text, match)

    return pattern.sub(replacement, text)


def render(template: str, /, **values: object) -> Html:
    """Fill a template, escaping every value that is not already :class:`Html`."""
    safe = {
        name: value if isinstance(value, Html) else html.escape(str(value), quote=False)
        for name, value in values.items()
    }
    return Html(template.format_map(safe))


def join(lines: list[Html], separator: str = "\n") -> Html:
    """Join already-rendered fragments."""
    return Html(separator.join(lines))


def escape(text: str) -> Html:
    """Escape member-written text for display."""
    return Html(html.escape(text, quote=False))


def shorten(text: str, length: int, ellipsis: str) -> str:
    """``text`` cut to ``length`` characters, with ``ellipsis`` when something was cut."""
    return text if len(text) <= length else text[:length].rstrip() + ellipsis


def plain(fragment: str) -> str:
    """Telegram HTML as members read it: without its markup, entities decoded."""
    return html.unescape(_TAG.sub("", fragment))


def fitting(make: Callable[[int | None], Html], limit: int) -> Html:
    """``make(preview)`` for the longest of :data:`PREVIEWS` whose text fits ``limit`` characters.

    ``make`` shortens members' answers to ``preview`` characters (None: whole). Telegram
    counts the characters members read, not the markup.
    """
    for preview in PREVIEWS:
        text = make(preview)
        if len(plain(text)) <= limit:
            break
    return text
