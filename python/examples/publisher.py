"""Publisher (blocking): send numbered news to every subscriber.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 publisher.py [pub] [--count 20] [--interval 0.1]

Attaches to the smart socket pub of examples.conf, whose send_mode =
publish makes smartsockd copy each message to every connected peer (the
ten sockets sub0 ... sub9), sends "news N" every --interval seconds,
--count times, and exits.  Start the subscribers (subscriber.py) first.
"""
import argparse
import time

import smartsock


def main(args):
    with smartsock.Socket(args.socket) as sock:
        for i in range(args.count):
            sock.send(b"news %d" % i)
            time.sleep(args.interval)
    print("published %d messages" % args.count)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="pub")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.1)
    main(p.parse_args())
