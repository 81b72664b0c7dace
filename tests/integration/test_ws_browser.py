"""A real browser as an aiomsg peer: headless Debian chromium loads
ws-browser.html from an HTTP server this test runs on loopback; the page
opens `new WebSocket("ws://127.0.0.1:PORT/")` (binaryType arraybuffer),
sends its HELLO and, after the daemon's, a DATA that `smartsock-cat recv`
on the daemon receives with the page's identity; the reply sent with
`smartsock-cat send --to` is shown in the page, which reports what it
shows back to the test's server (/result?...).  The socket allows only the
page's origin (websocket_origins): a second WebSocket of the same page, to
a socket that allows another origin, is refused.  Nothing
negotiated (chromium offers permessage-deflate).  Skipped (77) without
chromium."""
import atexit
import http.server
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

from harness import (SRC, Daemon, check, collect, fail, free_port, passed,
                     skip, sock, step, tmpdir, wait_peers)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    skip("chromium is not installed")
PAGE = os.path.join(SRC, "tests", "integration", "ws-browser.html")

results = []
cond = threading.Condition()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/page.html":
            with open(PAGE, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        elif url.path == "/result":
            with cond:
                results.append({k: v[0] for k, v in urllib.parse.parse_qs(
                    url.query, keep_blank_values=True).items()})
                cond.notify_all()
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def wait_result(tag, event, timeout=60.0):
    """The first report of event from the page's peer tagged tag."""
    end = time.monotonic() + timeout
    with cond:
        while True:
            for r in results:
                if r.get("tag") == tag and r.get("event") == event:
                    return r
            gone = [r for r in results if r.get("tag") == tag and
                    r.get("event") == "close"]
            left = end - time.monotonic()
            if left <= 0 or browser.poll() is not None or gone:
                fail("no %r from peer %r (chromium %s); reports %r; "
                     "chromium's log:\n%s" % (
                         event, tag, "running" if browser.poll() is None else
                         "exited %d" % browser.returncode, results,
                         chromium_log()))
            cond.wait(min(left, 0.5))


http_port = free_port()
server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
atexit.register(server.shutdown)
ORIGIN = "http://127.0.0.1:%d" % http_port

p_web, p_other = free_port(), free_port()
d = Daemon({"web": sock(bind="127.0.0.1:%d" % p_web, websocket="on",
                        websocket_origins=ORIGIN, heartbeat_timeout="10s"),
            "other": sock(bind="127.0.0.1:%d" % p_other, websocket="on",
                          websocket_origins="https://app.example")})
IDENT = "b7" * 16
SEND = "from the browser"
REPLY = "reply to the browser \u2713 \u00e9"


def page():
    return "%s/page.html?%s" % (ORIGIN, urllib.parse.urlencode(
        [("send", SEND), ("peer", "good:%d:%s" % (p_web, IDENT)),
         ("peer", "refused:%d:%s" % (p_other, "b8" * 16))]))


profile = tmpdir()
log_path = os.path.join(profile, "chromium.log")


def chromium_log():
    try:
        with open(log_path, errors="replace") as f:
            return "\n".join(f.read().splitlines()[-30:])
    except OSError:
        return ""


step("headless chromium loads the page")
recv = d.cat_bg("recv", "web", "-n", "1", "--identity", "--timeout", "60")
with open(log_path, "wb") as log:
    # Its own process group, so that every helper process goes with it;
    # a dead proxy for any address but loopback keeps it off the network.
    browser = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
         "--user-data-dir=" + os.path.join(profile, "profile"),
         "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--proxy-server=http://127.0.0.1:9",
         page()],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        start_new_session=True)


def stop_browser():
    if browser.poll() is None:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    end = time.monotonic() + 10
    try:
        os.killpg(browser.pid, signal.SIGKILL)      # its helpers, if any
        while time.monotonic() < end:
            os.killpg(browser.pid, 0)
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    browser.wait(10)


atexit.register(stop_browser)

r = wait_result("good", "open")
check(r.get("extensions") == "" and r.get("protocol") == "",
      "negotiated with chromium: %r" % r)
r = wait_result("good", "hello")
check(r.get("identity") == d.status_of("web")["identity"],
      "the page's view of the daemon's HELLO: %r" % r)

step("browser -> daemon")
got = collect(recv, 60)
check(got == [IDENT + "\t" + SEND], "smartsock-cat recv got %r" % got)
wait_peers(d, "web", [IDENT])
pe = d.ctl_json("peers", "web")["peers"]
check(len(pe) == 1 and pe[0].get("transport") == "websocket",
      "the browser in peers: %r" % pe)

step("daemon -> browser, shown in the page")
r = d.cat("send", "web", "--to", IDENT, REPLY)
check(r.returncode == 0, "smartsock-cat send: %r" % (r,))
r = wait_result("good", "data", 30)
check(r.get("got") == REPLY, "the page shows %r, not %r" % (r.get("got"),
                                                            REPLY))

step("another socket's Origin list refuses the page")
r = wait_result("refused", "close", 30)
check(r.get("code") == "1006", "refused page closed with %r" % r)
check(not any(x.get("tag") == "refused" and x.get("event") == "open"
              for x in results), "the refused page opened: %r" % results)
c = d.status_of("other")["counters"]
check(c.get("websocket.refused") == 1 and c.get("websocket.upgrades") == 0,
      "other's counters: %r" % c)
c = d.status_of("web")["counters"]
check(c.get("websocket.upgrades") == 1 and c.get("websocket.refused") == 0
      and c.get("websocket.errors") == 0, "web's counters: %r" % c)
check(not any(x.get("event") == "error" and x.get("tag") == "good"
              for x in results), "the page reported an error: %r" % results)

stop_browser()
check(d.stop() == 0, "daemon did not stop cleanly")
passed("ws browser")
