#!/usr/bin/env node
// ONNX Runtime (CPU) as the reference for DeepEdge's outputs.
//
//   node tools/ort/run_ort.js MODEL.onnx OUT_DIR NAME=IN.npy ...   one inference; every output
//                                                                  as OUT_DIR/<name>.npy
//   node tools/ort/run_ort.js --bench N MODEL.onnx OUT_DIR NAME=IN.npy ...
//        also N timed runs after one warm-up; prints one JSON object (session creation and
//        median latency in milliseconds) on stdout
//   node tools/ort/run_ort.js --info MODEL.onnx                    inputs and outputs as JSON
//
// Options: --threads T (intra-op threads, default 1). Execution provider: CPU; graph
// optimisations: ONNX Runtime's default. Output files are named as `deepedge infer` names them:
// characters outside [A-Za-z0-9_.-] become '_'. Bad input: one line "run_ort: error: ..." on
// stderr and exit status 2; no partial output file is left behind.
'use strict';

const fs = require('fs');
const path = require('path');

class UsageError extends Error {}

function fail(message) {
  throw new UsageError(message);
}

// ---- .npy ----------------------------------------------------------------------------------

// numpy descriptor (without its byte-order mark) -> ONNX Runtime tensor type and typed array.
const NPY_TYPES = {
  f4: { ort: 'float32', array: Float32Array },
  f8: { ort: 'float64', array: Float64Array },
  f2: { ort: 'float16', array: Uint16Array },
  i8: { ort: 'int64', array: BigInt64Array },
  u8: { ort: 'uint64', array: BigUint64Array },
  i4: { ort: 'int32', array: Int32Array },
  u4: { ort: 'uint32', array: Uint32Array },
  i2: { ort: 'int16', array: Int16Array },
  u2: { ort: 'uint16', array: Uint16Array },
  i1: { ort: 'int8', array: Int8Array },
  u1: { ort: 'uint8', array: Uint8Array },
  b1: { ort: 'bool', array: Uint8Array },
};
const ORT_TO_DESCR = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int64: '<i8',
  uint64: '<u8',
  int32: '<i4',
  uint32: '<u4',
  int16: '<i2',
  uint16: '<u2',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
};

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function headerValue(header, key) {
  const m = header.match(new RegExp(`['"]${key}['"]\\s*:\\s*`));
  if (!m) return undefined;
  const rest = header.slice(m.index + m[0].length);
  if (rest[0] === "'" || rest[0] === '"') return rest.slice(1, rest.indexOf(rest[0], 1));
  if (rest[0] === '(') return rest.slice(0, rest.indexOf(')') + 1);
  return rest.match(/^[A-Za-z]+/)?.[0];
}

function readNpy(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(`input file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) fail(`${file}: not a .npy file`);
  const major = bytes[6];
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = bytes.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(`${file}: truncated .npy header`);
    headerLen = bytes.readUInt32LE(8);
    offset = 12;
  } else {
    fail(`${file}: unsupported .npy version ${major}`);
  }
  if (offset + headerLen > bytes.length) fail(`${file}: truncated .npy header`);
  const header = bytes.subarray(offset, offset + headerLen).toString('latin1');
  const descr = headerValue(header, 'descr');
  const fortran = headerValue(header, 'fortran_order');
  const shapeText = headerValue(header, 'shape');
  if (!descr || !fortran || !shapeText) fail(`${file}: malformed .npy header`);
  if (fortran !== 'False') fail(`${file}: Fortran-ordered .npy is not supported`);
  const order = descr[0];
  const type = NPY_TYPES[descr.slice(1)];
  const oneByte = descr.slice(2) === '1';
  if (!type || descr.length !== 3 || !(order === '<' || order === '|' || (oneByte && order === '>'))) {
    fail(`${file}: unsupported .npy element type '${descr}'`);
  }
  const dims = shapeText
    .replace(/[()\s]/g, '')
    .split(',')
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) fail(`${file}: bad shape ${shapeText}`);
      return v;
    });
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  const need = count * type.array.BYTES_PER_ELEMENT;
  if (bytes.length - start !== need) {
    fail(`${file}: ${bytes.length - start} data bytes, shape ${shapeText} ${descr} needs ${need}`);
  }
  // Copy into a fresh, aligned buffer: the data of a Buffer may start at any byte.
  const data = new type.array(count);
  Buffer.from(data.buffer).set(bytes.subarray(start, start + need));
  return { type: type.ort, dims, data };
}

function encodeNpy(type, dims, data) {
  const descr = ORT_TO_DESCR[type];
  if (!descr) fail(`output of type ${type} cannot be written as .npy`);
  let shape = dims.join(', ');
  if (dims.length === 1) shape += ',';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  let body;
  if (type === 'bool') {
    body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}

// The same rule as `deepedge infer` (apps/deepedge/cmd_infer.cc, FileNameFor).
function fileNameFor(name, index) {
  let s = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (s === '' || s === '.' || s === '..') s = `output_${index}`;
  return `${s}.npy`;
}

function writeFileAtomic(file, bytes) {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch (_) {
      // nothing was written
    }
    fail(`${file}: cannot write it: ${e.message}`);
  }
}

// ---- command line ----------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { bench: 0, threads: 1, info: false, positional: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--bench') {
      o.bench = Number(value());
      if (!Number.isInteger(o.bench) || o.bench < 1) fail('--bench needs a positive integer');
    } else if (a === '--threads') {
      o.threads = Number(value());
      if (!Number.isInteger(o.threads) || o.threads < 0) fail('--threads needs an integer >= 0');
    } else if (a === '--info') {
      o.info = true;
    } else if (a === '-h' || a === '--help') {
      o.help = true;
    } else if (a.startsWith('--')) {
      fail(`unknown option ${a}`);
    } else {
      o.positional.push(a);
    }
  }
  return o;
}

const USAGE = `usage: node run_ort.js [--threads T] [--bench N] MODEL.onnx OUT_DIR NAME=IN.npy ...
       node run_ort.js --info MODEL.onnx`;

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed (run scripts/fetch_fixtures.sh): ${e.message.split('\n')[0]}`);
  }
}

