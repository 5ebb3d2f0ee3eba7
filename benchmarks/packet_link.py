"""Photo sync over a packet-level emulated link (tests/packetlink.py): real TCP stacks
on both ends react to real packet loss, a realistic drop-tail queue and resets — and, in
the same script, over the stream proxy (tests/fieldlink.py) that cannot lose a packet.

    .venv/bin/python -m benchmarks.packet_link --loss 3 --reset-every 20
    .venv/bin/python -m benchmarks.packet_link --stream-proxy --reset-every 20   # old one

The device (the engine, as `kycdesk sync --until-done` drives it) and the reference
server each run in their own network namespace; the forwarder runs in this process.
Prints the goodput (photo bytes ÷ time) and its ratio to the link rate; the link rate
counts IP packets, so headers (52 bytes a 1500-byte packet with timestamps) cap the ratio
at about 0.965. Needs root and `ip` (iproute2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tests.packetlink import SERVER_IP, PacketLink, PacketProfile, unavailable
from tests.vaults import make_vault

REPO_ROOT = Path(__file__).resolve().parents[1]


# -- the benchmark -----------------------------------------------------------------------
@contextlib.contextmanager
def _server_in(link: PacketLink, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    from tests.sync_support import TOKEN

    port_file = data_dir.parent / f"{data_dir.name}.port"
    log = (data_dir.parent / f"{data_dir.name}.log").open("ab")
    process = subprocess.Popen(link.in_server([
        sys.executable, "-m", "kycdesk_server", "--host", SERVER_IP, "--port", "0",
        "--port-file", str(port_file), "--data-dir", str(data_dir), "--token", TOKEN,
        # Plain HTTP between two namespaces of this machine (a lab link, no third party
        # on it); TLS would add its handshake round trips to every connection.
        "--tls-terminated-by-proxy"]),
        cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), stdout=log,
        stderr=subprocess.STDOUT)
    log.close()
    try:
        began = time.monotonic()
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() - began > 60:
                raise RuntimeError("the server did not start in its namespace: " + (
                    data_dir.parent / f"{data_dir.name}.log").read_text()[-2000:])
            time.sleep(0.05)
        yield f"http://{SERVER_IP}:{port_file.read_text()}", process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client_run(data_dir: str, url: str, congestion: str, variant: str) -> None:
    """In the device's namespace: the engine as `kycdesk sync --until-done` drives it,
    its sockets with the given TCP congestion control (a namespace inherits the host's
    default, which need not be the device's)."""
    import socket

    from benchmarks.common import qt_app
    from benchmarks.field_sync import sync_until_done
    from kycdesk.paths import resolve
    from kycdesk.sync import photo_upload, transport

    shipped = transport.socket_options
    transport.socket_options = lambda stall_s: [
        *shipped(stall_s), (socket.IPPROTO_TCP, socket.TCP_CONGESTION, congestion.encode())]
    # "before": the pause after a cut as it was before the quick-retry change.
    policy = photo_upload.UploadPolicy(quick_retry_s=(0.5, 2.0)) if variant == "before" \
        else None

    app = qt_app()
    logging.basicConfig(level=logging.ERROR)
    outcome = sync_until_done(resolve(Path(data_dir)), url, policy=policy)
    print(json.dumps({"elapsed": outcome.elapsed, "runs": outcome.runs,
                      "sent": outcome.sent}))
    del app


def _prepare(root: Path, photos: int) -> tuple[Path, int, str]:
    """A READY case of `photos` photos of ~4.4 MB in a fresh data folder."""
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore
    from tests.sync_support import make_ready_cases, noisy_jpeg

    sources = [noisy_jpeg(root / f"src{i}.jpg", (2200, 1650), opacity=0.3, quality=92,
                          seed=900 + i) for i in range(min(photos, 5))]
    paths = resolve(root / "data")
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=photos)
        size = sum(i.byte_size or 0 for i in store.list_images(case_id))
    return paths.root, size, case_id


def _check_synced(data_dir: Path, case_id: str) -> None:
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore

    with LocalStore(resolve(data_dir), vault=make_vault()) as store:
        status = store.load_case(case_id).status
    if status != "SYNCED":
        raise RuntimeError(f"the case ended {status}, not SYNCED")


def packet_run(profile: PacketProfile, photos: int, congestion: str, variant: str
               ) -> dict[str, float]:
    from benchmarks.common import qt_app

    app = qt_app()
    with tempfile.TemporaryDirectory(prefix="kycdesk-packet-") as tmp:
        root = Path(tmp)
        data_dir, size, case_id = _prepare(root, photos)
        with PacketLink(profile) as link, _server_in(link, root / "server") as (url, _):
            began = time.monotonic()
            out = subprocess.run(link.in_client([
                sys.executable, "-m", "benchmarks.packet_link", "--client-run",
                str(data_dir), url, congestion, variant]), cwd=REPO_ROOT,
                capture_output=True, text=True,
                env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen",
                         KYCDESK_LAB_ALLOW_PLAIN_HTTP="1"),
                check=False)
            wall = time.monotonic() - began
            counters = link.counters
        if out.returncode != 0:
            raise RuntimeError(out.stdout + out.stderr)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        _check_synced(data_dir, case_id)
    del app
    return {"photo_bytes": size, "elapsed": result["elapsed"], "wall": wall,
            "runs": result["runs"], "sent": result["sent"], "packets": counters.packets,
            "lost": counters.lost, "tail_dropped": counters.tail_dropped,
            "flushed": counters.flushed, "resets": counters.resets, "rsts": counters.rsts,
            "to_server": counters.to_server_bytes}


