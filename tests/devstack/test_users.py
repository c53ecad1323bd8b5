"""The user directory (devstack.users): a users file overrides and extends the well-known users."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.users import UserDirectory, load_users_file
from tests.devstack.manager_client import USER

pytestmark = pytest.mark.asyncio


async def test_users_file_overrides_and_extends(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps(
            [
                {
                    "email": "user@lablup.com",
                    "password": "changed",
                    "access_key": USER.access_key,
                    "secret_key": USER.secret_key,
                    "role": "admin",
                    "status": "active",
                },
                {
                    "email": "new@lablup.com",
                    "password": "pw",
                    "access_key": "AKIANEWUSEREXAMPLE00",
                    "secret_key": "s" * 40,
                    "role": "user",
                    "status": "active",
                    "user_id": "u-1",
                },
            ]
        )
    )
    directory: UserDirectory = load_users_file(users_file)
    assert len(directory) == 5
    assert directory.by_email("user@lablup.com").role == "admin"
    assert directory.by_access_key("AKIANEWUSEREXAMPLE00").user_id == "u-1"
