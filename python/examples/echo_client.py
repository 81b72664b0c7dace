"""Echo client (asyncio): send messages, print the echoes.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 echo_client.py [echo-client] [--count 5] [--interval 0.1]

Attaches to the smart socket echo-client of examples.conf (smartsockd
connects it to echo-server) and, while one task sends "hello N" every
--interval seconds, prints "echo: hello N" for each message that comes
back; exits after --count echoes.  Run echo_server.py too.
"""
import argparse
import asyncio

import smartsock


async def send_hellos(sock, count, interval):
    for i in range(count):
        await sock.send(b"hello %d" % i)
        await asyncio.sleep(interval)


async def main(args):
    async with smartsock.AsyncSocket(args.socket) as sock:
        sender = asyncio.create_task(
            send_hellos(sock, args.count, args.interval))
        echoes = 0
        async for msg in sock.messages():
            print("echo:", msg.decode())
            echoes += 1
            if echoes == args.count:
                break
        await sender


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="echo-client")
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--interval", type=float, default=0.1)
    asyncio.run(main(p.parse_args()))
