"""The control token: what separates looking at the status page from steering the bot.

A fresh random token is made at every start, shown once on the console and written to a file
only its owner can read (mode 0600), so a person at the machine (or a script run by the same
user) can act while another local user or a web page in a browser cannot: the controls want the
token in an `Authorization: Bearer` header, which a cross-site form or image cannot send.
A token provisioned in advance (needed to bind beyond loopback) must be in a 0600 file too.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

MIN_TOKEN_CHARS = 24


class TokenFileError(Exception):
    """The token file cannot be used; one line naming the file and the fix."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_token(path: Path, token: str) -> None:
    """Create or replace `path` holding `token`, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, (token + "\n").encode("ascii"))
    finally:
        os.close(fd)


def read_token(path: Path) -> str:
    """The token stored at `path`; refused unless only its owner can read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise TokenFileError(f"--status-token-file {path} does not exist: create it with a random "
                             "token (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                             f" > {path}; chmod 600 {path})") from None
    if not stat.S_ISREG(info.st_mode):
        raise TokenFileError(f"--status-token-file {path} is not a regular file: point it at a token file")
    if info.st_mode & 0o077:
        raise TokenFileError(f"--status-token-file {path} is readable by other users "
                             f"(mode {stat.S_IMODE(info.st_mode):o}): chmod 600 {path}")
    token = path.read_text(encoding="ascii", errors="replace").strip()
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise TokenFileError(f"--status-token-file {path} holds no usable token (one word of at "
                             f"least {MIN_TOKEN_CHARS} characters): write a random token into it")
    return token


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (a timing difference must not reveal the token's prefix)."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