def stream_proxy_run(profile: PacketProfile, photos: int, _congestion: str, _variant: str
                     ) -> dict[str, float]:
    """The same photos through the stream proxy (tests/fieldlink.py) at the same rate,
    round trip and resets: what docs/benchmarks.md measured before."""
    from benchmarks.common import qt_app
    from benchmarks.field_sync import sync_until_done
    from kycdesk.paths import resolve
    from tests.fieldlink import LinkProfile, field_link
    from tests.sync_support import start_server

    app = qt_app()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="kycdesk-stream-") as tmp:
        root = Path(tmp)
        data_dir, size, case_id = _prepare(root, photos)
        server = start_server(root / "server", log=root / "server.log")
        try:
            link_profile = LinkProfile(profile.rate_bps, profile.rtt_s / 2,
                                       reset_every_s=profile.reset_every_s)
            with field_link(urlsplit(server.base_url).port or 0, link_profile) as link:
                outcome = sync_until_done(resolve(data_dir), link.url)
                taken, resets = link.bytes_from_client, link.resets
        finally:
            server.stop()
        _check_synced(data_dir, case_id)
    del app
    return {"photo_bytes": size, "elapsed": outcome.elapsed, "runs": outcome.runs,
            "sent": outcome.sent, "resets": resets, "to_server": taken}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--client-run", nargs=4,
                        help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=40_000, help="bytes/s (default 40000)")
    parser.add_argument("--rtt", type=float, default=0.6, help="seconds (default 0.6)")
    parser.add_argument("--loss", type=float, default=0.0, help="percent per packet")
    parser.add_argument("--queue", type=int, default=50, help="packets (default 50)")
    parser.add_argument("--reset-every", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--photos", type=int, default=3, help="photos of ~4.4 MB")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--congestion", choices=["cubic", "bbr", "reno"], default="cubic",
                        help="the device's TCP congestion control (default cubic: Windows, "
                             "Android and most Linux systems)")
    parser.add_argument("--variant", choices=["shipped", "before"], default="shipped",
                        help="before: the client's pause after a cut as before the "
                             "quick-retry change (0.5-2 s)")
    parser.add_argument("--stream-proxy", action="store_true",
                        help="the old stream emulator (tests/fieldlink.py) instead")
    args = parser.parse_args()
    if args.client_run:
        _client_run(*args.client_run)
        return 0
    profile = PacketProfile(rate_bps=args.rate, rtt_s=args.rtt, loss=args.loss / 100,
                            queue_packets=args.queue, reset_every_s=args.reset_every,
                            seed=args.seed)
    kind = "stream proxy (tests/fieldlink.py)" if args.stream_proxy else "packet link"
    print(f"== photo sync over the {kind}: {args.rate / 1e3:.0f} kB/s each way, "
          f"RTT {args.rtt * 1e3:.0f} ms, loss {args.loss:g} %, "
          + (f"device TCP {args.congestion}, " if not args.stream_proxy else "")
          + f"client {args.variant}, "
          + (f"queue {args.queue} packets ({args.queue * 1500 / args.rate:.1f} s at the "
             "rate), " if not args.stream_proxy else "")
          + (f"reset every {args.reset_every:g} s" if args.reset_every else "no resets")
          + f"; {args.photos} photos; commit {_commit()}")
    if not args.stream_proxy and (reason := unavailable()) is not None:
        print(f"   cannot run the packet link here: {reason}")
        return 2
    figures = (stream_proxy_run if args.stream_proxy else packet_run)(
        profile, args.photos, args.congestion, args.variant)
    goodput = figures["photo_bytes"] / figures["elapsed"]
    print(f"   {figures['photo_bytes'] / 1e6:.2f} MB of photos in {figures['elapsed']:.0f} s "
          f"({figures['runs']} run(s), {figures['resets']} reset(s))")
    print(f"   goodput {goodput / 1e3:.1f} kB/s; ÷ link rate: {goodput / args.rate:.3f}")
    print(f"   the link delivered {figures['to_server'] / 1e6:.2f} MB towards the server "
          f"({figures['to_server'] / figures['photo_bytes']:.3f}× the photo bytes)")
    if not args.stream_proxy:
        print(f"   packets {figures['packets']:.0f}: lost {figures['lost']:.0f}, "
              f"tail-dropped {figures['tail_dropped']:.0f}, lost at resets "
              f"{figures['flushed']:.0f}; RSTs injected {figures['rsts']:.0f}")
    print("RESULT " + json.dumps({"kind": kind, "loss": args.loss, "reset": args.reset_every,
                                  "congestion": args.congestion, "variant": args.variant,
                                  "ratio": goodput / args.rate, **figures}))
    return 0


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    raise SystemExit(main())
