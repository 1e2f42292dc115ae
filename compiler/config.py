"""`gen.toml`: the project's name, roles, tenancy, auth and database settings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from compiler.diagnostics import Diagnostics, did_you_mean
from compiler.project_files import CONFIG_FILE
from compiler.source import SourceLoc

AUTH_PROVIDERS = ("password", "magic_link")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppSection(_Section):
    name: str
    roles: tuple[str, ...] = ("admin", "member")
    #: The tenancy mode; "org" gives tenant entities a tenant and isolation.
    tenancy: Literal["org"] | None = None
    #: A database url; without one `gen serve` starts an embedded PostgreSQL.
    database: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits, '-' or '_', starting with a letter"
            )
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in value if not re.match(r"^[a-z][a-z0-9_]*$", r)]
        if bad:
            raise ValueError(f"role names must be lowercase identifiers: {', '.join(bad)}")
        if len(set(value)) != len(value):
            raise ValueError("roles must not repeat")
        if "admin" not in value:
            raise ValueError("must include 'admin' (the role a tenant's creator gets)")
        return value


class AuthSection(_Section):
    providers: tuple[Literal["password", "magic_link"], ...] = ("password",)


class ProjectConfig(_Section):
    app: AppSection
    auth: AuthSection = Field(default_factory=AuthSection)


def _line_of(text: str, key: str) -> int:
    """The first line assigning `key`, else its section header, else 1."""
    for pattern in (rf"^\s*{re.escape(key)}\s*=", rf"^\s*\[{re.escape(key)}\]"):
        for number, line in enumerate(text.splitlines(), start=1):
            if re.match(pattern, line):
                return number
    return 1


def load_config(project_dir: Path, diagnostics: Diagnostics) -> ProjectConfig | None:
    """Read and validate gen.toml, reporting problems with their line."""
    path = project_dir / CONFIG_FILE
    if not path.is_file():
        diagnostics.error(
            SourceLoc(CONFIG_FILE, 0),
            "config-missing",
            f"no {CONFIG_FILE} in {project_dir}.",
            "run `gen init DIR` to create a project, or pass --project pointing at one.",
        )
        return None
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 1
        diagnostics.error(
            SourceLoc(CONFIG_FILE, line),
            "config-syntax",
            f"{CONFIG_FILE} is not valid TOML: {exc}.",
            "check quotes, brackets and `key = value` pairs on that line.",
        )
        return None
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            # The innermost named key: [auth.providers.0] is on the `providers =` line.
            key = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "app")
            diagnostics.error(
                SourceLoc(CONFIG_FILE, _line_of(text, key)),
                "config-invalid",
                f"{CONFIG_FILE}: [{where}] {error['msg']}.",
                _config_hint(where, error["type"]),
            )
        return None


def _config_hint(where: str, error_type: str = "") -> str:
    if error_type == "extra_forbidden":
        section, _, key = where.rpartition(".")
        known = _KNOWN_KEYS.get(section, ())
        return f"remove the key, or fix its spelling: {did_you_mean(key, known)}"
    hints = {
        "app": 'add an [app] section with name = "my-app".',
        "app.name": 'write name = "my-app" under [app].',
        "app.roles": 'write roles = ["admin", "member"] under [app].',
        "app.tenancy": 'write tenancy = "org", or leave it out for a single-tenant app.',
        "auth.providers": f"choose from {', '.join(AUTH_PROVIDERS)}.",
    }
    # The most specific key first: [app.roles] must not get the hint for [app].
    for key in sorted(hints, key=len, reverse=True):
        if where == key or where.startswith(key + "."):
            return hints[key]
    return "remove the key or check its spelling against docs/model-language.md."


#: The keys each gen.toml section accepts, for did-you-mean on unknown keys.
_KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(ProjectConfig.model_fields),
    "app": tuple(AppSection.model_fields),
    "auth": tuple(AuthSection.model_fields),
}
