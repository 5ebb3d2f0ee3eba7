"""Sealed small values (kycdesk/security/sealing.py): bound to case and field, tampering
refused, nonces unique by construction, the sealed bytes in a real SQLite file hold no
trace of the value."""

from __future__ import annotations

import sqlite3

import pytest

from kycdesk.security import keys as k
from kycdesk.security import sealing
from kycdesk.security.errors import TamperedDataError
from kycdesk.security.sealing import Sealer

FAST = k.Argon2Params(time_cost=1, memory_kib=1024, parallelism=1)


@pytest.fixture
def keys() -> k.UnlockedKeys:
    org = k.public_bytes(k.generate_org_recovery_key())
    return k.enrol("amina", "4821 blue heron", org, FAST)[1]


def test_round_trip_through_a_real_database(tmp_path, keys):
    sealer = Sealer(keys)
    path = tmp_path / "store.sqlite3"
    values = {"applicant.first_name": "Amina", "identity.document_number": "X4821937",
              "income.monthly": "52,000", "applicant.address": "12 Rue de l'Église, Dakar"}
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE answers(case_id TEXT, field TEXT, sealed BLOB)")
        conn.executemany("INSERT INTO answers VALUES ('c1', ?, ?)",
                         [(f, sealer.seal_text(v, case_id="c1", field=f))
                          for f, v in values.items()])
    conn.close()
    raw = path.read_bytes()
    for value in values.values():
        assert value.encode() not in raw
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT case_id, field, sealed FROM answers").fetchall()
    conn.close()
    reader = Sealer(keys)  # another sign-in opens what the first sealed
    assert {f: reader.open_text(s, case_id=c, field=f) for c, f, s in rows} == values


def test_a_value_moved_to_another_case_or_field_does_not_open(keys):
    sealer = Sealer(keys)
    sealed = sealer.seal_text("X4821937", case_id="c1", field="identity.document_number")
    with pytest.raises(TamperedDataError):
        sealer.open(sealed, case_id="c2", field="identity.document_number")
    with pytest.raises(TamperedDataError):
        sealer.open(sealed, case_id="c1", field="applicant.first_name")
    # Length-prefixed binding: moving a character from the case id to the field fails too.
    tricky = sealer.seal(b"v", case_id="c1a", field="b")
    with pytest.raises(TamperedDataError):
        sealer.open(tricky, case_id="c1", field="ab")


@pytest.mark.parametrize("position", [0, 1, 9, 20, 21, -1])
def test_any_changed_byte_is_detected(keys, position):
    sealer = Sealer(keys)
    sealed = bytearray(sealer.seal_text("Amina Yusuf", case_id="c1", field="name"))
    sealed[position] ^= 0x01
    with pytest.raises(TamperedDataError):
        sealer.open(bytes(sealed), case_id="c1", field="name")


def test_cut_or_empty_values_are_refused(keys):
    sealer = Sealer(keys)
    sealed = sealer.seal(b"", case_id="c1", field="f")
    assert sealer.open(sealed, case_id="c1", field="f") == b""
    for cut in (b"", sealed[:5], sealed[:-1]):
        with pytest.raises(TamperedDataError):
            sealer.open(cut, case_id="c1", field="f")


def test_another_verifiers_key_does_not_open(keys):
    org = k.public_bytes(k.generate_org_recovery_key())
    other = k.enrol("bruno", "7777 red fox", org, FAST)[1]
    sealed = Sealer(keys).seal(b"secret", case_id="c1", field="f")
    with pytest.raises(TamperedDataError):
        Sealer(other).open(sealed, case_id="c1", field="f")


def test_nonces_never_repeat_across_many_seals_and_sealers(keys):
    seen: set[bytes] = set()
    count = 0
    for _ in range(4):  # four sign-ins
        sealer = Sealer(keys)
        for i in range(25_000):
            sealed = sealer.seal(b"same value", case_id="c1", field="f")
            seen.add(sealed[1 + k.KEY_ID_BYTES:sealing.HEADER_BYTES])
            count += 1
            if i == 0:
                first = sealed
        assert first[1 + k.KEY_ID_BYTES:sealing.HEADER_BYTES].endswith(bytes(4))
    assert len(seen) == count == 100_000


def test_a_sealer_refuses_to_wrap_its_counter(keys):
    sealer = Sealer(keys)
    sealer._counter = sealing.COUNTER_LIMIT - 1
    sealer.seal(b"last", case_id="c1", field="f")
    with pytest.raises(sealing.NoncesExhaustedError):
        sealer.seal(b"one too many", case_id="c1", field="f")


def test_threads_sharing_a_sealer_never_share_a_nonce(keys):
    """The writer thread and a sync thread may seal at once: the counter is locked."""
    from concurrent.futures import ThreadPoolExecutor

    sealer = Sealer(keys)

    def seal_many(worker: int) -> list[bytes]:
        return [sealer.seal(b"v", case_id=f"c{worker}", field="f")[1 + k.KEY_ID_BYTES:
                                                                   sealing.HEADER_BYTES]
                for _ in range(5_000)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        nonces = [n for batch in pool.map(seal_many, range(4)) for n in batch]
    assert len(set(nonces)) == len(nonces) == 20_000
