"""`forge server`: a team's Prefect server and MLflow tracking server, on PostgreSQL.

`forge ui` looks at one workspace's own stores; `forge server` is the shared record a team points
every `forge` command at, with the variables it prints (PREFECT_API_URL, MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_USERNAME/PASSWORD). Prefect keeps flow runs in one PostgreSQL database; MLflow
keeps runs and the model registry in another, asks every client to sign in (basic auth), and
proxies artifacts: clients upload and download through the server, which alone writes to the
artifact store (a folder, or s3://), so no client needs the store's credentials.

Both servers run as child processes, started, watched and stopped with everything they forked by
the machinery of supervise.py. Secrets (database passwords, the MLflow admin's password) stay
out of command lines (`ps` shows them to every user), logs and the terminal: they reach the
servers through their environment and through MLflow's auth settings file, which lives, 0600, in
the private folder <workspace>/server/ only while the server runs.
"""

from __future__ import annotations

import base64
import configparser
import io
import os
import secrets
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr, ValidationError

from forge.options import prefect_home
from forge.services.supervise import Service, child_env, executable, log_dir, supervise, url_host
from forge_core.airgap import is_loopback
from forge_core.config import ConfigError, ForgeConfig, ServerConfig
from forge_core.io.workspace import Workspace

# Settings a team keeps out of config files: the environment wins over server.* in the YAML.
ENV = {
    "prefect_database_url": "FORGE_PREFECT_DATABASE_URL",
    "mlflow_database_url": "FORGE_MLFLOW_DATABASE_URL",
    "mlflow_auth_database_url": "FORGE_MLFLOW_AUTH_DATABASE_URL",
    "artifacts_destination": "FORGE_MLFLOW_ARTIFACTS_DESTINATION",
    "mlflow_admin_username": "FORGE_MLFLOW_ADMIN_USERNAME",
}
ADMIN_PASSWORD_ENV = "FORGE_MLFLOW_ADMIN_PASSWORD"
MIN_PASSWORD_CHARS = 12  # MLflow's own rule (mlflow.utils.validation._validate_password)
# Forge's own variables that carry secrets: read here, never handed down to a server process.
SECRET_ENV = (ADMIN_PASSWORD_ENV, *(ENV[k] for k in ENV if k.endswith("database_url")))
DATABASE_CONNECT_TIMEOUT_S = 10


def serve(
    cfg: ForgeConfig,
    host: str | None = None,
    prefect_port: int | None = None,
    mlflow_port: int | None = None,
    artifacts_destination: str | None = None,
) -> int:
    """Serve Prefect and MLflow on PostgreSQL until Ctrl-C or SIGTERM; 0 after a requested stop.

    The arguments are the command's flags: each, when given, wins over the environment (ENV) and
    the config's `server` section. A host beyond loopback is served only when given here.
    Raises ConfigError for settings that cannot work (naming the variable or key to fix) and
    ServiceError when a server cannot start or stops on its own.
    """
    flags = dict(
        host=host, prefect_port=prefect_port, mlflow_port=mlflow_port, artifacts_destination=artifacts_destination
    )
    settings = resolve_settings(cfg.server, os.environ, {k: v for k, v in flags.items() if v is not None})
    check_host(settings, explicit=host is not None)
    if settings.prefect_port == settings.mlflow_port:
        raise ConfigError(f"the Prefect and MLflow ports are both {settings.prefect_port}; give them different ports")
    ws = Workspace(cfg.workspace)
    if not ws.is_local:
        raise ConfigError(
            f"workspace {ws.url} is not a local folder; forge server keeps its logs and MLflow's auth settings "
            "in the workspace, so give --workspace a local folder (artifacts may still go to s3:// with "
            "--artifacts-destination)"
        )
    password = admin_password(settings)
    prefect_url, mlflow_url = database_url(settings, "prefect"), database_url(settings, "mlflow")
    if same_database(prefect_url, mlflow_url):
        # Both keep their schema version in a table named alembic_version: one database cannot hold both.
        raise ConfigError(
            f"{ENV['prefect_database_url']} and {ENV['mlflow_database_url']} name the same database; "
            "Prefect and MLflow each need a database of their own (CREATE DATABASE prefect; CREATE DATABASE mlflow)"
        )
    check_database(prefect_url, "prefect")
    check_database(mlflow_url, "mlflow")

    private = private_dir(ws)
    auth_ini = private / "mlflow-auth.ini"
    logs = log_dir(ws, "server")
    services = [
        prefect_service(ws, settings, prefect_url, logs),
        mlflow_service(ws, settings, mlflow_url, auth_ini if settings.mlflow_auth else None, logs),
    ]
    try:
        if settings.mlflow_auth:
            write_auth_ini(auth_ini, settings, password, auth_database_url(settings, private))
        return supervise(services, "forge server", lambda started: on_ready(settings, started, password))
    finally:
        # The file holds the admin's password (and maybe a database's): it lives only while MLflow runs.
        auth_ini.unlink(missing_ok=True)


