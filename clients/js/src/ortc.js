/**
 * The one-question graph run through onnxruntime's C API, called with koffi (an FFI for Node), on the
 * onnxruntime library that onnxruntime-node ships and has already loaded.
 *
 * Why: onnxruntime-node's binding reads every feed through N-API, creates a memory info and wraps each output in
 * a new Tensor on every call: its run of the graph is ~1.4x a bare Python run of it (BENCHMARKS.md, "Node and
 * browser"). Here the input and output tensors are bound once (an OrtIoBinding per question length over one
 * preallocated buffer, as Python's runtime does), so a call writes the token ids and makes one foreign call.
 *
 * The C API is a table of function pointers (OrtApi) that onnxruntime only ever appends to, so the slots used
 * here stay where they are in every release from 1.17 (API_VERSION) on. `openDirect` checks the table on a
 * status round trip before using it and returns null — the caller then uses the binding — where koffi is not
 * installed, the library is not where onnxruntime-node keeps it, or the library is older than API_VERSION.
 */

import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

const API_VERSION = 17;
/** OrtApi slots (onnxruntime_c_api.h, `struct OrtApi`, counted from 0) and the C prototypes called there. */
const SLOTS = {
  CreateStatus: [0, 'void *CreateStatus(int code, const char *msg)'],
  GetErrorCode: [1, 'int GetErrorCode(void *status)'],
  GetErrorMessage: [2, 'const char *GetErrorMessage(void *status)'],
  CreateEnv: [3, 'void *CreateEnv(int level, const char *logid, _Out_ void **out)'],
  CreateSessionFromArray: [8, 'void *CreateSessionFromArray(void *env, const void *data, size_t length, void *options, _Out_ void **out)'],
  CreateSessionOptions: [10, 'void *CreateSessionOptions(_Out_ void **out)'],
  SetSessionExecutionMode: [13, 'void *SetSessionExecutionMode(void *options, int mode)'],
  SetSessionLogSeverityLevel: [22, 'void *SetSessionLogSeverityLevel(void *options, int level)'],
  SetSessionGraphOptimizationLevel: [23, 'void *SetSessionGraphOptimizationLevel(void *options, int level)'],
  SetIntraOpNumThreads: [24, 'void *SetIntraOpNumThreads(void *options, int threads)'],
  SetInterOpNumThreads: [25, 'void *SetInterOpNumThreads(void *options, int threads)'],
  CreateRunOptions: [39, 'void *CreateRunOptions(_Out_ void **out)'],
  CreateTensorWithDataAsOrtValue: [49, 'void *CreateTensorWithDataAsOrtValue(void *info, void *data, size_t length, const int64_t *shape, size_t rank, int type, _Out_ void **out)'],
  CreateCpuMemoryInfo: [69, 'void *CreateCpuMemoryInfo(int allocator, int memory, _Out_ void **out)'],
  ReleaseStatus: [93, 'void ReleaseStatus(void *status)'],
  ReleaseMemoryInfo: [94, 'void ReleaseMemoryInfo(void *info)'],
  ReleaseSession: [95, 'void ReleaseSession(void *session)'],
  ReleaseValue: [96, 'void ReleaseValue(void *value)'],
  ReleaseRunOptions: [97, 'void ReleaseRunOptions(void *options)'],
  ReleaseSessionOptions: [100, 'void ReleaseSessionOptions(void *options)'],
  RunWithBinding: [133, 'void *RunWithBinding(void *session, void *options, void *binding)'],
  CreateIoBinding: [134, 'void *CreateIoBinding(void *session, _Out_ void **out)'],
  ReleaseIoBinding: [135, 'void ReleaseIoBinding(void *binding)'],
  BindInput: [136, 'void *BindInput(void *binding, const char *name, void *value)'],
  BindOutput: [137, 'void *BindOutput(void *binding, const char *name, void *value)'],
};
const ELEMENT = { float32: [1, Float32Array], int64: [7, BigInt64Array] }; // ONNXTensorElementDataType
const ORT_ARENA_ALLOCATOR = 1;
const ORT_MEM_TYPE_DEFAULT = 0;

let api; // undefined: not looked for yet; null: not available here

/**
 * onnxruntime's C API as functions named as in OrtApi, from the library next to onnxruntime-node's binding
 * (loaded before: node.js loads it at import); null where it cannot be had (see the module comment). Looked for
 * once per process.
 */
