import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from tuiapp.mail import secrets


def test_password_round_trip_in_the_keyring():
    assert secrets.get_password("smtp.example.org", "compta") is None
    secrets.set_password("smtp.example.org", "compta", "pa55word")
    assert secrets.get_password("SMTP.example.org ", "compta").reveal() == "pa55word"
    assert secrets.has_password("smtp.example.org", "compta")
    assert not secrets.has_password("other.example.org", "compta")  # tied to the server
    secrets.delete_password("smtp.example.org", "compta")
    assert secrets.get_password("smtp.example.org", "compta") is None
    secrets.delete_password("smtp.example.org", "compta")  # twice is fine


def test_no_backend_explains_the_headless_setup(monkeypatch):
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(secrets.SecretStoreError) as error:
        secrets.get_password("smtp.example.org", "compta")
    assert "PYTHON_KEYRING_BACKEND" in str(error.value) and "keyrings.alt" in str(error.value)


class EncryptedFileKeyring(KeyringBackend):
    """Stands for keyrings.alt's EncryptedKeyring: asks its master password with input()."""

    priority = 1

    def get_password(self, service, username):
        return input("Mot de passe maître : ")

    set_password = delete_password = get_password


def test_a_prompting_backend_is_refused(capsys):
    keyring.set_keyring(EncryptedFileKeyring())
    with pytest.raises(secrets.SecretStoreError, match="mot de passe maître"):
        secrets.set_password("smtp.example.org", "compta", "pa55word")
    assert capsys.readouterr().out == ""  # nothing was asked on the terminal


def test_empty_values_are_refused():
    with pytest.raises(secrets.SecretStoreError, match="identifiant"):
        secrets.set_password("smtp.example.org", "", "x")
    with pytest.raises(secrets.SecretStoreError, match="vide"):
        secrets.set_password("smtp.example.org", "compta", "")
