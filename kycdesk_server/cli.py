"""`kycdesk-server --host 127.0.0.1 --port 8080 --data-dir DIR [--token T] [...]` serves;
`kycdesk-server enrol-code|devices|revoke|revisions|migrate|user|audit|case|forms
--data-dir DIR` administers."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kycdesk.core.protocol import MAX_SUBMISSION_BYTES, UPLOADS_PATH
from kycdesk_server.access_log import AccessLog
from kycdesk_server.blobs import S3Settings
from kycdesk_server.database import PoolSettings
from kycdesk_server.faults import DroppedConnectionError, FaultMiddleware, FaultRule, FaultState
from kycdesk_server.limits import RequestLimits


class _QuietDrops(logging.Filter):
    """Injected connection drops are intended: keep their tracebacks out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnectionError))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kycdesk-server",
                                     description="kycdesk reference sync server")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to listen on (default 8080; 0 picks a free port)")
    parser.add_argument("--data-dir", required=True, type=Path,
                        help="where the server keeps its database and photos")
    parser.add_argument("--database", metavar="URL",
                        help="keep devices, cases, uploads and receipts in PostgreSQL "
                             "(postgresql://user@host/db) instead of the data folder's SQLite "
                             "file")
    _s3_options(parser)
    parser.add_argument("--token", action="append", default=[],
                        help="a lab token accepted as a device of its own (tests, demos; "
                             "repeatable). Devices enrol with codes from `kycdesk-server "
                             "enrol-code`")
    parser.add_argument("--lease-days", type=int, default=14, metavar="DAYS",
                        help="how long a tablet may work without reaching the server "
                             "before it locks (renewed by every sync; default 14)")
    parser.add_argument("--max-image-bytes", type=int, default=40 * 1024 * 1024,
                        help="largest photo accepted (default 40 MiB)")
    parser.add_argument("--upload-expiry", type=float, default=30 * 24 * 3600,
                        metavar="SECONDS",
                        help="a partial upload with no progress for this long is removed "
                             "(default 30 days: devices stay offline for weeks)")
    parser.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="an upload request that sends no byte for this long is ended; "
                             "what it sent is kept (default 60)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes on the one address (needs --s3-bucket, and "
                             "PostgreSQL with --database for more than one host)")
    parser.add_argument("--max-connections", type=int, default=2000,
                        help="connections served at once; past it new ones get 503 "
                             "(default 2000)")
    parser.add_argument("--max-connections-per-address", type=int, default=256,
                        metavar="N",
                        help="connections one client address may hold at once (per worker); "
                             "past it new ones get 503 (default 256: offices behind one "
                             "NAT address)")
    parser.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="a request's headers must arrive whole within this time, or "
                             "the connection is closed (408; default 10)")
    parser.add_argument("--db-pool-size", type=int, default=10, metavar="N",
                        help="PostgreSQL connections per worker at most (default 10)")
    parser.add_argument("--db-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="a request waits this long for a PostgreSQL connection, then "
                             "gets 503 + Retry-After (default 5)")
    parser.add_argument("--forms", type=Path, metavar="DIR",
                        help="the form definitions submissions are checked against "
                             "(default: the app's own, resources/forms)")
    parser.add_argument("--metrics-allow", action="append", default=[], metavar="CIDR",
                        help="networks allowed to read /metrics besides loopback "
                             "(repeatable)")
    parser.add_argument("--control", action="store_true",
                        help="enable /_control (fault injection, state), loopback only")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="added to every request (fault injection)")
    parser.add_argument("--faults", default="[]", metavar="JSON",
                        help='JSON list of rules, e.g. [{"endpoint":"upload",'
                             '"action":"status","status":503,"rate":0.1}]')
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the fault injection's random rates")
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    parser.add_argument("--tls-terminated-by-proxy", action="store_true",
                        help="plain HTTP on a non-loopback address is allowed only behind a "
                             "TLS-terminating proxy that this option declares")
    parser.add_argument("--forwarded-allow-ips", metavar="ADDRESSES",
                        help="the reverse proxies (comma-separated addresses or networks) "
                             "whose X-Forwarded-For names the client; without it the header "
                             "is ignored, so no client can choose the address its sign-in "
                             "limit and audit rows are kept under")
    parser.add_argument("--port-file", type=Path,
                        help="write the bound port here once listening (for --port 0)")
    return parser


