"""MIME built by hand, read back by Python's ``email`` parser: headers decode, both parts decode
to exactly what went in (Chinese text, long lines, trailing spaces, dots, CRLF), lines stay short
and CRLF-terminated; and how fast it builds (printed, not asserted)."""

from __future__ import annotations

import email
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, MIMEPart

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guanxi.channels.base import message_id
from guanxi.channels.email.mime import Prebuilt, check_address, encode_body

UNSUBSCRIBE = "<https://guanxi.example/u/tok3n?x=1>, <mailto:unsub@guanxi.example?subject=u>"
HEADERS = {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(part: MIMEPart) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def assert_wire_clean(raw: bytes) -> None:
    assert raw.isascii()
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def newsletter_html(cjk: bool = False) -> str:
    row = (
        '<tr><td class="item" style="padding:8px;font-family:Helvetica,Arial">'
        '<a href="https://shop.example/p/{i}?utm_source=edm&amp;utm_medium=email">Product {i}</a>'
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit = sed do eiusmod.</p>"
        "</td></tr>\n"
    )
    if cjk:
        row = row.replace(
            "Lorem ipsum dolor sit amet", "春季新品上市，全场八折，欢迎选购我们的产品与服务"
        )
    body = "".join(row.format(i=i) for i in range(80))
    return f"<!DOCTYPE html><html><body><table>{body}</table></body></html>"


def test_multipart_round_trip_with_chinese_and_long_lines() -> None:
    sender = Prebuilt("news@guanxi.example", "关系 Marketing「团队」")
    html = "<p>你好，张三！</p>\n" + "<p>" + "很长的一行" * 400 + "</p>\n" + "x" * 3000
    text = (
        "你好，张三！\n.leading dot\nFrom the start\ntrailing spaces   \n\ttab=equals\n"
        + "y" * 2000
    )
    subject = "春节特惠：全场八折！ Don't miss it 🎉 " + "长" * 50
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    raw = sender.build(
        key="enrolment:1:node:7:0",
        to="li.si@Example.COM",
        subject=subject,
        html=html,
        text=text,
        headers=HEADERS,
        date=when,
    )
    assert_wire_clean(raw)
    parsed = parse(raw)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "关系 Marketing「团队」"
    assert parsed["From"].addresses[0].addr_spec == "news@guanxi.example"
    assert parsed["To"] == "li.si@example.com"
    assert parsed["Message-ID"] == message_id("enrolment:1:node:7:0", "guanxi.example")
    assert parsed["Date"].datetime == when
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["List-Unsubscribe"] == UNSUBSCRIBE
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    assert plain.get_content_charset() == "utf-8"
    assert text_of(plain) == text
    assert text_of(rich) == html
    assert parsed.defects == []
    assert plain.defects == []
    assert rich.defects == []


def test_encoding_is_the_smaller_one() -> None:
    assert encode_body(newsletter_html())[0] == b"quoted-printable"
    assert encode_body("春季新品上市，全场八折。\n" * 100)[0] == b"base64"
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject="s", html=newsletter_html(), text="短信息" * 50
    )
    plain, rich = parse(raw).iter_parts()
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert rich["Content-Transfer-Encoding"] == "quoted-printable"


@pytest.mark.parametrize(
    ("html", "text", "kind"), [("<p>x</p>", None, "text/html"), (None, "x", "text/plain")]
)
def test_single_part(html: str | None, text: str | None, kind: str) -> None:
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject=None, html=html, text=text
    )
    parsed = parse(raw)
    assert parsed.get_content_type() == kind
    assert text_of(parsed) == (html or text)


def test_a_repeat_is_the_same_message() -> None:
    sender = Prebuilt("a@guanxi.example", "A")
    when = datetime(2026, 5, 1, tzinfo=UTC)
    one, two = (
        sender.build(
            key="m-1", to="b@example.com", subject="s", html="<p>h</p>", text="t", date=when
        )
        for _ in range(2)
    )
    other = sender.build(
        key="m-2", to="b@example.com", subject="s", html="<p>h</p>", text="t", date=when
    )
    assert one == two
    assert parse(one)["Message-ID"] == sender.message_id("m-1") != parse(other)["Message-ID"]


