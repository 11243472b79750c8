#!/usr/bin/env node
// Our reimplementation of nixpkgs' pnpm-fixup-state-db, which fetchPnpmDeps runs on the
// pnpm 11 store (`pnpm-fixup-state-db "$storePath/v11"`) so the index no longer holds
// the times pnpm checked each file.
//
// Follows the logic of pkgs/by-name/pn/pnpm-fixup-state-db/src/index.ts (NixOS/nixpkgs
// 05905beb4f789a06fee05756ab532a75f52ae105) and of the StoreIndex it drives
// (@pnpm/store.index 1100.0.0, lib/index.js, the version its package-lock.json pins):
//   - open <store>/index.db with StoreIndex's pragmas and CREATE TABLE IF NOT EXISTS;
//   - read every row (`SELECT key, data FROM package_index`), msgpackr-unpack it with
//     StoreIndex's Packr ({useRecords: true, moreTypes: true}); a row whose `files` is
//     not a Map is an error;
//   - set `checkedAt: 0` on every entry of `files` and of each `sideEffects[*].added`,
//     keeping all other fields (spread order kept: `files` stays where it was);
//   - pack each entry again with the same Packr;
//   - sort by key with JS `>` (UTF-16 code units), delete every key in one transaction,
//     VACUUM, and insert them back in that order in one `BEGIN IMMEDIATE` transaction;
//   - at process exit StoreIndex.close() runs `PRAGMA optimize` and closes the database.
// Only msgpackr comes from npm (the version @pnpm/store.index 1100.0.0 pins, 1.11.8), and
// node:sqlite is the sqlite built into the Node that runs this (nixpkgs runs the fixup
// under pnpm's nodejs).
//
// usage: node pnpm-fixup-state-db.mjs STORE_DIR   (needs $NIXCI_FIXUP_NODE_MODULES: a
// node_modules directory holding msgpackr)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const modules = process.env.NIXCI_FIXUP_NODE_MODULES;
if (!modules) {
  console.error('pnpm-fixup-state-db.mjs: NIXCI_FIXUP_NODE_MODULES (a node_modules with msgpackr) is not set');
  process.exit(2);
}
const require = createRequire(path.join(modules, 'package.json'));
const { Packr } = require('msgpackr');
const { DatabaseSync } = require('node:sqlite');

const packr = new Packr({ useRecords: true, moreTypes: true });

const storeDir = process.argv[2];
if (!storeDir || !fs.existsSync(path.join(storeDir, 'index.db'))) {
  console.error(`pnpm-fixup-state-db.mjs: ${storeDir}/index.db: no such file`);
  process.exit(2);
}

// StoreIndex's constructor.
const db = new DatabaseSync(path.join(storeDir, 'index.db'));
db.exec('PRAGMA busy_timeout=5000');
db.exec('PRAGMA journal_mode=WAL');
db.exec('PRAGMA synchronous=NORMAL');
db.exec('PRAGMA mmap_size=536870912');
db.exec('PRAGMA cache_size=-32000');
db.exec('PRAGMA temp_store=MEMORY');
db.exec('PRAGMA wal_autocheckpoint=10000');
db.exec(`
        CREATE TABLE IF NOT EXISTS package_index (
          key TEXT PRIMARY KEY,
          data BLOB NOT NULL
        ) WITHOUT ROWID
      `);
const stmtSet = db.prepare('INSERT OR REPLACE INTO package_index (key, data) VALUES (?, ?)');
const stmtDel = db.prepare('DELETE FROM package_index WHERE key = ?');
const stmtAll = db.prepare('SELECT key, data FROM package_index');

const zeroCheckedAt = (files) => {
  const out = new Map();
  for (const [name, metadata] of files.entries()) {
    out.set(name, { ...metadata, checkedAt: 0 });
  }
  return out;
};

const entries = [];
for (const row of stmtAll.iterate()) {
  const data = packr.unpack(row.data);
  if (!(data.files instanceof Map)) {
    throw new Error(`Failed to read data for ${row.key}`);
  }
  let sideEffects;
  if (data.sideEffects instanceof Map) {
    sideEffects = new Map();
    for (const [key, diff] of data.sideEffects.entries()) {
      sideEffects.set(key, diff.added instanceof Map ? { ...diff, added: zeroCheckedAt(diff.added) } : { ...diff });
    }
  }
  const scrubbed = { ...data, files: zeroCheckedAt(data.files), ...(sideEffects ? { sideEffects } : {}) };
  // pnpm's worker copies the packed bytes into a SharedArrayBuffer; the bytes are the same.
  entries.push({ key: row.key, buffer: packr.pack(scrubbed) });
}
entries.sort((a, b) => (a.key > b.key ? 1 : -1));

// StoreIndex.deleteMany, then setRawMany (one row: a plain statement each, as there).
const inTransaction = (fn) => {
  db.exec('BEGIN IMMEDIATE');
  let committed = false;
  try {
    fn();
    db.exec('COMMIT');
    committed = true;
  } finally {
    if (!committed) {
      try { db.exec('ROLLBACK'); } catch { /* as StoreIndex */ }
    }
  }
};
if (entries.length === 1) {
  stmtDel.run(entries[0].key);
  db.exec('VACUUM');
  stmtSet.run(entries[0].key, entries[0].buffer);
} else if (entries.length > 1) {
  inTransaction(() => { for (const { key } of entries) stmtDel.run(key); });
  db.exec('VACUUM');
  inTransaction(() => { for (const { key, buffer } of entries) stmtSet.run(key, buffer); });
}

// StoreIndex.close(), which it registers for process exit.
try { db.exec('PRAGMA optimize'); } catch { /* a performance hint, as StoreIndex */ }
db.close();
console.error(`pnpm-fixup-state-db.mjs: ${entries.length} entries rewritten with checkedAt 0`);
