"""Auth of the generated API: sign-up, sign-in, sessions, magic links, members, the caller.

Mount it under `/api` (`APIRouter(prefix="/api").include_router(auth_router(model))`):

| request | answer |
| --- | --- |
| `POST /auth/signup {email, password, tenant}` | 201 `{user, tenant, token}`; the user is admin of the new tenant |
| `POST /auth/login {email, password}` | `{token}`, a session cookie and a CSRF cookie |
| `POST /auth/magic-link {email}` | 202, whether or not the email has an account |
| `POST /auth/magic-link/verify {token}` | like login; a link works once, for 15 minutes |
| `POST /auth/logout` | 204; the session is revoked |
| `GET /auth/me` | `{user, memberships, tenant, roles}` |
| `GET /auth/outbox` | dev mode, admins: the messages the app would have sent |
| `POST /tenants/{id}/members {email, roles}` | an admin of that tenant adds (201) or updates (200) a member |

`current_caller` is the dependency every endpoint uses to learn who asks:
`Authorization: Bearer <token>` or the `reframe_session` cookie (a cookie
request that is not GET/HEAD/OPTIONS must send the `reframe_csrf` cookie's
value as `X-CSRF-Token`), then `X-Tenant` (one of the user's tenants; by
default the first, by tenant creation time then id). No credentials: the
anonymous caller. `require_user` refuses the anonymous one with a 401.

`app.state` must hold:

- `engine`: the `sqlalchemy.Engine` of the database (None answers 503);
- `model`: the `runtime.api.model.AppModel`, whose metadata (the generated
  `db/tables.py`) has the built-in `user`, `tenant` and `membership` tables
  and the `reframe_*` system tables (generators/db/system.py);
- `dev` (optional, default False): magic-link messages land in
  `reframe_outbox`, readable by admins at `GET /api/auth/outbox`;
- `auth_settings` (optional): an `AuthSettings` (lifetimes, rate limits,
  the password hasher, the clock, cookie security, mail sender).

Tokens are random (256 bits); the database keeps only their SHA-256.
Passwords are argon2id hashes in `reframe_password`, rehashed at sign-in
when the hasher's parameters change.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from compiler import ir
from policy.caller import Caller
from runtime.api.model import AppModel
from runtime.api.passwords import Passwords, new_token, same, token_hash
from runtime.api.problems import FieldError, Problem
from runtime.api.shapes import Text

log = logging.getLogger("reframe.api.auth")

SESSION_COOKIE = "reframe_session"
CSRF_COOKIE = "reframe_csrf"
CSRF_HEADER = "X-CSRF-Token"
TENANT_HEADER = "X-Tenant"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN = "admin"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class AuthSettings:
    """What an app may tune; `app.state.auth_settings`, else these defaults."""

    session_lifetime: dt.timedelta = dt.timedelta(days=14)
    magic_link_lifetime: dt.timedelta = dt.timedelta(minutes=15)
    #: Failed attempts allowed per window, per account and per client address.
    rate_window: dt.timedelta = dt.timedelta(minutes=15)
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    min_password_length: int = 8
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], dt.datetime] = _utc_now
    #: Secure cookies: None follows the request's scheme (https -> Secure).
    secure_cookies: bool | None = None
    #: Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    trust_forwarded_for: bool = False
    #: Where magic-link messages go outside dev mode: `send(to, subject, body)`.
    send_mail: Callable[[str, str, str], None] | None = None
    #: The link put in a magic-link message; `{token}` is replaced.
    magic_link_url: str = "/app/magic-link?token={token}"


DEFAULT_SETTINGS = AuthSettings()


# Request bodies ------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Text refuses a NUL character, which PostgreSQL cannot store (422, not a 500).
class SignupBody(_Body):
    email: Text
    password: Text
    tenant: Text


class LoginBody(_Body):
    email: Text
    password: Text


class MagicLinkBody(_Body):
    email: Text


class VerifyBody(_Body):
    token: Text


class MemberBody(_Body):
    email: Text
    roles: list[Text]


# The tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    user: sa.Table
    tenant: sa.Table
    membership: sa.Table
    password: sa.Table
    session: sa.Table
    magic_link: sa.Table
    attempt: sa.Table
    outbox: sa.Table
    #: Columns of the built-in entities, by field name (their column names come from the IR).
    columns: Mapping[str, sa.ColumnElement[Any]]

    @classmethod
    def of(cls, model: AppModel) -> _Tables:
        def columns(entity: str, names: Sequence[str]) -> dict[str, sa.ColumnElement[Any]]:
            found = model.entity(entity)
            return {f"{entity}.{n}": model.column(found, n) for n in names}

        user, tenant = model.entity("User"), model.entity("Tenant")
        return cls(
            user=model.table("User"),
            tenant=model.table("Tenant"),
            membership=model.table("Membership"),
            password=model.tables["reframe_password"],
            session=model.tables["reframe_session"],
            magic_link=model.tables["reframe_magic_link"],
            attempt=model.tables["reframe_login_attempt"],
            outbox=model.tables["reframe_outbox"],
            columns={
                **columns("User", ["email", "name", "is_active", "created_at"]),
                **columns("Tenant", ["name", "slug", "created_at"]),
                **columns("Membership", ["user", "tenant", "roles"]),
                "User.key": model.column(user, user.primary_key),
                "Tenant.key": model.column(tenant, tenant.primary_key),
            },
        )

    def __getitem__(self, qualified: str) -> sa.ColumnElement[Any]:
        return self.columns[qualified]


def _settings(request: Request) -> AuthSettings:
    return getattr(request.app.state, "auth_settings", None) or DEFAULT_SETTINGS


def _engine(request: Request) -> sa.Engine:
    engine: sa.Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise Problem(503, "The API has no database; set DATABASE_URL.")
    return engine


def _tables(request: Request) -> _Tables:
    model: AppModel = request.app.state.model
    # Built once per model, kept beside it in app.state.
    cached: tuple[AppModel, _Tables] | None = getattr(
        request.app.state, "reframe_auth_tables", None
    )
    if cached is None or cached[0] is not model:
        cached = (model, _Tables.of(model))
        request.app.state.reframe_auth_tables = cached
    return cached[1]


@contextmanager
def _transaction(request: Request) -> Iterator[sa.Connection]:
    with _engine(request).begin() as connection:
        yield connection


# The caller ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Session:
    token_hash: str
    via: str  # "bearer" or "cookie"


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _credentials(request: Request) -> tuple[str, str] | None:
    """(token, "bearer" | "cookie"), or None when the request carries neither."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("The Authorization header must be `Bearer <token>`.")
        return token.strip(), "bearer"
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, "cookie") if cookie else None


