"""Auth of the generated API, over HTTP against a real PostgreSQL database.

The database is built once for the module from the example's
`schema.postgres.sql`; each test uses its own emails and client address
(`X-Forwarded-For`, trusted here), so tests do not see each other's rate limits.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from compiler.compile import compile_project
from generators.db import SCHEMA_PATH, TABLES_PATH, DbGenerator
from runtime.api.auth import CSRF_COOKIE, SESSION_COOKIE, AuthSettings, auth_router
from runtime.api.db import make_engine
from runtime.api.model import AppModel
from runtime.api.passwords import Passwords, token_hash
from runtime.api.problems import MEDIA_TYPE, install_problem_handlers
from tests import pg
from tests.conftest import EXAMPLE

PASSWORD = "correct horse battery"
#: Cheap argon2 parameters: the tests check behaviour, not cost.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_counter = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def database(pg_admin_url: str) -> Iterator[str]:
    project = compile_project(EXAMPLE).project
    artifacts = {a.path: a.content.decode() for a in DbGenerator().generate(project)}
    url = pg.create_database(pg_admin_url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            artifacts[SCHEMA_PATH], execution_options={"no_parameters": True}
        )
    engine.dispose()
    yield url
    pg.drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def app_model() -> AppModel:
    project = compile_project(EXAMPLE).project
    tables_py = next(a for a in DbGenerator().generate(project) if a.path == TABLES_PATH)
    namespace: dict[str, Any] = {}
    exec(compile(tables_py.content.decode(), TABLES_PATH, "exec"), namespace)
    return AppModel(project, namespace["metadata"])


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[sa.Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(engine: sa.Engine, app_model: AppModel, clock: Clock) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.engine = engine
    app.state.model = app_model
    app.state.dev = True
    app.state.auth_settings = AuthSettings(
        passwords=Passwords(FAST), clock=clock, trust_forwarded_for=True
    )
    app.include_router(auth_router(app_model), prefix="/api")
    return app


@pytest.fixture
def address() -> str:
    return f"10.0.{next(_counter) % 250}.{next(_counter) % 250}"


@pytest.fixture
def client(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, headers={"X-Forwarded-For": address})


def new_email() -> str:
    return f"user{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"


def signup(client: TestClient, email: str | None = None, tenant: str = "Acme") -> dict[str, Any]:
    answer = client.post(
        "/api/auth/signup",
        json={"email": email or new_email(), "password": PASSWORD, "tenant": tenant},
    )
    assert answer.status_code == 201, answer.text
    client.cookies.clear()  # each test chooses how to authenticate
    return answer.json()


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def scalar(engine: sa.Engine, sql: str, **params: object) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


# Sign-up, sign-in, me, sign-out -----------------------------------------------------------


def test_signup_login_me_logout(client: TestClient) -> None:
    email = new_email()
    made = signup(client, email, tenant="Acme & Sons")
    assert made["user"]["email"] == email and made["roles"] == ["admin"]
    assert made["tenant"]["name"] == "Acme & Sons" and made["tenant"]["slug"].startswith(
        "acme-sons"
    )
    assert made["token"]

    answer = login(client, email.upper())
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert set(answer.json()) == {"token"}
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    csrf = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "httponly" in session.lower() and "samesite=lax" in session.lower()
    assert "httponly" not in csrf.lower()
    assert "secure" not in session.lower()  # plain http here; https gets Secure

    client.cookies.clear()
    me = client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user"]["id"] == made["user"]["id"]
    assert body["tenant"]["id"] == made["tenant"]["id"]
    assert body["memberships"] == [{"tenant": body["tenant"], "roles": ["admin"]}]
    assert body["roles"] == ["admin"]

    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    after = problem(client.get("/api/auth/me", headers=bearer(token)), 401)
    assert "expired" in after["detail"]


def test_signup_twice_is_a_conflict_and_slugs_stay_unique(client: TestClient) -> None:
    email = new_email()
    first = signup(client, email, tenant="Twin Co")
    again = client.post(
        "/api/auth/signup", json={"email": email, "password": PASSWORD, "tenant": "Other"}
    )
    problem(again, 409)
    second = signup(client, tenant="Twin Co")
    assert first["tenant"]["slug"] != second["tenant"]["slug"]


def test_signup_validates_its_input(client: TestClient) -> None:
    short = client.post(
        "/api/auth/signup", json={"email": new_email(), "password": "short", "tenant": "X"}
    )
    assert problem(short, 422)["errors"][0]["field"] == "password"
    bad_email = client.post(
        "/api/auth/signup", json={"email": "nope", "password": PASSWORD, "tenant": "X"}
    )
    assert problem(bad_email, 422)["errors"][0]["field"] == "email"


def test_me_needs_a_user(client: TestClient) -> None:
    answer = client.get("/api/auth/me")
    problem(answer, 401)
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_bad_or_expired_token_is_401(client: TestClient, clock: Clock) -> None:
    token = signup(client)["token"]
    answer = client.get("/api/auth/me", headers=bearer("not-a-token"))
    problem(answer, 401)
    assert answer.headers["www-authenticate"] == "Bearer"
    problem(client.get("/api/auth/me", headers={"Authorization": "Basic abc"}), 401)
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200
    clock.now += dt.timedelta(days=15)
    problem(client.get("/api/auth/me", headers=bearer(token)), 401)


def test_wrong_password_and_unknown_email_get_the_same_401(client: TestClient) -> None:
    email = new_email()
    signup(client, email)
    wrong = problem(login(client, email, "wrong password"), 401)
    unknown = problem(login(client, new_email()), 401)
    assert wrong["detail"] == unknown["detail"] == "Incorrect email or password."


def test_passwords_and_tokens_are_stored_hashed(client: TestClient, engine: sa.Engine) -> None:
    made = signup(client)
    stored = scalar(
        engine, "SELECT hash FROM reframe_password WHERE user_id = :u", u=made["user"]["id"]
    )
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    columns = scalar(
        engine,
        "SELECT string_agg(column_name, ',') FROM information_schema.columns "
        "WHERE table_name = 'user'",
    )
    assert "password" not in columns and "hash" not in columns
    token = made["token"]
    assert (
        scalar(engine, "SELECT count(*) FROM reframe_session WHERE token_hash = :t", t=token) == 0
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM reframe_session WHERE token_hash = :t",
            t=token_hash(token),
        )
        == 1
    )


def test_a_hash_of_old_parameters_is_replaced_at_sign_in(
    app: FastAPI, client: TestClient, engine: sa.Engine
) -> None:
    email = new_email()
    made = signup(client, email)
    before = scalar(
        engine, "SELECT hash FROM reframe_password WHERE user_id = :u", u=made["user"]["id"]
    )
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    app.state.auth_settings.passwords = Passwords(stronger)
    assert login(client, email).status_code == 200
    after = scalar(
        engine, "SELECT hash FROM reframe_password WHERE user_id = :u", u=made["user"]["id"]
    )
    assert after != before and not stronger.check_needs_rehash(after)
    assert login(client, email).status_code == 200


# Magic links ----------------------------------------------------------------------------------


def outbox_token(client: TestClient, admin_token: str, to: str) -> str:
    answer = client.get("/api/auth/outbox", headers=bearer(admin_token))
    assert answer.status_code == 200, answer.text
    message = next(m for m in answer.json()["items"] if m["to_address"] == to)
    return str(message["body"].rsplit(": ", 1)[1].strip())


def add_member(client: TestClient, admin: dict[str, Any], email: str, roles: list[str]) -> None:
    added = client.post(
        f"/api/tenants/{admin['tenant']['id']}/members",
        json={"email": email, "roles": roles},
        headers=bearer(admin["token"]),
    )
    assert added.status_code == 201, added.text


def sign_in_by_link(client: TestClient, admin_token: str, email: str) -> str:
    """Ask for a link, read it in the outbox as an admin, follow it: the new session's token."""
    assert client.post("/api/auth/magic-link", json={"email": email}).status_code == 202
    link = outbox_token(client, admin_token, email)
    answer = client.post("/api/auth/magic-link/verify", json={"token": link})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def test_magic_link_is_single_use(client: TestClient) -> None:
    email = new_email()
    admin = signup(client, email)["token"]
    assert client.post("/api/auth/magic-link", json={"email": email}).status_code == 202
    token = outbox_token(client, admin, email)
    first = client.post("/api/auth/magic-link/verify", json={"token": token})
    assert first.status_code == 200, first.text
    assert client.get("/api/auth/me", headers=bearer(first.json()["token"])).status_code == 200
    problem(client.post("/api/auth/magic-link/verify", json={"token": token}), 401)


