// Verifies an audit export (docs/admin-api.md, "GET /admin/audit/export"): records oldest first,
// hash = sha256_hex(prev_hash + "\n" + canonical), canonical being the record's
// {"id":…,"ts_ms":…,"kind":"…","payload":{…}} — exactly the NDJSON line without its prev_hash and
// hash members. The first record has no prev_hash (prev = "").
import { sha256Hex } from './sha256.js';

const TAIL = /,"hash":"([0-9a-f]{64})"\}$/;
const PREV = /,"prev_hash":"([0-9a-f]{64})"$/;

// → {ok, count, firstId, lastId, lastHash} or {ok:false, count, brokenAt (1-based record), id, reason}
export function verifyJsonl(text) {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let prev = '';
  let firstId = null;
  let lastId = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    const fail = (reason) => ({ ok: false, count: lines.length, brokenAt: i + 1, id: idOf(line), reason });
    const t = TAIL.exec(line);
    if (!t) return fail('no hash member');
    let head = line.slice(0, t.index);
    const p = PREV.exec(head);
    if (p) {
      if (i === 0) return fail('the first record has a prev_hash');
      if (p[1] !== prev) return fail('prev_hash is not the previous record\'s hash');
      head = head.slice(0, p.index);
    } else if (i > 0) {
      return fail('prev_hash missing');
    }
    const canonical = head + '}';
    const h = sha256Hex(prev + '\n' + canonical);
    if (h !== t[1]) return fail('hash mismatch: the record was changed');
    const id = idOf(line);
    if (firstId === null) firstId = id;
    lastId = id;
    prev = h;
  }
  return { ok: true, count: lines.length, firstId, lastId, lastHash: prev };
}

function idOf(line) {
  const m = /^\{"id":(\d+)/.exec(line);
  return m ? Number(m[1]) : null;
}

// RFC 4180 fields (quotes doubled), the way the gateway writes them.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          f += '"';
          i++;
        } else q = false;
      } else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(f);
      f = '';
    } else if (c === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
    } else if (c !== '\r') f += c;
  }
  if (f !== '' || row.length) {
    row.push(f);
    rows.push(row);
  }
  return rows;
}

// CSV columns id,ts_ms,kind,payload_json,prev_hash,hash: the canonical record is rebuilt from
// them (the kind JSON-quoted, the payload as written), then chained as above.
export function verifyCsv(text) {
  const rows = parseCsv(text);
  const head = rows.shift();
  if (!head || head.join(',') !== 'id,ts_ms,kind,payload_json,prev_hash,hash') {
    return { ok: false, count: 0, brokenAt: 0, id: null, reason: 'not an audit CSV export (header)' };
  }
  let prev = '';
  let firstId = null;
  let lastId = null;
  for (let i = 0; i < rows.length; i++) {
    const [id, ts, kind, payload, prevHash, hash] = rows[i];
    const fail = (reason) => ({ ok: false, count: rows.length, brokenAt: i + 1, id: Number(id), reason });
    if (rows[i].length !== 6) return fail('expected 6 columns');
    if (prevHash !== prev) return fail('prev_hash is not the previous record\'s hash');
    const ms = Math.max(0, Number(ts));
    const canonical = `{"id":${id},"ts_ms":${ms},"kind":${JSON.stringify(kind)},"payload":${payload || '{}'}}`;
    const h = sha256Hex(prev + '\n' + canonical);
    if (h !== hash) return fail('hash mismatch: the record was changed');
    if (firstId === null) firstId = Number(id);
    lastId = Number(id);
    prev = h;
  }
  return { ok: true, count: rows.length, firstId, lastId, lastHash: prev };
}

export function verifyExport(text) {
  return text.startsWith('id,ts_ms,') ? verifyCsv(text) : verifyJsonl(text);
}
