"""irctest controller for Waggle, a BitlBee-style IRC gateway written in Rust.

Install as ``irctest/controllers/waggle.py`` in an irctest checkout and run::

    WAGGLE_BIN=/path/to/waggle python3 -m pytest --controller irctest.controllers.waggle ...

Environment:

``WAGGLE_BIN``
    the waggle binary (default: ``waggle`` on ``$PATH``).
``WAGGLE_FLOOD_BURST`` / ``WAGGLE_FLOOD_RATE`` / ``WAGGLE_FLOOD_MAX_QUEUE``
    override the ``[flood]`` section (default: Waggle's own defaults, i.e.
    the controller tests the flood control a user would get).
``WAGGLE_LOG``
    passed through to waggle; its log goes to irctest's output only with
    ``IRCTEST_DEBUG_LOGS=1``.

What the controller does:

* Every test gets a fresh temporary directory with a config file and an
  empty SQLite database; waggle listens on ``127.0.0.1:<free port>`` only and
  calls itself ``My.Little.Server``.
* ``password=`` (the ``Passworded*`` tests) switches ``auth_mode`` to
  ``closed`` with that server password.
* Accounts are built into Waggle (no separate services package):
  ``registerUser`` runs ``waggle --database DB user add NAME`` against the
  live database (the password goes on stdin; an existing name gets
  ``user passwd``).
  ``run_services`` needs nothing else; ``wait_for_services`` only waits for
  the listener.
* ``capabilities`` lists what Waggle advertises, so a NAK of one of those is
  a failure, not a skip; ``isupport`` holds the NETWORK/CHANTYPES values the
  written config implies (``isupport.py::testValues``).
* ``account_registration_before_connect`` becomes ``[server]
  register_before_connect``; e-mail verification is not something Waggle
  does (``NotImplementedByController``).
* TLS and websocket listeners are not wired into the controller
  (``NotImplementedByController``), nor is faketime unless the ``faketime``
  binary is installed.
"""

import os
from pathlib import Path
import secrets
import shutil
import socket
import subprocess
import time
from typing import Optional, Set, Tuple, Type

from irctest.basecontrollers import (
    BaseServerController,
    DirectoryBasedController,
    NotImplementedByController,
)
from irctest.specifications import Capabilities

LOOPBACK = "127.0.0.1"