# Settings -----------------------------------------------------------------------------------


def resolve_settings(config: ServerConfig, environ: Mapping[str, str], flags: dict[str, Any]) -> ServerConfig:
    """The config's `server` section, then the environment (ENV), then the command's flags."""
    data = config.model_dump()
    for key, variable in ENV.items():
        if environ.get(variable):
            data[key] = environ[variable]
    data.update(flags)
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as e:
        errors = []
        for error in e.errors():
            key = ".".join(str(p) for p in error["loc"])
            where = f"{ENV[key]} or server.{key}" if key in ENV else f"server.{key}"
            errors.append(f"  {where}: {error['msg']}")
        raise ConfigError("invalid forge server settings:\n" + "\n".join(errors)) from None


def check_host(settings: ServerConfig, explicit: bool) -> None:
    """Loopback unless the user typed --host: a config file must not open the servers to a network."""
    host = settings.host
    if is_loopback(host):
        return
    if not explicit:
        raise ConfigError(
            f"server.host is {host!r}, beyond loopback; forge server listens there only when told on the command "
            f"line: forge server --host {host}"
        )
    unguarded = []
    if not os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        unguarded.append("the Prefect API (set PREFECT_SERVER_API_AUTH_STRING=user:password to guard it)")
    if not settings.mlflow_auth:
        unguarded.append("MLflow (server.mlflow_auth is false)")
    warning = (
        f"warning: listening on {host}, beyond this machine. Both servers speak plain HTTP: put them behind a TLS "
        "proxy or a firewall."
    )
    if unguarded:
        warning += f" No sign-in guards {' nor '.join(unguarded)}: whoever reaches them can read and change runs."
    warning += " MLflow answers only requests addressed to localhost or a private IP (MLFLOW_SERVER_ALLOWED_HOSTS)."
    print(warning, file=sys.stderr, flush=True)


def admin_password(settings: ServerConfig) -> str | None:
    """The MLflow admin's password from FORGE_MLFLOW_ADMIN_PASSWORD; None when sign-in is off."""
    if not settings.mlflow_auth:
        return None
    password = os.environ.get(ADMIN_PASSWORD_ENV, "")
    if not password:
        raise ConfigError(
            f"{ADMIN_PASSWORD_ENV} is not set: MLflow signs every client in, and its admin user "
            f"{settings.mlflow_admin_username!r} needs a password (at least {MIN_PASSWORD_CHARS} characters); "
            f"export {ADMIN_PASSWORD_ENV} before forge server"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise ConfigError(f"{ADMIN_PASSWORD_ENV} is shorter than {MIN_PASSWORD_CHARS} characters, MLflow's minimum")
    if password != password.strip() or "\n" in password:
        raise ConfigError(f"{ADMIN_PASSWORD_ENV} must not begin or end with whitespace or hold a line break")
    return password


def database_url(settings: ServerConfig, which: str) -> str:
    """The URL of Prefect's or MLflow's database, naming the driver each server needs."""
    key = f"{which}_database_url"
    value: SecretStr | None = getattr(settings, key)
    example = f"postgresql{'+asyncpg' if which == 'prefect' else ''}://USER:PASSWORD@HOST:5432/{which}"
    if value is None or not value.get_secret_value():
        raise ConfigError(
            f"{ENV[key]} is not set: forge server keeps {'flow runs' if which == 'prefect' else 'runs and models'} "
            f"in PostgreSQL; export {ENV[key]}={example} (or set server.{key} in the config)"
        )
    url = value.get_secret_value()
    scheme = url.partition("://")[0]
    if "://" not in url or scheme.partition("+")[0] != "postgresql":
        raise ConfigError(f"{ENV[key]} must be a PostgreSQL URL such as {example}; it starts with {scheme!r}")
    # Prefect's server is asynchronous: asyncpg, whatever the URL named.
    return with_driver(url, "asyncpg" if which == "prefect" else "psycopg2")


def with_driver(url: str, driver: str) -> str:
    """postgresql[+any]://... as postgresql+DRIVER://...: the drivers Forge installs. A bare
    postgresql:// would mean psycopg 3 to SQLAlchemy 2.1, which is not installed."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+{driver}://{rest}" if scheme.partition("+")[0] == "postgresql" else url


def auth_database_url(settings: ServerConfig, private: Path) -> str:
    """MLflow's users and permissions: the configured database, else SQLite in the private folder."""
    if settings.mlflow_auth_database_url and settings.mlflow_auth_database_url.get_secret_value():
        return with_driver(settings.mlflow_auth_database_url.get_secret_value(), "psycopg2")
    return f"sqlite:///{private / 'mlflow-auth.db'}"


def same_database(a: str, b: str) -> bool:
    from sqlalchemy.engine import make_url

    def where(url: str) -> tuple[Any, ...]:
        u = make_url(url)
        return (u.host or "localhost", u.port or 5432, u.database)

    return where(a) == where(b)


def shown(url: str) -> str:
    """A database URL fit for a terminal or a log: the password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return url.partition("://")[0] + "://..."


def check_database(url: str, which: str) -> None:
    """Connect once before starting anything: a wrong password or a missing database fails here,
    in one line, rather than as a server's stack trace after seconds of start-up."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        with_driver(url, "psycopg2"), connect_args={"connect_timeout": DATABASE_CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise ConfigError(
            f"cannot connect to {which}'s database {shown(url)} ({ENV[f'{which}_database_url']}): {reason}"
        ) from None
    finally:
        engine.dispose()


