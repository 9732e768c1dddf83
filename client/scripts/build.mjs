// Builds dist/peerpyrtc.esm.js and dist/peerpyrtc.umd.js, and copies them into the
// Python package (src/peerpyrtc/static) so `pip install peerpyrtc` serves them.
// Output is deterministic: no timestamps, no minification.
// Usage: node scripts/build.mjs [outDir ...]   (default: dist and the Python package)

import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const banner = `/* peerpyrtc-client ${version} | MIT | built from client/src by esbuild */`;
const common = {
  entryPoints: [join(root, 'src/index.js')],
  bundle: true,
  write: false,
  target: 'es2020',
  legalComments: 'none',
  charset: 'utf8',
};

const esm = await build({ ...common, format: 'esm', banner: { js: banner } });
const cjs = await build({ ...common, format: 'cjs' });
// UMD: AMD, CommonJS, or the global `WebRTCConnection` namespace (the seed's CDN snippet:
// `const { WebRTCConnection } = window.WebRTCConnection;`).
const umd = `${banner}
(function (root, factory) {
  if (typeof define === 'function' && define.amd) define([], factory);
  else if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.WebRTCConnection = factory();
})(typeof self !== 'undefined' ? self : this, function () {
var module = { exports: {} };
var exports = module.exports;
${cjs.outputFiles[0].text}
return module.exports;
});
`;

const outDirs = process.argv.slice(2);
if (!outDirs.length) outDirs.push(join(root, 'dist'), join(root, '..', 'src', 'peerpyrtc', 'static'));
for (const dir of outDirs) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'peerpyrtc.esm.js'), esm.outputFiles[0].text);
  writeFileSync(join(dir, 'peerpyrtc.umd.js'), umd);
  // the package is "type": "module": CommonJS `require` needs the same UMD as .cjs
  if (dir.endsWith('dist')) writeFileSync(join(dir, 'peerpyrtc.cjs'), umd);
  console.log(`built ${dir}/peerpyrtc.{esm,umd}.js`);
}