def test_header_values_cannot_inject_headers() -> None:
    raw = Prebuilt("a@guanxi.example", 'Evil\r\nBcc: x@example.com "quoted"').build(
        key="k",
        to="b@example.com",
        subject="Hello\r\nBcc: victim@example.com",
        html=None,
        text="t",
        headers={"X-Campaign": "春节\nBcc: y@example.com"},
    )
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hello Bcc: victim@example.com"
    assert parsed["X-Campaign"] == "春节 Bcc: y@example.com"
    assert parsed["From"].addresses[0].display_name == 'Evil Bcc: x@example.com "quoted"'


def test_long_ascii_subject_is_folded_and_looks_like_encoded_word_is_encoded() -> None:
    subject = " ".join(["word"] * 60)
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject=subject, html=None, text="t"
    )
    assert_wire_clean(raw)
    assert parse(raw)["Subject"] == subject
    tricky = "=?utf-8?b?5L2g5aW9?= is not an encoded word here"
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject=tricky, html=None, text="t"
    )
    assert parse(raw)["Subject"] == tricky


def test_refusals() -> None:
    sender = Prebuilt("a@guanxi.example")
    for bad in [
        "no-at-sign",
        "two@@example.com",
        "a b@example.com",
        "<a@example.com>",
        "a@b.com, c@d.com",
        "张@example.com",
    ]:
        with pytest.raises(ValueError):  # noqa: PT011 - the reason is in the message
            check_address(bad)
    with pytest.raises(ValueError, match="set by the builder"):
        sender.build(
            key="k", to="b@example.com", subject="s", html=None, text="t", headers={"Subject": "x"}
        )
    with pytest.raises(ValueError, match="header name"):
        sender.build(
            key="k", to="b@example.com", subject="s", html=None, text="t", headers={"Bad Name": "x"}
        )
    with pytest.raises(ValueError, match="HTML or a text body"):
        sender.build(key="k", to="b@example.com", subject="s", html=None, text=None)
    assert check_address(" 王@例子.中国 ".replace("王", "wang")) == "wang@xn--fsqu00a.xn--fiqs8s"


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400))
def test_any_text_survives_either_encoding(text: str) -> None:
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject=text, html=None, text=text
    )
    assert_wire_clean(raw)
    parsed = parse(raw)
    canonical = text.replace("\r\n", "\n").replace("\r", "\n")
    assert text_of(parsed) == canonical
    assert " ".join(parsed["Subject"].split()) == " ".join(canonical.split())


def test_build_speed() -> None:
    """A 19 KB newsletter: the by-hand builder against Python's email package (printed)."""
    sender = Prebuilt("news@guanxi.example", "关系团队")
    for label, html in (("latin", newsletter_html()), ("cjk", newsletter_html(cjk=True))):
        text = "Hello 张三, our spring catalogue is out.\n" * 60
        rounds = 2000
        started = time.perf_counter()
        for i in range(rounds):
            sender.build(
                key=f"m-{i}",
                to=f"user{i}@example.com",
                subject="春季新品 Spring",
                html=html,
                text=text,
                headers=HEADERS,
            )
        ours = rounds / (time.perf_counter() - started)
        rounds_std = 100
        started = time.perf_counter()
        for i in range(rounds_std):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = (
                "关系团队 <news@guanxi.example>",
                f"u{i}@example.com",
                "春季新品",
            )
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            msg.as_bytes()
        std = rounds_std / (time.perf_counter() - started)
        print(
            f"\nMIME build ({label}, {len(html.encode()) // 1024} KB HTML): {ours:,.0f}/s by hand, {std:,.0f}/s with the email package"
        )