def plain_http_refusal(host: str, tls: bool, behind_proxy: bool) -> str | None:
    """Credentials and applicants' data never cross a network in clear: plain HTTP only on
    loopback (demos, tests) or behind a declared TLS-terminating proxy."""
    if tls or behind_proxy:
        return None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (f"refusing to serve plain HTTP on {host}: give --ssl-certfile/--ssl-keyfile, or "
            "--tls-terminated-by-proxy if a proxy in front of this server terminates TLS "
            "(docs/deploy-server.md)")


def _s3_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s3-bucket", help="keep photos and partial uploads in this bucket "
                                            "of S3-compatible storage (credentials: the "
                                            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                                            "environment or an instance role)")
    parser.add_argument("--s3-endpoint", metavar="URL",
                        help="the S3 endpoint (MinIO, Ceph RGW, SeaweedFS; default: AWS)")
    parser.add_argument("--s3-region", default="us-east-1", help="the bucket's region")
    parser.add_argument("--s3-sse", choices=["AES256", "aws:kms"],
                        help="ask the storage to encrypt every object it keeps")


def s3_settings(args: argparse.Namespace) -> S3Settings | None:
    if not args.s3_bucket:
        return None
    return S3Settings(args.s3_endpoint, args.s3_bucket, region=args.s3_region,
                      sse=args.s3_sse)


ADMIN_COMMANDS = ("enrol-code", "devices", "device", "revoke", "revisions", "migrate",
                  "ingest", "user", "audit", "reason-codes", "case", "forms", "org-key")


def build_admin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kycdesk-server", description="kycdesk reference sync server: administration "
        "(run beside the server, on its data folder)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, type=Path,
                        help="the server's data folder")
    common.add_argument("--database", metavar="URL",
                        help="PostgreSQL (postgresql://…) instead of the data folder's "
                             "SQLite file")
    _s3_options(common)
    code = sub.add_parser("enrol-code", parents=[common],
                          help="issue one-time enrolment codes for new devices")
    code.add_argument("--count", type=int, default=1, help="how many codes (default 1)")
    code.add_argument("--ttl-hours", type=float, default=24.0,
                      help="hours a code stays valid (default 24)")
    sub.add_parser("devices", parents=[common], help="list enrolled devices")
    revoke = sub.add_parser("revoke", parents=[common],
                            help="revoke a device: its credential stops working at once")
    revoke.add_argument("device_id", help="the device's id (see `devices`)")
    revoke.add_argument("--whole-tablet", action="store_true",
                        help="every device (verifier) of the device's tablet")
    from kycdesk_server.device_cli import add_device_parsers

    add_device_parsers(sub, common)
    revisions = sub.add_parser("revisions", parents=[common],
                               help="list every revision the server holds for a case")
    revisions.add_argument("case_id", help="the case's id")
    sub.add_parser("migrate", parents=[common],
                   help="bring the server's database to this version's schema")
    ingest = sub.add_parser("ingest", parents=[common],
                            help="take in a case archive exported by the app (`kycdesk case "
                                 "export`), through the same idempotent path as a sync")
    ingest.add_argument("archive", type=Path, help="the .zip the app exported")
    ingest.add_argument("--device", help="the device the case belongs to (default: the "
                                         "server's archive-ingest device)")
    ingest.add_argument("--passphrase-stdin", action="store_true",
                        help="a sealed archive's passphrase, read from stdin")
    from kycdesk_server.backoffice.user_cli import add_audit_parser, add_user_parser

    add_user_parser(sub, common)
    add_audit_parser(sub, common)
    from kycdesk_server.backoffice.reason_cli import add_reason_parser

    add_reason_parser(sub, common)
    from kycdesk_server.backoffice.casework_cli import add_casework_parsers

    add_casework_parsers(sub, common)
    return parser


