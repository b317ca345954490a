"""Composition root: settings from the environment, `create_app()`, the lifespan and
the `pingshen` command line.

Nothing else reads the environment: resolvers receive a Config through
`resolvers.config.configure()`, the ORM its config from `tortoise_config()`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from resolvers.config import Config, configure

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("pingshen")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once from PINGSHEN_* environment variables."""

    database_url: str
    secret_key: str
    debug: bool
    var_dir: Path
    graphql_introspection: str = "authenticated"
    # Base64 Ed25519 private key for certificate signatures (resolvers/certsign.py).
    cert_signing_key: str = ""
    # Throttle and rate-limit counters in Redis instead of the database (optional).
    redis_url: str = ""
    redis_prefix: str = "pingshen:"
    token_cost_per_minute: int = Config.token_cost_per_minute

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("PINGSHEN_VAR_DIR", "var")).resolve()
        url = env.get("PINGSHEN_DATABASE_URL") or f"sqlite://{var_dir / 'pingshen.sqlite3'}"
        return cls(
            database_url=_with_pool_max(normalize_db_url(url), env.get("PINGSHEN_DB_POOL_MAX", "")),
            secret_key=env.get("PINGSHEN_SECRET_KEY") or _stored_secret(var_dir),
            debug=env.get("PINGSHEN_DEBUG", "").lower() in ("1", "true", "yes", "on"),
            var_dir=var_dir,
            graphql_introspection=env.get("PINGSHEN_GRAPHQL_INTROSPECTION", "authenticated"),
            cert_signing_key=env.get("PINGSHEN_CERT_SIGNING_KEY", ""),
            redis_url=env.get("PINGSHEN_REDIS_URL", ""),
            redis_prefix=env.get("PINGSHEN_REDIS_PREFIX", "pingshen:"),
            token_cost_per_minute=_positive_int(
                env, "PINGSHEN_TOKEN_COST_PER_MINUTE", Config.token_cost_per_minute
            ),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def config(self) -> Config:
        extra = {"cert_signing_key": self.cert_signing_key} if self.cert_signing_key else {}
        return Config(
            secret_key=self.secret_key,
            debug=self.debug,
            var_dir=str(self.var_dir),
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            token_cost_per_minute=self.token_cost_per_minute,
            extra=extra,
        )


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise CLIError(f"{name} 须为正整数,当前为 {raw!r}")
    return int(raw)


def normalize_db_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL; Tortoise wants `postgres://`."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "asyncpg://"):
        if url.startswith(prefix):
            return "postgres://" + url[len(prefix) :]
    return url


def _with_pool_max(url: str, pool_max: str) -> str:
    """PINGSHEN_DB_POOL_MAX as the `maxsize` Tortoise passes to asyncpg's pool (per
    process: N workers open up to N × maxsize connections)."""
    if not pool_max or not url.startswith("postgres://") or "maxsize=" in url:
        return url
    if not pool_max.isdigit() or int(pool_max) < 1:
        raise CLIError(f"PINGSHEN_DB_POOL_MAX 须为正整数,当前为 {pool_max!r}")
    return f"{url}{'&' if '?' in url else '?'}maxsize={int(pool_max)}"


def _stored_secret(var_dir: Path) -> str:
    """A secret generated once and kept in var/, so restarts keep sessions and keys."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    log.warning("PINGSHEN_SECRET_KEY is not set: generated one in %s (keep it safe)", path)
    return key


MODEL_MODULES = ["models"]


def tortoise_config(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        Path(database_url[len("sqlite://") :]).parent.mkdir(parents=True, exist_ok=True)
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise makemigrations` command ([tool.tortoise] in pyproject.toml).
TORTOISE_ORM = tortoise_config(
    normalize_db_url(os.environ.get("PINGSHEN_DATABASE_URL", "sqlite://var/pingshen.sqlite3"))
)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app. The database must already be migrated (`pingshen migrate`)."""
    settings = settings or Settings.from_env()
    configure(settings.config())
    from schema import graphql_route
    from views import routes as view_routes
    from views.errors import exception_handlers
    from views.middleware import IdentityMiddleware

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, config=tortoise_config(settings.database_url), _enable_global_fallback=True
        ):
            try:
                yield
            finally:
                # Background jobs of this process stop with it, stored as interrupted.
                from resolvers import jobs

                await jobs.drain(cancel=True)

    app = Starlette(
        debug=settings.debug,
        routes=[
            *view_routes(),
            graphql_route(),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
        ],
        middleware=[Middleware(DatabaseUnavailableMiddleware), Middleware(IdentityMiddleware)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


class DatabaseUnavailableMiddleware:
    """Outermost: a request that fails because the database is unreachable (e.g. while
    PostgreSQL restarts) gets 503 instead of the 500 page; the pool reconnects by itself
    once the server is back, so no restart of the app is needed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        from resolvers.health import is_connection_error

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not is_connection_error(exc):
                raise
            log.warning("database unavailable: %s on %s", type(exc).__name__, scope["path"])
            await _unavailable(Request(scope))(scope, receive, send)


def _unavailable(request: Request) -> Response:
    from views.errors import error_page
    from views.middleware import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

    message = "系统暂时无法连接数据库,请稍后重试。"
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    headers.update({"retry-after": "5", "cache-control": "no-store"})
    if request.url.path.startswith("/graphql") or "json" in request.headers.get("accept", ""):
        body = {"errors": [{"message": message, "extensions": {"code": "UNAVAILABLE"}}]}
        return JSONResponse(body, status_code=503, headers=headers)
    headers["content-security-policy"] = CONTENT_SECURITY_POLICY
    try:
        return error_page(request, 503, message=message, headers=headers)
    except Exception:  # like the 500 page, this one must never raise
        log.exception("503 page failed to render")
        return PlainTextResponse(message, status_code=503, headers=headers)


# --- command line ----------------------------------------------------------------------


async def migrate_db(settings: Settings) -> None:
    """Apply the migration history (idempotent)."""
    from tortoise.migrations.api import migrate

    await migrate(config=tortoise_config(settings.database_url))
    await Tortoise.close_connections()


@asynccontextmanager
async def orm(settings: Settings) -> AsyncIterator[None]:
    configure(settings.config())
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


class CLIError(Exception):
    """A usage or input error: one line on stderr, exit status 2."""


def _run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    _run(lambda: migrate_db(settings))
    print("数据库已迁移到最新版本")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    workers = int(args.workers)
    if workers < 1:
        raise CLIError("--workers 须为正整数")
    if workers > 1 and settings.is_sqlite:
        raise CLIError("SQLite 只能单进程运行:多进程(--workers 大于 1)请改用 PostgreSQL")
    # Only these peers may set the client address (X-Forwarded-For) that throttling uses.
    trusted = args.forwarded_allow_ips or os.environ.get("PINGSHEN_TRUSTED_PROXIES") or "127.0.0.1"
    _run(lambda: migrate_db(settings))
    if args.demo:
        cmd_demo(settings, argparse.Namespace(seed=args.seed, experts=args.experts))
    print(f"pingshen 正在 http://{args.host}:{args.port}/ 提供服务({workers} 个进程)")
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "proxy_headers": bool(args.proxy_headers),
        "forwarded_allow_ips": trusted,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
    else:
        # Each worker builds its own app (and pool) from the same environment.
        uvicorn.run("app:create_app", factory=True, workers=workers, app_dir=str(ROOT), **common)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers import demo

    async def go() -> demo.DemoResult:
        async with orm(settings):
            return await demo.load_demo(seed=args.seed, experts=args.experts)

    result = _run(go)
    if result.created:
        print(f"演示数据已载入:{result.summary}")
    else:
        print("数据库中已有数据,未重复载入演示数据")
    print("演示账号(密码均为 " + demo.DEMO_PASSWORD + "):")
    for username, what in result.logins:
        print(f"  {username:<20} {what}")
    return 0


def cmd_createuser(settings: Settings, args: argparse.Namespace) -> int:
    from models.enums import Role
    from resolvers import account
    from resolvers.actor import SYSTEM
    from resolvers.errors import DomainError

    try:
        role = Role(args.role)
    except ValueError:
        raise CLIError(f"未知角色 {args.role!r};可选:{', '.join(r.value for r in Role)}") from None
    password = args.password or os.environ.get("PINGSHEN_NEW_PASSWORD", "")
    if not password:
        import getpass

        password = getpass.getpass("密码: ")

    async def go() -> None:
        async with orm(settings):
            await account.create_user(
                SYSTEM,
                username=args.username,
                display_name=args.name or args.username,
                password=password,
                role=role,
                scope_id=args.scope,
            )

    try:
        _run(go)
    except DomainError as exc:
        raise CLIError(f"{exc.field or ''} {exc.message}".strip()) from None
    print(f"已创建用户 {args.username}({role.value})")
    return 0


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from resolvers import sweep

    today = dt.date.fromisoformat(args.today) if args.today else None

    async def go() -> sweep.SweepReport:
        async with orm(settings):
            return await sweep.run_sweep(today=today)

    report = _run(go)
    for line in report.lines():
        print(line)
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers.audit import ChainReport, verify_chain

    async def go() -> ChainReport:
        async with orm(settings):
            return await verify_chain()

    report = _run(go)
    if report.ok:
        print(f"审计链完整:共 {report.count} 个事件,链头哈希 {report.head}")
        return 0
    print(
        f"审计链损坏:事件 seq={report.broken_seq} (id={report.broken_id}):{report.reason}",
        file=sys.stderr,
    )
    return 1


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from schema import export_sdl

    sdl = export_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"SDL 已写入 {args.output}")
    return 0


def cmd_verify_draw(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers import drawcore

    argv = [args.bundle]
    if args.pool_hash:
        argv += ["--pool-hash", args.pool_hash]
    if args.secret_hash:
        argv += ["--secret-hash", args.secret_hash]
    return drawcore.main(argv)


def _print_tables(tables: Any) -> None:
    print(f"  共 {len(tables)} 个表、{sum(t.rows for t in tables)} 行")
    for t in tables:
        if t.rows:
            print(f"  {t.name:<32} {t.rows:>8} 行  sha256 {t.sha256[:16]}")


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers import backup
    from resolvers.errors import DomainError

    try:
        tables = _run(lambda: backup.backup(settings.database_url, Path(args.path)))
    except DomainError as exc:
        raise CLIError(exc.message) from None
    print(f"已备份到 {args.path}")
    _print_tables(tables)
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers import backup
    from resolvers.errors import DomainError

    try:
        tables = _run(
            lambda: backup.restore(settings.database_url, Path(args.path), force=args.force)
        )
    except DomainError as exc:
        raise CLIError(exc.message) from None
    print(f"已从 {args.path} 恢复(请运行 pingshen audit verify 核验审计链)")
    _print_tables(tables)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"pingshen: 参数错误:{message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pingshen", description="评审:北京市职称评审服务机构和评审专家管理系统")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="迁移数据库并启动服务")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--demo", action="store_true", help="空数据库时载入演示数据")
    s.add_argument("--seed", type=int, default=2023)
    s.add_argument("--experts", type=int, default=2000)
    s.add_argument("--workers", type=int, default=1, help="进程数(大于 1 时须用 PostgreSQL)")
    s.add_argument(
        "--proxy-headers",
        action="store_true",
        help="信任反向代理的 X-Forwarded-For/-Proto(仅限 --forwarded-allow-ips 所列地址)",
    )
    s.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="可信反向代理地址,逗号分隔(默认取 PINGSHEN_TRUSTED_PROXIES,否则 127.0.0.1)",
    )
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("migrate", help="把数据库迁移到最新版本")
    m.set_defaults(func=cmd_migrate)

    d = sub.add_parser("demo", help="向空数据库载入演示数据")
    d.add_argument("--seed", type=int, default=2023)
    d.add_argument("--experts", type=int, default=2000)
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("createuser", help="创建用户并授予角色")
    c.add_argument("username")
    c.add_argument("--role", required=True, help="bureau/recommender/institution/expert/...")
    c.add_argument("--scope", type=int, default=None, help="角色范围对象的ID(如机构ID)")
    c.add_argument("--name", default="", help="显示名")
    c.add_argument("--password", default="", help="不提供时从终端读取或取 PINGSHEN_NEW_PASSWORD")
    c.set_defaults(func=cmd_createuser)

    w = sub.add_parser("sweep", help="每日任务:到期、退出、期限")
    w.add_argument("--today", default="", help="按指定日期(YYYY-MM-DD)运行")
    w.set_defaults(func=cmd_sweep)

    a = sub.add_parser("audit", help="审计链")
    asub = a.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    v = asub.add_parser("verify", help="逐个核验审计事件哈希链")
    v.set_defaults(func=cmd_audit_verify)

    vd = sub.add_parser("verify-draw", help="核验随机抽取结果包(可与事先公布的承诺哈希比对)")
    vd.add_argument("bundle", help="抽取结果包 JSON 文件")
    vd.add_argument("--pool-hash", default="", help="抽取前公布的 pool_hash")
    vd.add_argument("--secret-hash", default="", help="抽取前公布的 SHA-256(server_secret)")
    vd.set_defaults(func=cmd_verify_draw)

    b = sub.add_parser("backup", help="备份数据库(SQLite 在线备份;PostgreSQL 用 pg_dump -Fc)")
    b.add_argument("path", help="备份文件路径(不得已存在)")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser("restore", help="从备份恢复数据库(目标库有数据时须加 --force)")
    r.add_argument("path", help="备份文件路径")
    r.add_argument("--force", action="store_true", help="覆盖已有数据")
    r.set_defaults(func=cmd_restore)

    e = sub.add_parser("export-schema", help="导出 GraphQL SDL")
    e.add_argument("--output", default=str(ROOT / "schema" / "schema.graphql"))
    e.set_defaults(func=cmd_export_schema)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(Settings.from_env(), args))
    except CLIError as exc:
        print(f"pingshen: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
