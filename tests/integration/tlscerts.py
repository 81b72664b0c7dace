"""Test certificates for the TLS integration tests, made at test time with
the openssl command-line tool in a temporary directory (nothing is
committed, nothing outlives the test).

make() returns a Certs whose attributes are file paths:

  ca_a, ca_b              two unrelated CAs (self-signed)
  server, server_key      signed by A, CN=smartsock-test-server, SAN
                          DNS:localhost, IP:127.0.0.1, IP:::1
  server2, server2_key    the same from A with CN=smartsock-test-server-2
  client, client_key      client certificate signed by A
  client_b, client_b_key  client certificate signed by B
  expired, expired_key    a server certificate from A valid only in 2020
  wrong_key               a key that does not match `server`

probe() is a Python TLS client that reports what a server presents.

EC P-256 keys keep it fast (well under a second).  Every certificate is
checked once with `openssl verify` before it is handed out.
"""
import datetime
import os
import shutil
import socket
import ssl
import subprocess

from harness import fail, skip, tmpdir

SERVER_CN = "smartsock-test-server"
SERVER2_CN = "smartsock-test-server-2"
CLIENT_CN = "smartsock-test-client"
CLIENT_B_CN = "smartsock-test-client-b"
EXPIRED_CN = "smartsock-test-expired"
CA_A_CN = "smartsock test CA A"
CA_B_CN = "smartsock test CA B"

# One file for every `openssl req` and `openssl ca` run: the system's
# openssl.cnf adds nothing.  CA_DIR is set per CA through the environment.
CONF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid

[ca]
default_ca = this_ca
[this_ca]
dir = ${ENV::CA_DIR}
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[policy_any]
commonName = supplied
"""


class Certs:
    pass


def need_openssl():
    if shutil.which("openssl") is None:
        skip("the openssl command-line tool is absent")


def openssl(*args, env=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       timeout=30, env=env)
    if r.returncode != 0:
        fail("openssl %s: exit %d\n%s" % (" ".join(args), r.returncode,
                                         r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def _key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", path)
    return path


def _ca(top, conf, name, cn):
    """A self-signed CA in its own directory (for `openssl ca`)."""
    d = os.path.join(top, name)
    os.mkdir(d)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%s01\n" % ("a0" if name == "ca-a" else "b0"))
    key = _key(os.path.join(d, "ca.key"))
    pem = os.path.join(d, "ca.pem")
    openssl("req", "-config", conf, "-new", "-x509", "-key", key,
            "-subj", "/CN=" + cn, "-days", "30", "-sha256",
            "-extensions", "ca_ext", "-out", pem, env=_env(d))
    return d, pem


def _env(ca_dir):
    return dict(os.environ, CA_DIR=ca_dir)


def _leaf(top, conf, ca_dir, name, cn, ext, dates=None, key=None):
    """A certificate signed by the CA in ca_dir; returns (pem, key)."""
    key = key or _key(os.path.join(top, name + ".key"))
    csr = os.path.join(top, name + ".csr")
    pem = os.path.join(top, name + ".pem")
    openssl("req", "-config", conf, "-new", "-key", key, "-subj", "/CN=" + cn,
            "-out", csr, env=_env(ca_dir))
    when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else []
    openssl("ca", "-config", conf, "-batch", "-notext", "-in", csr,
            "-extensions", ext, "-out", pem, *when, env=_env(ca_dir))
    os.unlink(csr)
    return pem, key


def _verify(ca, pem, purpose, *extra):
    out = openssl("verify", "-CAfile", ca, "-purpose", purpose, *extra, pem)
    if not out.strip().endswith("OK"):
        fail("openssl verify %s: %s" % (pem, out))


def make():
    need_openssl()
    top = tmpdir()
    conf = os.path.join(top, "openssl.cnf")
    with open(conf, "w") as f:
        f.write(CONF)
    c = Certs()
    c.dir = top
    dir_a, c.ca_a = _ca(top, conf, "ca-a", CA_A_CN)
    dir_b, c.ca_b = _ca(top, conf, "ca-b", CA_B_CN)
    c.server, c.server_key = _leaf(top, conf, dir_a, "server", SERVER_CN,
                                   "server_ext")
    c.server2, c.server2_key = _leaf(top, conf, dir_a, "server2", SERVER2_CN,
                                     "server_ext")
    c.client, c.client_key = _leaf(top, conf, dir_a, "client", CLIENT_CN,
                                   "client_ext")
    c.client_b, c.client_b_key = _leaf(top, conf, dir_b, "client-b",
                                       CLIENT_B_CN, "client_ext")
    c.expired, c.expired_key = _leaf(top, conf, dir_a, "expired", EXPIRED_CN,
                                     "server_ext",
                                     ("20200101000000Z", "20200102000000Z"))
    c.wrong_key = _key(os.path.join(top, "wrong.key"))

    for pem in (c.server, c.server2):
        _verify(c.ca_a, pem, "sslserver")
    _verify(c.ca_a, c.client, "sslclient")
    _verify(c.ca_b, c.client_b, "sslclient")
    # The expired one is well signed, and refused now for its dates only.
    _verify(c.ca_a, c.expired, "sslserver", "-no_check_time")
    r = subprocess.run(["openssl", "verify", "-CAfile", c.ca_a, c.expired],
                       capture_output=True, timeout=30)
    if r.returncode == 0 or b"certificate has expired" not in r.stderr:
        fail("the expired certificate is not refused as expired: %r" % (r,))
    r = subprocess.run(["openssl", "verify", "-CAfile", c.ca_a, c.client_b],
                       capture_output=True, timeout=30)
    if r.returncode == 0:
        fail("CA A accepts the client certificate from CA B")
    if pubkey_of_cert(c.server) == pubkey_of_key(c.wrong_key) or \
            pubkey_of_cert(c.server) != pubkey_of_key(c.server_key):
        fail("the server key / wrong key are not what they claim")
    return c


def pubkey_of_cert(pem):
    return openssl("x509", "-in", pem, "-noout", "-pubkey")


def pubkey_of_key(key):
    return openssl("pkey", "-in", key, "-pubout")


def probe(port, ca, maxv=None, ciphers=None, host="127.0.0.1"):
    """A Python TLS client trusting ca: (server CN, version, cipher), or
    (None, None, None, the SSLError) when the handshake fails."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if maxv:
        ctx.maximum_version = maxv
    if ciphers:
        ctx.set_ciphers(ciphers)
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                subject = dict(x[0] for x in t.getpeercert()["subject"])
                return subject["commonName"], t.version(), t.cipher()[0]
    except ssl.SSLError as e:
        return None, None, None, e


def not_after(pem):
    """The certificate's notAfter as the daemon reports it,
    YYYY-MM-DDTHH:MM:SSZ."""
    text = openssl("x509", "-in", pem, "-noout", "-enddate")
    stamp = ssl.cert_time_to_seconds(text.strip().split("=", 1)[1])
    return datetime.datetime.fromtimestamp(
        stamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    made = make()
    for k, v in sorted(vars(made).items()):
        print("%-14s %s" % (k, v))