def _toml_str(s: str) -> str:
    """A TOML basic string."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class WaggleController(BaseServerController, DirectoryBasedController):
    software_name = "Waggle"
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False
    sync_sleep_time = 0.0

    # The capabilities Waggle advertises in CAP LS (and which it must
    # therefore ACK: with these declared, a NAK is a failure, not a skip).
    # Waggle advertises: away-notify batch cap-notify
    # draft/account-registration draft/chathistory draft/read-marker
    # echo-message extended-join labeled-response message-tags multi-prefix
    # sasl=PLAIN server-time setname userhost-in-names
    capabilities = frozenset(
        {
            Capabilities.READ_MARKER,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        }
    )

    # ISUPPORT values that follow from the config written below
    # (isupport.py::testValues).
    isupport = {
        "NETWORK": "WaggleTest",
        "CHANTYPES": "&#",
    }

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.binary = os.environ.get("WAGGLE_BIN") or shutil.which("waggle") or "waggle"
        self.config_path: Optional[Path] = None
        self.db_path: Optional[Path] = None

    # -- ports: loopback only ------------------------------------------------

    def get_hostname_and_port(self) -> Tuple[str, int]:
        # The base class binds to "" (0.0.0.0) and hands that out as the
        # hostname; keep everything on 127.0.0.1 instead.
        with self._used_ports() as used_ports:
            while True:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
                s.close()
                if (LOOPBACK, port) not in used_ports:
                    break
            used_ports.add((LOOPBACK, port))
            self._own_ports.add((LOOPBACK, port))
        return (LOOPBACK, port)

    def wait_for_port(self) -> None:
        # Same as the base class, but connects to the address waggle listens
        # on rather than "localhost".
        started_at = time.time()
        while not self.port_open:
            self.check_is_alive()
            time.sleep(self._port_wait_interval)
            try:
                c = socket.create_connection((self.hostname, self.port), timeout=1.0)
            except ConnectionRefusedError:
                if time.time() - started_at >= 60:
                    raise
                continue
            c.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
            c.sendall(b"QUIT :chkport\r\n")
            data = b""
            try:
                while b"chkport" not in data and b"ERROR" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            c.close()
            self.port_open = True

    # -- process ---------------------------------------------------------------

    def create_config(self) -> None:
        super().create_config()
        assert self.directory
        self.config_path = self.directory / "waggle.toml"
        self.db_path = self.directory / "waggle.db"

    def _write_config(self, hostname: str, port: int, password: Optional[str]) -> None:
        assert self.config_path and self.db_path
        lines = [
            "[server]",
            f"listen = [{_toml_str(f'{hostname}:{port}')}]",
            'name = "My.Little.Server"',
            'network = "WaggleTest"',
        ]
        if password is not None:
            lines += ['auth_mode = "closed"', f"password = {_toml_str(password)}"]
        # draft/account-registration's before-connect is Waggle's
        # [server] register_before_connect.
        before = self.test_config.account_registration_before_connect
        lines.append(f"register_before_connect = {'true' if before else 'false'}")
        flood = [
            (key, os.environ.get(env))
            for key, env in (
                ("burst", "WAGGLE_FLOOD_BURST"),
                ("rate", "WAGGLE_FLOOD_RATE"),
                ("max_queue", "WAGGLE_FLOOD_MAX_QUEUE"),
            )
        ]
        if any(v for _, v in flood):
            lines.append("[flood]")
            lines += [f"{k} = {int(v)}" for k, v in flood if v]
        lines += ["[storage]", f"database = {_toml_str(str(self.db_path))}"]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _cli(self, *args: str) -> list:
        assert self.config_path and self.db_path
        return [
            self.binary,
            "--config",
            str(self.config_path),
            "--database",
            str(self.db_path),
            *args,
        ]

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None or ssl:
            # pytest skips tearDown when setUp raises: give the ports that
            # setUp reserved in irctest_ports.json back first.
            self.kill()
            raise NotImplementedByController("Websocket" if not ssl else "TLS")
        if self.test_config.account_registration_requires_email:
            self.kill()
            raise NotImplementedByController(
                "account registration with e-mail verification (Waggle never asks for one)"
            )
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.port_open = False
        self.create_config()
        self._write_config(hostname, port, password)

        if faketime and shutil.which("faketime"):
            faketime_cmd = ["faketime", "-f", faketime]
            self.faketime_enabled = True
        else:
            faketime_cmd = []

        env = dict(os.environ)
        env.setdefault("WAGGLE_LOG", "info")
        env["NO_COLOR"] = "1"
        self.proc = self.execute(
            [*faketime_cmd, *self._cli("--listen", f"{hostname}:{port}", "run")],
            proc_name="waggle",
            env=env,
        )
        # run_services: accounts are part of waggle itself, nothing to start.

    def wait_for_services(self) -> None:
        # No separate services process; the accounts live in waggle's DB.
        self.wait_for_port()

    # -- accounts --------------------------------------------------------------

    def registerUser(
        self,
        case,  # type: ignore[no-untyped-def]
        username: str,
        password: Optional[str] = None,
    ) -> None:
        if password is None:
            password = secrets.token_urlsafe(16)
        if "\n" in password or "\r" in password:
            raise NotImplementedByController("passwords containing line breaks")
        assert self.config_path, "registerUser() called before run()"
        # `user add` and the daemon may open a fresh database in any order
        # (both take the database's lock while migrating); waiting for the
        # port only makes sure the daemon runs before the test goes on.
        self.wait_for_port()
        env = dict(os.environ, RUST_BACKTRACE="0", RUST_LIB_BACKTRACE="0", NO_COLOR="1")
        res = self._user_cmd("add", username, password, env)
        if res.returncode != 0 and b"already exists" in res.stdout:
            res = self._user_cmd("passwd", username, password, env)
        if res.returncode != 0:
            raise AssertionError(
                f"waggle user add {username!r} failed ({res.returncode}): "
                + res.stdout.decode(errors="replace")
            )

    def _user_cmd(
        self, sub: str, username: str, password: str, env: dict
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._cli("user", sub, username),
            input=(password + "\n").encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=60,
        )


def get_irctest_controller_class() -> Type[WaggleController]:
    return WaggleController
