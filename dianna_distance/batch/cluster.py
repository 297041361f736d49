"""The Dask side of a run: which ``client=`` values are accepted, and a working connection checked before any work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dianna_distance.models.packages import require_modules

if TYPE_CHECKING:  # imported where used: Dask is optional
    from distributed import Client


def check_client(client: object) -> None:
    """Accept a :class:`distributed.Client`, a Dask cluster (e.g. a ``LocalCluster``) or a scheduler address.

    Raises:
        ModuleNotFoundError: dask.distributed is not installed (the message says how to install it).
        TypeError: ``client`` is none of these.
    """
    require_modules(["distributed"], "a Dask client")
    from distributed import Client
    from distributed.deploy import Cluster

    if not isinstance(client, (str, Client, Cluster)):
        raise TypeError(f"client must be a distributed.Client, a Dask cluster (e.g. LocalCluster) or a scheduler "
                        f"address, got {type(client).__name__}")
    if isinstance(client, str):
        check_address(client)


def check_address(address: str) -> None:
    """Refuse, at once, a string that is not a Dask scheduler address, or whose host name does not resolve.

    A TCP (or TLS, WebSocket) address needs a host and a port, ``tcp://host:8786`` or ``host:8786``; other
    protocols Dask knows (``inproc://``, ``ucx://``) are left to Dask. The host must resolve and accept a connection
    at the port (within 10 s), so that no :class:`distributed.Client` is made for an address that cannot work.

    Raises:
        ValueError: Not an address (the message shows the expected form).
        ConnectionError: The host name does not resolve, or nothing listens at the port.
    """
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    expected = "expected a Dask scheduler address such as tcp://127.0.0.1:8786"
    try:
        scheme, location = parse_address(address, strict=False)
    except (ValueError, TypeError) as error:
        raise ValueError(f"client: {address!r} is not a Dask scheduler address ({error}); {expected}") from None
    if scheme not in backends:
        raise ValueError(f"client: {address!r} has the protocol {scheme!r}, which Dask does not know; {expected}")
    if scheme not in ("tcp", "tls", "ws", "wss"):
        return
    try:
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise ValueError(f"client: {address!r} is not a Dask scheduler address: it needs a host and a port; "
                         f"{expected}") from None
    try:
        socket.getaddrinfo(host, port)
    except (OSError, UnicodeError) as error:
        raise ConnectionError(f"client: cannot reach the Dask scheduler at {address!r}: the host {host!r} is not "
                              f"known ({error})") from None
    try:  # a plain connection first: a Client that cannot connect hangs for a minute when it is collected
        socket.create_connection((host, port), timeout=10).close()
    except OSError as error:
        raise ConnectionError(f"client: cannot reach the Dask scheduler at {address!r} ({error})") from None


@contextlib.contextmanager
def connected(client: object) -> Iterator[Client]:
    """A working :class:`distributed.Client` for ``client``, checked before anything is written.

    A given Client is used as it is (it must be open); for a cluster or a scheduler address, a Client is made and
    closed afterwards (the cluster stays up).

    Raises:
        ConnectionError: The scheduler at the address cannot be reached.
        ValueError: The Client or the cluster is closed, or the address is not one.
    """
    from distributed import Client

    check_client(client)
    if isinstance(client, Client):
        if client.status != "running":
            raise ValueError(f"client: the Dask client is {client.status}; give an open Client, a cluster or a "
                             "scheduler address")
        yield client
        return
    if isinstance(client, str):
        try:
            own = Client(client, set_as_default=False)
        except ValueError as error:
            raise ValueError(f"client: {client!r} is not a Dask scheduler address ({error})") from None
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"client: cannot reach the Dask scheduler at {client!r} ({error})") from None
    else:
        status = getattr(getattr(client, "status", None), "name", "running")
        if status != "running":
            raise ValueError(f"client: the Dask cluster is {status}; give a running cluster")
        try:
            own = Client(client, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"client: cannot reach the Dask cluster's scheduler ({error})") from None
    with own:
        yield own
