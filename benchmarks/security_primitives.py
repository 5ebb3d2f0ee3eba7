"""What encryption at rest (issue 18, kycdesk/security) costs on this machine, before it is
wired into the store: the figures the design in docs/security.md was chosen by.

    python -m benchmarks.security_primitives [--cases 100000] [--runs 10]

1. argon2id at the default PIN cost and two neighbours (the sign-in's fixed cost);
2. seal / open of one answer, and of a whole 160-field form (the save's added cost);
3. a 5 MB photo: plain copy + SHA-256 + fsync (today's import) against encrypt + SHA-256
   + fsync, alternating in the same run, and decryption (thumbnails, upload);
4. the search index under encryption: open 100,000 cases' sealed reference, name and ID
   number and build an in-memory FTS5 trigram index (sign-in), then search keystrokes;
   and the alternative: that index serialised into one encrypted file, loaded whole.
No Qt: the package under test has none. Figures with the load average before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, summary_ms, verdict
from kycdesk.security import keys as k
from kycdesk.security import streams
from kycdesk.security.sealing import Sealer

PHOTO_BYTES = 5 * 1024 * 1024
FORM_FIELDS = 160
ANSWER = "12 Rue de l'Église, Appartement 4B, 75011 Paris"  # a typical long answer

GIVEN = ["Amina", "Bruno", "Chloé", "Dariusz", "Eun-ji", "Fatma", "Gráinne", "Hiroshi",
         "Ingrid", "José", "Kwame", "Lê", "Małgorzata", "Nguyễn", "Olumide", "Priya"]
FAMILY = ["Yusuf", "Kowalski-Nowak", "O'Brien", "Tanaka", "Şahin", "Lindqvist", "Pérez",
          "Okafor", "Trần", "Park", "Müller", "Haddad", "Ivanova", "Mensah", "Singh"]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def time_argon2(runs: int) -> None:
    print("-- argon2id: the PIN key (one derivation per sign-in)")
    salt = os.urandom(k.SALT_BYTES)
    for params in (k.Argon2Params(2, 65_536, 1), k.DEFAULT_PIN_PARAMS,
                   k.Argon2Params(3, 131_072, 1)):
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            k.derive_pin_key("4821 blue heron", salt, params)
            samples.append(time.perf_counter() - start)
        chosen = " (default)" if params == k.DEFAULT_PIN_PARAMS else ""
        print(f"   t={params.time_cost} m={params.memory_kib // 1024} MiB "
              f"p={params.parallelism}{chosen}: {summary_ms(samples)}")
    org = k.public_bytes(k.generate_org_recovery_key())
    ring, _ = k.enrol("amina", "4821 blue heron", org)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        k.unlock(ring, "4821 blue heron")
        samples.append(time.perf_counter() - start)
    print(f"   unlock (argon2id + open the data key): {summary_ms(samples)}")
    verdict("unlock p99", percentile(samples, 99) * 1000, 500, "ms")


def time_sealing(keys: k.UnlockedKeys, runs: int) -> None:
    print(f"-- sealing one answer ({len(ANSWER.encode())} bytes) and a {FORM_FIELDS}-field form")
    sealer = Sealer(keys)
    seal_s, open_s = [], []
    for i in range(20_000):
        start = time.perf_counter()
        sealed = sealer.seal_text(ANSWER, case_id="c1", field=f"f{i % FORM_FIELDS}")
        middle = time.perf_counter()
        sealer.open_text(sealed, case_id="c1", field=f"f{i % FORM_FIELDS}")
        open_s.append(time.perf_counter() - middle)
        seal_s.append(middle - start)
    print(f"   seal: {summary_ms(seal_s)}")
    print(f"   open: {summary_ms(open_s)}")
    form = [(f"section.field_{n}", ANSWER) for n in range(FORM_FIELDS)]
    whole = []
    for _ in range(runs * 20):
        start = time.perf_counter()
        for field, value in form:
            sealer.seal_text(value, case_id="c1", field=field)
        whole.append(time.perf_counter() - start)
    print(f"   seal all {FORM_FIELDS} answers of a form: {summary_ms(whole)}")


def _copy_hash_fsync(source: Path, target: Path, key: k.DataKey | None) -> None:
    digest = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as out:
        writer = (streams.EncryptingWriter(out, key, b"c1/img1") if key is not None
                  else None)
        while block := src.read(streams.CHUNK_BYTES):
            digest.update(block)
            if writer is not None:
                writer.write(block)
            else:
                out.write(block)
        if writer is not None:
            writer.close()
        out.flush()
        os.fsync(out.fileno())
    digest.hexdigest()


def time_files(keys: k.UnlockedKeys, folder: Path, runs: int) -> None:
    print("-- a 5 MB photo: today's copy + SHA-256 + fsync against the same with encryption")
    photo = folder / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(PHOTO_BYTES - 4))
    plain_s: list[float] = []
    enc_s: list[float] = []
    dec_s: list[float] = []
    for run in range(runs * 2):
        for encrypt in (run % 2 == 0, run % 2 == 1):  # alternate which goes first
            target = folder / f"out-{run}-{encrypt}.bin"
            start = time.perf_counter()
            _copy_hash_fsync(photo, target, keys.current if encrypt else None)
            (enc_s if encrypt else plain_s).append(time.perf_counter() - start)
            if encrypt:
                start = time.perf_counter()
                with target.open("rb") as src:
                    for _chunk in streams.decrypt_chunks(src, keys, b"c1/img1"):
                        pass
                dec_s.append(time.perf_counter() - start)
            target.unlink()
    mb = PHOTO_BYTES / 1e6
    print(f"   copy + hash + fsync: {summary_ms(plain_s)} "
          f"({mb / percentile(plain_s, 50):.0f} MB/s p50)")
    print(f"   encrypt + hash + fsync: {summary_ms(enc_s)} "
          f"({mb / percentile(enc_s, 50):.0f} MB/s p50)")
    print(f"   decrypt (to memory, chunk by chunk): {summary_ms(dec_s)} "
          f"({mb / percentile(dec_s, 50):.0f} MB/s p50)")
    print(f"   ratio p50 encrypted / plain write: "
          f"{percentile(enc_s, 50) / percentile(plain_s, 50):.2f}x")


def time_snapshot(keys: k.UnlockedKeys, memory: sqlite3.Connection, folder: Path,
                  runs: int) -> None:
    """The faster sign-in: the in-memory index itself, serialised and kept as one
    encrypted file, loaded whole instead of rebuilt from the sealed rows."""
    snapshot = folder / "search.enc"
    start = time.perf_counter()
    image = memory.serialize()
    with snapshot.open("wb") as out:
        writer = streams.EncryptingWriter(out, keys.current, b"search-index")
        view = memoryview(image)
        for offset in range(0, len(view), streams.CHUNK_BYTES):
            writer.write(bytes(view[offset:offset + streams.CHUNK_BYTES]))
        writer.close()
        out.flush()
        os.fsync(out.fileno())
    saved = time.perf_counter() - start
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        with snapshot.open("rb") as src:
            data = b"".join(streams.decrypt_chunks(src, keys, b"search-index"))
        loaded = sqlite3.connect(":memory:")
        loaded.deserialize(data)
        loaded.execute("SELECT rowid FROM s WHERE s MATCH '\"Yus\"' LIMIT 1").fetchall()
        samples.append(time.perf_counter() - start)
        loaded.close()
    print(f"   snapshot of the index: {len(image) / 1e6:.1f} MB, written encrypted in "
          f"{saved * 1000:.0f} ms; read + decrypt + load at sign-in: {summary_ms(samples)}")
    verdict("index snapshot load at sign-in p99", percentile(samples, 99) * 1000, 300, "ms")


def time_search(keys: k.UnlockedKeys, cases: int) -> sqlite3.Connection:
    print(f"-- search under encryption: {cases:,} cases' sealed reference, name, ID number")
    rng = random.Random(7)
    sealer = Sealer(keys)
    rows: list[tuple[str, bytes, bytes, bytes]] = []
    for n in range(cases):
        case_id = f"case-{n:07d}"
        values = (f"KYC-2026{n % 12 + 1:02d}{n % 28 + 1:02d}-{n:06X}",
                  f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                  f"{rng.choice('ABCDEFGH')}{rng.randrange(10**7, 10**8)}")
        ref, name, idn = (sealer.seal_text(v, case_id=case_id, field=f)
                          for v, f in zip(values, ("ref", "name", "id"), strict=True))
        rows.append((case_id, ref, name, idn))
    reader = Sealer(keys)
    sign_in = time.perf_counter()
    opened = [(n, reader.open_text(ref, case_id=cid, field="ref"),
               reader.open_text(name, case_id=cid, field="name"),
               reader.open_text(idn, case_id=cid, field="id"))
              for n, (cid, ref, name, idn) in enumerate(rows)]
    decrypted = time.perf_counter()
    memory = sqlite3.connect(":memory:")
    # remove_diacritics on trigram needs SQLite 3.45 (the app's Qt SQLite has it; this
    # Python's sqlite3 may not): the build cost is the same.
    memory.execute("CREATE VIRTUAL TABLE s USING fts5(ref, name, idn, tokenize='trigram')")
    memory.executemany("INSERT INTO s(rowid, ref, name, idn) VALUES (?, ?, ?, ?)", opened)
    built = time.perf_counter()
    print(f"   open {3 * cases:,} sealed values: {(decrypted - sign_in) * 1000:.0f} ms; "
          f"build the in-memory trigram index: {(built - decrypted) * 1000:.0f} ms; "
          f"total {(built - sign_in) * 1000:.0f} ms")
    queries: list[str] = []
    for _ in range(40):
        _, ref_text, name_text, id_text = opened[rng.randrange(cases)]
        text = rng.choice((name_text.split()[-1], name_text, id_text[2:8], ref_text[-6:]))
        queries.extend(text[:length] for length in range(3, len(text) + 1))
    samples = []
    for query in queries:
        start = time.perf_counter()
        phrase = '"' + query.replace('"', '""') + '"'
        memory.execute("SELECT rowid FROM s WHERE s MATCH ? LIMIT 200", (phrase,)).fetchall()
        samples.append(time.perf_counter() - start)
    print(f"   keystroke query (>= 3 characters, {len(samples)} keystrokes): "
          f"{summary_ms(samples)}")
    verdict("open + index build at sign-in", (built - sign_in) * 1000, 1500, "ms")
    verdict("search keystroke p99", percentile(samples, 99) * 1000, 20, "ms")
    return memory


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    header("encryption at rest: primitives (issue 18)")
    print(f"   {load()} at start")
    org = k.public_bytes(k.generate_org_recovery_key())
    _, keys = k.enrol("amina", "4821 blue heron", org)
    time_argon2(args.runs)
    time_sealing(keys, args.runs)
    memory = time_search(keys, args.cases)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:  # the project's disk
        time_snapshot(keys, memory, Path(folder), args.runs)
        time_files(keys, Path(folder), args.runs)
    print(f"   {load()} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
