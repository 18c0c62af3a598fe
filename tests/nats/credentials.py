#!/usr/bin/python3
"""Makes an operator, an account with JetStream and a user for a nats-server in operator
mode, as `nsc` would (nsc is not in Debian): NKeys and JWTs signed with Ed25519 from
python3-cryptography. Writes into DIR:

  server.conf   the operator, a system account and a memory resolver preloaded with both
                accounts (give it with -c; listen and JetStream options on the command line)
  user.creds    the user's JWT and seed, the file `creds=` / `--creds` takes

Usage: credentials.py DIR. Exit status 2 when python3-cryptography is missing (the tests
skip then, saying so).
"""

import base64
import hashlib
import json
import pathlib
import sys
import time

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:
    print("python3-cryptography is missing (apt-get install python3-cryptography)",
          file=sys.stderr)
    sys.exit(2)

# NKey prefixes (nkeys/strkey.go): the first base32 letter says what a key is.
PREFIX_SEED = 18 << 3
PREFIX_OPERATOR = 14 << 3
PREFIX_ACCOUNT = 0
PREFIX_USER = 20 << 3


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM, as nkeys checksums its keys."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def encode(raw: bytes) -> str:
    raw += crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


class NKey:
    def __init__(self, prefix: int):
        self.prefix = prefix
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        self.public = encode(bytes([prefix]) + public)
        private = self.key.private_bytes(serialization.Encoding.Raw,
                                         serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
        self.seed = encode(bytes([PREFIX_SEED | (prefix >> 5), (prefix & 31) << 3]) + private)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer: NKey, subject: NKey, name: str, nats: dict) -> str:
    claims = {"iat": int(time.time()), "iss": issuer.public, "name": name,
              "sub": subject.public, "nats": dict(nats, version=2)}
    # jti: the base32 SHA-512/256 of the claims without it (jwt/v2 claims.go hash()).
    digest = hashlib.new("sha512_256", json.dumps(claims).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = issuer.key.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{b64url(signature)}"


def main(directory: str) -> None:
    out = pathlib.Path(directory)
    operator, account, user = NKey(PREFIX_OPERATOR), NKey(PREFIX_ACCOUNT), NKey(PREFIX_USER)
    # JetStream needs a system account for its internal subscriptions.
    system = NKey(PREFIX_ACCOUNT)
    operator_jwt = jwt(operator, operator, "pysyncq-test-operator",
                       {"type": "operator", "system_account": system.public})
    system_jwt = jwt(operator, system, "SYS", {"type": "account"})
    unlimited = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                 "wildcards": True, "conn": -1, "leaf": -1,
                 # JetStream on for the account: any non-zero storage limit.
                 "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
    account_jwt = jwt(operator, account, "pysyncq-test-account",
                      {"type": "account", "limits": unlimited})
    user_jwt = jwt(account, user, "pysyncq-test-user",
                   {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1})
    (out / "operator.jwt").write_text(operator_jwt + "\n")
    (out / "server.conf").write_text(
        f'operator: "{out / "operator.jwt"}"\n'
        f"system_account: {system.public}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n  {account.public}: \"{account_jwt}\"\n"
        f"  {system.public}: \"{system_jwt}\"\n}}\n")
    (out / "user.creds").write_text(
        "-----BEGIN NATS USER JWT-----\n" + user_jwt + "\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n" + user.seed + "\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n")
    (out / "user.creds").chmod(0o600)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
