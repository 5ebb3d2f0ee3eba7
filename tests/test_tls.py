"""TLS: verification is on; a private CA works only when configured."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytestqt.qtbot import QtBot

from kycdesk.core.protocol import Health
from kycdesk.sync.client import SyncClient
from kycdesk.sync.errors import SyncError
from tests.sync_support import TOKEN, start_server


def _private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kycdesk test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


def test_untrusted_certificate_is_refused_and_a_configured_ca_is_trusted(
        tmp_path: Path) -> None:
    ca_file, cert_file, key_file = _private_ca(tmp_path)
    server = start_server(tmp_path / "server", extra=["--ssl-certfile", str(cert_file),
                                                      "--ssl-keyfile", str(key_file)])
    try:
        assert server.base_url.startswith("https://")
        with SyncClient(server.base_url, TOKEN, device_id="tls") as client, \
                pytest.raises(SyncError, match="certificate is not trusted"):
            client.health()
        with SyncClient(server.base_url, TOKEN, device_id="tls",
                        ca_bundle=str(ca_file)) as client:
            assert client.health().status == "ok"
    finally:
        server.stop()


def test_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SyncError, match=r"certificate file .* cannot be used"):
        SyncClient("https://127.0.0.1:1", TOKEN, device_id="tls",
                   ca_bundle=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(("url", "refused"), [
    ("https://kyc.example.org", False),
    ("http://127.0.0.1:8080", False),          # the reference server on this machine
    ("http://localhost:8080", False),
    ("http://[::1]:8080", False),
    ("http://kyc.example.org", True),          # the token would travel in clear
    ("http://10.0.0.5:8080", True),
    ("ftp://kyc.example.org", True),
    ("kyc.example.org", True),
])
def test_plain_http_is_refused_except_to_this_machine(
        url: str, refused: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from kycdesk.sync.server_url import LAB_FLAG, url_problem

    monkeypatch.delenv(LAB_FLAG, raising=False)
    assert (url_problem(url) is not None) is refused
    if refused and url.startswith("http://"):
        with pytest.raises(SyncError, match="https://"):
            SyncClient(url, TOKEN, device_id="d")
        monkeypatch.setenv(LAB_FLAG, "1")  # a test network, said out loud
        assert url_problem(url) is None


def test_settings_refuse_a_plain_http_server(qtbot: QtBot, tmp_path: Path) -> None:
    from kycdesk.settings import SERVER_URL, Settings
    from kycdesk.views.settings_dialog import SettingsDialog

    settings = Settings(tmp_path / "s.ini")

    def never(_url: str, _token: str, _ca: str | None) -> Health:
        raise AssertionError("no connection is attempted")

    dialog = SettingsDialog(settings, never)
    qtbot.addWidget(dialog)
    dialog.url.setText("http://kyc.example.org")
    dialog.save()
    assert "https://" in dialog.result_label.text() and dialog.result() == 0
    assert settings.get(SERVER_URL) == ""
