// Runs SQL statements with DuckDB (npm @duckdb/node-api) for the summary
// tests (summary_duckdb_test.py): reads a JSON list of statements on stdin,
// runs them in order in one in-memory database, and prints a JSON list with,
// per statement, {columns: [[name, type], ...], rows: [{...}, ...]}
// (values as getRowObjectsJson gives them: big integers as strings) or
// {error: message} for the statement that failed (the rest are not run).
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';

const statements = JSON.parse(fs.readFileSync(0, 'utf8'));
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const out = [];
for (const sql of statements) {
  try {
    const reader = await con.runAndReadAll(sql);
    const names = reader.columnNames();
    const types = reader.columnTypes().map(t => t.toString());
    out.push({ columns: names.map((n, i) => [n, types[i]]), rows: reader.getRowObjectsJson() });
  } catch (e) {
    out.push({ error: String(e && e.message || e) });
    break;
  }
}
process.stdout.write(JSON.stringify(out));
