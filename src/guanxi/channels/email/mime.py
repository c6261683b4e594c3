"""Internet message bytes (RFC 5322, MIME RFC 2045-2047), built by hand because it is hot.

Python's ``email`` package builds and flattens a 19 KB HTML mail about 270 times a second per
core; a bulk send needs several hundred a second next to rendering and SMTP. Here a message is a
few byte strings joined: headers formatted directly, bodies encoded with ``binascii`` (C).

Body encoding, per part: quoted-printable when it is the smaller encoding (non-ASCII bytes under
about a sixth of the body: Latin text and markup, readable in the raw source, ~1.05-1.1x), else
base64 (CJK-heavy text, where quoted-printable would triple every byte; 1.33x). That is the
choice Python's own package makes for UTF-8, made here from a byte count instead of encoding
twice. Both keep every line under 78 octets, so long HTML lines never break the 998 limit, and
both survive any 7-bit relay. The multipart boundary starts with ``=_``, a sequence that neither
quoted-printable nor base64 output can contain, so no body needs scanning for it.

:class:`Prebuilt` holds what every message from one sender shares (the validated, encoded From
header); the bodies differ per recipient (personalisation, tracked links), and encoding them
dominates the cost whatever is cached around them.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime

from guanxi.channels.base import key_digest, message_id
from guanxi.kit.clock import utcnow

CRLF = b"\r\n"
_WIDTH = 78  # RFC 5322 SHOULD; folding keeps header lines under it where a break is possible
_HARD = 998  # RFC 5322 MUST
_LONGEST_WORD = 900  # a longer word in a Subject goes as encoded-words, which can split it
_WORD_BYTES = 39  # UTF-8 bytes per encoded-word: 52 base64 chars, 64 with "=?utf-8?b?" "?="
_B64_LINE = 76
_RESERVED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
_DOMAIN_FORBIDDEN = frozenset('()<>[]:;@\\,"')
_TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
_HTML_PART = b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "


def check_address(address: str) -> str:
    """``address`` as it goes on the wire: one ``local@domain``, the domain in IDNA form.
    Raises ValueError for anything else (a display name, a list, CR/LF, a non-ASCII local part,
    which would need SMTPUTF8)."""
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c in _DOMAIN_FORBIDDEN for c in domain):
        raise ValueError(f"not an email address: {address!r}")
    if not local.isascii() or any(c.isspace() or c in '<>(),;:\\"[]@' for c in local):
        raise ValueError(f"not a deliverable local part: {address!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a valid domain: {address!r}") from exc
    if any(c.isspace() or not c.isprintable() for c in domain):
        raise ValueError(f"not a valid domain: {address!r}")
    return f"{local}@{domain.lower()}"


def _one_line(value: str) -> str:
    """Header values are one line: a CR or LF from a template variable must not start a new
    header (header injection)."""
    if "\r" in value or "\n" in value:
        return value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return value


def _encoded_words(value: str) -> list[str]:
    """RFC 2047 B encoded-words of at most 64 characters, each an integral number of UTF-8
    characters (a word never splits a character)."""
    data = value.encode()
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # continuation byte
            end -= 1
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{chunk}?=")
        start = end
    return words


def _fold(name: str, tokens: list[str]) -> bytes:
    """``Name: tok tok …`` with a fold (CRLF before the separating space) wherever the next
    token would pass 78 characters. An empty token (from a double space) is never moved to a
    line of its own, which RFC 5322 forbids."""
    parts = [name, ":"]
    width = len(name) + 1
    line_has_token = False
    for token in tokens:
        if line_has_token and token and width + 1 + len(token) > _WIDTH:
            parts.append("\r\n ")
            width = 1
        else:
            parts.append(" ")
            width += 1
        parts.append(token)
        width += len(token)
        line_has_token = line_has_token or bool(token)
        if width > _HARD:
            raise ValueError(f"header {name} has a word longer than {_HARD} characters")
    parts.append("\r\n")
    return "".join(parts).encode("ascii")


def _plain(value: str) -> bool:
    return value.isascii() and value.isprintable()


def unstructured(name: str, value: str) -> bytes:
    """A text header (Subject): ASCII as is, folded at spaces; anything else, text that a
    decoder could mistake for an encoded-word, or a word too long to fold, as encoded-words."""
    value = _one_line(value)
    tokens = value.split(" ")
    if _plain(value) and "=?" not in value and max(map(len, tokens)) <= _LONGEST_WORD:
        return _fold(name, tokens)
    return _fold(name, _encoded_words(value))


def address_header(name: str, address: str, display_name: str | None = None) -> bytes:
    """``Name: "Display" <local@domain>``; a non-ASCII display name as encoded-words (which
    RFC 2047 allows in a phrase, never inside quotes)."""
    address = check_address(address)
    if not display_name or not display_name.strip():
        return _fold(name, [address])
    display_name = _one_line(display_name.strip())
    if _plain(display_name) and "=?" not in display_name:
        quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
        tokens = ('"' + quoted + '"').split(" ")
    else:
        tokens = _encoded_words(display_name)
    return _fold(name, [*tokens, f"<{address}>"])


def extra_header(name: str, value: str) -> bytes:
    """A caller's header (List-Unsubscribe, List-Unsubscribe-Post, X-…): ASCII as given (it may
    be structured, so never encoded), folded at spaces; non-ASCII text as encoded-words. The
    fields this module writes itself cannot be overridden."""
    if not name or not all(33 <= ord(c) <= 126 and c != ":" for c in name):
        raise ValueError(f"not a header name: {name!r}")
    if name.lower() in _RESERVED:
        raise ValueError(f"header {name} is set by the builder")
    value = _one_line(value)
    return _fold(name, value.split(" ") if _plain(value) else _encoded_words(value))


def encode_body(text: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, encoded body) of a text part, line ends made CRLF (the
    canonical form of text/*, RFC 2045 §6.4); see the module docstring for the choice."""
    data = text.encode()
    # bytes beyond one per character ≈ 2/3 of the non-ASCII bytes (CJK: 3 bytes a character)
    non_ascii = (len(data) - len(text)) * 3 // 2
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if non_ascii * 6 < len(data):
        encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
        return b"quoted-printable", encoded.replace(b"\n", CRLF)
    raw = binascii.b2a_base64(data.replace(b"\n", CRLF), newline=False)
    lines = [raw[i : i + _B64_LINE] for i in range(0, len(raw), _B64_LINE)]
    return b"base64", CRLF.join(lines)


