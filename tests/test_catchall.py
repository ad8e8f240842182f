"""The demo's catch-all server: the demo sends for real, to .eml files on disk."""

import email
import subprocess
import sys
from email import policy

from tests.cli_runner import run_cli
from tests.smtp_server import free_port
from tuiapp.demo.catchall import port_in_use, start_catchall
from tuiapp.demo.data import DEMO_SMTP_PORT


def test_demo_send_lands_in_eml_files(demo_db_file, tmp_path):
    port = free_port()
    db = ["--db", str(demo_db_file)]
    folder = tmp_path / "mails"
    controller = start_catchall(folder, port)
    try:
        assert start_catchall(folder, port) is None and port_in_use(port)  # a second one steps aside
        assert run_cli("smtp", "set", *db, "--port", str(port)).returncode == 0
        # The real command, end to end.
        result = subprocess.run([sys.executable, "-m", "tuiapp", "send", *db, "--period", "2024-10", "--yes",
                                 "--structure", "FAM"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    finally:
        controller.stop()
    files = sorted(folder.glob("*.eml"))
    assert files and not list(folder.glob("*.part"))
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["X-Demo-Envelope-To"]
    assert message["Subject"].startswith("Votre facture de contribution d'octobre 2024 - ")
    assert next(message.iter_attachments()).get_content()[:4] == b"%PDF"
    assert f"{len(files)} envoyées" in result.stdout


def test_demo_association_points_at_the_catchall(demo_db):
    from tuiapp.db.models import Association

    association = Association.get_solo()
    assert (association.smtp_host, association.smtp_port, association.smtp_security) == ("127.0.0.1", DEMO_SMTP_PORT, "none")
    assert association.smtp_username == ""


def test_the_port_is_free_again_as_soon_as_the_demo_stops(tmp_path):
    """A demo that quits leaves its connections in TIME_WAIT: the next demo starts at once all the same
    (it said "Le port 8025 est déjà pris" for about 45 s)."""
    import smtplib

    port = free_port()
    controller = start_catchall(tmp_path / "mails", port)
    assert controller is not None
    with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
        client.sendmail("demo@example.org", ["famille@example.org"], b"Subject: essai\r\n\r\nbonjour\r\n")
    controller.stop()
    assert not port_in_use(port)
    again = start_catchall(tmp_path / "mails", port)
    try:
        assert again is not None
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
            assert client.noop()[0] == 250
    finally:
        if again is not None:
            again.stop()
    assert len(list((tmp_path / "mails").glob("*.eml"))) == 1
