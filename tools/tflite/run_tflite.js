#!/usr/bin/env node
// TensorFlow Lite as the reference for DeepEdge's TFLite outputs.
//
//   node tools/tflite/run_tflite.js MODEL.tflite OUT_DIR NAME=IN.npy ...   one inference; every
//                                                   output as OUT_DIR/<name>.npy
//   node tools/tflite/run_tflite.js --bench N MODEL.tflite OUT_DIR NAME=IN.npy ...
//        also N timed runs after the first; prints one JSON object (interpreter creation and
//        median latency in milliseconds) on stdout
//   node tools/tflite/run_tflite.js --info MODEL.tflite   inputs, outputs (types, shapes,
//                                                   quantization), operators, as JSON
//   node tools/tflite/run_tflite.js --check          loads the runtime, runs nothing
//
// The runtime is the TFLite interpreter (with its XNNPACK delegate) that Google compiled to
// WebAssembly for @tensorflow/tfjs-tflite (wasm/tflite_web_api_cc*.wasm); this script drives
// that Emscripten module directly (no TF.js, no browser), single-threaded. NAME is an input
// tensor's name or, when no input has that name, its position (0, 1, ...). Each input must have
// exactly the tensor's element type and shape, except that a dimension that is -1 in the tensor's
// shape_signature takes the file's size; nothing is converted. Output files are named as
// `deepedge infer` names them: characters outside [A-Za-z0-9_.-] become '_'. Options:
// --no-simd (the WebAssembly build without SIMD), --strict (no repair, below).
//
// Repair: models from TFLite Micro (person_detect.tflite among them) give 1-D per-channel
// quantized tensors (depthwise biases) a quantized_dimension copied from the weights (3), which
// the full TFLite interpreter rejects ("quantized_dimension must be in range [0, 1)") although
// TFLite Micro runs them. When the scale count equals the first dimension, this script sets the
// dimension to 0 in its in-memory copy of the model (the only reading under which the scales
// fit) and says so on stderr; --strict turns that off.
//
// Bad input: one line "run_tflite: error: ..." on stderr, exit status 2, no partial output file.
'use strict';

const fs = require('fs');
const path = require('path');
// The .npy reader/writer and output naming are shared with the ONNX Runtime reference so the two
// write byte-identical files.
const { readNpy, encodeNpy, fileNameFor } = require('../ort/run_ort.js');

class UsageError extends Error {}

function fail(message) {
  throw new UsageError(message);
}

// ---- a bounds-checked reader of the TFLite flatbuffer (schema: tensorflow/lite/schema) -------

const TENSOR_TYPES = [
  'float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8',
  'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4',
];

const BUILTIN_OPS = (
  'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE ' +
  'EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D ' +
  'LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 ' +
  'RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS ' +
  'SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER ' +
  'BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE ' +
  'UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT ' +
  'LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG ' +
  'PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE ' +
  'EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD ' +
  'REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV ' +
  'REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU ' +
  'SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE ' +
  'RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE ' +
  'NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM ' +
  'BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D ' +
  'IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL ' +
  'CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS ' +
  'RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE ' +
  'RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 ' +
  'UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT'
).split(' ');

class FlatBuffer {
  constructor(bytes, file) {
    this.b = bytes;
    this.file = file;
  }

  need(pos, size) {
    if (!Number.isInteger(pos) || pos < 0 || pos + size > this.b.length) {
      fail(`${this.file}: corrupt flatbuffer (offset ${pos} + ${size} outside ${this.b.length} bytes)`);
    }
  }

  u8(p) {
    this.need(p, 1);
    return this.b[p];
  }

  i32(p) {
    this.need(p, 4);
    return this.b.readInt32LE(p);
  }

  u32(p) {
    this.need(p, 4);
    return this.b.readUInt32LE(p);
  }

  // Table at `pos`: returns a function field(i) -> absolute position of field i, or 0.
  table(pos) {
    const vt = pos - this.i32(pos);
    this.need(vt, 4);
    const vtSize = this.b.readUInt16LE(vt);
    const tableSize = this.b.readUInt16LE(vt + 2);
    if (vtSize < 4 || vtSize % 2) fail(`${this.file}: corrupt flatbuffer (vtable size ${vtSize})`);
    this.need(vt, vtSize);
    this.need(pos, tableSize);
    return (i) => {
      if (4 + 2 * i + 2 > vtSize) return 0;
      const off = this.b.readUInt16LE(vt + 4 + 2 * i);
      if (off === 0) return 0;
      if (off >= tableSize) fail(`${this.file}: corrupt flatbuffer (field outside its table)`);
      return pos + off;
    };
  }

