"""Years of cases on one tablet: 100,000 cases and 1,000,000 photo rows.

The store is built in a separate process, in bulk, through the app's own schema and
connection (triggers, search index and all): realistic names from many languages, ID
numbers, references, statuses and three years of save times; photo rows with hashes,
sizes and locations (their files are not written — the window must not need them).
Then, on that store:
- start -> window with cases listed: `kycdesk --startup-check` as a child process
  (from source), its wall time and peak RSS; the same for a store of 10,000 cases with
  30,000 photos and with none (their ratio), and for an empty store;
- the list in this process: first page, every sort in both directions, a search typed
  a key at a time (selective substrings: part of a surname, a full name, part of an ID
  number, part of a reference), and the page at row 50,000 (keyset paging).

    python -m benchmarks.scale [--cases 100000] [--photos 1000000] [--keep DIR]
                               [--fsync-delay-ms 0] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict
from tests.vaults import make_vault

FIRST = [
    "Amara", "Bilal", "Chen", "Dana", "Elif", "Farid", "Grace", "Hiroshi", "Inês", "Jonas",
    "Kavya", "Lukas", "Maya", "Nikolai", "Oluwaseun", "Priya", "Quentin", "Rosa", "Samir", "Tariq",
    "Uma", "Viktor", "Wen", "Yara", "Zofia", "Aleksandra", "Björn", "Chiamaka", "Dmitri",
    "Eleanor", "Fatima", "Gökhan", "Hannah", "Ioana", "José", "Kateřina", "Li", "Mohammed",
    "Nadia", "Óscar", "Pádraig", "Qing", "Rahul", "Siobhán", "Thandiwe", "Ulrich", "Valentina",
    "Wojciech", "Xiomara", "Yusuf", "Zeynep", "Aisha", "Bartosz", "Carmen", "Deepak", "Emeka",
    "Freya", "Giulia", "Hamza", "Ingrid", "Javier", "Kemal", "Laila", "Mateus", "Nkechi", "Olga",
    "Pilar", "Ravi", "Sakura", "Tomasz", "Ugo", "Vusi", "Wanjiru", "Ximena", "Yaw", "Zaid",
    "Agnieszka", "Bongani", "Cristina", "Dariusz", "Esra", "Fernando", "Gabriela", "Hassan",
    "Isabel", "Jun", "Krisztina", "Lwazi", "Małgorzata", "Nasrin", "Ömer", "Paulo", "Rania",
    "Stanisław", "Tenzin", "Ulla", "Wiremu", "Yolanda", "Zainab"
]
LAST = [
    "Okafor", "Rahman", "Wei", "Levi", "Kaya", "Haddad", "Mensah", "Tanaka", "Ferreira", "Berg",
    "Iyer", "Novák", "Cohen", "Petrov", "Adeyemi", "Shah", "Moreau", "García", "Nasser", "Aziz",
    "Rao", "Horvat", "Lin", "Saleh", "Kowalska", "Nowak", "Wiśniewski", "Dąbrowski", "Lewandowska",
    "Zieliński", "Szymańska", "Woźniak", "Kozłowski", "Jankowska", "Mazur", "Kwiatkowski",
    "Krawczyk", "Kaczmarek", "Piotrowska", "Grabowski", "Pawłowska", "Michalski", "Nowicka",
    "Adamczyk", "Dudek", "Zając", "Wieczorek", "Jabłoński", "Król", "Majewska", "Olszewski",
    "Jaworska", "Malinowski", "Pawlak", "Witkowska", "Walczak", "Stępień", "Górski", "Rutkowska",
    "Michalak", "Sikora", "Ostrowski", "Baran", "Duda", "Szewczyk", "Tomaszewska", "Pietrzak",
    "Marciniak", "Wróblewska", "Zalewski", "Jakubowska", "Jasiński", "Zawadzka", "Sadowski", "Bąk",
    "Chmielewska", "Włodarczyk", "Borkowski", "Czarnecka", "Sawicki", "Sokołowska", "Urbańczyk",
    "Kubiak", "Maciejewska", "Szczepański", "Kucharska", "Wilk", "Kalinowski", "Lis", "Mazurek",
    "Wysocka", "Adamski", "Kaźmierczak", "Wasilewska", "Sobczak", "Czerwiński", "Andrzejewska",
    "Cieślak", "Głowacki", "Zakrzewska", "Kołodziej", "Sikorska", "Krajewski", "Gajewska",
    "Szymczak", "Szulc", "Baranowska", "Laskowski", "Brzeziński", "Makowska", "Ziółkowski",
    "Przybylska", "Domańska", "Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu",
    "Dang", "Bui", "Do", "Ho", "Ngo", "Duong", "Ly", "Kim", "Park", "Choi", "Jung", "Kang", "Cho",
    "Yoon", "Jang", "Lim", "Han", "Oh", "Seo", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Yoo",
    "Hong", "Jeon", "Ko", "Moon", "Yang", "Son", "Bae", "Baek", "Heo", "Nam", "Sim", "Noh", "Ha",
    "Kwak", "Sung", "Cha", "Joo", "Woo", "Ryu", "Jin", "Eom", "Chae", "Won", "Cheon", "Bang",
    "Gong", "Hyun", "Ham", "Byun", "Yeom", "Yeo", "Chu", "Do", "Lee", "Sato", "Suzuki",
    "Takahashi", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato", "Yoshida",
    "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu",
    "Yamazaki", "Mori", "Abe", "Ikeda", "Hashimoto", "Yamashita", "Ishikawa", "Nakajima", "Maeda",
    "Fujita", "Ogawa", "Goto", "Okada", "Hasegawa", "Murakami", "Kondo", "Ishii", "Saito",
    "Sakamoto", "Endo", "Aoki", "Fujii", "Nishimura", "Fukuda", "Ota", "Miura", "O'Brien",
    "O'Connor", "MacDonald", "Ní", "Bhriain", "Ó", "Súilleabháin", "Müller", "Schröder", "Øberg",
    "Ångström", "Çelik", "Yılmaz", "Öztürk", "Şahin", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara",
    "Koç", "Kurt", "Özdemir", "Arslan"
]
STATUSES = [("SYNCED", 0.72), ("DRAFT", 0.12), ("READY", 0.1), ("FAILED", 0.06)]


def _pick_status(rng: random.Random) -> str:
    x = rng.random()
    for status, share in STATUSES:
        if x < share:
            return status
        x -= share
    return "SYNCED"


def build(data_dir: Path, cases: int, photos: int) -> None:
    """Runs in its own process (python -m benchmarks.scale --build DIR …)."""
    qt_app()
    import json

    from kycdesk.core.ids import new_id
    from kycdesk.demo import demo_form
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore

    rng = random.Random(2026)
    paths = resolve(data_dir)
    start = time.perf_counter()
    with LocalStore(paths, vault=make_vault()) as store:
        conn = store.conn
        conn.execute("PRAGMA synchronous=OFF")  # building test data, not measuring it
        done = 0
        while done < cases:
            with conn.transaction():
                for _ in range(min(5000, cases - done)):
                    _, form, _city = demo_form(rng)
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    if rng.random() < 0.2:
                        last = f"{last}-{rng.choice(LAST)}"
                    form["applicant.first_name"], form["applicant.last_name"] = first, last
                    document = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}" \
                               f"{rng.randrange(10**7, 10**8)}"
                    form["identity.document_number"] = document
                    day = time.gmtime(1_690_000_000 + rng.randrange(3 * 365 * 86400))
                    saved = time.strftime("%Y-%m-%dT%H:%M:%SZ", day)
                    reference = f"KYC-{time.strftime('%Y%m%d', day)}-" \
                                f"{rng.randrange(16**6):06X}"
                    status = _pick_status(rng)
                    case_id = new_id()
                    failed_kind = rng.choice(["transient", "permanent"]) \
                        if status == "FAILED" else None
                    conn.execute(
                        "INSERT INTO cases(id, reference_number, status, current_step, "
                        "last_saved, created_at, form_id, form_version, applicant_name, "
                        "id_number, last_error_kind, sync_attempts) "
                        "VALUES (?, ?, ?, 'declarations', ?, ?, 'individual_kyc', '2', ?, "
                        "?, ?, 0)",
                        (case_id, reference, status, saved, saved, f"{first} {last}",
                         document, failed_kind))
                    conn.execute("INSERT INTO case_forms(case_id, form_json, form_version, "
                                 "revision, updated_at) VALUES (?, ?, '2', 3, ?)",
                                 (case_id, json.dumps(form, ensure_ascii=False), saved))
                    done += 1
        # The office's decisions (issue 17): one on a fifth of the synced cases, a third
        # of them rejections with a reason; the list reads the newest per row shown.
        conn.execute(
            "INSERT INTO case_decisions(case_id, revision, decision, reason_code, "
            "reason_label, note, by, at) SELECT id, 3, CASE abs(random()) % 3 WHEN 0 THEN "
            "'rejected' ELSE 'approved' END, NULL, 'The identity document had expired', "
            "'', 'Rae', last_saved FROM cases WHERE status = 'SYNCED' AND abs(random()) % 5 = 0")
        per_case = photos // cases if cases else 0
        extra = photos - per_case * cases
        for photo in range(per_case + (1 if extra else 0)):
            limit = cases if photo < per_case else extra
            with conn.transaction():
                conn.execute(
                    "INSERT INTO case_images(case_id, file_path, latitude, longitude, "
                    "accuracy, captured_at, captured_at_source, client_image_id, slot, "
                    "sha256, byte_size, mime, width, height, source, server_image_id) "
                    "SELECT id, 'cases/' || id || '/img_' || ? || '.jpg', "
                    "51 + random() % 1000 / 1000.0, -1 + random() % 1000 / 1000.0, 12.0, "
                    "last_saved, 'exif', lower(hex(randomblob(16))), "
                    "CASE ? WHEN 1 THEN 'id_front' WHEN 2 THEN 'id_back' WHEN 3 THEN "
                    "'selfie' ELSE 'site' END, lower(hex(randomblob(32))), "
                    "3000000 + abs(random()) % 2000000, 'image/jpeg', 4000, 3000, "
                    "'camera', CASE status WHEN 'SYNCED' THEN lower(hex(randomblob(8))) END "
                    "FROM cases ORDER BY rowid LIMIT ?", (photo + 1, photo + 1, limit))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(p.stat().st_size for p in paths.root.iterdir() if p.is_file())
    print(f"   built {cases} cases, {photos} photo rows in {time.perf_counter() - start:.0f} s,"
          f" database {size / 2**20:.0f} MB", flush=True)


def build_in_child(data_dir: Path, cases: int, photos: int) -> None:
    subprocess.run([sys.executable, "-m", "benchmarks.scale", "--build", str(data_dir),
                    "--cases", str(cases), "--photos", str(photos)], check=True)


# A fresh parent per run, so the peak RSS it reports is the app's alone.
_TIMED_START = r"""
import resource, subprocess, sys, time
start = time.perf_counter()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=600)
elapsed = time.perf_counter() - start
ok = "startup-check: window shown" in result.stdout
# The app says when its window was up (process start -> cases listed); the wall time
# here also counts its exit.
said = result.stdout.rsplit(" after ", 1)[-1].split(" s")[0] if " after " in result.stdout \
    else elapsed
