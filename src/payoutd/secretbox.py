"""Secrets at rest: TOTP seeds, webhook and request-signing secrets and the retrievable
copy of API key secrets are stored sealed with Fernet (AES-CBC with HMAC-SHA256, from
`cryptography`) under the operator's master keys, so a copy of the database alone
reveals none of them.

The keys come from `PAYOUTD_SECRET_KEY` (Fernet keys, comma-separated, newest first)
or, when that is unset, from the key file `secret.key` in the data directory: made on
first start with mode 0600, one key a line, newest first. The newest key seals; every
listed key opens (MultiFernet). `payoutd secrets rotate` puts a new key first, reseals
every stored secret under it, then drops all but the new key and the one it replaced:
a process started before the rotation may still seal under that one until it rereads
the file, so it is retired by the next rotation, once everything was resealed again."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "secret.key"
KEPT_AFTER_ROTATION = 2  # the new key and the one it replaced
UNKNOWN_KEY = (
    "a stored secret was sealed under a key payoutd does not have "
    "(PAYOUTD_SECRET_KEY or the key file)"
)


class SecretKeyError(Exception):
    """The master keys are missing, malformed, too open, or cannot open a stored secret."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(text: str) -> list[bytes]:
    keys = [k.strip().encode() for k in text.replace(",", "\n").splitlines() if k.strip()]
    if not keys:
        raise SecretKeyError("no secret key given")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyError(
                "a secret key is not a Fernet key (32 bytes, urlsafe "
                "base64): make one with `payoutd secrets new-key`"
            ) from None
    return keys


class KeyFile:
    """The master keys in a file only its owner can read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[bytes]:
        mode = self.path.stat().st_mode
        if mode & 0o077:
            raise SecretKeyError(
                f"{self.path} may be read by others (mode {mode & 0o777:o}): chmod 600 it"
            )
        return parse_keys(self.path.read_text())

    def read_or_create(self) -> list[bytes]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # linked into place whole, so a process starting at the same moment reads the
            # one key both then use, never an empty file
            with contextlib.suppress(FileExistsError):
                self._write([new_key().encode()], replace=False)
        return self.read()

    def write(self, keys: Sequence[bytes]) -> None:
        self._write(keys, replace=True)

    def _write(self, keys: Sequence[bytes], *, replace: bool) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"".join(k + b"\n" for k in keys))
                fh.flush()
                os.fsync(fh.fileno())
            if replace:
                os.replace(tmp, self.path)
            else:
                os.link(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def mtime(self) -> int:
        return self.path.stat().st_mtime_ns


class SecretBox:
    """Seals and opens stored secrets (payoutd.services.ports.Secrets). With a key file, a
    change to the file (a rotation by another process) is picked up: before sealing, and
    when a sealed value names a key this process does not have yet."""

    def __init__(self, keys: Sequence[bytes], key_file: KeyFile | None = None) -> None:
        self.key_file = key_file
        self._derived: dict[str, tuple[list[bytes], MultiFernet]] = {}
        self._load(keys)

    @classmethod
    def from_file(cls, key_file: KeyFile) -> SecretBox:
        return cls(key_file.read_or_create(), key_file)

    def _load(self, keys: Sequence[bytes]) -> None:
        self.keys = list(keys)
        self._fernet = MultiFernet([Fernet(k) for k in self.keys])
        self._mtime = self.key_file.mtime() if self.key_file else None

    def _reload(self) -> bool:
        """Whether the key file changed since it was read (and is now read again)."""
        if self.key_file is None or self.key_file.mtime() == self._mtime:
            return False
        self._load(self.key_file.read())
        return True

    def seal(self, plaintext: str) -> str:
        self._reload()
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            if self._reload():
                return self.open(sealed)
            raise SecretKeyError(UNKNOWN_KEY) from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the newest key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(UNKNOWN_KEY) from None

    def derived(self, purpose: str) -> MultiFernet:
        """Keys for another use than stored secrets (`purpose`, e.g. the dashboard's
        session cookies), derived from each master key with HKDF: a token made for one
        use never opens as another's, and a rotation keeps the tokens made under the
        previous key readable while that key is kept."""
        self._reload()
        cached = self._derived.get(purpose)
        if cached is not None and cached[0] == self.keys:
            return cached[1]
        fernet = MultiFernet(
            [
                Fernet(
                    base64.urlsafe_b64encode(
                        HKDF(
                            algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()
                        ).derive(base64.urlsafe_b64decode(k))
                    )
                )
                for k in self.keys
            ]
        )
        self._derived[purpose] = (list(self.keys), fernet)
        return fernet

    def add_key(self) -> None:
        """A new newest key (key file only: keys given in the environment are the
        operator's to change)."""
        if self.key_file is None:
            raise SecretKeyError(
                "the keys come from PAYOUTD_SECRET_KEY: put a new key first "
                "there (payoutd secrets new-key), then rotate"
            )
        self._reload()
        self.key_file.write([new_key().encode(), *self.keys])
        self._load(self.key_file.read())

    def retire_old_keys(self) -> None:
        """Once everything is resealed under the newest key."""
        if self.key_file is not None and len(self.keys) > KEPT_AFTER_ROTATION:
            self.key_file.write(self.keys[:KEPT_AFTER_ROTATION])
            self._load(self.key_file.read())


def is_sealed(value: str) -> bool:
    """Whether a stored value is a Fernet token (version byte 0x80, base64 `gAAAAA`) rather
    than a plaintext secret from before sealing: no plaintext payoutd made starts so."""
    return value.startswith("gAAAAA")
