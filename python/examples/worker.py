"""Worker (blocking): do the producer's jobs, send back each result.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 worker.py worker1 [--idle 3]

Attaches to one of the smart sockets worker0 ... worker2 of examples.conf
(each connected by smartsockd to producer.py's socket jobs), squares the
number of each job it is given, prints "worker1: square 5 = 25" and
answers "5 25 worker1".  A worker waits for work for ever; this one exits
once no job has come for --idle seconds.
"""
import argparse

import smartsock


def main(args):
    with smartsock.Socket(args.socket, timeout=args.idle) as sock:
        while True:
            try:
                job = sock.recv().decode()
            except TimeoutError:
                break
            n = int(job.split()[1])
            print("%s: %s = %d" % (args.socket, job, n * n))
            sock.send(b"%d %d %s" % (n, n * n, args.socket.encode()))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="worker0")
    p.add_argument("--idle", type=float, default=3.0,
                   help="seconds without a job before exiting")
    main(p.parse_args())