def test_magic_link_expires_after_15_minutes(client: TestClient, clock: Clock) -> None:
    email = new_email()
    admin = signup(client, email)["token"]
    client.post("/api/auth/magic-link", json={"email": email})
    token = outbox_token(client, admin, email)
    clock.now += dt.timedelta(minutes=15, seconds=1)
    problem(client.post("/api/auth/magic-link/verify", json={"token": token}), 401)


def test_magic_link_never_reveals_whether_the_email_exists(
    client: TestClient, engine: sa.Engine
) -> None:
    unknown = new_email()
    answer = client.post("/api/auth/magic-link", json={"email": unknown})
    assert answer.status_code == 202
    known = new_email()
    signup(client, known)
    assert client.post("/api/auth/magic-link", json={"email": known}).json() == answer.json()
    assert (
        scalar(engine, "SELECT count(*) FROM reframe_outbox WHERE to_address = :e", e=unknown) == 0
    )


def test_the_outbox_is_for_admins_of_the_tenant_only(client: TestClient) -> None:
    admin = signup(client)
    member_email = new_email()
    add_member(client, admin, member_email, ["billing"])
    # The new member (no password) signs in by the link an admin reads in the outbox.
    member = sign_in_by_link(client, admin["token"], member_email)
    problem(client.get("/api/auth/outbox", headers=bearer(member)), 403)
    other_admin = signup(client)["token"]
    items = client.get("/api/auth/outbox", headers=bearer(other_admin)).json()["items"]
    assert all(m["to_address"] != member_email for m in items)
    problem(client.get("/api/auth/outbox"), 401)


