"""A real SMTP server for the email tests: STARTTLS required, AUTH required over TLS only.

Usage: python3 smtp_tls_auth.py PORT CERT_PEM KEY_PEM USER PASSWORD
Prints LISTENING once ready, one "AUTH <mechanism> OK|FAILED" line per login, and each message
between "BEGIN MESSAGE" and "END MESSAGE". Runs until killed.
"""

import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password = sys.argv[1:6]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print("BEGIN MESSAGE", flush=True)
        print(envelope.content.decode("utf-8", errors="replace"), flush=True)
        print("END MESSAGE", flush=True)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    print(f"AUTH {mechanism} {'OK' if ok else 'FAILED'}", flush=True)
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print("LISTENING", flush=True)
while True:
    time.sleep(3600)
