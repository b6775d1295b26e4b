// DuckDB reads csv, csv-zstd and csv-gzip reports of a hostile tree:
// header detected, numeric columns typed, count(*) equal to the entries,
// every filename round-trips to the bytes on disk, and the README's
// queries run; and the reports of a scan suspended and resumed.  Writes JUnit XML to $XML_OUTPUT_FILE (one case per check).
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const engine = process.env.PWALK_ENGINE;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pwalk-duckdb-'));
const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push({ name });
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push({ name, failure: String(e && e.stack || e) });
    console.log(`FAIL ${name}: ${e && e.message}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
const J = x => JSON.stringify(x, (k, v) => typeof v === 'bigint' ? v.toString() : v);

// ---- a tree with hostile names (as raw bytes) -----------------------------
const root = Buffer.from(path.join(work, 'tree'));
const B = (...parts) => Buffer.concat(parts.map(p => typeof p === 'string' ? Buffer.from(p) : p));
fs.mkdirSync(root);
const names = [
  'plain.txt', 'comma,name.csv', 'quote"name', 'new\nline.c', 'back\\slash', 'tab\tname',
  B('bad', Buffer.from([0xff, 0xfe]), '.bin'), B('caf', Buffer.from([0xc3, 0xa9])), 'sp ace',
];
fs.mkdirSync(B(root, '/dir'));
fs.mkdirSync(B(root, '/dir/sub'));
for (const n of names) {
  fs.writeFileSync(B(root, '/', n), 'x'.repeat(10));
  fs.writeFileSync(B(root, '/dir/sub/', n), 'y'.repeat(1000));
}
const old = B(root, '/dir/old.log');
fs.writeFileSync(old, 'z');
const threeYearsAgo = Date.now() / 1000 - 3 * 365 * 86400;
fs.utimesSync(old, threeYearsAgo, threeYearsAgo);
fs.symlinkSync('nowhere', B(root, '/dangling'));

// the expected set of paths, as bytes
const expected = new Set();
(function walk(p) {
  expected.add(p.toString('latin1'));
  if (!fs.lstatSync(p).isDirectory()) return;
  for (const n of fs.readdirSync(p, { encoding: 'buffer' })) walk(B(p, '/', n));
})(root);

// ---- reports ----------------------------------------------------------------
const cfg = path.join(work, 'p.yaml');
fs.writeFileSync(cfg, `version: 1
scan: {threads: 2}
sinks:
  - {name: plain, plugin: csv, options: {path: '${work}/scan.csv'}}
  - {name: zstd, plugin: csv-zstd, options: {path: '${work}/scan.csv.zst'}}
  - {name: gzip, plugin: csv-gzip, options: {path: '${work}/scan.csv.gz'}}
`);
const run = spawnSync(engine, ['-q', '-c', cfg, root.toString('latin1') === root.toString() ? root.toString() : root], { encoding: 'utf8' });

function unescape(s) {
  // undo the lossless rules: \\ -> \, \xHH -> byte; the rest is UTF-8
  const out = [];
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x5c && bytes[i + 1] === 0x5c) { out.push(0x5c); i++; }
    else if (bytes[i] === 0x5c && bytes[i + 1] === 0x78) {
      out.push(parseInt(bytes.slice(i + 2, i + 4).toString(), 16)); i += 3;
    } else out.push(bytes[i]);
  }
  return Buffer.from(out);
}

const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();

await check('engine wrote the reports', () => {
  assert(run.status === 0, `exit ${run.status}: ${run.stderr}`);
});
const header = ['inode', 'parent-inode', 'directory-depth', 'filename', 'fileExtension', 'UID',
  'GID', 'st_size', 'st_dev', 'st_blocks', 'st_nlink', 'st_mode', 'st_atime', 'st_mtime',
  'st_ctime', 'pw_fcount', 'pw_dirsum'];
const numeric = header.filter(c => !['filename', 'fileExtension', 'st_mode'].includes(c));
for (const file of ['scan.csv', 'scan.csv.zst', 'scan.csv.gz']) {
  const f = `${work}/${file}`;
  await check(`${file}: header detected, numeric columns typed`, async () => {
    const d = await rows(`DESCRIBE SELECT * FROM read_csv('${f}')`);
    assert(JSON.stringify(d.map(r => r.column_name)) === JSON.stringify(header),
      `columns ${d.map(r => r.column_name)}`);
    for (const r of d)
      if (numeric.includes(r.column_name))
        assert(/INT/.test(r.column_type), `${r.column_name} is ${r.column_type}`);
  });
  await check(`${file}: count(*) equals the entries on disk`, async () => {
    const [r] = await rows(`SELECT count(*) AS n FROM read_csv('${f}')`);
    assert(Number(r.n) === expected.size, `${r.n} rows, ${expected.size} entries`);
  });
  await check(`${file}: every filename round-trips to the bytes on disk`, async () => {
    const got = new Set((await rows(`SELECT filename FROM read_csv('${f}')`))
      .map(r => unescape(r.filename).toString('latin1')));
    for (const p of expected) assert(got.has(p), `missing ${JSON.stringify(p)}`);
    assert(got.size === expected.size, `${got.size} distinct names`);
  });
}

// ---- the README's queries, against the zstd report -------------------------
const z = `'${work}/scan.csv.zst'`;
await check('README: space per UID', async () => {
  const r = await rows(`SELECT UID, sum(st_size) AS bytes, count(*) AS files
    FROM read_csv(${z}) GROUP BY UID ORDER BY bytes DESC`);
  const total = [...expected].reduce((s, p) => s + fs.lstatSync(Buffer.from(p, 'latin1')).size, 0);
  assert(r.length >= 1 && Number(r.reduce((s, x) => s + Number(x.bytes), 0)) === total,
    `sum ${J(r)} vs ${total}`);
});
await check('README: largest directories by pw_dirsum', async () => {
  const r = await rows(`SELECT filename, pw_dirsum, pw_fcount FROM read_csv(${z})
    WHERE st_mode LIKE '004%' ORDER BY pw_dirsum DESC LIMIT 10`);
  assert(unescape(r[0].filename).toString('latin1') === B(root, '/dir/sub').toString('latin1'),
    `largest is ${r[0].filename}`);
  assert(Number(r[0].pw_fcount) === names.length, `fcount ${r[0].pw_fcount}`);
});
await check('README: files not modified in two years', async () => {
  const r = await rows(`SELECT filename, to_timestamp(st_mtime) AS modified FROM read_csv(${z})
    WHERE st_mode LIKE '010%' AND st_mtime < epoch(now() - INTERVAL 2 YEAR)`);
  assert(r.length === 1 && unescape(r[0].filename).equals(old), J(r));
});

// ---- shards of a scan over MPI ranks, read with one glob --------------------
const mpi = process.env.PWALK_MPI;
if (mpi) {
  const out = path.join(work, 'mpi');
  fs.mkdirSync(out);
  const mcfg = path.join(work, 'mpi.yaml');
  fs.writeFileSync(mcfg, `version: 1
scan: {threads: 2}
sinks:
  - {name: zstd, plugin: csv-zstd, options: {path: '${out}/scan.csv.zst'}}
`);
  const args = ['--oversubscribe', '-np', '3', mpi, '-q', '-c', mcfg, root];
  if (process.getuid && process.getuid() === 0) args.unshift('--allow-run-as-root');
  // under --config=asan: Open MPI's unloaded components leave leaks LSan
  // cannot attribute; under --config=tsan: reports from inside Open MPI are
  // not ours (both as in tests/mpi/mpi_test.py, same suppression file)
  const env = { ...process.env };
  if (env.ASAN_OPTIONS) env.ASAN_OPTIONS += ':detect_leaks=0';
  if (env.TSAN_OPTIONS) env.TSAN_OPTIONS += `:suppressions=${process.env.PWALK_MPI_TSAN_SUPP}`;
  const m = spawnSync('mpirun', args, { encoding: 'utf8', timeout: 120000, env });
  await check('pwalk-mpi: 3 shards and a manifest', () => {
    assert(m.status === 0, `mpirun exit ${m.status}: ${m.stderr}`);
    const man = JSON.parse(fs.readFileSync(`${out}/scan.manifest.json`, 'utf8'));
    assert(man.complete === true && man.ranks === 3, J(man));
    assert(man.sinks[0].shards.length === 3, J(man.sinks[0]));
  });
  const g = `'${out}/scan.part-*.csv.zst'`;
  await check('pwalk-mpi shards: one glob, count(*) and every filename', async () => {
    const [r] = await rows(`SELECT count(*) AS n FROM read_csv(${g})`);
    assert(Number(r.n) === expected.size, `count ${r.n} != ${expected.size}`);
    const got = new Set((await rows(`SELECT filename FROM read_csv(${g})`))
      .map(x => unescape(x.filename).toString('latin1')));
    for (const e of expected) assert(got.has(e), `missing ${J(e)}`);
  });
  await check('pwalk-mpi shards: typed columns across the glob', async () => {
    const d = await rows(`DESCRIBE SELECT * FROM read_csv(${g})`);
    const types = Object.fromEntries(d.map(x => [x.column_name, x.column_type]));
    for (const c of numeric) assert(/INT/.test(types[c]), `${c}: ${types[c]}`);
  });

  // Idle ranks (4 ranks, a 2-entry tree) with header: false wrote 0-byte
  // shards: DuckDB said "Input is not a GZIP stream".  Each is now one empty
  // gzip member, and path scan.csv is written as scan.part-NNNN.csv.gz.
  const tiny = path.join(work, 'tiny');
  const out2 = path.join(work, 'mpi-idle');
  fs.mkdirSync(tiny);
  fs.mkdirSync(out2);
  fs.writeFileSync(path.join(tiny, 'only'), 'z');
  const icfg = path.join(work, 'idle.yaml');
  fs.writeFileSync(icfg, `version: 1
scan: {threads: 2}
sinks:
  - {name: gz, plugin: csv-gzip, options: {path: '${out2}/scan.csv', header: false}}
`);
  const iargs = ['--oversubscribe', '-np', '4', mpi, '-q', '-c', icfg, tiny];
  if (process.getuid && process.getuid() === 0) iargs.unshift('--allow-run-as-root');
  const im = spawnSync('mpirun', iargs, { encoding: 'utf8', timeout: 120000, env });
  await check('pwalk-mpi: idle ranks\' headerless gzip shards read with one glob', async () => {
    assert(im.status === 0, `mpirun exit ${im.status}: ${im.stderr}`);
    const shards = fs.readdirSync(out2).filter(n => n.endsWith('.csv.gz')).sort();
    assert(J(shards) === J([0, 1, 2, 3].map(k => `scan.part-000${k}.csv.gz`)), J(shards));
    // headerless files with no rows have no columns: union_by_name lines them up
    const [r] = await rows(`SELECT count(*) AS n FROM read_csv('${out2}/scan.part-*.csv.gz',
      header = false, union_by_name = true)`);
    assert(Number(r.n) === 2, `count ${r.n} != 2`);
  });
}

// ---- a scan suspended at checkpoints and resumed (issue 19) ------------------
// Each resumed output is the first session's part continued, one frame or
// gzip member after another: DuckDB reads it as one file, every entry once.
{
  const tree = path.join(work, 'resumed-tree');
  let count = 1;
  fs.mkdirSync(tree);
  for (let d = 0; d < 60; d++) {
    fs.mkdirSync(path.join(tree, `d${d}`));
    count++;
    for (let f = 0; f < 200; f++, count++) fs.closeSync(fs.openSync(path.join(tree, `d${d}`, `f${f}`), 'w'));
  }
  const out3 = path.join(work, 'resumed');
  fs.mkdirSync(out3);
  const rcfg = path.join(work, 'resumed.yaml');
  fs.writeFileSync(rcfg, `version: 1
scan: {threads: 2}
sinks:
  - {name: plain, plugin: csv, options: {path: '${out3}/scan.csv'}}
  - {name: zstd, plugin: csv-zstd, options: {path: '${out3}/scan.csv.zst'}}
  - {name: gzip, plugin: csv-gzip, options: {path: '${out3}/scan.csv.gz'}}
`);
  const journal = path.join(work, 'resumed.journal');
  // the first session suspends at its first checkpoint (1 ms), the others
  // after 10 ms each, until the walk completes
  const statuses = [];
  let args = ['--checkpoint', journal, '--time-limit', '1ms', '--checkpoint-every', '1ms'];
  for (let i = 0; i < 200; i++) {
    const r = spawnSync(engine, ['-q', '-c', rcfg, ...args, tree], { encoding: 'utf8' });
    statuses.push(r.status);
    if (r.status !== 75) break;
    args = ['--resume', journal, '--time-limit', '10ms', '--checkpoint-every', '5ms'];
  }
  await check('resumed scan: suspended (75) then completed (0)', () => {
    assert(statuses.length > 1 && statuses.at(-1) === 0 &&
           statuses.slice(0, -1).every(s => s === 75), `statuses ${J(statuses)}`);
    assert(!fs.existsSync(journal), 'journal left behind');
    const left = fs.readdirSync(out3).sort();
    assert(J(left) === J(['scan.csv', 'scan.csv.gz', 'scan.csv.zst']), J(left));
  });
  for (const file of ['scan.csv', 'scan.csv.zst', 'scan.csv.gz']) {
    await check(`resumed ${file}: header, every entry once`, async () => {
      const f = `${out3}/${file}`;
      const d = await rows(`DESCRIBE SELECT * FROM read_csv('${f}')`);
      assert(J(d.map(r => r.column_name)) === J(header), `columns ${d.map(r => r.column_name)}`);
      const [r] = await rows(`SELECT count(*) AS n, count(DISTINCT inode) AS i FROM read_csv('${f}')`);
      assert(Number(r.n) === count && Number(r.i) === count, `${J(r)} for ${count} entries`);
    });
  }
}

// ---- JUnit XML for the test runner -----------------------------------------
const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="duckdb" tests="${results.length}" failures="${results.filter(r => r.failure).length}">
${results.map(r => `<testcase name="${esc(r.name)}" classname="duckdb">${r.failure ? `<failure message="failed">${esc(r.failure)}</failure>` : ''}</testcase>`).join('\n')}
</testsuite></testsuites>
`;
if (process.env.XML_OUTPUT_FILE) fs.writeFileSync(process.env.XML_OUTPUT_FILE, xml);
fs.rmSync(work, { recursive: true, force: true });
process.exit(results.some(r => r.failure) ? 1 : 0);
