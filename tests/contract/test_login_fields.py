"""Login field checks, table-driven: what reaches the session daemon and the Manager."""

import pytest

from contract.login_fields import MAX_PASSWORD, password_problem, username_problem


@pytest.mark.parametrize(
    "username",
    [
        "admin@lablup.com",
        "first.last+tag@sub.example.co.kr",
        "o'brien@example.com",
        "admin@localhost",
        "jdoe",
        "j_doe-2.x",
        "사용자@example.com",
        "a" * 64 + "@" + "b" * 63 + ".com",
    ],
)
def test_good_usernames(username):
    assert username_problem(username) is None


@pytest.mark.parametrize(
    "username, fragment",
    [
        ("", "1 to 254"),
        ("a" * 255, "1 to 254"),
        ("admin @lablup.com", "blanks"),
        ("admin@lablup.com\r\nX-Injected: 1", "control"),
        ("admin@lablup.com\0", "control"),
        ("admin\t@lablup.com", "blanks"),
        ("a@b@c.com", "exactly one '@'"),
        ("@lablup.com", "exactly one '@'"),
        ("admin@", "exactly one '@'"),
        (".admin@lablup.com", "start or end with '.'"),
        ("ad..min@lablup.com", "'..'"),
        ("a" * 65 + "@lablup.com", "longer than 64"),
        ("admin<script>@lablup.com", "cannot have"),
        ('admin"@lablup.com', "cannot have"),
        ("admin@lab_lup.com", "domain"),
        ("admin@-lablup.com", "domain"),
        ("admin@lablup..com", "domain"),
        ("admin@lablup.com/../x", "domain"),
        ("-jdoe", "user name"),
        ("j/doe", "user name"),
        ("<img src=x>", "blanks"),
        ("jdoe;rm", "user name"),
    ],
)
def test_bad_usernames_say_what_is_wrong(username, fragment):
    problem = username_problem(username)
    assert problem is not None and fragment in problem


def test_passwords_are_free_text_but_bounded():
    assert password_problem("wJalrXUt") is None
    assert password_problem(" spaces and ünïcode, even <>&\"' ") is None
    assert "longer than" in password_problem("x" * (MAX_PASSWORD + 1))
    assert "NUL" in password_problem("abc\0def")


# ---- HTML templates: escaping is on everywhere and nothing opts out ----

from frontdoor.templating import html_environment  # noqa: E402
from tests.support.paths import REPO_ROOT  # noqa: E402

HTML_TEMPLATES = sorted((REPO_ROOT / "frontdoor" / "templates").rglob("*.html"))
HOSTILE = "<script>alert(1)</script>\"'&"


@pytest.mark.parametrize("template", HTML_TEMPLATES, ids=lambda path: path.name)
def test_no_template_opts_out_of_escaping(template):
    text = template.read_text()
    for opt_out in ("|safe", "| safe", "autoescape false", "Markup("):
        assert opt_out not in text, f"{template.name} uses {opt_out!r}"


def test_the_html_environment_escapes_whatever_it_is_given():
    assert HTML_TEMPLATES  # the check above ran on something
    rendered = html_environment().from_string("<p title='{{ v }}'>{{ v }}</p>").render(v=HOSTILE)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and "&#39;" in rendered
