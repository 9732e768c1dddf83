"""peerpyrtc-client as npm would publish it: pack, install the tarball into a scratch project,
import it from ESM and from CommonJS, and type-check a usage file against its types."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="needs node and npm")

USAGE = """import { WebRTCConnection, WebRTCRoomManager, ErrorCodes, type Peer } from 'peerpyrtc-client';
const rtc = new WebRTCConnection('room', { peerId: 'me', meshIceTransportPolicy: 'relay' });
const peers: Peer[] = rtc.getRoomPeers();
const direct: boolean | undefined = peers[0]?.isDirect;
const code: string = ErrorCodes.ERR_CLOSED;
const manager = new WebRTCRoomManager('me');
console.log(direct, code, manager, rtc.topology);
// @ts-expect-error emit needs an event name
rtc.emit();
"""


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def test_the_packed_package_installs_and_imports_both_ways(tmp_path: Path) -> None:
    meta = json.loads((CLIENT / "package.json").read_text())
    from packaging.version import Version

    from peerpyrtc import __version__

    assert meta["name"] == "peerpyrtc-client"
    assert Version(meta["version"]) == Version(__version__)  # each in its own spelling
    assert meta["sideEffects"] is False and meta["license"] == "MIT"
    # prepack builds dist/ (what a publish ships); its output comes before the JSON
    out = run("npm", "pack", "--json", "--pack-destination", str(tmp_path), cwd=CLIENT)
    packed = json.loads(out[out.index("\n[") + 1 :] if not out.startswith("[") else out)
    files = {f["path"] for f in packed[0]["files"]}
    assert {"dist/peerpyrtc.umd.js", "dist/peerpyrtc.esm.js", "index.d.ts", "package.json"} <= files
    assert not any(f.startswith(("test/", "node_modules/", "types-test/")) for f in files)
    tarball = tmp_path / packed[0]["filename"]
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(
        json.dumps({"name": "app", "private": True, "type": "module"})
    )
    run("npm", "install", "--no-audit", "--no-fund", "--offline", str(tarball), cwd=app)
    esm = run("node", "--input-type=module", "-e", (
        "import { WebRTCConnection, WebRTCRoomManager, ErrorCodes } from 'peerpyrtc-client';"
        "const rtc = new WebRTCConnection('room', { peerId: 'me' });"
        "console.log(typeof WebRTCRoomManager, ErrorCodes.ERR_CLOSED, rtc.peerId, rtc.getConnectionStatus());"
    ), cwd=app)  # fmt: skip
    assert esm.split() == ["function", "ERR_CLOSED", "me", "disconnected"]
    cjs = run("node", "-e", (
        "const { WebRTCConnection, ErrorCodes } = require('peerpyrtc-client');"
        "console.log(typeof WebRTCConnection, ErrorCodes.ERR_CLOSED);"
    ), cwd=app)  # fmt: skip
    assert cjs.split() == ["function", "ERR_CLOSED"]
    (app / "usage.ts").write_text(USAGE)
    (app / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
        "target": "es2020", "lib": ["es2020", "dom"], "skipLibCheck": False,
    }, "files": ["usage.ts"]}))  # fmt: skip
    tsc = CLIENT / "node_modules" / "typescript" / "bin" / "tsc"
    run("node", str(tsc), "-p", "tsconfig.json", cwd=app)
    (app / "usage.ts").write_text(
        USAGE.replace("'me');\nconsole", "'me');\nconst n: number = rtc.topology;\nconsole")
    )
    failed = subprocess.run(
        ["node", str(tsc), "-p", "tsconfig.json"], cwd=app, capture_output=True, text=True
    )
    assert failed.returncode != 0 and "TS2322" in failed.stdout  # the types are real, not any
