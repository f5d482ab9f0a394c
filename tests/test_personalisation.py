"""Placeholders in a message and Markdown turned into safe HTML (no database, no SMTP)."""

import pytest

from core.services.sending.personalisation import (
    PlaceholderError,
    markdown_html,
    markdown_template,
    parse,
    recipient_values,
)

VALUES = recipient_values(
    full_name="  Анна   Петрова ",
    email="anna@example.com",
    unsubscribe_url="https://mail.example.com/u/7:abc/?a=1&b=2",
)


def test_the_four_placeholders_are_rendered_with_or_without_spaces_inside_the_braces():
    template = parse("{{full_name}}|{{ first_name }}|{{  email}}|{{ unsubscribe_url  }}")

    assert template.render(VALUES) == (
        "Анна Петрова|Анна|anna@example.com|https://mail.example.com/u/7:abc/?a=1&b=2"
    )


def test_a_text_without_placeholders_renders_as_it_is_braces_included():
    text = "Скидки {до 50%} на {всё}: {0} {name} { {x} }"

    assert parse(text).render(VALUES) == text


def test_the_first_name_is_the_first_word_and_empty_for_an_empty_name():
    assert recipient_values(full_name="Boris", email="b@x.io", unsubscribe_url="u")[
        "first_name"
    ] == ("Boris")
    assert recipient_values(full_name="", email="b@x.io", unsubscribe_url="u")["first_name"] == ""


def test_a_name_with_line_breaks_renders_on_one_line():
    values = recipient_values(full_name="Eve\r\nBcc: x@y.z", email="e@x.io", unsubscribe_url="u")

    assert parse("{{ full_name }}").render(values) == "Eve Bcc: x@y.z"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Hello {{ name }}", "“{{ name }}”"),
        ("{{ client.owner.password }}", "“{{ client.owner.password }}”"),
        ("{{ full name }}", "“{{ full name }}”"),
        ("{{ FULL_NAME }}", "“{{ FULL_NAME }}”"),
    ],
)
def test_an_unknown_placeholder_is_refused_naming_it_and_the_available_ones(text, named):
    with pytest.raises(PlaceholderError) as error:
        parse(text)

    message = str(error.value)
    assert named in message
    for available in ("full_name", "first_name", "email", "unsubscribe_url"):
        assert f"{{{{ {available} }}}}" in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Hello {{ first_name", "“{{” without its closing “}}”"),
        ("Hello first_name }}", "“}}” without its opening “{{”"),
        ("{% if x %}hi{% endif %}", "{% … %}"),
        ("Hello {{ }}", "empty placeholder"),
        ("{{ {{ email }} }}", "“{{” without"),
    ],
)
def test_broken_syntax_is_refused_with_what_is_wrong(text, says):
    with pytest.raises(PlaceholderError, match=r"Available|only placeholders") as error:
        parse(text)

    assert says in str(error.value)
    assert isinstance(error.value, ValueError)


def test_a_template_renders_only_from_its_dictionary_never_attributes():
    # Format-string tricks in the literal text are text, not lookups.
    template = parse("{email.__class__} {0.__init__} {{ email }}")

    assert template.render(VALUES) == "{email.__class__} {0.__init__} anna@example.com"


def test_markdown_becomes_html_with_raw_html_shown_as_text():
    html = markdown_html("# Sale\n\n**50%** off <b>today</b>\n\n<script>alert(1)</script>")

    assert "<h1>Sale</h1>" in html
    assert "<strong>50%</strong>" in html
    assert "&lt;b&gt;today&lt;/b&gt;" in html
    assert "<script" not in html


def test_markdown_images_and_script_links_are_dropped_and_links_get_noopener():
    html = markdown_html(
        "![pixel](http://tracker.example/p.gif) [shop](https://shop.example/) "
        "[x](javascript:alert(1))"
    )

    assert "<img" not in html and "tracker.example" not in html
    assert '<a href="https://shop.example/" rel="noopener noreferrer">shop</a>' in html
    assert 'href="javascript:' not in html


def test_placeholders_survive_markdown_and_their_values_are_escaped_in_the_html():
    template = parse(
        "Dear **{{ full_name }}**, write to [us]({{ email }}) or [leave]({{ unsubscribe_url }})."
    )
    values = recipient_values(
        full_name="<script>alert(1)</script> O'Neil",
        email="javascript:alert(1)",
        unsubscribe_url="https://mail.example.com/u/7:abc/?a=1&b=2",
    )

    html = markdown_template(template).render(values)

    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt; O&#x27;Neil</strong>" in html
    assert "<script>" not in html
    assert 'href="javascript:' not in html  # a value never becomes a script link
    assert 'href="javascript%3Aalert%281%29"' in html
    assert 'href="https://mail.example.com/u/7:abc/?a=1&amp;b=2"' in html


def test_markdown_runs_once_and_each_recipient_only_fills_the_html():
    html = markdown_template(parse("_Hello_ {{ first_name }}!"))

    first = html.render(recipient_values(full_name="Анна Ли", email="a@x.io", unsubscribe_url="u"))
    second = html.render(recipient_values(full_name="Boris", email="b@x.io", unsubscribe_url="u"))

    assert first == "<p><em>Hello</em> Анна!</p>\n"
    assert second == "<p><em>Hello</em> Boris!</p>\n"
