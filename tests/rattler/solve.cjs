// Solves SPECS (JSON array) against CHANNELS (JSON array of URLs) for linux-64 + noarch with rattler and
// prints name-version-build per package, sorted: the reference tests/cli/22-conda-lock.sh compares with.
const { simpleSolve } = require("@conda-org/rattler");
const [specs, channels] = [JSON.parse(process.argv[2]), JSON.parse(process.argv[3])];
simpleSolve(specs, channels, ["linux-64", "noarch"], []).then(
  (pkgs) => { for (const p of pkgs.map((p) => `${p.packageName}-${p.version}-${p.build}`).sort()) console.log(p); },
  (e) => { console.error(String(e)); process.exit(1); });