def admin(argv: Sequence[str]) -> int:
    """Administration commands: they open the store directly (SQLite allows the running
    server beside them) and print no applicant data."""
    from datetime import timedelta

    from kycdesk_server import schema
    from kycdesk_server.devices import DeviceRegistry
    from kycdesk_server.storage import ServerStore

    args = build_admin_parser().parse_args(argv)
    if args.command not in ("migrate", "user", "reason-codes") and args.database is None \
            and not (args.data_dir / "server.sqlite3").exists():
        print(f"kycdesk-server: no server data in {args.data_dir}", file=sys.stderr)
        return 2
    store = ServerStore(args.data_dir, args.database, s3=s3_settings(args))
    try:
        registry = DeviceRegistry(store.db)
        if args.command == "migrate":
            print(f"schema version {schema.version(store.db)} (latest {schema.LATEST})")
        elif args.command == "enrol-code":
            for _ in range(max(1, args.count)):
                print(registry.issue_code(timedelta(hours=args.ttl_hours)))
        elif args.command in ("devices", "device", "revoke", "org-key"):
            from kycdesk_server.device_cli import device_command

            return device_command(args, store, registry)
        elif args.command == "user":
            from kycdesk_server.backoffice.user_cli import user_command

            return user_command(args, store)
        elif args.command == "reason-codes":
            from kycdesk_server.backoffice.reason_cli import reason_command

            return reason_command(args, store)
        elif args.command in ("case", "forms"):
            from kycdesk_server.backoffice.casework_cli import casework_command

            return casework_command(args, store)
        elif args.command == "audit":
            from kycdesk_server.backoffice.user_cli import audit_command

            return audit_command(args, store)
        elif args.command == "ingest":
            from kycdesk_server.ingest import ingest

            passphrase = (sys.stdin.readline().rstrip("\r\n") if args.passphrase_stdin
                          else None)
            return ingest(store, registry, args.archive, device_id=args.device,
                          out=sys.stdout, passphrase=passphrase)
        elif args.command == "revisions":
            for stored in store.revisions(args.case_id):
                print(f"revision {stored.revision}  receipt {stored.receipt_id}  "
                      f"accepted {stored.accepted_at}  device {stored.device_id}  "
                      f"{len(stored.server_image_ids)} photo(s)")
    finally:
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if raw_argv and raw_argv[0] in ADMIN_COMMANDS:
        return admin(raw_argv)
    args = build_parser().parse_args(raw_argv)
    if (refusal := plain_http_refusal(args.host, bool(args.ssl_certfile),
                                      args.tls_terminated_by_proxy)) is not None:
        print(f"kycdesk-server: {refusal}", file=sys.stderr)
        return 2

    import uvicorn

    if args.workers > 1:
        if not args.s3_bucket:
            print("kycdesk-server: --workers needs --s3-bucket: a partial upload must not "
                  "live on one worker's disk (docs/deploy-server.md)", file=sys.stderr)
            return 2
        return _serve_workers(args, raw_argv)
    app, store = build_app(args)
    server = uvicorn.Server(_uvicorn_config(args, app))
    original = server.startup

    async def startup(sockets: object = None) -> None:
        await original(sockets=sockets)  # type: ignore[arg-type]
        _announce(args, server.servers[0].sockets[0].getsockname()[1])

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    finally:
        store.close()
    return 0


WORKER_ARGS_ENV = "KYCDESK_SERVER_WORKER_ARGS"


