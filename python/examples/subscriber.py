"""Subscriber (asyncio): print what the publisher sends.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 subscriber.py sub3 [--count 20]

Attaches to one of the smart sockets sub0 ... sub9 of examples.conf,
each connected by smartsockd to the publisher's socket pub; start it
once per socket, ten times in all.  Prints "sub3: news N" for each
message and exits after --count of them.
"""
import argparse
import asyncio

import smartsock


async def main(args):
    async with smartsock.AsyncSocket(args.socket) as sock:
        got = 0
        async for msg in sock.messages():
            print("%s: %s" % (args.socket, msg.decode()))
            got += 1
            if got == args.count:
                break


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="sub0")
    p.add_argument("--count", type=int, default=20,
                   help="messages to print before exiting")
    asyncio.run(main(p.parse_args()))