print(said, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, int(ok))
if not ok:
    print(result.stdout, result.stderr, file=sys.stderr)
"""


def start_to_window(data_dir: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall time of `kycdesk --startup-check` (window shown, cases listed) and peak RSS."""
    times, rss = [], []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", _TIMED_START, sys.executable, "-m", "kycdesk",
             "--data-dir", str(data_dir), "--startup-check"], capture_output=True, text=True,
            check=False,
            timeout=700, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        elapsed, peak_kib, ok = result.stdout.split()
        if ok != "1":
            raise SystemExit(f"the app did not start: {result.stderr}")
        times.append(float(elapsed))
        rss.append(int(peak_kib) / 1024)  # ru_maxrss is in KiB on Linux
    return times, rss


def list_figures(data_dir: Path, runs: int) -> bool:
    from PySide6.QtCore import Qt

    from kycdesk.models.case_list_model import CaseListModel
    from kycdesk.paths import resolve
    from kycdesk.persistence.reader import ReadStore

    paths = resolve(data_dir)
    reader = ReadStore(paths, vault=make_vault())
    start = time.perf_counter()
    model = CaseListModel(reader)
    first = time.perf_counter() - start
    print(f"   first page (counts + 200 rows): {first * 1000:.1f} ms, total {model.total()}")

    sorts: dict[str, list[float]] = {}
    for column, name in enumerate(CaseListModel.COLUMNS):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            label = f"{name} {'asc' if order == Qt.SortOrder.AscendingOrder else 'desc'}"
            for _ in range(runs):
                start = time.perf_counter()
                model.sort(column, order)
                sorts.setdefault(label, []).append(time.perf_counter() - start)
    for label, samples in sorts.items():
        print(f"   sort {label:16} {summary_ms(samples)}")
    worst_sort = max(max(s) for s in sorts.values())

    rng = random.Random(5)
    sample = [model.case_at(rng.randrange(model.rowCount())) for _ in range(40)]
    model.sort(3, Qt.SortOrder.DescendingOrder)
    queries: list[str] = []
    for case in sample[:10]:
        name = case.applicant_name or ""
        surname = name.split()[-1]
        queries.append(surname[: max(4, len(surname) - 1)])   # part of a surname
        queries.append(name)                                  # a full name
        load = reader.load_case(case.id)
        document = str(load.form.get("identity.document_number", ""))
        queries.append(document[2:8])                         # part of an ID number
        queries.append((case.reference_number or "")[-6:])    # end of a reference
    keystrokes: list[float] = []
    selective: list[float] = []
    counts: list[int] = []
    for query in queries:
        for n in range(1, len(query) + 1):
            start = time.perf_counter()
            model.set_search(query[:n])
            model.rowCount()
            elapsed = time.perf_counter() - start
            keystrokes.append(elapsed)
            if n >= 3 and model.total() <= 1000:
                selective.append(elapsed)
        counts.append(model.total())
        model.set_search("")
    print(f"   search, every keystroke of {len(queries)} queries: {summary_ms(keystrokes)}")
    print(f"   search keystrokes with <= 1000 matches: {summary_ms(selective)}")
    print(f"   matches per query: median {sorted(counts)[len(counts) // 2]}, "
          f"max {max(counts)}")

    model.set_search("")
    model.sort(3, Qt.SortOrder.DescendingOrder)
    pages: list[float] = []
    while model.rowCount() < 50_000 and model.canFetchMore():
        start = time.perf_counter()
        model.fetchMore()
        pages.append(time.perf_counter() - start)
    deep = []
    for _ in range(runs * 5):
        start = time.perf_counter()
        model.fetchMore()
        deep.append(time.perf_counter() - start)
    print(f"   pages to row {model.rowCount()}: {summary_ms(pages)}")
    print(f"   a page at row 50,000+: {summary_ms(deep)}")
    model.set_reader(None)
    reader.close()
    ok = verdict("search keystroke p99 (selective)", percentile(selective, 99) * 1000, 20, "ms")
    ok &= verdict("every sort, either direction (worst)", worst_sort * 1000, 20, "ms")
    ok &= verdict("page at row 50,000 (p50)", percentile(deep, 50) * 1000, 10, "ms")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the large store here (or reuse it)")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--skip-small", action="store_true",
                        help="skip the 10,000-case and empty-store start-up comparison")
    args = parser.parse_args()
    if args.build:
        build(args.build, args.cases, args.photos)
        return 0
    app = qt_app()
    header(f"scale: {args.cases} cases, {args.photos} photo rows")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kycdesk-scale-") as tmp:
        large = args.keep or Path(tmp) / "large"
        if not (large / "kycdesk.sqlite3").exists():
            build_in_child(large, args.cases, args.photos)
        if not args.skip_small:
            empty = Path(tmp) / "empty"
            times, rss = start_to_window(empty, args.runs)
            print(f"   start -> window, empty store: {summary_ms(times)}, "
                  f"peak RSS {max(rss):.0f} MB")
            ok &= verdict("cold start to window, empty store (p50)",
                          percentile(times, 50), 0.4, "s")
            small_photos = Path(tmp) / "small-photos"
            small_none = Path(tmp) / "small-none"
            build_in_child(small_photos, 10_000, 30_000)
            build_in_child(small_none, 10_000, 0)
            with_photos, _ = start_to_window(small_photos, args.runs)
            without, _ = start_to_window(small_none, args.runs)
            ratio = percentile(with_photos, 50) / percentile(without, 50)
            print(f"   start -> window, 10k cases: 30k photos {summary_ms(with_photos)}; "
                  f"0 photos {summary_ms(without)}")
            ok &= verdict("10k/30k photos ÷ 10k/0 photos", ratio, 1.2, "x")
        times, rss = start_to_window(large, args.runs)
        print(f"   start -> window, {args.cases} cases / {args.photos} photos: "
              f"{summary_ms(times)}, peak RSS {max(rss):.0f} MB")
        ok &= verdict("start -> window, large store (p50)", percentile(times, 50), 1.5, "s")
        ok &= verdict("peak RSS, large store", max(rss), 250, "MB")
        ok &= list_figures(large, args.runs)
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