def current_caller(request: Request) -> Caller:
    """FastAPI dependency: the caller of this request (anonymous without credentials)."""
    cached = getattr(request.state, "caller", None)
    if isinstance(cached, Caller):
        return cached
    settings = _settings(request)
    now = settings.clock()
    credentials = _credentials(request)
    if credentials is None:
        caller = Caller(now=now)
        request.state.caller = caller
        return caller
    token, via = credentials
    tables = _tables(request)
    hashed = token_hash(token)
    with _transaction(request) as connection:
        session, memberships = _live_session_and_memberships(connection, tables, hashed, now)
        if session is None:
            raise _unauthorized("The session is invalid or has expired; sign in again.")
        if via == "cookie" and request.method not in SAFE_METHODS:
            _check_csrf(request, session["csrf_hash"])
        if now - session["last_used_at"] > dt.timedelta(minutes=1):
            connection.execute(
                sa.update(tables.session)
                .where(tables.session.c.token_hash == hashed)
                .values(last_used_at=now)
            )
    tenant_id, roles = _chosen_tenant(request, memberships)
    caller = Caller(user_id=session["user_id"], tenant_id=tenant_id, roles=roles, now=now)
    request.state.caller = caller
    request.state.session = _Session(hashed, via)
    return caller


def require_user(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """FastAPI dependency: the caller, who must be signed in (else 401)."""
    if not caller.authenticated:
        raise _unauthorized("Sign in first.")
    return caller


#: An endpoint parameter: the signed-in caller.
SignedIn = Annotated[Caller, Depends(require_user)]


def _live_session_and_memberships(
    connection: sa.Connection, tables: _Tables, hashed: str, now: dt.datetime
) -> tuple[sa.RowMapping | None, list[_Membership]]:
    """The live session of the token (unexpired, its user active) and the user's memberships
    (as `_memberships` gives them) in one statement: the session joined with its user and,
    outer-joined, each membership with its tenant."""
    rows = (
        connection.execute(_caller_statement(tables), {"token_hash": hashed, "now": now})
        .mappings()
        .all()
    )
    if not rows:
        return None, []
    memberships = [
        _Membership(r["tenant_id"], r["tenant_name"], r["tenant_slug"], tuple(r["roles"] or ()))
        for r in rows
        if r["tenant_id"] is not None
    ]
    return rows[0], memberships


#: The statement of `_live_session_and_memberships`, built once per `_Tables`.
_CALLER_STATEMENTS: dict[int, tuple[_Tables, sa.Select[Any]]] = {}


def _caller_statement(tables: _Tables) -> sa.Select[Any]:
    cached = _CALLER_STATEMENTS.get(id(tables))
    if cached is not None and cached[0] is tables:
        return cached[1]
    session = tables.session
    tenants = tables.membership.join(
        tables.tenant, tables["Tenant.key"] == tables["Membership.tenant"]
    )
    statement = (
        sa.select(
            session.c.user_id,
            session.c.csrf_hash,
            session.c.last_used_at,
            tables["Tenant.key"].label("tenant_id"),
            tables["Tenant.name"].label("tenant_name"),
            tables["Tenant.slug"].label("tenant_slug"),
            tables["Membership.roles"].label("roles"),
        )
        .select_from(
            session.join(tables.user, tables["User.key"] == session.c.user_id).outerjoin(
                tenants, tables["Membership.user"] == session.c.user_id
            )
        )
        .where(
            session.c.token_hash == sa.bindparam("token_hash", type_=session.c.token_hash.type),
            session.c.expires_at > sa.bindparam("now", type_=session.c.expires_at.type),
            tables["User.is_active"].is_(True),
        )
        .order_by(tables["Tenant.created_at"], tables["Tenant.key"])
    )
    if len(_CALLER_STATEMENTS) > 64:  # apps made and dropped (tests): keep it small
        _CALLER_STATEMENTS.clear()
    _CALLER_STATEMENTS[id(tables)] = (tables, statement)
    return statement


def _check_csrf(request: Request, stored_hash: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not same(sent, cookie) or not same(token_hash(sent), stored_hash):
        raise Problem(
            403,
            f"A request authenticated by cookie must send the {CSRF_COOKIE} cookie's value "
            f"in the {CSRF_HEADER} header.",
        )


@dataclass(frozen=True)
class _Membership:
    tenant_id: uuid.UUID
    name: str
    slug: str
    roles: tuple[str, ...]


def _memberships(connection: sa.Connection, tables: _Tables, user_id: object) -> list[_Membership]:
    rows = connection.execute(
        sa.select(
            tables["Tenant.key"].label("tenant_id"),
            tables["Tenant.name"].label("name"),
            tables["Tenant.slug"].label("slug"),
            tables["Membership.roles"].label("roles"),
        )
        .select_from(tables.membership)
        .join(tables.tenant, tables["Tenant.key"] == tables["Membership.tenant"])
        .where(tables["Membership.user"] == user_id)
        .order_by(tables["Tenant.created_at"], tables["Tenant.key"])
    ).mappings()
    return [
        _Membership(r["tenant_id"], r["name"], r["slug"], tuple(r["roles"] or ())) for r in rows
    ]


def _chosen_tenant(
    request: Request, memberships: Sequence[_Membership]
) -> tuple[uuid.UUID | None, frozenset[str]]:
    asked = request.headers.get(TENANT_HEADER)
    if asked is None:
        first = memberships[0] if memberships else None
        return (first.tenant_id, frozenset(first.roles)) if first else (None, frozenset())
    try:
        wanted = uuid.UUID(asked.strip())
    except ValueError:
        raise Problem(
            400,
            f"{TENANT_HEADER} must be a tenant id (a UUID).",
            (FieldError(TENANT_HEADER, "not a UUID"),),
        ) from None
    for membership in memberships:
        if membership.tenant_id == wanted:
            return membership.tenant_id, frozenset(membership.roles)
    raise Problem(403, f"You are not a member of the tenant {wanted} ({TENANT_HEADER}).")


# Rate limits ---------------------------------------------------------------------------------


def _client_address(request: Request, settings: AuthSettings) -> str:
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class _Limits:
    """The attempt keys of one request (its account and its address) and their limits."""

    keys: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, kind: str, request: Request, settings: AuthSettings, email: str | None) -> _Limits:
        keys = [
            (
                f"{kind}:address:{_client_address(request, settings)}",
                settings.max_failures_per_address,
            )
        ]
        if email is not None:
            keys.insert(0, (f"{kind}:account:{email}", settings.max_failures_per_account))
        return cls(tuple(keys))

    def check(self, request: Request, settings: AuthSettings) -> None:
        """429 with Retry-After when any key has used up its attempts in the window."""
        now = settings.clock()
        attempt = _tables(request).attempt
        with _transaction(request) as connection:
            for key, limit in self.keys:
                # The attempt that must leave the window before another is allowed.
                blocking = connection.execute(
                    sa.select(attempt.c.at)
                    .where(attempt.c.key == key, attempt.c.at > now - settings.rate_window)
                    .order_by(attempt.c.at.desc())
                    .offset(limit - 1)
                    .limit(1)
                ).scalar()
                if blocking is not None:
                    wait = max(
                        1, math.ceil((blocking + settings.rate_window - now).total_seconds())
                    )
                    which = "account" if ":account:" in key else "address"
                    raise Problem(
                        429,
                        f"Too many attempts from this {which}; try again in {wait} seconds.",
                        headers={"Retry-After": str(wait)},
                    )

    def record(self, request: Request, settings: AuthSettings) -> None:
        """Count one attempt against every key, in its own transaction (it outlives a 401)."""
        now = settings.clock()
        attempt = _tables(request).attempt
        with _transaction(request) as connection:
            for key, _ in self.keys:
                connection.execute(
                    sa.delete(attempt).where(
                        attempt.c.key == key, attempt.c.at <= now - settings.rate_window
                    )
                )
                connection.execute(sa.insert(attempt).values(key=key, at=now))

    def forget_account(self, connection: sa.Connection, request: Request) -> None:
        """After a successful sign-in, the account's failures no longer count."""
        attempt = _tables(request).attempt
        accounts = [key for key, _ in self.keys if ":account:" in key]
        if accounts:
            connection.execute(sa.delete(attempt).where(attempt.c.key.in_(accounts)))


# Helpers ----------------------------------------------------------------------------------------


def _email(value: str, field_name: str = "email") -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Problem(
            422, "Invalid input: email.", (FieldError(field_name, "not an email address"),)
        )
    return email


def _find_user(connection: sa.Connection, tables: _Tables, email: str) -> sa.RowMapping | None:
    return (
        connection.execute(
            sa.select(
                tables["User.key"].label("id"),
                tables["User.email"].label("email"),
                tables["User.name"].label("name"),
                tables["User.is_active"].label("is_active"),
                tables.password.c.hash,
            )
            .select_from(tables.user)
            .outerjoin(tables.password, tables.password.c.user_id == tables["User.key"])
            .where(sa.func.lower(tables["User.email"]) == email)
        )
        .mappings()
        .first()
    )


def _user_json(connection: sa.Connection, tables: _Tables, user_id: object) -> dict[str, Any]:
    return _row(connection, tables.user, tables["User.key"], user_id)


def _tenant_json(connection: sa.Connection, tables: _Tables, tenant_id: object) -> dict[str, Any]:
    return _row(connection, tables.tenant, tables["Tenant.key"], tenant_id)


def _row(
    connection: sa.Connection, table: sa.Table, key: sa.ColumnElement[Any], value: object
) -> dict[str, Any]:
    return dict(connection.execute(sa.select(table).where(key == value)).mappings().one())


def _slug_base(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return base or "tenant"


def _unique_slug(connection: sa.Connection, tables: _Tables, name: str) -> str:
    base = _slug_base(name)
    slug = tables["Tenant.slug"]
    taken = set(
        connection.execute(
            sa.select(slug).where(sa.or_(slug == base, slug.like(f"{base}-%")))
        ).scalars()
    )
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _start_session(
    connection: sa.Connection,
    request: Request,
    response: Response,
    settings: AuthSettings,
    user_id: object,
) -> str:
    """A new session for the user: its token (returned) and the session and CSRF cookies."""
    now = settings.clock()
    token, csrf = new_token(), new_token()
    session = _tables(request).session
    connection.execute(
        sa.delete(session).where(session.c.user_id == user_id, session.c.expires_at <= now)
    )
    connection.execute(
        sa.insert(session).values(
            token_hash=token_hash(token),
            user_id=user_id,
            csrf_hash=token_hash(csrf),
            created_at=now,
            expires_at=now + settings.session_lifetime,
            last_used_at=now,
        )
    )
    secure = (
        settings.secure_cookies
        if settings.secure_cookies is not None
        else request.url.scheme == "https"
    )
    max_age = int(settings.session_lifetime.total_seconds())
    common: dict[str, Any] = {"max_age": max_age, "secure": secure, "samesite": "lax", "path": "/"}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **common)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **common)
    return token


