"""A loopback port for a server that a test starts as a child process."""

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """Yield a free loopback port, kept bound (not listening) until the block ends.

    A port probed and released at once can be taken by any process on the machine (an
    outgoing connection's own port, another test run) while the child is still starting;
    one kept bound is skipped by the kernel for those. SO_REUSEADDR on both sides lets the
    child (gunicorn and asyncio set it) bind and listen on it meanwhile, so end the block
    only once the child listens.
    """
    with socket.socket() as reservation:
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reservation.bind(("127.0.0.1", 0))
        yield reservation.getsockname()[1]