function loadApi() {
  if (api === undefined) {
    try {
      // ids go in as int64s' low words; 32-bit Windows would need stdcall prototypes
      const usable = endianness() === 'LE' && process.arch !== 'ia32';
      const binding = Object.keys(require.cache).find((path) => path.endsWith('onnxruntime_binding.node'));
      api = usable && binding !== undefined ? readApi(require('koffi'), binding) : null;
    } catch { // no koffi, no library where onnxruntime-node keeps it, or one koffi cannot load
      api = null;
    }
  }
  return api;
}

function readApi(koffi, bindingPath) {
  const library = { linux: 'libonnxruntime.so.1', darwin: 'libonnxruntime.1.dylib', win32: 'onnxruntime.dll' }[process.platform];
  const lib = koffi.load(join(dirname(bindingPath), library)); // the copy the binding loaded, found by its RUNPATH
  const base = koffi.decode(lib.func('void *OrtGetApiBase()')(), koffi.array('void *', 2));
  const pointer = koffi.decode(base[0], koffi.proto('void *(uint32_t version)'))(API_VERSION);
  if (pointer === null) return null; // a library older than API_VERSION
  const slots = Object.values(SLOTS).reduce((most, [slot]) => Math.max(most, slot), 0) + 1;
  const table = koffi.decode(pointer, koffi.array('void *', slots));
  const functions = {};
  for (const [name, [slot, prototype]] of Object.entries(SLOTS)) { // anonymous: koffi's type names are process-wide
    functions[name] = koffi.decode(table[slot], koffi.proto(prototype.replace(`${name}(`, '(')));
  }
  // The table as this module reads it: a status made, read back and released through four of its slots.
  const status = functions.CreateStatus(6, 'rnnqa');
  const round = functions.GetErrorCode(status) === 6 && functions.GetErrorMessage(status) === 'rnnqa';
  functions.ReleaseStatus(status);
  if (!round) return null;
  const out = [null]; // the library's one OrtEnv (the binding's, where it loaded this copy): kept for the process
  const failed = functions.CreateEnv(3, 'rnnqa', out);
  if (failed !== null) {
    functions.ReleaseStatus(failed);
    return null;
  }
  functions.env = out[0];
  functions.library = lib; // kept: koffi closes a library whose handle is collected
  return functions;
}

/** An error onnxruntime reported (its OrtStatus message). */
export class OrtError extends Error {}

/** The OrtError for a non-null OrtStatus, which it releases. */
function statusError(status) {
  const message = api.GetErrorMessage(status);
  api.ReleaseStatus(status);
  return new OrtError(message);
}

function check(status) {
  if (status !== null) throw statusError(status);
}

function created(make) {
  const out = [null];
  check(make(out));
  return out[0];
}

const released = { count: 0 }; // sessions released after their model was dropped (tests read it)
const registry = new FinalizationRegistry(({ release }) => {
  release();
  released.count += 1;
});

/** How many sessions `openDirect` made have been released since their last user was collected. */
export function releasedSessions() {
  return released.count;
}

/**
 * A session on the graph `bytes` whose outputs are `outputs` ([{name, type: 'float32'|'int64', dims}]), for
 * rows of 1 to `maxLen` token ids fed as `input` [n, 1]; null where the C API is not available (module comment).
 * It has `runIds(ids)` → {name: {data, dims}}: views of the buffers onnxruntime writes, which the next call
 * overwrites (read them first; never transfer them), and `run(feeds, fetches)` → the same outputs copied, for
 * a feed of onnxruntime Tensors (the load-time probe). Its onnxruntime objects are released once `runIds` is
 * no longer reachable.
 * @param {{intraOpNumThreads?: number, interOpNumThreads?: number, executionMode?: string,
 *   graphOptimizationLevel?: string, logSeverityLevel?: number}} sessionOptions as onnxruntime-node takes them
 * @throws {OrtError} onnxruntime refuses the graph, the session options or the outputs
 */
export function openDirect(bytes, sessionOptions, { input, outputs, maxLen }) {
  if (loadApi() === null) return null;
  const handles = { values: [], bindings: [], session: null, runOptions: null, memory: null };
  const release = () => {
    for (const binding of handles.bindings.splice(0)) api.ReleaseIoBinding(binding);
    for (const value of handles.values.splice(0)) api.ReleaseValue(value);
    for (const [name, free] of [['session', 'ReleaseSession'], ['runOptions', 'ReleaseRunOptions'], ['memory', 'ReleaseMemoryInfo']]) {
      if (handles[name] !== null) api[free](handles[name]);
      handles[name] = null;
    }
  };
  try {
    const direct = bound(openSession(bytes, sessionOptions, handles), handles, { input, outputs, maxLen });
    registry.register(direct.runIds, { release });
    return direct;
  } catch (error) {
    release();
    throw error;
  }
}

