"""Echo server (asyncio): send every message back to the peer it came from.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 echo_server.py [echo-server] [--count 5]

Attaches to the smart socket echo-server of examples.conf (smartsockd
binds its port), echoes --count messages, each to the identity of its
sender, and exits.  echo_client.py is its other end.
"""
import argparse
import asyncio

import smartsock


async def main(args):
    async with smartsock.AsyncSocket(args.socket) as sock:
        for _ in range(args.count):
            identity, msg = await sock.recv_identity()
            await sock.send(msg, identity=identity)
            print("echoed %r to %s" % (msg.decode(), identity.hex()))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="echo-server")
    p.add_argument("--count", type=int, default=5,
                   help="messages to echo before exiting")
    asyncio.run(main(p.parse_args()))