  ref(p) {
    return p + this.u32(p);
  }

  subTable(p) {
    return p ? this.table(this.ref(p)) : null;
  }

  vector(p, elemSize) {
    if (!p) return null;
    const v = this.ref(p);
    const n = this.u32(v);
    this.need(v + 4, n * elemSize);
    return { start: v + 4, n };
  }

  ints(p) {
    const v = this.vector(p, 4);
    return v ? Array.from({ length: v.n }, (_, i) => this.b.readInt32LE(v.start + 4 * i)) : [];
  }

  floats(p) {
    const v = this.vector(p, 4);
    return v ? Array.from({ length: v.n }, (_, i) => this.b.readFloatLE(v.start + 4 * i)) : [];
  }

  longs(p) {
    const v = this.vector(p, 8);
    return v ? Array.from({ length: v.n }, (_, i) => Number(this.b.readBigInt64LE(v.start + 8 * i))) : [];
  }

  tables(p) {
    const v = this.vector(p, 4);
    return v ? Array.from({ length: v.n }, (_, i) => this.table(this.ref(v.start + 4 * i))) : [];
  }

  string(p) {
    const v = this.vector(p, 1);
    return v ? this.b.toString('utf8', v.start, v.start + v.n) : '';
  }
}

// Reads what --info shows and what the repair needs. Field numbers are the schema's declaration
// order (a union takes two: its type, then its value).
function parseModel(bytes, file) {
  if (bytes.length < 8) fail(`${file}: too short to be a TFLite model (${bytes.length} bytes)`);
  if (bytes.toString('latin1', 4, 8) !== 'TFL3') fail(`${file}: not a TFLite model (no TFL3 identifier)`);
  const fb = new FlatBuffer(bytes, file);
  const model = fb.table(fb.u32(0));
  const opcodes = fb.tables(model(1)).map((oc) => {
    const deprecated = oc(0) ? fb.u8(oc(0)) : 0;
    const code = oc(3) ? Math.max(fb.i32(oc(3)), deprecated) : deprecated;
    if (code === 32) return `CUSTOM:${fb.string(oc(1))}`;
    return BUILTIN_OPS[code] ?? `BUILTIN_${code}`;
  });
  const buffers = fb.tables(model(4)).map((buf) => {
    const v = fb.vector(buf(0), 1);
    return v ? v.n : 0;
  });
  const subgraphs = fb.tables(model(2)).map((sg, sgIndex) => {
    const tensors = fb.tables(sg(0)).map((t, index) => {
      const typeCode = t(1) ? fb.u8(t(1)) : 0;
      const tensor = {
        index,
        name: fb.string(t(3)),
        type: TENSOR_TYPES[typeCode] ?? `type_${typeCode}`,
        shape: fb.ints(t(0)),
        buffer: t(2) ? fb.u32(t(2)) : 0,
      };
      // Where the shape's first dimension is stored, so that a dynamic input can be resized in place.
      const shapeVector = fb.vector(t(0), 4);
      if (shapeVector) tensor.shapeAt = shapeVector.start;
      const sig = fb.ints(t(7));
      if (sig.some((d) => d < 0)) tensor.shape_signature = sig;
      const q = fb.subTable(t(4));
      if (q) {
        const scale = fb.floats(q(2));
        if (scale.length > 0) {
          tensor.quantization = {
            scale: scale.length === 1 ? scale[0] : scale,
            zero_point: ((z) => (z.length === 1 ? z[0] : z))(fb.longs(q(3))),
          };
          if (scale.length > 1) {
            tensor.quantization.quantized_dimension = q(6) ? fb.i32(q(6)) : 0;
            // Where the field is stored, so that the repair can rewrite it in place.
            tensor.quantizedDimensionAt = q(6);
          }
        }
      }
      if (t(6)) tensor.sparse = true;
      return tensor;
    });
    const ops = fb.tables(sg(3)).map((op) => {
      const i = op(0) ? fb.u32(op(0)) : 0;
      if (i >= opcodes.length) fail(`${file}: corrupt model (operator code index ${i} of ${opcodes.length})`);
      return opcodes[i];
    });
    const pick = (list) =>
      list.map((i) => {
        if (i < 0 || i >= tensors.length) fail(`${file}: corrupt model (tensor index ${i} in subgraph ${sgIndex})`);
        return tensors[i];
      });
    return { name: fb.string(sg(4)), tensors, inputs: pick(fb.ints(sg(1))), outputs: pick(fb.ints(sg(2))), ops };
  });
  if (subgraphs.length === 0) fail(`${file}: the model has no subgraph`);
  const metadata = fb.tables(model(6)).map((m) => fb.string(m(0)));
  const signatures = fb.tables(model(7)).map((s) => fb.string(s(2)));
  return {
    version: model(0) ? fb.u32(model(0)) : 0,
    description: fb.string(model(3)),
    subgraphs,
    buffers,
    metadata,
    signatures,
  };
}

