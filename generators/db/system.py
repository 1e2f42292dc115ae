"""The runtime's own tables, in the schema of every project: `reframe_*`.

`lower_units` appends them after the model's tables, so `schema.postgres.sql`,
`db/tables.py` and `gen migrate` hold them like any other table. Each has a
stable uid ("reframe.session") and columns "reframe.session.user_id", so the
migration differ matches them across versions; they reference the built-in
`User` and `Tenant` tables through those tables' primary keys.

| table | holds |
| --- | --- |
| `reframe_password` | the argon2 hash of a user's password (never part of the API) |
| `reframe_session` | sign-in sessions: SHA-256 of the token and of its CSRF token |
| `reframe_magic_link` | one-time sign-in links: SHA-256 of the token, expiry, use |
| `reframe_login_attempt` | failed sign-in attempts by account or address (rate limits) |
| `reframe_outbox` | messages the app would send, kept in the database in dev mode |
| `reframe_audit` | append-only log of writes and actions (masked private values) |
| `reframe_idempotency` | answers to requests made with an `Idempotency-Key` |
"""

from __future__ import annotations

from generators.db.schema import (
    Column,
    ForeignKey,
    Index,
    IndexElement,
    OnDeleteSql,
    PrimaryKey,
    Table,
)

PREFIX = "reframe_"
NOW = "now()"


def system_tables(user: Table, tenant: Table) -> tuple[list[Table], list[Index]]:
    """The system tables and their indexes, given the model's `User` and `Tenant` tables."""
    return _Builder(user, tenant).build()


