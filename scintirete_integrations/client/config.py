"""A client's configuration and what it means for a channel and for each call's deadline and retries.

:class:`_ClientConfig` checks and holds the constructor's settings (address, password, TLS,
timeout, message and batch limits, retry policy), builds a client from the environment, and
turns those settings into grpc channel options, credentials, compression and per-attempt
deadlines. The request plans build on it in ``plans.py``; the one piece of their state made
here is the per-client cache of collection dimensions (``_dimensions``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import grpc

from .._retry import RetryPolicy
from ..errors import InvalidArgumentError, ScintireteError
from .calls import Timeout, _UseClientDefault

from .._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

DEFAULT_ADDRESS: Final = "localhost:9090"
#: What the client splits inserts and deletes under. A default server refuses requests over
#: 4 MiB (gRPC's default receive limit); the rest is headroom for the envelope.
DEFAULT_MAX_MESSAGE_BYTES: Final = 3584 * 1024
#: Vectors (or texts) per InsertVectors / EmbedAndInsert request. The timeout applies to each
#: request, and a real server stores about 150 vectors/s once it holds thousands: 500 take
#: about 3.5 s, inside the default 10 s.
DEFAULT_INSERT_BATCH: Final = 500


#: gRPC target URIs (unix sockets, explicit resolvers) go to grpc as they are.
_GRPC_TARGET_SCHEMES = ("unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:", "vsock:")
_URL_SCHEMES = {"http://": False, "https://": True, "grpc://": False, "grpcs://": True}


def _check_address(address: str) -> str:
    """``address`` if it is ``host:port`` (or a gRPC target URI), else an error that says the fix.

    Without a port grpc would silently dial 443; a URL scheme would be taken for a host name.
    """
    if not isinstance(address, str) or not address.strip():
        raise InvalidArgumentError(f"address must be 'host:port', e.g. 'localhost:9090', got {address!r}")
    lowered = address.lower()
    for scheme, tls in _URL_SCHEMES.items():
        if lowered.startswith(scheme):
            bare = address[len(scheme) :].rstrip("/")
            fix = f"address={bare!r}" + (", tls=True" if tls else "")
            raise InvalidArgumentError(
                f"address {address!r} is a URL, but gRPC takes 'host:port' without a scheme; pass {fix}"
            )
    if lowered.startswith(_GRPC_TARGET_SCHEMES):
        return address
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or (host.startswith("[") and not host.endswith("]")):
        raise InvalidArgumentError(
            f"address {address!r} has no port; pass 'host:port', e.g. '{address.rstrip(':')}:9090' "
            "(9090 is Scintirete's gRPC port; 8080 is its HTTP API, which this client does not speak)"
        )
    return address


def _read_pem(value: bytes | str | os.PathLike[str] | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    text = os.fspath(value)
    if text.lstrip().startswith("-----BEGIN"):
        return text.encode()
    return Path(text).read_bytes()


def _env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class _ClientConfig:
    """Configuration and auth for both clients, and the channel options and deadlines they imply."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        password: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | os.PathLike[str] | None = None,
        client_certificate: bytes | str | os.PathLike[str] | None = None,
        client_key: bytes | str | os.PathLike[str] | None = None,
        tls_server_name: str | None = None,
        timeout: float | None = 10.0,
        compression: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        insert_batch_size: int = DEFAULT_INSERT_BATCH,
        retry: RetryPolicy | None = None,
        channel_options: Sequence[tuple[str, Any]] | None = None,
    ) -> None:
        address = _check_address(address)
        if compression not in (None, "gzip"):
            raise InvalidArgumentError(f"compression must be None or 'gzip', got {compression!r}")
        if timeout is not None and timeout <= 0:
            raise InvalidArgumentError(f"timeout must be positive seconds or None, got {timeout!r}")
        if max_message_bytes < 64 * 1024:
            raise InvalidArgumentError(f"max_message_bytes must be at least 65536, got {max_message_bytes}")
        if (
            isinstance(insert_batch_size, bool)
            or not isinstance(insert_batch_size, int)
            or insert_batch_size < 1
        ):
            raise InvalidArgumentError(
                f"insert_batch_size must be a positive integer, got {insert_batch_size!r}"
            )
        self.address = address
        self.tls = bool(tls or root_certificates or client_certificate)
        self.timeout = timeout
        self.compression = compression
        self.max_message_bytes = max_message_bytes
        self.insert_batch_size = insert_batch_size
        self.retry = retry if retry is not None else RetryPolicy()
        self._root_certificates = _read_pem(root_certificates)
        self._client_certificate = _read_pem(client_certificate)
        self._client_key = _read_pem(client_key)
        self._tls_server_name = tls_server_name
        self._extra_options = list(channel_options or ())
        # Held privately: never in repr, logs or errors.
        self.__auth = pb.AuthInfo(password=password) if password else None
        self._dimensions: dict[tuple[str, str], int] = {}
        # Set for a client of an embedded Lite server in this process (documents.connect): the
        # servicer is called directly instead of over loopback gRPC. Never part of _settings().
        self._in_process: Any = None

    @classmethod
    def from_env(cls: type[_C], **overrides: Any) -> _C:
        """Build a client from environment variables; keyword arguments win over them.

        ==============================  ==========================================
        ``SCINTIRETE_ADDRESS``          ``host:port`` (default ``localhost:9090``)
        ``SCINTIRETE_PASSWORD``         the server password
        ``SCINTIRETE_TLS``              ``1``/``true`` to use TLS
        ``SCINTIRETE_ROOT_CERTIFICATES``  path to a PEM bundle to trust (implies TLS)
        ``SCINTIRETE_TIMEOUT``          default per-call timeout in seconds
        ==============================  ==========================================

        >>> client = ScintireteClient.from_env(timeout=5.0)  # doctest: +SKIP
        """
        env = os.environ
        settings: dict[str, Any] = {}
        if env.get("SCINTIRETE_ADDRESS"):
            settings["address"] = env["SCINTIRETE_ADDRESS"]
        if env.get("SCINTIRETE_PASSWORD"):
            settings["password"] = env["SCINTIRETE_PASSWORD"]
        if _env_flag(env.get("SCINTIRETE_TLS")):
            settings["tls"] = True
        if env.get("SCINTIRETE_ROOT_CERTIFICATES"):
            settings["root_certificates"] = env["SCINTIRETE_ROOT_CERTIFICATES"]
        if env.get("SCINTIRETE_TIMEOUT"):
            settings["timeout"] = float(env["SCINTIRETE_TIMEOUT"])
        settings.update(overrides)
        return cls(**settings)

    def _settings(self) -> dict[str, Any]:
        """Constructor arguments that rebuild an equivalent client (the sync or async twin)."""
        return {
            "address": self.address,
            "password": self.__auth.password if self.__auth else None,
            "tls": self.tls,
            "root_certificates": self._root_certificates,
            "client_certificate": self._client_certificate,
            "client_key": self._client_key,
            "tls_server_name": self._tls_server_name,
            "timeout": self.timeout,
            "compression": self.compression,
            "max_message_bytes": self.max_message_bytes,
            "insert_batch_size": self.insert_batch_size,
            "retry": self.retry,
            "channel_options": list(self._extra_options),
        }

    def __repr__(self) -> str:
        auth = "set" if self.__auth else "none"
        return f"{type(self).__name__}(address={self.address!r}, tls={self.tls}, timeout={self.timeout}, password={auth})"

    # -- channel configuration ---------------------------------------------------------------

    def _channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            # Responses are what we asked for (a full scan can be large), so they are not capped.
            ("grpc.max_receive_message_length", -1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.enable_retries", 0),  # retries are ours: grpc's own would repeat inserts
        ]
        if self._tls_server_name:
            options.append(("grpc.ssl_target_name_override", self._tls_server_name))
        return options + self._extra_options

    def _credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self._root_certificates,
            private_key=self._client_key,
            certificate_chain=self._client_certificate,
        )

    def _grpc_compression(self) -> grpc.Compression | None:
        return grpc.Compression.Gzip if self.compression == "gzip" else None

    def _deadline(self, timeout: Timeout) -> float | None:
        """Absolute monotonic deadline of a call, or None for none."""
        seconds = self.timeout if isinstance(timeout, _UseClientDefault) else timeout
        if seconds is None:
            seconds = self.retry.max_elapsed if self.retry.max_attempts > 1 else None
            return None if seconds is None else time.monotonic() + seconds
        return time.monotonic() + seconds

    def _retry_delay(self, rpc: str, exc: ScintireteError, delays: Any, deadline: float | None) -> float:
        """The pause before trying ``rpc`` again; re-raises ``exc`` when it must not be retried."""
        delay = next(delays, None) if self.retry.should_retry(rpc, exc) else None
        if delay is None or (deadline is not None and time.monotonic() + delay >= deadline):
            raise exc
        return float(delay)

    @staticmethod
    def _attempt_timeout(
        deadline: float | None, timeout: Timeout, client_timeout: float | None
    ) -> float | None:
        if deadline is None:
            return None
        seconds = client_timeout if isinstance(timeout, _UseClientDefault) else timeout
        remaining = deadline - time.monotonic()
        if seconds is None:  # no deadline asked for; only the retry budget bounds retries, not one attempt
            return None
        return max(remaining, 0.001)

    @property
    def _auth(self) -> pb.AuthInfo | None:
        return self.__auth


_C = TypeVar("_C", bound=_ClientConfig)
