"""What /proc says about one process, for tests that watch a daemon's
resources over time (Linux only; every function takes a pid).

    from procstat import rss_kb, fd_count, available
    if not available(pid): skip("no /proc")
    before = rss_kb(pid)

Each function raises OSError (FileNotFoundError, ProcessLookupError) when
the process is gone, so a test that reads them fails loudly rather than
measuring nothing.
"""
import os


def available(pid):
    """Whether /proc/PID/status can be read here."""
    try:
        _status(pid)
    except OSError:
        return False
    return True


def _status(pid):
    """/proc/PID/status as {field: text}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def _kb(pid, field):
    value = _status(pid).get(field)
    if value is None:           # a kernel thread or a zombie has no VmRSS
        raise ProcessLookupError("pid %d: no %s in /proc status" %
                                 (pid, field))
    return int(value.split()[0])


def rss_kb(pid):
    """Resident set size (VmRSS) in KiB."""
    return _kb(pid, "VmRSS")


def hwm_kb(pid):
    """Peak resident set size so far (VmHWM) in KiB."""
    return _kb(pid, "VmHWM")


def vsz_kb(pid):
    """Virtual memory size (VmSize) in KiB."""
    return _kb(pid, "VmSize")


def threads(pid):
    """Number of threads."""
    return int(_status(pid)["Threads"])


def fd_count(pid):
    """Open file descriptors (entries of /proc/PID/fd)."""
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_targets(pid):
    """{fd: what it points to} ('socket:[123]', '/path', 'pipe:[9]')."""
    out = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            out[int(name)] = os.readlink(os.path.join(base, name))
        except FileNotFoundError:       # closed meanwhile
            pass
    return out


def samples(pid, fn, n, interval, between=None):
    """n readings of fn(pid), `interval` seconds apart; between(i), if
    given, runs before reading i (e.g. to send more load)."""
    import time
    out = []
    for i in range(n):
        if between is not None:
            between(i)
        elif i > 0:
            time.sleep(interval)
        out.append(fn(pid))
    return out


# --- CPU time, limits, sanitizers, sampling in the background -------------

def cpu_seconds(pid):
    """User plus system CPU time used so far, in seconds (fields 14 and 15
    of /proc/PID/stat, at clock-tick resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    # The command name (field 2) may hold spaces and ')': split after it.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nofile_limit(pid):
    """(soft, hard) RLIMIT_NOFILE of the process; None is unlimited."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return tuple(None if v == "unlimited" else int(v)
                             for v in line.split()[3:5])
    raise ProcessLookupError("pid %d: no open-files limit" % pid)


def sanitized(pid):
    """Whether AddressSanitizer's runtime is mapped into the process: its
    shadow memory and quarantine make RSS larger and slower to come back,
    so memory bounds must be scaled for it."""
    with open("/proc/%d/maps" % pid) as f:
        return any("libasan" in line or "libclang_rt.asan" in line
                   for line in f)


def wait_fds(pid, want, timeout=10.0):
    """Wait until the process has exactly `want` descriptors open; returns
    the last count read (== want on success)."""
    import time
    end = time.monotonic() + timeout
    n = fd_count(pid)
    while n != want and time.monotonic() < end:
        time.sleep(0.02)
        n = fd_count(pid)
    return n


class Sampler:
    """Reads rss_kb and fd_count every `interval` seconds in a background
    thread until stop(), keeping the extremes (max_rss, min_rss, max_fds,
    min_fds, in samples readings): what a process did *during* a load.
    If the process goes away the sampling ends and `gone` is set."""

    def __init__(self, pid, interval=0.05):
        import threading
        self.pid = pid
        self.interval = interval
        self.max_rss = self.min_rss = self.max_fds = self.min_fds = None
        self.samples = 0
        self.gone = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                rss, nfd = rss_kb(self.pid), fd_count(self.pid)
            except OSError:
                self.gone = True
                return
            if self.samples == 0:
                self.max_rss = self.min_rss = rss
                self.max_fds = self.min_fds = nfd
            self.max_rss, self.min_rss = max(self.max_rss, rss), \
                min(self.min_rss, rss)
            self.max_fds, self.min_fds = max(self.max_fds, nfd), \
                min(self.min_fds, nfd)
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self):
        """End the sampling; returns self, whose fields are then final."""
        self._stop.set()
        self._thread.join(5)
        return self