def build_app(args: argparse.Namespace) -> tuple[Any, Any]:
    """The ASGI app of one server process (and its store, to close)."""
    from kycdesk_server.app import ServerConfig, create_app
    from kycdesk_server.connections import GuardedH11Protocol
    from kycdesk_server.storage import ServerStore

    faults = FaultState(rules=[FaultRule(**r) for r in json.loads(args.faults)],
                        latency_ms=args.latency_ms, seed=args.seed)
    config = ServerConfig(tokens=set(args.token), max_image_bytes=args.max_image_bytes,
                          control=args.control, faults=faults,
                          upload_expiry_s=args.upload_expiry, idle_timeout_s=args.idle_timeout,
                          lease_days=max(1, args.lease_days),
                          metrics_allow=args.metrics_allow)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = ServerStore(args.data_dir, args.database, s3=s3_settings(args),
                        pool=pool_settings(args), forms_dir=args.forms)
    GuardedH11Protocol.configure(header_timeout_s=args.header_timeout,
                                 per_address=args.max_connections_per_address)
    app = AccessLog(RequestLimits(FaultMiddleware(create_app(store, config), faults),
                                  max_body_bytes=MAX_SUBMISSION_BYTES,
                                  body_idle_s=args.idle_timeout, exempt_prefix=UPLOADS_PATH),
                    config.metrics)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        stream=sys.stdout)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    # The pool logs every connection it hands out (INFO) and every failed reconnection
    # attempt (WARNING); an outage is the server's own one throttled warning line instead.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return app, store


def pool_settings(args: argparse.Namespace) -> PoolSettings:
    return PoolSettings(max_size=max(1, args.db_pool_size), timeout_s=args.db_timeout)


def worker_app() -> Any:
    """A worker process's app (uvicorn's factory): the same arguments as the parent."""
    args = build_parser().parse_args(json.loads(os.environ[WORKER_ARGS_ENV]))
    app, _store = build_app(args)
    return app


def _uvicorn_config(args: argparse.Namespace, app: Any, **extra: Any) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                          access_log=False, timeout_graceful_shutdown=2,
                          http="kycdesk_server.connections:GuardedH11Protocol",
                          limit_concurrency=args.max_connections,
                          ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                          # uvicorn's default trusts X-Forwarded-For from loopback: anything
                          # on this host that relays bytes (stunnel, an ssh tunnel) would let
                          # a client forge its address. Only the named proxies are believed.
                          proxy_headers=bool(args.forwarded_allow_ips),
                          forwarded_allow_ips=args.forwarded_allow_ips or "",
                          **extra)


def _serve_workers(args: argparse.Namespace, raw_argv: list[str]) -> int:
    """Several stateless worker processes on one socket (uvicorn's supervisor restarts
    one that dies). The schema is migrated once, here, before any worker starts."""
    from uvicorn.supervisors import Multiprocess

    from kycdesk_server.storage import ServerStore

    args.data_dir.mkdir(parents=True, exist_ok=True)
    ServerStore(args.data_dir, args.database, s3=s3_settings(args)).close()
    os.environ[WORKER_ARGS_ENV] = json.dumps(raw_argv)
    config = _uvicorn_config(args, "kycdesk_server.cli:worker_app", factory=True,
                             workers=args.workers)
    sock = config.bind_socket()
    sock.listen(2048)  # connections wait in the queue until a worker takes them
    _announce(args, sock.getsockname()[1], workers=args.workers)
    Multiprocess(config, sockets=[sock]).run()
    return 0


def _announce(args: argparse.Namespace, port: int, workers: int = 1) -> None:
    scheme = "https" if args.ssl_certfile else "http"
    print(f"kycdesk-server: serving {scheme}://{args.host}:{port} (data in "
          f"{args.data_dir}; {workers} worker(s); OpenAPI at /docs)", flush=True)
    if args.port_file is not None:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)


if __name__ == "__main__":
    sys.exit(main())
