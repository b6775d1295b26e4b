// The DuckDB side of run.py's pwalk-diff case (issue 16): what a user
// writes today to compare two scans -- a FULL OUTER JOIN of the two
// .csv.zst reports on (st_dev, inode) -- doing the work pwalk-diff does:
// the changed rows written out as CSV, and per-user totals by pwalk-diff's
// rules (engine/diff/README.md, by_user.csv), printed as JSON for run.py
// to compare with pwalk-diff's by_user.csv.
//
//     node diff_duckdb.mjs OLD.csv.zst NEW.csv.zst OUT_DIR THREADS
// (NODE_PATH does not reach ESM imports: run.py copies this file beside the
// node_modules holding @duckdb/node-api, as tests/duckdb does.)
import { DuckDBInstance } from '@duckdb/node-api';

const [oldPath, newPath, outDir, threads] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
const q = s => s.replace(/'/g, "''");
const src = p => `read_csv('${q(p)}', header = true, quote = '"', escape = '"',
    types = {'st_mode': 'VARCHAR', 'filename': 'VARCHAR', 'fileExtension': 'VARCHAR'})`;

// one row per changed entry: what pwalk-diff's changes.csv lists
await con.run(`CREATE TEMP TABLE j AS
  SELECT o.filename AS old_path, n.filename AS path, o.UID AS old_uid, n.UID AS uid,
         o.GID AS old_gid, n.GID AS gid, o.st_size AS old_size, n.st_size AS size,
         o.st_mtime AS old_mtime, n.st_mtime AS mtime, o.st_mode AS old_mode, n.st_mode AS mode,
         coalesce(n.inode, o.inode) AS inode
  FROM ${src(oldPath)} o FULL OUTER JOIN ${src(newPath)} n
    ON o.st_dev = n.st_dev AND o.inode = n.inode
  WHERE o.inode IS NULL OR n.inode IS NULL OR o.filename <> n.filename
     OR o.st_size <> n.st_size OR o.st_mtime <> n.st_mtime OR o.UID <> n.UID
     OR o.GID <> n.GID OR o.st_mode <> n.st_mode`);
await con.run(`COPY (SELECT * FROM j ORDER BY coalesce(path, old_path))
  TO '${q(outDir)}/changes.csv' (HEADER)`);

// pwalk-diff's by_user rules: an added entry counts for its new owner, a
// removed one for its old owner, a chown as both, else the size delta
const reader = await con.runAndReadAll(`
  WITH parts AS (
    SELECT uid AS u, CASE WHEN mode LIKE '004%' THEN 0 ELSE 1 END AS fa, 0 AS fr,
           size AS ba, 0 AS br
      FROM j WHERE old_uid IS NULL OR (uid IS NOT NULL AND uid <> old_uid)
    UNION ALL
    SELECT old_uid, 0, CASE WHEN old_mode LIKE '004%' THEN 0 ELSE 1 END, 0, old_size
      FROM j WHERE uid IS NULL OR (old_uid IS NOT NULL AND uid <> old_uid)
    UNION ALL
    SELECT uid, 0, 0, greatest(size - old_size, 0), greatest(old_size - size, 0)
      FROM j WHERE uid = old_uid)
  SELECT u, sum(fa)::BIGINT, sum(fr)::BIGINT, sum(ba)::BIGINT, sum(br)::BIGINT
  FROM parts GROUP BY u ORDER BY u`);
const byUser = reader.getRows().map(r => r.map(v => Number(v)));
const [[changes]] = (await con.runAndReadAll('SELECT count(*) FROM j')).getRows();
console.log(JSON.stringify({ by_user: byUser, changes: Number(changes) }));
