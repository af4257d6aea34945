"""A local SMTP server (aiosmtpd) for apprise's `mailto://` and `mailtos://` on loopback.

Runs on the test's own event loop. It asks for a login (AUTH PLAIN/LOGIN) like a mail provider;
with `tls=True` it offers STARTTLS with a throw-away self-signed certificate (made with the
`openssl` command) and refuses to go on without it, like smtp.gmail.com:587. Each accepted mail is
parsed (`Mail.subject`, `Mail.body`) and kept in `messages`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import shutil
import ssl
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(slots=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: str
    subject: str
    body: str


def _self_signed(directory: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed: it makes the fake SMTP server's certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class FakeSMTP:
    user: str = "alerts@example.com"
    password: str = "smtp-pass-0123456789"
    tls: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    _arrived: asyncio.Condition | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def url(self, to: str = "trader@example.com") -> str:
        scheme = "mailtos" if self.tls else "mailto"
        user = self.user.split("@")[0]
        domain = self.user.split("@")[1]
        # verify=no: the certificate here is self-signed; a real provider's is checked
        extra = "&mode=starttls&verify=no" if self.tls else ""
        return (f"{scheme}://{user}:{self.password}@{self.host}:{self.port}"
                f"?to={to}&from=bot@{domain}&user={self.user}{extra}")

    async def start(self) -> Self:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Condition()
        context = None
        if self.tls:
            self._tmp = tempfile.TemporaryDirectory()
            context = _self_signed(Path(self._tmp.name))

        # aiosmtpd narrates every command at INFO and warns (rightly) that AUTH without TLS is
        # unsafe: a plain `mailto://` test server on loopback is exactly that, on purpose
        logging.getLogger("mail.log").setLevel(logging.ERROR)

        def protocol() -> SMTP:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return SMTP(self, hostname="localhost", tls_context=context,
                            require_starttls=self.tls, auth_required=True,
                            auth_require_tls=self.tls, authenticator=self._authenticate,
                            loop=loop)

        self._server = await loop.create_server(protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def wait_for_messages(self, n: int, timeout: float = 15.0) -> list[Mail]:
        assert self._arrived is not None

        async def until() -> None:
            assert self._arrived is not None
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.messages) >= n)

        await asyncio.wait_for(until(), timeout)
        return self.messages

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            self.logins.append(login)
            ok = login in (self.user, self.user.split("@")[0]) and \
                auth_data.password.decode() == self.password
            return AuthResult(success=ok)
        return AuthResult(success=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        parsed = email.message_from_string(raw, policy=email.policy.default)
        part = parsed.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        self.messages.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), raw,
                                  str(parsed.get("Subject", "")), str(body)))
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()
        return "250 Message accepted for delivery"
