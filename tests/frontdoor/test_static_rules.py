"""Static hosting rules without sockets: path safety (table of traversal tricks), cache rules,
Accept-Encoding parsing."""

from __future__ import annotations

import os

import pytest

from frontdoor.static_rules import (
    CODE,
    IMMUTABLE,
    MEDIA,
    NO_STORE,
    REVALIDATE,
    accepted_encodings,
    cache_control_for,
    has_extension,
    inline_script_policy,
    request_kind,
    resolve_inside,
    safe_relative_path,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("/", ""),
        ("/index.html", "index.html"),
        ("/dist/components/app-1a2b3c4d.js", "dist/components/app-1a2b3c4d.js"),
        ("//double//slashes/x.js", "double/slashes/x.js"),
        ("/%ED%95%98.txt", "하.txt"),
        ("/space%20name.png", "space name.png"),
    ],
)
def test_plain_paths_are_relative_file_names(raw, expected):
    assert safe_relative_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/..%2fetc/passwd",
        "/.%2e/etc/passwd",
        "/%252e%252e/etc/passwd",  # double encoding: a % survives the one decoding
        "/..\\etc\\passwd",
        "/%5c..%5cetc",
        "/a\\b.js",
        "/index.html%00.png",
        "/index.html\x00",
        "/.git/config",
        "/.env",
        "/static/.hidden/x.js",
        "/./index.html",
        "/a%0a.js",
        "/%ff%fe.js",  # not UTF-8
        "/" + "a" * 2000,
    ],
)
def test_traversal_tricks_are_refused(raw):
    assert safe_relative_path(raw) is None


def test_resolve_inside_follows_symlinks_only_within_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.js").write_text("x")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(root / "sub" / "real.js", root / "alias.js")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "outside")
    assert resolve_inside(root, "sub/real.js") == root / "sub" / "real.js"
    assert resolve_inside(root, "alias.js") == root / "sub" / "real.js"
    assert resolve_inside(root, "escape.txt") is None
    assert resolve_inside(root, "outside/secret.txt") is None
    assert resolve_inside(root, "sub") is None  # a directory is not a file
    assert resolve_inside(root, "missing.js") is None


@pytest.mark.parametrize(
    "path, expected",
    [
        ("index.html", NO_STORE),
        ("docs/page.htm", NO_STORE),
        ("manifest.json", NO_STORE),
        ("config.toml", NO_STORE),
        ("config.ini", NO_STORE),
        ("sitemap.xml", NO_STORE),
        ("offline.appcache", NO_STORE),
        ("dist/components/backend-ai-webui.js", NO_STORE),
        ("sw.js", NO_STORE),
        ("robots.txt", NO_STORE),
        ("app.log", NO_STORE),
        ("static/js/main.9ba6c6fd.js", IMMUTABLE),
        ("dist/components/backend-ai-agent-view-2e5278da.js", IMMUTABLE),
        ("static/css/main.0a1b2c3d.chunk.css", IMMUTABLE),
        ("static/js/main.9ba6c6fd.js.map", IMMUTABLE),
        ("manifest/backend-ai.ico", MEDIA),
        ("resources/fonts/Ubuntu.woff2", MEDIA),
        ("images/logo.svg", MEDIA),
        ("photo.JPG", MEDIA),
        ("resources/webui.css", CODE),
        ("manifest/app.js", CODE),
        ("dist/components/deadbeefcafe.js", CODE),  # no separator before the hex: a name, not a hash
        ("dist/components/abcdefab-view.js", CODE),  # hex word without a digit is no hash
        ("data.bin", REVALIDATE),
        ("LICENSE", REVALIDATE),
    ],
)
def test_cache_rules(path, expected):
    assert cache_control_for(path) == expected


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, []),
        ("", []),
        ("gzip", ["gzip"]),
        ("gzip, deflate, br", ["br", "gzip"]),
        ("br;q=0, gzip", ["gzip"]),
        ("BR, GZIP", ["br", "gzip"]),
        ("gzip;q=0.5, br;q=0.1", ["br", "gzip"]),
        ("*", ["br", "gzip"]),
        ("*;q=0, gzip", ["gzip"]),
        ("identity", []),
        ("gzip;q=oops", []),
        ("brotli", []),
    ],
)
def test_accepted_encodings(header, expected):
    assert accepted_encodings(header) == expected


@pytest.mark.parametrize(
    "relative, expected",
    [("summary", False), ("session/list", False), ("app.js", True), ("v1.2/page", False), ("", False)],
)
def test_has_extension(relative, expected):
    assert has_extension(relative) is expected


@pytest.mark.parametrize(
    "policy, expected",
    [
        (
            "default-src 'self'; script-src 'self' 'nonce-{nonce}'; img-src 'self'",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; img-src 'self'",
        ),
        ("script-src 'self' 'unsafe-inline' 'nonce-{nonce}'", "script-src 'self' 'unsafe-inline'"),
        ("default-src 'self'", "default-src 'self'; script-src 'self' 'unsafe-inline'"),
        ("default-src 'self'; SCRIPT-SRC 'self';", "default-src 'self'; SCRIPT-SRC 'self' 'unsafe-inline'"),
    ],
)
def test_inline_script_policy_for_bundles_without_nonces(policy, expected):
    assert inline_script_policy(policy) == expected


@pytest.mark.parametrize(
    "dest, html_accepted, kind",
    [
        ("document", True, "navigation"),
        ("iframe", False, "navigation"),
        ("Frame", False, "navigation"),
        ("style", False, "subresource"),
        ("script", False, "subresource"),
        ("image", True, "subresource"),
        ("font", False, "subresource"),
        ("manifest", False, "subresource"),
        ("worker", False, "subresource"),
        ("empty", True, "navigation"),
        ("empty", False, "other"),
        ("", True, "navigation"),
        (None, False, "other"),
    ],
)
def test_request_kind(dest, html_accepted, kind):
    assert request_kind(dest, html_accepted) == kind
