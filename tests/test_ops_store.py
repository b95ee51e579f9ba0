"""Staff accounts in the store (issue 23): migration 5 on an existing database,
and a disabled user refused at the real sign-in form."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import MIGRATIONS, Store, make_engine
from tests.conftest import fresh_pg_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database as migration 4 left it: staff users without role or disabled."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        yield from _seed_v4(url)
    else:
        with fresh_pg_database() as url:
            yield from _seed_v4(url)


def _seed_v4(url: str) -> Iterator[str]:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO schema_version VALUES (1), (2), (3), (4)"))
        conn.execute(sa.text("CREATE TABLE staff_users (username VARCHAR(64) PRIMARY KEY, "
                             "password_hash TEXT NOT NULL, created_at TIMESTAMP NOT NULL)"))
        conn.execute(sa.text("INSERT INTO staff_users VALUES ('jo.smith', 'h', "
                             "'2026-01-01 00:00:00')"))
        conn.execute(sa.text("CREATE TABLE staff_sessions (token_hash VARCHAR(64) PRIMARY "
                             "KEY, username VARCHAR(64) NOT NULL, created_at TIMESTAMP NOT "
                             "NULL, last_seen TIMESTAMP NOT NULL)"))
    engine.dispose()
    yield url


def test_migration_5_keeps_existing_users_enabled(old_url: str) -> None:
    store = Store(old_url)
    try:
        assert store.migrate() == MIGRATIONS[-1][0]
        assert store.list_users() == [{"username": "jo.smith", "role": "staff",
                                       "disabled": False, "created_at": "2026-01-01T00:00:00",
                                       "sessions": 0}]
        assert store.password_hash("jo.smith") == "h"
        assert store.set_disabled("jo.smith", True) and store.password_hash("jo.smith") is None
    finally:
        store.close()
    again = Store(old_url)  # a second start migrates nothing
    assert again.migrate() == MIGRATIONS[-1][0]
    again.close()


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


async def test_disabled_user_cannot_sign_in_and_is_signed_out(  # type: ignore[no-untyped-def]
    aiohttp_client, tmp_path: Path
) -> None:
    from bot.assembly import build_bot
    from bot.config import load_settings
    from bot.web.app import create_app
    from bot.web.auth import hash_password

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    db = f"sqlite:///{tmp_path / 't.db'}"
    store = Store(db)
    store.add_user("jo.smith", hash_password("correct-horse-battery"))
    settings = load_settings(None, {}).replace(db=db, corpus=str(corpus), secure_cookies=False,
                                               rate_limit=0, data_dir=str(tmp_path))
    client = await aiohttp_client(create_app(settings, build_bot(settings, tickets=store),
                                             store))

    async def sign_in():  # type: ignore[no-untyped-def]
        page = await client.get("/staff/login")
        csrf = CSRF_RE.search(await page.text()).group(1)
        return await client.post("/staff/login", allow_redirects=False, data={
            "csrf": csrf, "username": "jo.smith", "password": "correct-horse-battery"})

    assert (await sign_in()).status in (302, 303)
    assert (await client.get("/staff", allow_redirects=False)).status == 200
    store.set_disabled("jo.smith", True)
    assert (await client.get("/staff", allow_redirects=False)).status in (302, 303)  # sign-in
    assert (await sign_in()).status == 401
    store.set_disabled("jo.smith", False)
    assert (await sign_in()).status in (302, 303)
    store.close()
