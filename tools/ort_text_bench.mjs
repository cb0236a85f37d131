// ONNX Runtime (onnxruntime-node, CPU) throughput of a CLIP text tower (tools/export_onnx_text.py).
// usage: node ort_text_bench.mjs MODEL.onnx THREADS BATCH ITERS [DIR_WITH_node_modules]
// The ids are bench/forward_bench.cc's (BM_TextForward): text i of a batch has 10 + 7i mod 11 ids
// (start, words, end), padded to the batch's longest with the end id, as transformers pads CLIP's
// (padding=True); clipembed runs each text at its own length, as it does for real text.
import { createRequire } from "module";
import path from "path";

const [model, threads, batch, iters, modDir] = process.argv.slice(2);
const require = createRequire(path.resolve(modDir || ".", "node_modules") + "/");
const ort = require("onnxruntime-node");

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: Number(threads), interOpNumThreads: 1,
  graphOptimizationLevel: "all", executionMode: "sequential",
});
const B = Number(batch);
const rows = [];
for (let i = 0; i < B; i++) {
  const n = 10 + ((7 * i) % 11), row = [49406];
  for (let j = 1; j < n - 1; j++) row.push(1000 + ((131 * i + 17 * j) % 40000));
  rows.push([...row, 49407]);
}
const L = Math.max(...rows.map((r) => r.length));
const data = new BigInt64Array(B * L);
rows.forEach((r, i) => { for (let j = 0; j < L; j++) data[i * L + j] = BigInt(j < r.length ? r[j] : 49407); });
const feeds = { input_ids: new ort.Tensor("int64", data, [B, L]) };
for (let i = 0; i < Math.min(3, Number(iters)); i++) await session.run(feeds);
const t0 = process.hrtime.bigint();
for (let i = 0; i < Number(iters); i++) await session.run(feeds);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
const tps = (B * Number(iters)) / s;
console.log(`onnxruntime threads=${threads} batch=${B} texts/s=${tps.toFixed(2)}`);
