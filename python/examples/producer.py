"""Job producer (blocking): hand jobs out round-robin, collect results.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 producer.py [jobs] [--count 12]

Attaches to the smart socket jobs of examples.conf, whose send_mode =
roundrobin makes smartsockd give each message to one connected worker
socket in turn.  Sends the jobs "square 0" ... "square N-1", then prints
each result as it comes back, "job N -> N*N by workerK", and exits once
all --count are in.  Start the workers (worker.py) first.
"""
import argparse

import smartsock


def main(args):
    with smartsock.Socket(args.socket) as sock:
        for n in range(args.count):
            sock.send(b"square %d" % n)
        for _ in range(args.count):
            n, result, worker = sock.recv().decode().split()
            print("job %s -> %s by %s" % (n, result, worker))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="jobs")
    p.add_argument("--count", type=int, default=12)
    main(p.parse_args())