class _Builder:
    def __init__(self, user: Table, tenant: Table) -> None:
        self.user = user
        self.tenant = tenant
        self.indexes: list[Index] = []

    # Shorthands -----------------------------------------------------------------------

    @staticmethod
    def _key(table: Table) -> Column:
        assert len(table.primary_key.columns) == 1, f"{table.name}: a single-column key"
        column = table.column(table.primary_key.columns[0])
        assert column is not None
        return column

    def _column(
        self,
        uid: str,
        name: str,
        type_: str,
        nullable: bool = False,
        default: str | None = None,
        comment: str | None = None,
    ) -> Column:
        return Column(
            uid=f"{uid}.{name}",
            name=name,
            type=type_,
            nullable=nullable,
            default=default,
            comment=comment,
            origin=f"{uid}.{name}",
        )

    def _ref(self, uid: str, name: str, target: Table, nullable: bool = False) -> Column:
        return self._column(uid, name, self._key(target).type, nullable=nullable)

    def _fk(
        self, uid: str, table: str, column: str, target: Table, on_delete: OnDeleteSql
    ) -> ForeignKey:
        return ForeignKey(
            name=f"fk_{table}_{column}",
            columns=(f"{uid}.{column}",),
            target_table=target.uid,
            target_columns=(self._key(target).uid,),
            on_delete=on_delete,
            origin=f"{uid}.{column}",
        )

    def _index(self, uid: str, table: str, columns: tuple[str, ...], unique: bool = False) -> None:
        prefix = "ux" if unique else "ix"
        self.indexes.append(
            Index(
                name=f"{prefix}_{table}_{'_'.join(columns)}",
                table=uid,
                elements=tuple(IndexElement(column=f"{uid}.{c}") for c in columns),
                unique=unique,
                using="btree",
                origin=uid,
            )
        )

    def _table(
        self,
        short: str,
        columns: list[Column],
        key: tuple[str, ...],
        comment: str,
        foreign_keys: tuple[ForeignKey, ...] = (),
    ) -> Table:
        uid = f"reframe.{short}"
        name = PREFIX + short
        return Table(
            uid=uid,
            name=name,
            columns=tuple(columns),
            primary_key=PrimaryKey(name=f"pk_{name}", columns=tuple(f"{uid}.{c}" for c in key)),
            foreign_keys=foreign_keys,
            comment=comment,
            origin=uid,
        )

    # The tables -------------------------------------------------------------------------

    def build(self) -> tuple[list[Table], list[Index]]:
        tables = [
            self.password(),
            self.session(),
            self.magic_link(),
            self.login_attempt(),
            self.outbox(),
            self.audit(),
            self.idempotency(),
        ]
        return tables, self.indexes

    def password(self) -> Table:
        uid, name = "reframe.password", "reframe_password"
        return self._table(
            "password",
            [
                self._ref(uid, "user_id", self.user),
                self._column(uid, "hash", "text", comment="argon2id, in PHC string format."),
                self._column(uid, "updated_at", "timestamptz", default=NOW),
            ],
            key=("user_id",),
            comment="The password hash of a user who has one (never part of the API).",
            foreign_keys=(self._fk(uid, name, "user_id", self.user, "CASCADE"),),
        )

    def session(self) -> Table:
        uid, name = "reframe.session", "reframe_session"
        self._index(uid, name, ("user_id",))
        self._index(uid, name, ("expires_at",))
        return self._table(
            "session",
            [
                self._column(uid, "token_hash", "text", comment="SHA-256 of the token, hex."),
                self._ref(uid, "user_id", self.user),
                self._column(uid, "csrf_hash", "text", comment="SHA-256 of the CSRF token, hex."),
                self._column(uid, "created_at", "timestamptz", default=NOW),
                self._column(uid, "expires_at", "timestamptz"),
                self._column(uid, "last_used_at", "timestamptz", default=NOW),
            ],
            key=("token_hash",),
            comment="Sign-in sessions; the token itself is never stored.",
            foreign_keys=(self._fk(uid, name, "user_id", self.user, "CASCADE"),),
        )

    def magic_link(self) -> Table:
        uid, name = "reframe.magic_link", "reframe_magic_link"
        self._index(uid, name, ("user_id",))
        return self._table(
            "magic_link",
            [
                self._column(uid, "token_hash", "text", comment="SHA-256 of the token, hex."),
                self._ref(uid, "user_id", self.user),
                self._column(uid, "created_at", "timestamptz", default=NOW),
                self._column(uid, "expires_at", "timestamptz"),
                self._column(uid, "used_at", "timestamptz", nullable=True),
            ],
            key=("token_hash",),
            comment="One-time sign-in links.",
            foreign_keys=(self._fk(uid, name, "user_id", self.user, "CASCADE"),),
        )

    def login_attempt(self) -> Table:
        uid, name = "reframe.login_attempt", "reframe_login_attempt"
        self._index(uid, name, ("key", "at"))
        return self._table(
            "login_attempt",
            [
                self._column(uid, "id", "uuid", default="gen_random_uuid()"),
                self._column(
                    uid,
                    "key",
                    "text",
                    comment="login: or magic: + account:<email> or address:<client address>.",
                ),
                self._column(uid, "at", "timestamptz", default=NOW),
            ],
            key=("id",),
            comment="Failed sign-in attempts, counted to limit their rate.",
        )

    def outbox(self) -> Table:
        uid, name = "reframe.outbox", "reframe_outbox"
        self._index(uid, name, ("tenant_id", "created_at"))
        return self._table(
            "outbox",
            [
                self._column(uid, "id", "uuid", default="gen_random_uuid()"),
                self._column(uid, "to_address", "text"),
                self._column(uid, "subject", "text"),
                self._column(uid, "body", "text"),
                self._ref(uid, "tenant_id", self.tenant, nullable=True),
                self._column(uid, "created_at", "timestamptz", default=NOW),
            ],
            key=("id",),
            comment="Messages the app sends, kept here instead in dev mode.",
            foreign_keys=(self._fk(uid, name, "tenant_id", self.tenant, "CASCADE"),),
        )

    def audit(self) -> Table:
        uid, name = "reframe.audit", "reframe_audit"
        self._index(uid, name, ("tenant_id", "at"))
        self._index(uid, name, ("entity", "row_id"))
        # No foreign keys: the log outlives the users, tenants and rows it names.
        return self._table(
            "audit",
            [
                self._column(uid, "id", "uuid", default="gen_random_uuid()"),
                self._column(uid, "at", "timestamptz", default=NOW),
                self._ref(uid, "user_id", self.user, nullable=True),
                self._ref(uid, "tenant_id", self.tenant, nullable=True),
                self._column(uid, "entity", "text"),
                self._column(uid, "row_id", "text"),
                self._column(
                    uid, "operation", "text", comment="create, update, delete or the action's name."
                ),
                self._column(
                    uid,
                    "changes",
                    "jsonb",
                    default="'{}'::jsonb",
                    comment="Changed fields; values of private fields are masked.",
                ),
            ],
            key=("id",),
            comment="Append-only log of writes and actions.",
        )

    def idempotency(self) -> Table:
        uid, name = "reframe.idempotency", "reframe_idempotency"
        self._index(uid, name, ("created_at",))
        return self._table(
            "idempotency",
            [
                self._ref(uid, "user_id", self.user),
                self._column(uid, "key", "text"),
                self._column(uid, "method", "text"),
                self._column(uid, "path", "text"),
                self._column(
                    uid,
                    "request_hash",
                    "text",
                    nullable=True,
                    comment="SHA-256 of the request body, to refuse a key reused for another.",
                ),
                self._column(uid, "status", "integer"),
                self._column(uid, "body", "jsonb", nullable=True),
                self._column(uid, "created_at", "timestamptz", default=NOW),
            ],
            key=("user_id", "key"),
            comment="Answers to requests sent with an Idempotency-Key, per user.",
            foreign_keys=(self._fk(uid, name, "user_id", self.user, "CASCADE"),),
        )