def test_the_outbox_is_not_there_outside_dev_mode(app: FastAPI, client: TestClient) -> None:
    admin = signup(client)["token"]
    app.state.dev = False
    problem(client.get("/api/auth/outbox", headers=bearer(admin)), 404)


# Tenants ---------------------------------------------------------------------------------------


def test_x_tenant_switches_and_a_foreign_tenant_is_403(client: TestClient) -> None:
    first = signup(client, tenant="First")
    second = signup(client, tenant="Second")
    email = new_email()
    for owner in (first, second):
        add_member(client, owner, email, ["member"])
    token = sign_in_by_link(client, first["token"], email)

    default = client.get("/api/auth/me", headers=bearer(token)).json()
    assert default["tenant"]["id"] == first["tenant"]["id"]  # the first by creation
    assert len(default["memberships"]) == 2
    chosen = client.get(
        "/api/auth/me", headers=bearer(token, **{"X-Tenant": second["tenant"]["id"]})
    ).json()
    assert chosen["tenant"]["id"] == second["tenant"]["id"] and chosen["roles"] == ["member"]

    foreign = signup(client, tenant="Foreign")["tenant"]["id"]
    problem(client.get("/api/auth/me", headers=bearer(token, **{"X-Tenant": foreign})), 403)
    bad = problem(client.get("/api/auth/me", headers=bearer(token, **{"X-Tenant": "nope"})), 400)
    assert bad["errors"][0]["field"] == "X-Tenant"