/** `openDirect`'s session, on buffers bound once; the onnxruntime objects it makes go into `handles`. */
function bound(session, handles, { input, outputs, maxLen }) {
  // Off-heap buffers (an ArrayBuffer's store never moves) that onnxruntime reads and writes.
  const ids = new ArrayBuffer(8 * maxLen);
  const words = new Int32Array(ids); // ids[t] = words[2t] (little-endian, ids < 2^31; high words stay 0)
  const tensor = (data, dims, type) => {
    const value = created((out) => api.CreateTensorWithDataAsOrtValue(handles.memory, data, data.byteLength,
      BigInt64Array.from(dims, BigInt), dims.length, ELEMENT[type][0], out));
    handles.values.push(value);
    return value;
  };
  const results = {};
  const outputValues = outputs.map(({ name, type, dims }) => {
    if (!(type in ELEMENT)) throw new TypeError(`output ${name}: no buffer for element type ${type}`);
    const Typed = ELEMENT[type][1];
    const data = new Typed(new ArrayBuffer(Typed.BYTES_PER_ELEMENT * dims.reduce((a, b) => a * b, 1)));
    results[name] = { data, dims };
    return [name, tensor(data, dims, type)];
  });
  const bindings = new Array(maxLen + 1).fill(null); // an OrtIoBinding per row length, made at its first use
  const bind = (n) => {
    const binding = created((out) => api.CreateIoBinding(session, out));
    const value = tensor(new BigInt64Array(ids, 0, n), [n, 1], 'int64');
    const status = api.BindInput(binding, input, value)
      ?? outputValues.reduce((failed, [name, output]) => failed ?? api.BindOutput(binding, name, output), null);
    if (status !== null) { // nothing of a failed binding stays
      api.ReleaseIoBinding(binding);
      api.ReleaseValue(handles.values.pop()); // value, the last made
      throw statusError(status);
    }
    handles.bindings.push(binding);
    bindings[n] = binding;
    return binding;
  };
  const { RunWithBinding } = api;
  const { runOptions } = handles;
  const runIds = (row) => {
    const n = row.length;
    if (!(n > 0 && n <= maxLen)) throw new RangeError(`a row holds 1 to ${maxLen} token ids, got ${n}`);
    if (handles.session === null) throw new Error('the session was released');
    const binding = bindings[n] ?? bind(n);
    for (let t = 0; t < n; t += 1) words[2 * t] = row[t];
    const status = RunWithBinding(session, runOptions, binding);
    if (status !== null) throw statusError(status);
    return results;
  };
  return {
    engine: 'onnxruntime C API (koffi)',
    runIds,
    async run(feeds, fetches) {
      const out = runIds(Array.from(feeds[input].data, Number));
      return Object.fromEntries(fetches.map((name) => [name, { data: out[name].data.slice(), dims: out[name].dims }]));
    },
  };
}

const EXECUTION_MODES = { sequential: 0, parallel: 1 };
const OPTIMIZATION_LEVELS = { disabled: 0, basic: 1, extended: 2, all: 99 };

/** An OrtSession on `bytes` with the options onnxruntime-node would set from `sessionOptions` (CPU only). */
function openSession(bytes, sessionOptions, handles) {
  const { executionMode = 'sequential', graphOptimizationLevel = 'all', executionProviders = ['cpu'] } = sessionOptions;
  const mode = EXECUTION_MODES[executionMode];
  const level = OPTIMIZATION_LEVELS[graphOptimizationLevel];
  if (mode === undefined || level === undefined || String(executionProviders) !== 'cpu') {
    throw new TypeError(`session options the C API path does not set: ${JSON.stringify(sessionOptions)}`);
  }
  const options = created((out) => api.CreateSessionOptions(out));
  try {
    check(api.SetSessionExecutionMode(options, mode));
    check(api.SetSessionGraphOptimizationLevel(options, level));
    check(api.SetIntraOpNumThreads(options, sessionOptions.intraOpNumThreads ?? 1));
    check(api.SetInterOpNumThreads(options, sessionOptions.interOpNumThreads ?? 1));
    check(api.SetSessionLogSeverityLevel(options, sessionOptions.logSeverityLevel ?? 3));
    handles.session = created((out) => api.CreateSessionFromArray(api.env, bytes, bytes.byteLength, options, out));
  } finally {
    api.ReleaseSessionOptions(options);
  }
  handles.runOptions = created((out) => api.CreateRunOptions(out));
  handles.memory = created((out) => api.CreateCpuMemoryInfo(ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, out));
  return handles.session;
}