# What to start ------------------------------------------------------------------------------


def private_dir(ws: Workspace) -> Path:
    """<workspace>/server: MLflow's auth settings and (by default) its user database; owner only."""
    folder = Path(ws.path("server"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def server_env() -> dict[str, str]:
    """child_env() (telemetry off) less Forge's secret variables, which no server reads."""
    env = child_env()
    for name in SECRET_ENV:
        env.pop(name, None)
    return env


WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def public_host(host: str) -> str:
    """The name clients use: this machine's name when listening on every interface."""
    return socket.gethostname() if host in WILDCARDS else host


def local_url(host: str, port: int) -> str:
    """Where this process checks a server's health: over loopback when it listens everywhere."""
    return f"http://{url_host(WILDCARDS.get(host, host))}:{port}"


def prefect_service(ws: Workspace, settings: ServerConfig, database: str, logs: Path) -> Service:
    host, port = settings.host, settings.prefect_port
    url = f"http://{url_host(public_host(host))}:{port}"
    env = server_env()
    # Both names: Prefect 3 reads PREFECT_SERVER_DATABASE_CONNECTION_URL first, so a stale one in
    # the user's shell would otherwise win over the database given to forge server.
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database
    # The server is the API: a PREFECT_API_URL in this shell (perhaps this very server's) is not its concern.
    env.pop("PREFECT_API_URL", None)
    env.setdefault("PREFECT_UI_API_URL", f"{url}/api")  # what the browser calls, from any machine
    # Prefect keeps profiles and its UI build in its home; the workspace's, as `forge ui` uses.
    env.setdefault("PREFECT_HOME", prefect_home(ws))
    command = [executable("prefect"), "server", "start", "--host", host, "--port", str(port)]
    command += ["--analytics-off", "--no-prompt"]
    return Service(
        name="Prefect",
        host=host,
        port=port,
        port_option="--prefect-port",
        url=url,
        health_url=f"{local_url(host, port)}/api/health",
        command=command,
        env=env,
        log=logs / "prefect.log",
    )


def mlflow_service(ws: Workspace, settings: ServerConfig, database: str, auth_ini: Path | None, logs: Path) -> Service:
    host, port = settings.host, settings.mlflow_port
    url = f"http://{url_host(public_host(host))}:{port}"
    destination = settings.artifacts_destination or Path(ws.path("mlflow-artifacts")).as_uri()
    if destination.startswith("file://") or "://" not in destination:
        Path(destination.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    env = server_env()
    # Through the environment, not --backend-store-uri: a command line is visible to every user.
    env["MLFLOW_BACKEND_STORE_URI"] = database
    # As in `forge ui`: MLflow's job runner is unused by Forge and forks outside the process group.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    command = [executable("mlflow"), "server", "--host", host, "--port", str(port)]
    command += ["--workers", str(settings.mlflow_workers), "--serve-artifacts", "--artifacts-destination", destination]
    if auth_ini is not None:
        command += ["--app-name", "basic-auth"]
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(auth_ini)
        # MLflow lets these override the settings file; the file written for this start must win.
        env.pop("MLFLOW_AUTH_ADMIN_USERNAME", None)
        env.pop("MLFLOW_AUTH_ADMIN_PASSWORD", None)
        # Signs the sign-up form's CSRF token; a fresh one per start unless the user keeps one.
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))
    return Service(
        name="MLflow",
        host=host,
        port=port,
        port_option="--mlflow-port",
        url=url,
        health_url=f"{local_url(host, port)}/health",
        command=command,
        env=env,
        log=logs / "mlflow.log",
    )


def write_auth_ini(path: Path, settings: ServerConfig, password: str | None, database: str) -> None:
    """MLflow's basic-auth settings (MLFLOW_AUTH_CONFIG_PATH), created 0600 before any byte is written.

    MLflow reads it with configparser, whose interpolation treats '%' specially: escaped here, and
    read back to prove every value survives exactly.
    """
    values = {
        "default_permission": settings.mlflow_default_permission,
        "database_uri": database,
        "admin_username": settings.mlflow_admin_username,
        "admin_password": password or "",
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
    }
    parser = configparser.ConfigParser()
    parser["mlflow"] = {k: v.replace("%", "%%") for k, v in values.items()}
    text = io.StringIO()
    parser.write(text)
    check = configparser.ConfigParser()
    check.read_string(text.getvalue())
    if any(check["mlflow"][k] != v for k, v in values.items()):
        raise ConfigError("a value of MLflow's auth settings (user name or database URL) does not survive an ini file")
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text.getvalue())


