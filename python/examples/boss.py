"""Boss (blocking): give each job to a worker that said it is ready.

    SMARTSOCK_RUNTIME_DIR=/tmp/smartsock-examples/python \
        python3 boss.py [boss] [--count 9] [--workers 3]

Attaches to the smart socket boss of examples.conf.  Workers
(ready_worker.py) send "ready"; the boss answers each with the next job,
sent to exactly that worker's identity, and prints "job N -> IDENTITY".
Each result is printed as "job N = N*N from IDENTITY".  When the jobs
are done, every worker's next "ready" is answered "stop"; the boss exits
once all --count results are in and --workers workers were stopped.
"""
import argparse

import smartsock


def main(args):
    todo = list(range(args.count))
    results = 0
    stopped = set()
    with smartsock.Socket(args.socket) as sock:
        while results < args.count or len(stopped) < args.workers:
            identity, msg = sock.recv_identity()
            words = msg.decode().split()
            if words[0] == "ready" and todo:
                n = todo.pop(0)
                sock.send(b"job %d" % n, identity=identity)
                print("job %d -> %s" % (n, identity.hex()))
            elif words[0] == "ready":
                sock.send(b"stop", identity=identity)
                stopped.add(identity)
            else:                       # "result N N*N"
                results += 1
                print("job %s = %s from %s" % (words[1], words[2],
                                                identity.hex()))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket", nargs="?", default="boss")
    p.add_argument("--count", type=int, default=9)
    p.add_argument("--workers", type=int, default=3,
                   help="workers to stop before exiting")
    main(p.parse_args())
