"""The real parts the production back end is tested against start here, on this machine:
a throwaway PostgreSQL cluster and a SeaweedFS S3 server (see tests/real_parts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.real_parts import Postgres, S3Server


def test_a_throwaway_postgresql_cluster_takes_transactions(postgres: Postgres) -> None:
    import psycopg

    dsn = postgres.new_database("real_parts_check")
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE t(id text PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('a')")
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO t VALUES ('a')")  # the constraints are real
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_seaweedfs_serves_s3_with_credentials(s3: S3Server, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    client = s3.client()
    client.create_bucket(Bucket="check")
    client.put_object(Bucket="check", Key="photos/a", Body=b"x" * 300_000)
    got = client.get_object(Bucket="check", Key="photos/a")
    assert got["Body"].read() == b"x" * 300_000
    with pytest.raises(ClientError):
        s3.client(secret="wrong").list_buckets()
