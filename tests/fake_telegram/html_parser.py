"""A re-implementation of the Telegram (tdlib) HTML parse mode, good enough for tests.

It follows tdlib's ``parse_html`` algorithm (``td/telegram/MessageEntity.cpp``) closely so that the
error messages look like the ones Telegram returns after ``Bad Request: can't parse entities: ``.

One deliberate deviation: with ``strict_ampersand=True`` (the default used by the fake server) an
``&`` that does not start a recognised HTML entity is an error.  Real Telegram keeps such an ``&``
literally, but a bot that inserts user text without ``html.escape`` is buggy anyway (a user typing
``&lt;`` would see ``<``), so the fake server rejects it to make those bugs visible in tests.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HtmlParseError", "parse_html", "utf16_len"]

_VALID_TAGS = frozenset(
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
        "tg-time",
        "blockquote",
    }
)

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_SPACES = " \t\r\n\f\v"


class HtmlParseError(ValueError):
    """Raised with the tdlib-style message (without the ``Bad Request: ...`` prefix)."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the HTML entity starting at ``text[pos] == '&'``.

    Returns (decoded character, index after the entity) or None if there is no valid entity.
    Like tdlib, the trailing ``;`` is optional.
    """
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] in "xX":
            end += 1
            start = end
            while end < n and text[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                if value >= 0x10FFFF:
                    return None
                end += 1
        else:
            start = end
            while end < n and text[end].isdigit() and text[end].isascii():
                value = value * 10 + int(text[end])
                if value >= 0x10FFFF:
                    return None
                end += 1
        if end == start or value == 0 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[pos + 1 : end]
        if name not in _NAMED_ENTITIES:
            return None
        char = _NAMED_ENTITIES[name]
    if end < n and text[end] == ";":
        end += 1
    return char, end


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML.

    Returns ``(plain_text, entities)`` where entities are Bot API MessageEntity dicts with UTF-16
    offsets.  Raises :class:`HtmlParseError` on invalid markup.
    """
    n = len(text)
    out: list[str] = []
    out_utf16 = 0
    stack: list[dict[str, Any]] = []  # open tags
    entities: list[dict[str, Any]] = []
    i = 0

    def err(msg: str) -> HtmlParseError:
        return HtmlParseError(msg)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                out_utf16 += utf16_len(char)
                continue
            if strict_ampersand:
                raise err(
                    f'Unescaped "&" at byte offset {_byte_offset(text, i)} (the fake Telegram '
                    'server requires "&amp;"; escape user text with html.escape)'
                )
        if c != "<":
            out.append(c)
            out_utf16 += utf16_len(c)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and text[i] == "/":
            # end tag
            if not stack:
                raise err(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            name_start = i
            while i < n and text[i] not in _SPACES and text[i] != ">":
                i += 1
            end_name = text[name_start:i].lower()
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n or text[i] != ">":
                raise err(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            opened = stack.pop()
            if end_name and end_name != opened["tag"]:
                raise err(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{opened["tag"]}>", found "</{end_name}>"'
                )
            length = out_utf16 - opened["offset"]
            entity = _make_entity(opened, length)
            if entity is not None:
                entities.append(entity)
            continue

        # start tag
        name_start = i
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        if i >= n:
            raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[name_start:i].lower()
        if tag not in _VALID_TAGS:
            raise err(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and text[i] not in _SPACES and text[i] not in "=>":
                i += 1
            attr_name = text[attr_start:i].lower()
            if not attr_name:
                raise err(f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(text, attr_start)}')
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if text[i] != "=":
                if tag == "blockquote" and attr_name == "expandable":
                    attrs[attr_name] = ""
                    continue
                raise err(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" at '
                    f"byte offset {_byte_offset(text, begin)}"
                )
            i += 1
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if text[i] not in "'\"":
                value_start = i
                while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] in ".-")):
                    i += 1
                value = text[value_start:i].lower()
                if i >= n or (text[i] not in _SPACES and text[i] != ">"):
                    raise err(f"Unexpected end of name token at byte offset {_byte_offset(text, i)}")
            else:
                quote = text[i]
                i += 1
                chars: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_entity(text, i)
                        if decoded is not None:
                            chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                i += 1
                value = "".join(chars)
            attrs[attr_name] = value
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise err(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}')
        stack.append({"tag": tag, "attrs": attrs, "offset": out_utf16})

    if stack:
        raise err(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')

    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    # <pre><code class="language-x">...</code></pre> -> a single pre entity with a language
    merged: list[dict[str, Any]] = []
    for entity in entities:
        if (
            entity["type"] == "code"
            and entity.get("language")
            and merged
            and merged[-1]["type"] == "pre"
            and merged[-1]["offset"] == entity["offset"]
            and merged[-1]["length"] == entity["length"]
        ):
            merged[-1]["language"] = entity["language"]
            continue
        if entity["type"] == "code":
            entity.pop("language", None)
        merged.append(entity)
    return "".join(out), merged


def _make_entity(opened: dict[str, Any], length: int) -> dict[str, Any] | None:
    if length <= 0:
        return None
    tag = opened["tag"]
    attrs = opened["attrs"]
    entity: dict[str, Any] = {"type": _ENTITY_TYPES[tag], "offset": opened["offset"], "length": length}
    if tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        entity["url"] = href
    elif tag == "code":
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            entity["language"] = lang[len("language-") :]
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        if "emoji-id" not in attrs:
            return None
        entity["custom_emoji_id"] = attrs["emoji-id"]
    elif tag == "tg-time":
        try:
            entity["unix_time"] = int(attrs.get("unix", ""))
        except ValueError:
            return None
        if "format" in attrs:
            entity["date_time_format"] = attrs["format"]
    return entity