// Sets quantized_dimension to 0 on 1-D per-channel tensors whose dimension is out of range (see
// the header). Returns the tensors changed; `bytes` is modified in place.
function repairQuantizedDimensions(bytes, parsed) {
  const changed = [];
  for (const [s, sg] of parsed.subgraphs.entries()) {
    for (const t of sg.tensors) {
      const q = t.quantization;
      if (!q || !Array.isArray(q.scale) || !t.quantizedDimensionAt) continue;
      if (q.quantized_dimension < t.shape.length) continue;
      if (t.shape.length !== 1 || t.shape[0] !== q.scale.length) continue;
      bytes.writeInt32LE(0, t.quantizedDimensionAt);
      changed.push(`subgraph ${s} tensor ${t.index} '${t.name}' (${q.quantized_dimension} -> 0)`);
    }
  }
  return changed;
}

function summarise(t) {
  const o = { name: t.name, index: t.index, type: t.type, shape: t.shape };
  if (t.shape_signature) o.shape_signature = t.shape_signature;
  if (t.quantization) {
    o.quantization = { ...t.quantization };
  }
  return o;
}

function describeModel(file, bytes, parsed) {
  const main = parsed.subgraphs[0];
  const opCounts = {};
  for (const sg of parsed.subgraphs) for (const op of sg.ops) opCounts[op] = (opCounts[op] ?? 0) + 1;
  const constType = {};
  let quantizedWeights = 0;
  for (const sg of parsed.subgraphs) {
    for (const t of sg.tensors) {
      if (t.buffer > 0 && parsed.buffers[t.buffer] > 0) {
        constType[t.type] = (constType[t.type] ?? 0) + 1;
        if (t.quantization) ++quantizedWeights;
      }
    }
  }
  return {
    model: file,
    bytes: bytes.length,
    schema_version: parsed.version,
    description: parsed.description,
    subgraphs: parsed.subgraphs.length,
    signatures: parsed.signatures,
    metadata: parsed.metadata,
    inputs: main.inputs.map(summarise),
    outputs: main.outputs.map(summarise),
    operators: opCounts,
    constant_tensors_by_type: constType,
    quantized_constant_tensors: quantizedWeights,
    sparse_tensors: main.tensors.filter((t) => t.sparse).length,
  };
}

// ---- the WebAssembly TFLite runtime ----------------------------------------------------------

function wasmDir() {
  let pkg;
  try {
    pkg = require.resolve('@tensorflow/tfjs-tflite/package.json', { paths: [__dirname] });
  } catch (e) {
    fail('@tensorflow/tfjs-tflite is not installed in tools/tflite (run scripts/fetch_fixtures.sh)');
  }
  return path.join(path.dirname(pkg), 'wasm');
}

// TFLite's own log lines, kept for error messages.
const tfliteLog = [];

async function loadRuntime(simd) {
  const base = path.join(wasmDir(), simd ? 'tflite_web_api_cc_simd' : 'tflite_web_api_cc');
  let factory;
  let wasmBinary;
  try {
    factory = require(`${base}.js`);
    wasmBinary = fs.readFileSync(`${base}.wasm`);
  } catch (e) {
    fail(`cannot load ${base}.{js,wasm}: ${e.message.split('\n')[0]}`);
  }
  const log = (line) => {
    tfliteLog.push(String(line));
    if (process.env.RUN_TFLITE_VERBOSE) process.stderr.write(`tflite: ${line}\n`);
  };
  // wasmBinary: the module is built for browsers and would otherwise fetch() its .wasm.
  const M = await factory({ wasmBinary, print: log, printErr: log });
  if (typeof M.TFLiteWebModelRunner?.CreateFromBufferAndOptions !== 'function') {
    fail(`${base}.wasm does not provide TFLiteWebModelRunner`);
  }
  return M;
}

