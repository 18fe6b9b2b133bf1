"""What Telegram's HTML parse mode accepts, checked before a text is ever sent (pure).

Telegram refuses a whole message whose HTML it cannot parse (400 "can't parse entities"),
and one longer than 4096 characters once parsed. A flow uploaded by a group's admins is
checked here, so that it is refused at upload rather than failing for every member later.
The rules follow Telegram's parser (tests/fake_telegram/html_parser.py re-implements it): a
few tags, ``<a href>`` and ``<span class="tg-spoiler">`` as the only attributes that count,
every tag closed in order, and ``<``, ``>``, ``&`` written as entities.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MESSAGE_LIMIT = 4096  # characters of a message, as members read it
CALLBACK_DATA_LIMIT = 64  # bytes of a button's data
BUTTON_TEXT_LIMIT = 64  # characters a button shows before Telegram cuts it

TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    }
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))*)\s*(/?)>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


@dataclass(frozen=True)
class HtmlProblem:
    """Why Telegram would refuse a text: ``kind`` names the fault (worded in erreurs.yaml)."""

    kind: str  # html_tag | html_unclosed | html_close | html_less_than | html_ampersand
    tag: str = ""


def html_problem(text: str) -> HtmlProblem | None:
    """The first reason Telegram's HTML parser would refuse ``text``; None if it parses."""
    opened: list[str] = []
    position = 0
    while position < len(text):
        character = text[position]
        if character == "<":
            tag = _TAG.match(text, position)
            if tag is None:
                return HtmlProblem("html_less_than")
            closing, name = tag.group(1), tag.group(2).lower()
            if name not in TAGS:
                return HtmlProblem("html_tag", name)
            if closing:
                if not opened or opened[-1] != name:
                    return HtmlProblem("html_close", name)
                opened.pop()
            elif not tag.group(4):
                opened.append(name)
            position = tag.end()
        elif character == "&":
            entity = _ENTITY.match(text, position)
            if entity is None:
                return HtmlProblem("html_ampersand")
            position = entity.end()
        else:
            position += 1
    if opened:
        return HtmlProblem("html_unclosed", opened[-1])
    return None


def shown_length(text: str) -> int:
    """The length Telegram counts: the text without its tags, entities decoded."""
    return len(html.unescape(re.sub(r"<[^>]*>", "", text)))