def test_members_endpoint_is_for_admins_and_validates_roles(client: TestClient) -> None:
    admin = signup(client)
    tenant = admin["tenant"]["id"]
    path = f"/api/tenants/{tenant}/members"
    wrong = client.post(
        path,
        json={"email": new_email(), "roles": ["member", "wizard"]},
        headers=bearer(admin["token"]),
    )
    body = problem(wrong, 422)
    assert "wizard" in body["detail"] and body["errors"][0]["field"] == "roles[1]"

    existing = signup(client)  # a user of another tenant, added here too
    added = client.post(
        path,
        json={"email": existing["user"]["email"], "roles": ["member"]},
        headers=bearer(admin["token"]),
    )
    assert added.status_code == 201 and added.json()["user"]["id"] == existing["user"]["id"]
    updated = client.post(
        path,
        json={"email": existing["user"]["email"], "roles": ["billing", "member"]},
        headers=bearer(admin["token"]),
    )
    assert updated.status_code == 200 and updated.json()["roles"] == ["billing", "member"]

    as_member = client.post(
        path,
        json={"email": new_email(), "roles": ["member"]},
        headers=bearer(existing["token"], **{"X-Tenant": tenant}),
    )
    problem(as_member, 403)
    stranger = signup(client)["token"]
    problem(
        client.post(path, json={"email": new_email(), "roles": []}, headers=bearer(stranger)), 404
    )
    last_admin = client.post(
        path,
        json={"email": admin["user"]["email"], "roles": ["member"]},
        headers=bearer(admin["token"]),
    )
    problem(last_admin, 409)


# CSRF ------------------------------------------------------------------------------------------


def test_cookie_auth_needs_the_csrf_header_on_post_bearer_does_not(client: TestClient) -> None:
    email = new_email()
    signup(client, email)
    assert login(client, email).status_code == 200  # the client keeps both cookies
    assert client.get("/api/auth/me").status_code == 200  # safe method: no CSRF needed
    csrf = client.cookies[CSRF_COOKIE]
    refused = client.post("/api/auth/logout")
    assert "CSRF" in problem(refused, 403)["detail"]
    problem(client.post("/api/auth/logout", headers={"X-CSRF-Token": "forged"}), 403)
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    problem(client.get("/api/auth/me"), 401)

    client.cookies.clear()
    token = login(client, email).json()["token"]
    client.cookies.clear()
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204


# Rate limits -----------------------------------------------------------------------------------


def test_login_is_limited_per_account(client: TestClient, clock: Clock) -> None:
    email = new_email()
    signup(client, email)
    for _ in range(5):
        problem(login(client, email, "wrong password"), 401)
    limited = login(client, email)  # even the right password waits
    problem(limited, 429)
    assert 0 < int(limited.headers["retry-after"]) <= 15 * 60
    clock.now += dt.timedelta(minutes=15, seconds=1)
    assert login(client, email).status_code == 200


def test_success_clears_the_account_failures(client: TestClient) -> None:
    email = new_email()
    signup(client, email)
    for _ in range(4):
        problem(login(client, email, "wrong password"), 401)
    assert login(client, email).status_code == 200
    for _ in range(4):
        problem(login(client, email, "wrong password"), 401)
    assert login(client, email).status_code == 200


def test_login_is_limited_per_address(client: TestClient) -> None:
    for _ in range(5):
        email = new_email()
        for _ in range(4):
            problem(login(client, email, "wrong password"), 401)
    limited = login(client, new_email())
    assert "address" in problem(limited, 429)["detail"]
    assert "retry-after" in limited.headers


def test_magic_link_requests_are_limited(client: TestClient) -> None:
    email = new_email()
    for _ in range(5):
        assert client.post("/api/auth/magic-link", json={"email": email}).status_code == 202
    limited = client.post("/api/auth/magic-link", json={"email": email})
    problem(limited, 429)
    assert "retry-after" in limited.headers