class Prebuilt:
    """What every message from one sender shares: the From header, checked and encoded once,
    and the domain of Message-IDs. Build one per (from address, from name) and reuse it."""

    __slots__ = ("domain", "from_address", "from_header")

    def __init__(
        self, from_address: str, from_name: str | None = None, *, domain: str | None = None
    ) -> None:
        self.from_address = check_address(from_address)
        self.from_header = address_header("From", self.from_address, from_name)
        self.domain = domain or self.from_address.rpartition("@")[2]

    def message_id(self, key: str) -> str:
        return message_id(key, self.domain)

    def build(
        self,
        *,
        key: str,
        to: str,
        subject: str | None,
        html: str | None,
        text: str | None,
        headers: Mapping[str, str] | None = None,
        date: datetime | None = None,
    ) -> bytes:
        """The message bytes, CRLF throughout, ready for SMTP DATA (dot-stuffing is the SMTP
        client's). The Message-ID and the boundary derive from ``key``, so a repeat of the
        message is the same message."""
        digest = key_digest(key)
        head = [
            self.from_header,
            address_header("To", to),
            unstructured("Subject", subject or ""),
            b"Date: " + format_datetime(date or utcnow()).encode("ascii") + CRLF,
            b"Message-ID: <" + f"{digest}@{self.domain}".encode("ascii") + b">\r\n",
            b"MIME-Version: 1.0\r\n",
        ]
        if headers:
            head.extend(extra_header(name, value) for name, value in headers.items())
        if html is None or text is None:
            kind, only = (b"plain", text) if html is None else (b"html", html)
            if only is None:
                raise ValueError("a message needs an HTML or a text body")
            cte, body = encode_body(only)
            # the message ends with a line break, which here is not a boundary's: in
            # quoted-printable it must be soft (=CRLF) unless the text itself ends with one
            end = b"=\r\n" if cte == b"quoted-printable" and not body.endswith(CRLF) else CRLF
            head += [b"Content-Type: text/", kind, b"; charset=utf-8\r\n"]
            head += [b"Content-Transfer-Encoding: ", cte, b"\r\n\r\n", body]
            if not body.endswith(CRLF):
                head.append(end)
            return b"".join(head)
        boundary = b"=_gx_" + digest[:24].encode("ascii")
        text_cte, text_body = encode_body(text)
        html_cte, html_body = encode_body(html)
        head += [
            b'Content-Type: multipart/alternative; boundary="',
            boundary,
            b'"\r\n\r\n--',
            boundary,
            CRLF,
            _TEXT_PART,
            text_cte,
            b"\r\n\r\n",
            text_body,
            b"\r\n--",
            boundary,
            CRLF,
            _HTML_PART,
            html_cte,
            b"\r\n\r\n",
            html_body,
            b"\r\n--",
            boundary,
            b"--\r\n",
        ]
        return b"".join(head)
