"""Ready-for-work worker (blocking): ask the boss for jobs one at a time.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 ready_worker.py boss-worker1

Attaches to one of the smart sockets boss-worker0 ... boss-worker2 of
examples.conf (each connected by smartsockd to boss.py's socket boss),
sends "ready", and for each job it is sent prints "boss-worker1
IDENTITY: job N", answers "result N N*N" and "ready" again, until the
boss says "stop".  IDENTITY is this smart socket's identity, the one the
boss sees.
"""
import argparse

import smartsock


def main(args):
    with smartsock.Socket(args.socket) as sock:
        sock.send(b"ready")
        for job in sock:
            if job == b"stop":
                break
            n = int(job.split()[1])
            print("%s %s: job %d" % (args.socket, sock.identity.hex(), n))
            sock.send(b"result %d %d" % (n, n * n))
            sock.send(b"ready")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="boss-worker0")
    main(p.parse_args())