def _require_provider(model: AppModel, provider: str) -> None:
    if provider not in model.project.app.auth_providers:
        raise Problem(404, f"Sign-in by {provider.replace('_', ' ')} is not enabled for this app.")


def _check_roles(project: ir.Project, roles: Sequence[str]) -> tuple[str, ...]:
    known = project.app.roles
    errors = [
        FieldError(f"roles[{i}]", f"unknown role {role!r}; the roles are {', '.join(known)}")
        for i, role in enumerate(roles)
        if role not in known
    ]
    if errors:
        bad = ", ".join(repr(r) for r in roles if r not in known)
        raise Problem(422, f"Unknown role {bad}; the roles are {', '.join(known)}.", errors)
    return tuple(dict.fromkeys(roles))


# The router ---------------------------------------------------------------------------------------


def auth_router(model: AppModel) -> APIRouter:
    """The auth endpoints, to include under `/api`."""
    router = APIRouter(tags=["auth"])

    @router.post("/auth/signup", status_code=201)
    def signup(body: SignupBody, request: Request, response: Response) -> dict[str, Any]:
        _require_provider(model, "password")
        settings = _settings(request)
        email = _email(body.email)
        _check_password(body.password, settings)
        name = body.tenant.strip()
        if not 1 <= len(name) <= 200:
            raise Problem(
                422, "Invalid input: tenant.", (FieldError("tenant", "1 to 200 characters"),)
            )
        tables = _tables(request)
        with _transaction(request) as connection:
            if _find_user(connection, tables, email) is not None:
                raise Problem(409, "An account with this email already exists; sign in instead.")
            user_id = connection.execute(
                sa.insert(tables.user)
                .values({tables["User.email"].name: email})
                .returning(tables["User.key"])
            ).scalar_one()
            connection.execute(
                sa.insert(tables.password).values(
                    user_id=user_id, hash=settings.passwords.hash(body.password)
                )
            )
            tenant_id = connection.execute(
                sa.insert(tables.tenant)
                .values(
                    {
                        tables["Tenant.name"].name: name,
                        tables["Tenant.slug"].name: _unique_slug(connection, tables, name),
                    }
                )
                .returning(tables["Tenant.key"])
            ).scalar_one()
            connection.execute(
                sa.insert(tables.membership).values(
                    {
                        tables["Membership.user"].name: user_id,
                        tables["Membership.tenant"].name: tenant_id,
                        tables["Membership.roles"].name: [ADMIN],
                    }
                )
            )
            token = _start_session(connection, request, response, settings, user_id)
            return {
                "user": _user_json(connection, tables, user_id),
                "tenant": _tenant_json(connection, tables, tenant_id),
                "roles": [ADMIN],
                "token": token,
            }

    @router.post("/auth/login")
    def login(body: LoginBody, request: Request, response: Response) -> dict[str, str]:
        _require_provider(model, "password")
        settings = _settings(request)
        email = body.email.strip().lower()
        limits = _Limits.of("login", request, settings, email)
        limits.check(request, settings)
        tables = _tables(request)
        with _transaction(request) as connection:
            user = _find_user(connection, tables, email)
            stored = user["hash"] if user is not None and user["is_active"] else None
            if settings.passwords.verify(stored, body.password) and user is not None:
                if stored is not None and settings.passwords.needs_rehash(stored):
                    connection.execute(
                        sa.update(tables.password)
                        .where(tables.password.c.user_id == user["id"])
                        .values(
                            hash=settings.passwords.hash(body.password), updated_at=settings.clock()
                        )
                    )
                limits.forget_account(connection, request)
                return {
                    "token": _start_session(connection, request, response, settings, user["id"])
                }
        limits.record(request, settings)
        raise _unauthorized("Incorrect email or password.")

    @router.post("/auth/magic-link", status_code=202)
    def magic_link(body: MagicLinkBody, request: Request) -> dict[str, str]:
        _require_provider(model, "magic_link")
        settings = _settings(request)
        email = _email(body.email)
        limits = _Limits.of("magic", request, settings, email)
        limits.check(request, settings)
        limits.record(request, settings)  # every request counts: each may send a message
        tables = _tables(request)
        now = settings.clock()
        with _transaction(request) as connection:
            user = _find_user(connection, tables, email)
            if user is not None and user["is_active"]:
                token = new_token()
                connection.execute(
                    sa.insert(tables.magic_link).values(
                        token_hash=token_hash(token),
                        user_id=user["id"],
                        created_at=now,
                        expires_at=now + settings.magic_link_lifetime,
                    )
                )
                memberships = _memberships(connection, tables, user["id"])
                tenant_id = memberships[0].tenant_id if memberships else None
                _send(request, connection, settings, user["email"], token, tenant_id)
        return {"detail": "If this email has an account, a sign-in link is on its way."}

    @router.post("/auth/magic-link/verify")
    def verify_magic_link(body: VerifyBody, request: Request, response: Response) -> dict[str, str]:
        _require_provider(model, "magic_link")
        settings = _settings(request)
        limits = _Limits.of("magic", request, settings, None)
        limits.check(request, settings)
        tables = _tables(request)
        now = settings.clock()
        link = tables.magic_link
        with _transaction(request) as connection:
            # Used up in the same statement that finds it: a link works once, even when raced.
            user_id = connection.execute(
                sa.update(link)
                .where(
                    link.c.token_hash == token_hash(body.token),
                    link.c.used_at.is_(None),
                    link.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(link.c.user_id)
            ).scalar()
            active = (
                user_id is not None
                and connection.execute(
                    sa.select(tables["User.is_active"]).where(tables["User.key"] == user_id)
                ).scalar()
            )
            if active:
                return {"token": _start_session(connection, request, response, settings, user_id)}
        limits.record(request, settings)
        raise _unauthorized("This sign-in link is invalid, used or expired; ask for a new one.")

    @router.post("/auth/logout", status_code=204)
    def logout(request: Request, caller: SignedIn) -> Response:
        session: _Session = request.state.session
        with _transaction(request) as connection:
            table = _tables(request).session
            connection.execute(sa.delete(table).where(table.c.token_hash == session.token_hash))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    @router.get("/auth/me")
    def me(request: Request, caller: SignedIn) -> dict[str, Any]:
        tables = _tables(request)
        with _transaction(request) as connection:
            memberships = _memberships(connection, tables, caller.user_id)
            user = _user_json(connection, tables, caller.user_id)
        listed: list[dict[str, Any]] = [
            {"tenant": {"id": m.tenant_id, "name": m.name, "slug": m.slug}, "roles": list(m.roles)}
            for m in memberships
        ]
        current = next((m for m in listed if m["tenant"]["id"] == caller.tenant_id), None)
        return {
            "user": user,
            "memberships": listed,
            "tenant": current["tenant"] if current else None,
            "roles": sorted(caller.roles),
        }

    @router.get("/auth/outbox")
    def outbox(request: Request, caller: SignedIn) -> dict[str, Any]:
        if not getattr(request.app.state, "dev", False):
            raise Problem(404, "The outbox exists in dev mode only.")
        if ADMIN not in caller.roles:
            raise Problem(403, "Only an admin of the current tenant may read the outbox.")
        table = _tables(request).outbox
        with _transaction(request) as connection:
            rows = connection.execute(
                sa.select(table)
                .where(sa.or_(table.c.tenant_id == caller.tenant_id, table.c.tenant_id.is_(None)))
                .order_by(table.c.created_at.desc(), table.c.id)
                .limit(100)
            ).mappings()
            items = [
                {
                    "id": r["id"],
                    "to_address": r["to_address"],
                    "subject": r["subject"],
                    "body": r["body"],
                    "tenant": r["tenant_id"],
                    "created_at": r["created_at"],
                }
                for r in rows
            ]
        return {"items": items}

    @router.post("/tenants/{tenant_id}/members")
    def add_member(
        tenant_id: str, body: MemberBody, request: Request, response: Response, caller: SignedIn
    ) -> dict[str, Any]:
        tables = _tables(request)
        try:
            tenant = uuid.UUID(tenant_id)
        except ValueError:
            raise Problem(404, "No tenant with this id.") from None
        email = _email(body.email)
        roles = _check_roles(model.project, body.roles)
        with _transaction(request) as connection:
            mine = {m.tenant_id: m for m in _memberships(connection, tables, caller.user_id)}
            if tenant not in mine:
                raise Problem(404, "No tenant with this id.")
            if ADMIN not in mine[tenant].roles:
                raise Problem(403, "Only an admin of this tenant may add or change members.")
            user = _find_user(connection, tables, email)
            user_id = (
                user["id"]
                if user is not None
                else connection.execute(
                    sa.insert(tables.user)
                    .values({tables["User.email"].name: email})
                    .returning(tables["User.key"])
                ).scalar_one()
            )
            created = _upsert_membership(connection, tables, user_id, tenant, roles)
            response.status_code = 201 if created else 200
            return {
                "user": _user_json(connection, tables, user_id),
                "tenant": tenant,
                "roles": list(roles),
            }

    return router


def _check_password(password: str, settings: AuthSettings) -> None:
    if len(password) < settings.min_password_length:
        raise Problem(
            422,
            "Invalid input: password.",
            (FieldError("password", f"at least {settings.min_password_length} characters"),),
        )


def _upsert_membership(
    connection: sa.Connection,
    tables: _Tables,
    user_id: object,
    tenant_id: uuid.UUID,
    roles: Sequence[str],
) -> bool:
    """Add the membership (True) or set its roles (False); a tenant keeps at least one admin."""
    membership = tables.membership
    where = sa.and_(tables["Membership.user"] == user_id, tables["Membership.tenant"] == tenant_id)
    existing = connection.execute(
        sa.select(tables["Membership.roles"]).where(where).with_for_update()
    ).first()
    values: dict[str, Any] = {tables["Membership.roles"].name: list(roles)}
    if existing is None:
        connection.execute(
            sa.insert(membership).values(
                {
                    **values,
                    tables["Membership.user"].name: user_id,
                    tables["Membership.tenant"].name: tenant_id,
                }
            )
        )
        return True
    if ADMIN in (existing[0] or ()) and ADMIN not in roles:
        admins = connection.execute(
            sa.select(sa.func.count())
            .select_from(membership)
            .where(
                tables["Membership.tenant"] == tenant_id,
                tables["Membership.roles"].contains([ADMIN]),
            )
        ).scalar_one()
        if admins <= 1:
            raise Problem(
                409, "A tenant keeps at least one admin; make another member admin first."
            )
    if "updated_at" in membership.c:
        values["updated_at"] = sa.func.now()
    connection.execute(sa.update(membership).where(where).values(values))
    return False


def _send(
    request: Request,
    connection: sa.Connection,
    settings: AuthSettings,
    to: str,
    token: str,
    tenant_id: uuid.UUID | None,
) -> None:
    model: AppModel = request.app.state.model
    subject = f"Sign in to {model.project.app.name}"
    link = settings.magic_link_url.format(token=token)
    minutes = int(settings.magic_link_lifetime.total_seconds() // 60)
    body = (
        f"Sign in with this link (it works once, for {minutes} minutes):\n\n{link}\n\n"
        f"The token, for POST /api/auth/magic-link/verify: {token}\n"
    )
    if getattr(request.app.state, "dev", False):
        outbox = _tables(request).outbox
        connection.execute(
            sa.insert(outbox).values(
                to_address=to,
                subject=subject,
                body=body,
                tenant_id=tenant_id,
                created_at=settings.clock(),
            )
        )
    elif settings.send_mail is not None:
        settings.send_mail(to, subject, body)
    else:
        log.warning("magic link for %s not sent: no mail sender and not in dev mode", to)