function describe(meta) {
  return meta.map((m) => ({
    name: m.name,
    type: m.isTensor === false ? 'non-tensor' : m.type,
    shape: m.shape,
  }));
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const [model, outDir, ...assignments] = o.positional;
  if (!model || (!o.info && !outDir)) fail('missing arguments (see --help)');
  if (!fs.existsSync(model)) fail(`model ${model}: no such file`);
  const ort = loadOrt();

  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(model, options);
  } catch (e) {
    fail(`model ${model}: ${String(e.message).split('\n')[0]}`);
  }
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;

  if (o.info) {
    console.log(
      JSON.stringify(
        {
          model,
          onnxruntime: ort.env.versions?.node ?? ort.env.versions?.common,
          inputs: describe(session.inputMetadata ?? session.inputNames.map((name) => ({ name }))),
          outputs: describe(session.outputMetadata ?? session.outputNames.map((name) => ({ name }))),
        },
        null,
        2,
      ),
    );
    return;
  }

  const feeds = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) fail(`input ${a}: expected NAME=FILE.npy`);
    const name = a.slice(0, eq);
    if (!session.inputNames.includes(name)) {
      fail(`input ${name}: the model has no such input (it has ${session.inputNames.join(', ')})`);
    }
    const t = readNpy(a.slice(eq + 1));
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) fail(`no file for input(s) ${missing.join(', ')}`);

  const run = async () => {
    try {
      return await session.run(feeds);
    } catch (e) {
      fail(`model ${model}: inference failed: ${String(e.message).split('\n')[0]}`);
    }
  };
  const t1 = process.hrtime.bigint();
  const results = await run();
  const firstMs = Number(process.hrtime.bigint() - t1) / 1e6;

  // Encode everything before writing anything, so that an unwritable output leaves no partial set.
  const encoded = session.outputNames.map((name, i) => {
    const t = results[name];
    return { file: path.join(outDir, fileNameFor(name, i)), bytes: encodeNpy(t.type, t.dims, t.data) };
  });
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    fail(`output dir ${outDir}: cannot create it: ${e.message}`);
  }
  for (const e of encoded) writeFileAtomic(e.file, e.bytes);

  if (o.bench > 0) {
    const times = [];
    for (let i = 0; i < o.bench; ++i) {
      const t = process.hrtime.bigint();
      await run();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const report = {
      model,
      onnxruntime: ort.env.versions?.node ?? ort.env.versions?.common,
      execution_provider: 'cpu',
      intra_op_threads: o.threads,
      session_create_ms: createMs,
      first_run_ms: firstMs,
      runs: o.bench,
      median_ms: median(times),
      min_ms: Math.min(...times),
      max_ms: Math.max(...times),
      mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
    };
    console.log(JSON.stringify(report));
  } else {
    for (const [i, name] of session.outputNames.entries()) {
      const t = results[name];
      console.log(`  ${name} ${t.type} [${t.dims.join('x')}] -> ${encoded[i].file}`);
    }
  }
}

module.exports = { readNpy, encodeNpy, fileNameFor };
if (require.main !== module) return;

main().catch((e) => {
  if (e instanceof UsageError) {
    process.stderr.write(`run_ort: error: ${e.message.split('\n')[0]}\n`);
  } else {
    process.stderr.write(`run_ort: error: ${String(e && e.stack ? e.stack : e).split('\n')[0]}\n`);
  }
  process.exit(2);
});
