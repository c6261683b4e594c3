"""Templates: missing values render as defaults, never as errors; HTML is escaped, text and
subjects are not; CSS is inlined once at compile time with Jinja intact; a text part is derived
from the HTML; tracked links and the open pixel; and how fast a 19 KB template renders
(printed, not asserted)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from guanxi.message import render as r
from guanxi.message.render import Tracking, compile_template, render, variables

TRACKING = Tracking(
    open_url="https://t.guanxi.example/o/abc.gif",
    click_url=lambda url: f"https://t.guanxi.example/c?u={url}",
)


def one(html: str, values: dict[str, Any] | None = None, **kw: Any) -> str:
    out = render(compile_template("s", html), variables(**(values or {})), **kw)
    assert out.html is not None
    return out.html


def test_missing_values_render_as_defaults() -> None:
    compiled = compile_template(
        "{{ contact.first_name | default('朋友') }}，春季特惠",
        "<p>{{ contact.first_name | default('朋友') }}|{{ contact.city }}|{{ contact.custom.level.name }}|"
        "{{ account.name | d('贵公司') }}|{{ nothing.at.all }}|{% if contact.city %}city{% endif %}</p>",
        "{{ contact.first_name | default('朋友') }} {{ sender.name }}",
    )
    for contact in ({}, {"first_name": None, "city": None}, {"first_name": "", "custom": None}):
        out = render(compiled, variables(contact=contact))
        assert out.subject == "朋友，春季特惠"
        assert out.html == "<p>朋友|||贵公司||</p>"
        assert out.text == "朋友 "
    out = render(
        compiled,
        variables(
            contact={"first_name": "张三", "city": "上海", "custom": {"level": {"name": "金"}}}
        ),
    )
    assert out.html == "<p>张三|上海|金|贵公司||city</p>"


def test_html_is_escaped_and_subject_and_text_are_not() -> None:
    compiled = compile_template(
        "Hi {{ contact.first_name }}", "<p>{{ contact.first_name }}</p>", "{{ contact.first_name }}"
    )
    out = render(compiled, variables(contact={"first_name": "<b>Tom & Jerry</b>"}))
    assert out.html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert out.subject == "Hi <b>Tom & Jerry</b>"
    assert out.text == "<b>Tom & Jerry</b>"
    multiline = render(compile_template("{{ a }}", None, "x"), {"a": "one\r\ntwo  three\n"})
    assert multiline.subject == "one two three"


def test_syntax_errors_say_where() -> None:
    with pytest.raises(r.TemplateError) as caught:
        compile_template("ok", "<p>\n\n{% if contact.city %}\n</p>")
    assert (caught.value.part, caught.value.line) == ("html", 3)  # the unclosed tag
    assert "line 3" in str(caught.value)
    assert caught.value.message.render("zh_CN")
    with pytest.raises(r.TemplateError) as caught:
        compile_template("{{ contact.first_name ", "<p></p>")
    assert caught.value.part == "subject"
    with pytest.raises(r.TemplateError):
        compile_template("s", None, None)


def test_run_time_failures_and_the_sandbox() -> None:
    with pytest.raises(r.TemplateError) as caught:
        render(compile_template("s", "<p>{{ 1 / 0 }}</p>"), variables())
    assert caught.value.part == "html"
    assert caught.value.line is None
    escaped = one("<p>{{ ''.__class__.__mro__ }}{{ contact.__class__ }}</p>")
    assert "class" not in escaped
    with pytest.raises(r.TemplateError):
        render(compile_template("s", "{{ ''.__class__.__mro__[1].__subclasses__() }}"), variables())


STYLED = """<!DOCTYPE html>
<html><head><title>{{ contact.first_name }}</title>
<style>p { color: #333; } .btn { background: #c00; padding: 8px; }
@media (max-width: 600px) { p { font-size: 14px; } }</style></head>
<body>
<p class="hello">你好，{{ contact.first_name | default("朋友") }}</p>
<table>
{% for item in items %}<tr><td class="btn"><a href="{{ item.url }}" title="{{ item.name }}">{{ item.name }}</a></td></tr>
{% endfor %}</table>
{# a comment #}
<p>{% if contact.city %}来自{{ contact.city }}{% else %}欢迎{% endif %}</p>
<a href="{{ unsubscribe_url }}">退订</a>
</body></html>
"""


def test_css_is_inlined_once_with_jinja_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = compile_template("s", STYLED)
    assert not compiled.inline_at_render

    class NoInlining:
        def inline(self, html: str) -> str:
            raise AssertionError("inlined per render")

    monkeypatch.setattr(r, "_INLINER", NoInlining())
    items = [
        {"url": "https://shop.example/1", "name": "春装"},
        {"url": "https://shop.example/2", "name": "A&B"},
    ]
    values = variables(
        contact={"first_name": "李四", "city": "杭州"},
        extra={"items": items},
        unsubscribe_url="https://g.example/u/1",
    )
    html = render(compiled, values).html
    assert html is not None
    assert '<p class="hello" style="color: #333;">你好，李四</p>' in html
    assert html.count('style="background: #c00;padding: 8px;"') == 2
    assert 'title="A&amp;B">A&amp;B</a>' in html
    assert '<p style="color: #333;">来自杭州</p>' in html
    assert "@media (max-width: 600px) { p { font-size: 14px; } }" in html  # kept in <style>
    assert ".btn" not in html  # the rules that were inlined are gone
    assert "a comment" not in html


def test_jinja_where_an_attribute_name_goes_is_inlined_after_rendering() -> None:
    source = '<style>td { color: red; }</style><table><tr><td {% if vip %}class="vip"{% endif %}>x</td></tr></table>'
    compiled = compile_template("s", source)
    assert compiled.inline_at_render
    assert 'class="vip" style="color: red;"' in (render(compiled, {"vip": True}).html or "")
    assert '<td style="color: red;">x</td>' in (render(compiled, {"vip": False}).html or "")


def test_a_template_without_css_is_left_as_written() -> None:
    source = "<p>{{ contact.first_name }}</p>"
    assert compile_template("s", source).html is not None
    assert one(source, {"contact": {"first_name": "王五"}}) == "<p>王五</p>"


def test_text_part_is_derived_from_the_html() -> None:
    values = variables(
        contact={"first_name": "李四"},
        extra={"items": [{"url": "https://shop.example/1", "name": "春装"}]},
        unsubscribe_url="https://g.example/u/1",
    )
    text = render(compile_template("s", STYLED), values).text
    assert (
        text
        == "你好，李四\n\n春装 (https://shop.example/1)\n\n欢迎\n\n退订 (https://g.example/u/1)\n"
    )
    given = render(compile_template("s", STYLED, "Hi {{ contact.first_name }}"), values).text
    assert given == "Hi 李四"


def test_tracking_rewrites_web_links_only() -> None:
    source = """<html><body>
<a href="https://shop.example/p?a=1&amp;b=2">shop</a>
<a class="x" href='http://old.example/'>old</a>
<a href=https://bare.example/x>bare</a>
<a data-href="https://no.example/" href="mailto:hi@example.com">mail</a>
<a href="tel:+8610123">tel</a> <a href="#top">top</a> <a href="/relative">rel</a>
<a href="{{ unsubscribe_url }}">unsubscribe</a> <a href="{{ preferences_url }}">prefs</a>
<A HREF="HTTPS://UPPER.example/">upper</A>
<area shape="rect" href="https://map.example/">
</body></html>"""
    values = variables(
        unsubscribe_url="https://g.example/u/1?x=1&y=2", preferences_url="https://g.example/p/1"
    )
    html = render(compile_template("s", source), values, TRACKING).html
    assert html is not None
    assert (
        '<a href="https://t.guanxi.example/c?u=https://shop.example/p?a=1&amp;b=2">shop</a>' in html
    )
    assert '<a class="x" href="https://t.guanxi.example/c?u=http://old.example/">old</a>' in html
    assert 'href="https://t.guanxi.example/c?u=https://bare.example/x">bare' in html
    assert '<a data-href="https://no.example/" href="mailto:hi@example.com">mail</a>' in html
    assert (
        '<a href="tel:+8610123">tel</a> <a href="#top">top</a> <a href="/relative">rel</a>' in html
    )
    assert '<a href="https://g.example/u/1?x=1&amp;y=2">unsubscribe</a>' in html
    assert '<a href="https://g.example/p/1">prefs</a>' in html
    assert 'HREF="https://t.guanxi.example/c?u=HTTPS://UPPER.example/"' in html
    assert 'href="https://t.guanxi.example/c?u=https://map.example/"' in html
    pixel = '<img src="https://t.guanxi.example/o/abc.gif" width="1" height="1" alt="" style="display:none">'
    assert html.endswith(pixel + "</body></html>")
    assert one("<p>no body</p>", tracking=TRACKING).endswith("</p>" + pixel)


def test_variables_and_caching() -> None:
    values = variables(
        contact={"first_name": "A"}, extra={"contact": "overridden?", "coupon": "X1"}
    )
    assert values["contact"] == {"first_name": "A", "custom": {}}
    assert values["coupon"] == "X1"
    assert compile_template("s", "<p>x</p>") is compile_template("s", "<p>x</p>")


def newsletter(links: int = 10) -> str:
    block = (
        '<tr><td class="cell"><h2>Spring collection {i}</h2>'
        "<p>Dear {{{{ contact.first_name | default('friend') }}}}, lorem ipsum dolor sit amet, consectetur "
        "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad "
        "minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>"
        '<a class="btn" href="https://shop.example/spring/{i}?utm_source=edm&amp;utm_campaign=spring">Shop now</a>'
        "</td></tr>\n"
    )
    filler = (
        "<tr><td><p>"
        + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 24
        + "</p></td></tr>\n"
    )
    rows = "".join(block.format(i=i) + filler for i in range(links))
    return (
        "<!DOCTYPE html><html><head><style>.cell{padding:12px;font-family:Arial} .btn{color:#fff;background:#c00}"
        "h2{font-size:18px} p{line-height:1.5}</style></head><body>"
        "<p>{{ contact.company }} · {{ contact.city }} · {{ account.name }} · {{ sender.name }}</p>"
        f"<table>{rows}</table>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )


def test_render_speed() -> None:
    source = newsletter()
    compiled = compile_template("{{ contact.first_name }}, spring is here", source)
    assert not compiled.inline_at_render
    rounds = 3000
    started = time.perf_counter()
    for i in range(rounds):
        values = variables(
            contact={"first_name": f"User{i}", "company": "ACME", "city": "上海"},
            account={"name": "ACME Ltd"},
            sender={"name": "王经理", "email": "wang@guanxi.example"},
            unsubscribe_url=f"https://g.example/u/{i}",
        )
        out = render(compiled, values, TRACKING)
    rate = rounds / (time.perf_counter() - started)
    assert out.html is not None
    assert out.html.count("https://t.guanxi.example/c?u=") == 10
    started = time.perf_counter()
    for _ in range(20):
        r._INLINER.inline(out.html)
    inline_rate = 20 / (time.perf_counter() - started)
    print(
        f"\nrender ({len(source.encode()) // 1024} KB template, 5 variables, 10 tracked links, text part): "
        f"{rate:,.0f}/s; css_inline alone would cap a per-render inlining at {inline_rate:,.0f}/s"
    )
