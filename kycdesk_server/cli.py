"""`kycdesk-server --host 127.0.0.1 --port 8080 --data-dir DIR --token T [...]`"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from kycdesk_server.access_log import AccessLog
from kycdesk_server.faults import DroppedConnectionError, FaultMiddleware, FaultRule, FaultState


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
    parser.add_argument("--token", action="append", required=True,
                        help="an accepted device token (repeatable)")
    parser.add_argument("--max-image-bytes", type=int, default=40 * 1024 * 1024,
                        help="largest photo accepted (default 40 MiB)")
    parser.add_argument("--upload-expiry", type=float, default=30 * 24 * 3600,
                        metavar="SECONDS",
                        help="a partial upload with no progress for this long is removed "
                             "(default 30 days: devices stay offline for weeks)")
    parser.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="an upload request that sends no byte for this long is ended; "
                             "what it sent is kept (default 60)")
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
    parser.add_argument("--port-file", type=Path,
                        help="write the bound port here once listening (for --port 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    import uvicorn

    from kycdesk_server.app import ServerConfig, create_app
    from kycdesk_server.storage import ServerStore

    faults = FaultState(rules=[FaultRule(**r) for r in json.loads(args.faults)],
                        latency_ms=args.latency_ms, seed=args.seed)
    config = ServerConfig(tokens=set(args.token), max_image_bytes=args.max_image_bytes,
                          control=args.control, faults=faults,
                          upload_expiry_s=args.upload_expiry, idle_timeout_s=args.idle_timeout)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = ServerStore(args.data_dir)
    app = AccessLog(FaultMiddleware(create_app(store, config), faults))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        stream=sys.stdout)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                           log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2,
                                           ssl_certfile=args.ssl_certfile,
                                           ssl_keyfile=args.ssl_keyfile))

    original = server.startup

    async def startup(sockets: object = None) -> None:
        await original(sockets=sockets)  # type: ignore[arg-type]
        port = server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if args.ssl_certfile else "http"
        print(f"kycdesk-server: serving {scheme}://{args.host}:{port} (data in "
              f"{args.data_dir}; OpenAPI at /docs)", flush=True)
        if args.port_file is not None:
            tmp = args.port_file.with_suffix(".tmp")
            tmp.write_text(str(port))
            tmp.replace(args.port_file)

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
