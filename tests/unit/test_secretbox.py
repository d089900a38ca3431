"""The master keys: the key file made on first start, keys from the environment, and a
rotation made by another process seen by a running one."""

from __future__ import annotations

from pathlib import Path

import pytest

from payoutd.bootstrap import build_secrets
from payoutd.secretbox import KEY_FILE, KeyFile, SecretBox, SecretKeyError, new_key
from tests import support


def test_the_key_file_is_made_on_first_start_for_its_owner_only(tmp_path: Path) -> None:
    first = build_secrets(support.test_settings(tmp_path / "data", None))
    path = tmp_path / "data" / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    sealed = first.seal("whsec_abc")
    assert "whsec_abc" not in sealed
    # the next start reads the same key
    assert build_secrets(support.test_settings(tmp_path / "data", None)).open(sealed) == "whsec_abc"


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    build_secrets(support.test_settings(tmp_path, None))
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        build_secrets(support.test_settings(tmp_path, None))


def test_keys_from_the_environment_newest_first(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    sealed_before = build_secrets(support.test_settings(tmp_path, None, secret_key=old)).seal("x")
    box = build_secrets(support.test_settings(tmp_path, None, secret_key=f"{new}, {old}"))
    assert box.open(sealed_before) == "x"  # the old key still opens
    assert SecretBox([new.encode()]).open(box.seal("y")) == "y"  # the new one seals
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(SecretKeyError, match="not a Fernet key"):
        build_secrets(support.test_settings(tmp_path, None, secret_key="hunter2"))


def test_a_running_process_follows_a_rotation_made_by_another(tmp_path: Path) -> None:
    running = SecretBox.from_file(KeyFile(tmp_path / KEY_FILE))
    before = running.seal("totp-seed")
    rotating = SecretBox.from_file(KeyFile(tmp_path / KEY_FILE))
    rotating.add_key()
    after = rotating.reseal(before)
    rotating.retire_old_keys()
    # sealed under a key the running process had not read yet: it reads the file again
    assert running.open(after) == "totp-seed"
    assert rotating.keys[0] == running.keys[0]
    # and it seals under the new key from then on
    assert SecretBox(rotating.keys[:1]).open(running.seal("later")) == "later"


def test_a_rotation_keeps_the_replaced_key_and_retires_older_ones(tmp_path: Path) -> None:
    box = SecretBox.from_file(KeyFile(tmp_path / KEY_FILE))
    first = box.keys[0]
    box.add_key()
    box.retire_old_keys()
    assert len(box.keys) == 2 and box.keys[1] == first
    second = box.keys[0]
    box.add_key()
    box.retire_old_keys()
    assert box.keys[1:] == [second]
    with pytest.raises(SecretKeyError, match="does not have"):
        box.open(SecretBox([first]).seal("gone with its key"))


def test_derived_keys_serve_one_purpose_and_follow_a_rotation() -> None:
    """The dashboard's session cookies: sealed under keys derived from the master keys,
    never opened as a stored secret or as another purpose's token."""
    from cryptography.fernet import InvalidToken

    old, new = new_key(), new_key()
    box = SecretBox([old.encode()])
    token = box.derived("sessions").encrypt(b"payload")
    assert box.derived("sessions").decrypt(token) == b"payload"
    with pytest.raises(InvalidToken):
        box.derived("something else").decrypt(token)
    with pytest.raises(SecretKeyError):
        box.open(token.decode())  # not a stored secret
    rotated = SecretBox([new.encode(), old.encode()])
    assert rotated.derived("sessions").decrypt(token) == b"payload"  # the old key still opens
    fresh = rotated.derived("sessions").encrypt(b"later")
    with pytest.raises(InvalidToken):
        box.derived("sessions").decrypt(fresh)  # sealed under the new key
    assert SecretBox([new.encode()]).derived("sessions").decrypt(fresh) == b"later"