function tfliteErrors() {
  const errors = tfliteLog.filter((l) => /ERROR/.test(l));
  return (errors.length ? errors : tfliteLog).slice(-2).join(' / ');
}

function vectorToArray(v) {
  const out = [];
  for (let i = 0; i < v.size(); ++i) out.push(v.get(i));
  v.delete();
  return out;
}

function shapeOf(info) {
  return info.shape === '' ? [] : info.shape.split(',').map(Number);
}

// ---- command line ----------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { bench: 0, info: false, check: false, simd: true, strict: false, positional: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--bench') {
      if (i + 1 >= argv.length) fail('--bench needs a value');
      o.bench = Number(argv[++i]);
      if (!Number.isInteger(o.bench) || o.bench < 1) fail('--bench needs a positive integer');
    } else if (a === '--info') {
      o.info = true;
    } else if (a === '--check') {
      o.check = true;
    } else if (a === '--no-simd') {
      o.simd = false;
    } else if (a === '--strict') {
      o.strict = true;
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

const USAGE = `usage: node run_tflite.js [--bench N] [--no-simd] [--strict] MODEL.tflite OUT_DIR NAME=IN.npy ...
       node run_tflite.js --info MODEL.tflite
       node run_tflite.js --check`;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function runtimeName(o) {
  const version = require(path.join(wasmDir(), '..', 'package.json')).version;
  return `@tensorflow/tfjs-tflite ${version} (${o.simd ? 'tflite_web_api_cc_simd' : 'tflite_web_api_cc'}.wasm)`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log(USAGE);
    return;
  }
  if (o.check) {
    await loadRuntime(o.simd);
    console.log(`run_tflite: ${runtimeName(o)} loads`);
    return;
  }
  const [model, outDir, ...assignments] = o.positional;
  if (!model || (!o.info && !outDir)) fail('missing arguments (see --help)');
  let bytes;
  try {
    bytes = fs.readFileSync(model);
  } catch (e) {
    fail(`model ${model}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const parsed = parseModel(bytes, model);
  if (o.info) {
    console.log(JSON.stringify(describeModel(model, bytes, parsed), null, 2));
    return;
  }
  // Inputs are read (and matched to the model's) before TFLite sees the model: a dynamic
  // dimension (-1 in shape_signature) takes the file's size by rewriting the stored shape in our
  // copy of the model, since this runtime cannot resize an input after loading.
  const main0 = parsed.subgraphs[0];
  const feeds = new Map();
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) fail(`input ${a}: expected NAME=FILE.npy`);
    const name = a.slice(0, eq);
    let k = main0.inputs.findIndex((t) => t.name === name);
    if (k < 0 && /^\d+$/.test(name) && Number(name) < main0.inputs.length) k = Number(name);
    if (k < 0) {
      fail(`input ${name}: the model has no such input (it has ${main0.inputs.map((t) => t.name).join(', ')})`);
    }
    const t = main0.inputs[k];
    if (feeds.has(k)) fail(`input ${t.name} is given twice`);
    const file = a.slice(eq + 1);
    const npy = readNpy(file);
    const sig = t.shape_signature ?? t.shape;
    const fits = npy.dims.length === t.shape.length && npy.dims.every((d, i) => d === t.shape[i] || sig[i] === -1);
    if (npy.type !== t.type || !fits) {
      fail(
        `input ${t.name}: ${file} is ${npy.type} [${npy.dims.join('x')}], the model takes ` +
          `${t.type} [${sig.map((d) => (d < 0 ? '?' : d)).join('x')}]`,
      );
    }
    npy.dims.forEach((d, i) => {
      if (d !== t.shape[i]) bytes.writeInt32LE(d, t.shapeAt + 4 * i);
    });
    feeds.set(k, { file, npy });
  }
  const missing = main0.inputs.filter((_, k) => !feeds.has(k)).map((t) => t.name);
  if (missing.length) fail(`no file for input(s) ${missing.join(', ')}`);
  if (!o.strict) {
    for (const c of repairQuantizedDimensions(bytes, parsed)) {
      process.stderr.write(`run_tflite: note: ${model}: quantized_dimension out of range, set to 0: ${c}\n`);
    }
  }

  const M = await loadRuntime(o.simd);
  const t0 = process.hrtime.bigint();
  // The runner keeps pointing into this copy of the model: it is never freed.
  const modelPtr = M._malloc(bytes.length);
  M.HEAPU8.set(bytes, modelPtr);
  // numThreads -1: this WebAssembly build has no threads.
  const created = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(modelPtr, bytes.length, {
    numThreads: -1,
    enableProfiling: false,
    maxProfilingBufferEntries: 1024,
  });
  if (!created.ok()) {
    fail(`model ${model}: TFLite cannot load it: ${created.errorMessage()} (${tfliteErrors()})`);
  }
  const runner = created.value();
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const inputs = vectorToArray(runner.GetInputs());
  const outputs = vectorToArray(runner.GetOutputs());
  if (inputs.length !== main0.inputs.length) {
    fail(`model ${model}: TFLite sees ${inputs.length} inputs, the flatbuffer lists ${main0.inputs.length}`);
  }
  for (const [k, { file, npy }] of feeds) {
    const info = inputs[k];
    if (info.name !== main0.inputs[k].name || info.dataType !== npy.type || info.shape !== npy.dims.join(',')) {
      fail(`input ${main0.inputs[k].name}: TFLite expects ${info.dataType} [${info.shape}] for ${file}`);
    }
    // data() views the WebAssembly heap; take it afresh since the heap can grow.
    const dst = info.data();
    if (dst.length !== npy.data.length) {
      fail(`input ${info.name}: TFLite's buffer holds ${dst.length} elements, ${file} ${npy.data.length}`);
    }
    dst.set(npy.data);
  }

  const run = () => {
    if (!runner.Infer()) fail(`model ${model}: inference failed (${tfliteErrors()})`);
  };
  const t1 = process.hrtime.bigint();
  run();
  const firstMs = Number(process.hrtime.bigint() - t1) / 1e6;

  // Encode everything before writing anything, so that an unwritable output leaves no partial set.
  // Output tensors are read again after the run: a model whose output sizes depend on the
  // data (a WHILE whose loop values grow) resizes them during Infer, and the infos taken
  // before it describe the old buffers.
  const ran = vectorToArray(runner.GetOutputs());
  if (ran.length !== outputs.length) {
    fail(`model ${model}: TFLite reports ${ran.length} outputs after the run, ${outputs.length} before`);
  }
  const encoded = ran.map((info, i) => {
    const data = info.data().slice(); // a copy off the heap
    return {
      name: info.name,
      type: info.dataType,
      dims: shapeOf(info),
      file: path.join(outDir, fileNameFor(info.name, i)),
      bytes: encodeNpy(info.dataType, shapeOf(info), data),
    };
  });
  const names = new Set(encoded.map((e) => e.file));
  if (names.size !== encoded.length) fail(`model ${model}: two outputs map to the same file name`);
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    fail(`output dir ${outDir}: cannot create it: ${e.message}`);
  }
  for (const e of encoded) {
    const tmp = `${e.file}.tmp-${process.pid}`;
    try {
      fs.writeFileSync(tmp, e.bytes);
      fs.renameSync(tmp, e.file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      fail(`${e.file}: cannot write it: ${err.message}`);
    }
  }

  if (o.bench > 0) {
    const times = [];
    for (let i = 0; i < o.bench; ++i) {
      const t = process.hrtime.bigint();
      run();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    console.log(
      JSON.stringify({
        model,
        tflite: runtimeName(o),
        threads: 1,
        interpreter_create_ms: createMs,
        first_run_ms: firstMs,
        runs: o.bench,
        median_ms: median(times),
        min_ms: Math.min(...times),
        max_ms: Math.max(...times),
        mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
      }),
    );
  } else {
    for (const e of encoded) console.log(`  ${e.name} ${e.type} [${e.dims.join('x')}] -> ${e.file}`);
  }
}

module.exports = { parseModel };
if (require.main !== module) return;

main().catch((e) => {
  // readNpy (tools/ort) throws its own UsageError class.
  if (e instanceof UsageError || e?.constructor?.name === 'UsageError') {
    process.stderr.write(`run_tflite: error: ${e.message.split('\n')[0]}\n`);
  } else {
    process.stderr.write(`run_tflite: error: ${String(e && e.stack ? e.stack : e).split('\n')[0]}\n`);
  }
  process.exit(2);
});
