"""Certificates made by the tests (a CA, a server certificate) and a Chromium that trusts
that CA: its own home with an NSS database (Chromium on Linux reads ~/.pki/nssdb)."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from collections.abc import Sequence
from pathlib import Path


def make_certificate(folder: Path, host: str, ips: Sequence[str] = ()) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for ``host`` (and ``ips``): (ca.pem, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    week = datetime.timedelta(days=7)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peerpyrtc test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - week).not_valid_after(now + week)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - week).not_valid_after(now + week)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / f"{host}.crt", folder / f"{host}.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return paths


def chromium_wrapper(
    folder: Path, name: str, *, ca: Path | None = None, prefix: Sequence[str] = ()
) -> str:
    """A script that starts Debian's Chromium with its own home (trusting ``ca``), after
    ``prefix`` (``ip netns exec NAME``, say); Playwright starts it as its executable."""
    home = folder / f"home-{name}"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    if ca is not None:

        def certutil(*args: str) -> None:
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True,
                           capture_output=True, stdin=subprocess.DEVNULL)  # fmt: skip

        if not (nssdb / "cert9.db").exists():
            certutil("-N", "--empty-password")
        certutil("-A", "-t", "C,,", "-n", "test-ca", "-i", str(ca))
    wrapper = folder / f"chromium-{name}"
    wrapper.write_text(f'#!/bin/sh\nHOME={home} exec {" ".join(prefix)} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)
