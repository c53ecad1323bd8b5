"""A file the bundle references but does not ship (23.09's monokai.css) on a running front door: a page
load gets the app shell, as Backend.AI answers; a stylesheet or script request a plain 404."""

from __future__ import annotations

import pytest

from tests.e2e.parity.conftest import BUNDLE_INDEX

MONOKAI = "/node_modules/highlight.js/styles/monokai.css"


@pytest.mark.parametrize(
    "path, headers, status, content_type, body",
    [
        (MONOKAI, {"Accept": "text/css,*/*;q=0.1", "Sec-Fetch-Dest": "style"}, 404, "text/plain", "404: Not Found\n"),
        (MONOKAI, {"Accept": "text/css,*/*;q=0.1"}, 404, "text/plain", "404: Not Found\n"),  # no Sec-Fetch-*
        ("/dist/missing.js", {"Accept": "*/*", "Sec-Fetch-Dest": "script"}, 404, "text/plain", "404: Not Found\n"),
        (
            MONOKAI,
            {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Sec-Fetch-Dest": "document"},
            200,
            "text/html",
            BUNDLE_INDEX,
        ),
        (MONOKAI, {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, 200, "text/html", BUNDLE_INDEX),
        (
            "/dist/components/backend-ai-webui.js",
            {"Accept": "*/*", "Sec-Fetch-Dest": "script"},
            200,
            "text/javascript",
            "console.log(1)",
        ),
    ],
)
async def test_missing_bundle_files(parity_stack, path, headers, status, content_type, body):
    async with parity_stack.client() as web:
        async with web.get(path, headers=headers) as answer:
            assert answer.status == status
            assert answer.content_type == content_type
            assert await answer.text() == body