# Once both answer ---------------------------------------------------------------------------


def on_ready(settings: ServerConfig, services: list[Service], password: str | None) -> None:
    prefect, mlflow = services
    if password is not None:
        check_admin_sign_in(mlflow, settings.mlflow_admin_username, password)
    print_connection(settings, prefect, mlflow)


def check_admin_sign_in(mlflow: Service, username: str, password: str) -> None:
    """Warn when the admin cannot sign in with FORGE_MLFLOW_ADMIN_PASSWORD: MLflow sets the password
    only when it creates the admin, so after a change of the variable the old one still holds."""
    api = mlflow.health_url.removesuffix("/health") + "/api/2.0/mlflow/users/get?" + urlencode({"username": username})
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(api, headers={"Authorization": f"Basic {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10):
            return
    except (urllib.error.URLError, OSError):
        pass
    print(
        f"warning: MLflow refused {username!r} with {ADMIN_PASSWORD_ENV}. MLflow takes the admin's password only "
        "when it creates the admin (the first start on this auth database); sign in with the password set then, "
        "or change it in the MLflow UI (or its users/update-password API).",
        file=sys.stderr,
        flush=True,
    )


def print_connection(settings: ServerConfig, prefect: Service, mlflow: Service) -> None:
    destination = mlflow.command[mlflow.command.index("--artifacts-destination") + 1]
    lines = [
        f"Prefect UI:  {prefect.url}   (database {shown(prefect.env['PREFECT_API_DATABASE_CONNECTION_URL'])})",
        f"MLflow UI:   {mlflow.url}   (database {shown(mlflow.env['MLFLOW_BACKEND_STORE_URI'])})",
        f"artifacts:   {destination}   (uploaded and downloaded through the MLflow server)",
        f"logs:        {prefect.log.parent}",
        "",
        "Point forge (and Prefect and MLflow clients) at these servers:",
        f"  export PREFECT_API_URL={prefect.url}/api",
        f"  export MLFLOW_TRACKING_URI={mlflow.url}",
    ]
    if settings.mlflow_auth:
        lines += [
            f"  export MLFLOW_TRACKING_USERNAME={settings.mlflow_admin_username}",
            f'  export MLFLOW_TRACKING_PASSWORD="${ADMIN_PASSWORD_ENV}"   # or an MLflow user of your own',
        ]
    if os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        lines.append('  export PREFECT_API_AUTH_STRING="$PREFECT_SERVER_API_AUTH_STRING"')
    lines += ["", "Press Ctrl-C to stop."]
    print("\n".join(lines), flush=True)
