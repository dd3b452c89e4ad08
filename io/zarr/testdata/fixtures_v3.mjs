// Writes the Zarr v3 fixtures of the zarr package's tests with zarrita (the
// JavaScript Zarr implementation) and a manifest.json describing them.
//
// Usage: node fixtures_v3.mjs NODE_MODULES OUT_DIR [blosc]
//
// Unsharded arrays are written by zarrita's own writer; zarrita cannot
// write shards, so shards are assembled here from inner chunks and an index
// encoded by zarrita's codec pipelines. Every array is read back with
// zarrita and compared with the voxels written before the manifest lists it
// (but those with the shard index at the start, which zarrita does not read).
// The expected voxels of each level (after picking the channel, as z, y, x)
// are in .f64 files of little-endian float64 values.
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const [nm, out, bloscArg] = process.argv.slice(2);
const withBlosc = bloscArg === "blosc";
const load = (p) => import(pathToFileURL(path.join(nm, p)).href);
const zarr = await load("zarrita/dist/src/index.js");
const { createCodecPipeline } = await load("zarrita/dist/src/codecs.js");
const FileSystemStore = (await load("@zarrita/storage/dist/src/fs.js")).default;
const Blosc = (await load("numcodecs/dist/blosc.js")).default;

// numcodecs' Blosc takes shuffle as a number; the v3 codec names it.
const shuffles = { noshuffle: 0, shuffle: 1, bitshuffle: 2 };
zarr.registry.set("blosc", () => ({
  fromConfig(c) {
    const b = Blosc.fromConfig({ cname: c.cname, clevel: c.clevel, shuffle: shuffles[c.shuffle], blocksize: c.blocksize ?? 0 });
    return { kind: "bytes_to_bytes", encode: (d) => b.encode(d), decode: (d) => b.decode(d) };
  },
}));

// zarrita decodes gzip and crc32c but does not encode them: numcodecs'
// GZip, and a CRC-32C (Castagnoli, reflected polynomial 0x82f63b78)
// written here from the specification, stand in.
const GZip = (await load("numcodecs/dist/gzip.js")).default;
zarr.registry.set("gzip", () => ({
  fromConfig(c) {
    const g = GZip.fromConfig({ level: c.level });
    return { kind: "bytes_to_bytes", encode: (d) => g.encode(d), decode: (d) => g.decode(d) };
  },
}));
const crcTable = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  crcTable[n] = c >>> 0;
}
function crc32c(b) {
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
zarr.registry.set("crc32c", () => ({
  fromConfig() {
    return {
      kind: "bytes_to_bytes",
      encode(d) {
        const o = new Uint8Array(d.length + 4);
        o.set(d);
        new DataView(o.buffer).setUint32(d.length, crc32c(d), true);
        return o;
      },
      decode(d) {
        const body = d.subarray(0, d.length - 4);
        const sum = new DataView(d.buffer, d.byteOffset + d.length - 4, 4).getUint32(0, true);
        if (crc32c(body) !== sum) throw new Error("crc32c mismatch");
        return body;
      },
      computeEncodedSize: (n) => n + 4,
    };
  },
}));

const ctors = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  uint32: Uint32Array, int32: Int32Array, uint64: BigUint64Array, int64: BigInt64Array,
  float32: Float32Array, float64: Float64Array,
};
const big = (dt) => dt === "int64" || dt === "uint64";
const cases = [];

function strides(shape) {
  const s = new Array(shape.length);
  let m = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = m;
    m *= shape[i];
  }
  return s;
}
const count = (shape) => shape.reduce((a, b) => a * b, 1);

// Deterministic voxels covering much of each type's range.
function values(shape, dt, seed) {
  const n = count(shape);
  const a = new ctors[dt](n);
  for (let i = 0; i < n; i++) {
    const k = i + seed;
    if (dt.startsWith("float")) a[i] = Math.sin(k * 0.37) * 1000 + k * 0.25;
    else if (dt === "int64") a[i] = BigInt.asIntN(64, BigInt(k) * 0x9e3779b97f4a7c15n);
    else if (dt === "uint64") a[i] = BigInt.asUintN(64, BigInt(k) * 0x9e3779b97f4a7c15n);
    else a[i] = Math.imul(k, 2654435761) ^ (k << 7);
  }
  return a;
}

const castFill = (dt, fill) => (big(dt) ? BigInt(fill) : fill);

// full returns the array an element of which is fill outside region (a
// list of [start, stop) per axis) and v inside it.
function withRegion(v, shape, dt, fill, region) {
  if (!region) return v;
  const a = new ctors[dt](v.length).fill(castFill(dt, fill));
  const st = strides(shape);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < v.length; i++) {
    let rem = i;
    let inside = true;
    for (let d = 0; d < shape.length; d++) {
      idx[d] = Math.floor(rem / st[d]);
      rem %= st[d];
      if (idx[d] < region[d][0] || idx[d] >= region[d][1]) inside = false;
    }
    if (inside) a[i] = v[i];
  }
  return a;
}

// sub copies box [lo, lo+ext) of the C-order array v of shape, padding
// with fill past its end.
function sub(v, shape, dt, fill, lo, ext) {
  const a = new ctors[dt](count(ext)).fill(castFill(dt, fill));
  const st = strides(shape);
  const est = strides(ext);
  for (let j = 0; j < a.length; j++) {
    let rem = j;
    let off = 0;
    let inside = true;
    for (let d = 0; d < ext.length; d++) {
      const p = lo[d] + Math.floor(rem / est[d]);
      rem %= est[d];
      if (p >= shape[d]) inside = false;
      off += p * st[d];
    }
    if (inside) a[j] = v[off];
  }
  return a;
}

function* grid(counts) {
  const idx = new Array(counts.length).fill(0);
  if (counts.some((c) => c === 0)) return;
  for (;;) {
    yield idx.slice();
    let d = counts.length - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < counts[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// toC returns the elements of a zarrita chunk {data, shape, stride} in C
// order.
function toC({ data, shape, stride }) {
  const a = new data.constructor(count(shape));
  let j = 0;
  for (const idx of grid(shape)) a[j++] = data[idx.reduce((o, x, d) => o + x * stride[d], 0)];
  return a;
}

function sameArrays(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
}

function writeExpect(name, v) {
  const p = path.join(out, "expect", name + ".f64");
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const f = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) f[i] = Number(v[i]);
  fs.writeFileSync(p, Buffer.from(f.buffer));
  return path.relative(out, p);
}

// writeArray writes one v3 array at dir (relative to out) and returns its
// voxels as read back by zarrita.
async function writeArray(dir, o) {
  const { shape, chunks, dt, fill = 0, codecs, seed = 0 } = o;
  const full = withRegion(values(shape, dt, seed), shape, dt, fill, o.region);
  const root = path.join(out, dir);
  fs.mkdirSync(root, { recursive: true });
  const meta = {
    zarr_format: 3, node_type: "array", shape, data_type: dt,
    chunk_grid: { name: "regular", configuration: { chunk_shape: chunks } },
    chunk_key_encoding: o.keys ?? { name: "default", configuration: { separator: "/" } },
    fill_value: Number.isNaN(fill) ? "NaN" : fill,
    codecs: o.shard ? [{ name: "sharding_indexed", configuration: o.shard }] : codecs,
    attributes: {},
  };
  if (o.names) meta.dimension_names = o.names;
  fs.writeFileSync(path.join(root, "zarr.json"), JSON.stringify(meta, null, 1));
  const store = new FileSystemStore(root);
  if (o.shard) {
    await writeShards(root, meta, full, o);
  } else {
    const arr = await zarr.open(zarr.root(store), { kind: "array" });
    if (o.region) {
      const sel = o.region.map(([a, b]) => zarr.slice(a, b));
      const ext = o.region.map(([a, b]) => b - a);
      await zarr.set(arr, sel, { data: sub(full, shape, dt, fill, o.region.map((r) => r[0]), ext), shape: ext, stride: strides(ext) });
    } else {
      await zarr.set(arr, null, { data: full, shape, stride: strides(shape) });
    }
  }
  if (o.shard?.index_location === "start") {
    // zarrita reads every shard index from the end of the shard: such
    // arrays cannot be read back with it.
    return full;
  }
  const arr = await zarr.open(zarr.root(store), { kind: "array" });
  const got = await zarr.get(arr);
  if (!sameArrays(toC(got), full)) throw new Error(`${dir}: zarrita reads back other voxels than were written`);
  return full;
}

// writeShards assembles the shards of a sharded array: inner chunks that
// hold only the fill value, and shards listed in o.missing, are left out.
async function writeShards(root, meta, full, o) {
  const { shape, chunks: shard, dt, fill = 0 } = o;
  const cfg = o.shard;
  const per = shard.map((s, i) => s / cfg.chunk_shape[i]);
  const inner = createCodecPipeline({ dataType: dt, shape: cfg.chunk_shape, codecs: cfg.codecs, fillValue: fill });
  const idxShape = [...per, 2];
  const index = createCodecPipeline({ dataType: "uint64", shape: idxShape, codecs: cfg.index_codecs, fillValue: null });
  const idxSize = await index.computeEncodedSize(16 * count(per));
  const start = cfg.index_location === "start";
  for (const s of grid(shape.map((n, i) => Math.ceil(n / shard[i])))) {
    if ((o.missing ?? []).some((m) => m.join() === s.join())) continue;
    const parts = [];
    const entries = new BigUint64Array(2 * count(per));
    let off = start ? idxSize : 0;
    let j = 0;
    for (const c of grid(per)) {
      const lo = c.map((x, i) => s[i] * shard[i] + x * cfg.chunk_shape[i]);
      const data = sub(full, shape, dt, fill, lo, cfg.chunk_shape);
      if (data.every((x) => x === castFill(dt, fill) || (Number.isNaN(fill) && Number.isNaN(x)))) {
        entries[2 * j] = entries[2 * j + 1] = 0xffffffffffffffffn;
      } else {
        const b = await inner.encode({ data, shape: cfg.chunk_shape, stride: strides(cfg.chunk_shape) });
        parts.push(b);
        entries[2 * j] = BigInt(off);
        entries[2 * j + 1] = BigInt(b.length);
        off += b.length;
      }
      j++;
    }
    const ib = await index.encode({ data: entries, shape: idxShape, stride: strides(idxShape) });
    if (ib.length !== idxSize) throw new Error(`index of ${ib.length} bytes, expected ${idxSize}`);
    const body = start ? [ib, ...parts] : [...parts, ib];
    const p = path.join(root, "c", ...s.map(String));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, Buffer.concat(body.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))));
  }
}

const outType = (dt) =>
  ({ uint8: "uint8", int8: "int16", uint16: "uint16", int16: "int16", float32: "float32", int32: "float32",
    uint32: "float32", float64: "float64", int64: "float64", uint64: "float64" })[dt];

function add(name, p, levels, dt, extra = {}) {
  cases.push({
    name, path: p, dtype: outType(dt), fill: String(extra.fill ?? 0),
    levels: levels.map((l, i) => ({
      expect: writeExpect(`${name}/${i}`, l.data), shape: l.shape, name: l.name, voxel: extra.voxel ? extra.voxel[i] : null,
    })),
    channels: extra.channels ?? 1, times: 1, channel: extra.channel ?? 0, time: 0,
    blosc: !!extra.blosc, notes: extra.notes ?? 0,
  });
}

async function plain(name, o, extra = {}) {
  const dir = name + ".zarr";
  const data = await writeArray(dir, o);
  const shape = o.shape.length === 2 ? [1, ...o.shape] : o.shape;
  add(name, dir, [{ data, shape, name: dir }], o.dt, { fill: o.fill, ...extra });
}

const shape = [5, 13, 17];
const le = { name: "bytes", configuration: { endian: "little" } };
const be = { name: "bytes", configuration: { endian: "big" } };
const zstd = { name: "zstd", configuration: { level: 3, checksum: false } };
const gz = { name: "gzip", configuration: { level: 5 } };
const crc = { name: "crc32c" };
const blosc = (cname, shuffle) => ({ name: "blosc", configuration: { cname, clevel: 5, shuffle, typesize: 2, blocksize: 0 } });

await plain("v3_u16_zstd", { shape, chunks: [2, 5, 6], dt: "uint16", codecs: [le, zstd] });
await plain("v3_f32_transpose_gzip", { shape, chunks: [3, 4, 5], dt: "float32", seed: 1,
  codecs: [{ name: "transpose", configuration: { order: [2, 0, 1] } }, be, gz] });
await plain("v3_u8_v2keys", { shape, chunks: [2, 5, 6], dt: "uint8", seed: 2, codecs: [le, gz],
  keys: { name: "v2", configuration: { separator: "." } } });
await plain("v3_f64_zstd_crc_nan", { shape, chunks: [2, 5, 6], dt: "float64", seed: 3, codecs: [le, zstd, crc],
  fill: NaN, region: [[1, 3], [4, 9], [5, 13]] });
for (const [k, dt] of ["int8", "int32", "uint32", "int64", "uint64"].entries()) {
  await plain(`v3_${dt}`, { shape, chunks: [2, 5, 6], dt, seed: 4 + k, codecs: [k % 2 ? be : le, zstd] },
    { notes: dt === "int8" ? 0 : 1 });
}
await plain("v3_2d", { shape: [13, 17], chunks: [4, 5], dt: "uint16", seed: 9, codecs: [le, zstd], names: ["y", "x"] });
if (withBlosc) {
  for (const [cname, shuffle] of [["lz4", "noshuffle"], ["zstd", "shuffle"], ["blosclz", "bitshuffle"]]) {
    await plain(`v3_i16_blosc_${cname}_${shuffle}`, { shape, chunks: [2, 5, 6], dt: "int16", seed: 10,
      codecs: [le, blosc(cname, shuffle)], fill: -5, region: [[0, 4], [2, 11], [0, 17]] }, { blosc: true });
  }
}

// Sharded arrays: index at the end and at the start, transposed inner
// chunks, empty inner chunks and a missing shard.
await plain("v3_shard_end", { shape, chunks: [4, 10, 12], dt: "uint16", seed: 11,
  shard: { chunk_shape: [2, 5, 6], codecs: [le, zstd], index_codecs: [le, crc], index_location: "end" } });
await plain("v3_shard_start_transpose", { shape, chunks: [4, 10, 12], dt: "float32", seed: 12,
  shard: { chunk_shape: [2, 5, 4], codecs: [{ name: "transpose", configuration: { order: [1, 2, 0] } }, be, gz, crc],
    index_codecs: [le], index_location: "start" } });
await plain("v3_shard_sparse", { shape, chunks: [4, 10, 12], dt: "int16", seed: 13, fill: 9,
  region: [[0, 3], [0, 7], [0, 9]], missing: [[1, 1, 1]],
  shard: { chunk_shape: [2, 5, 6], codecs: [le, zstd], index_codecs: [le, crc], index_location: "end" } });
if (withBlosc) {
  await plain("v3_shard_blosc", { shape, chunks: [4, 10, 12], dt: "uint16", seed: 14,
    shard: { chunk_shape: [2, 5, 6], codecs: [le, blosc("lz4", "bitshuffle")], index_codecs: [le, crc] } }, { blosc: true });
}

// An OME-Zarr 0.5 group: c, z, y, x with units, two levels (the second
// sharded), read at channel 1.
{
  const g = "ome05.zarr";
  fs.mkdirSync(path.join(out, g), { recursive: true });
  const s0 = [2, 4, 16, 20];
  const s1 = [2, 4, 8, 10];
  const scale = (f) => [1, 0.5, 0.1 * f, 0.1 * f];
  fs.writeFileSync(path.join(out, g, "zarr.json"), JSON.stringify({
    zarr_format: 3, node_type: "group",
    attributes: { ome: { version: "0.5", multiscales: [{
      name: "lm",
      axes: [{ name: "c", type: "channel" }, { name: "z", type: "space", unit: "micrometer" },
        { name: "y", type: "space", unit: "micrometer" }, { name: "x", type: "space", unit: "micrometer" }],
      datasets: [
        { path: "s0", coordinateTransformations: [{ type: "scale", scale: scale(1) }] },
        { path: "s1", coordinateTransformations: [{ type: "scale", scale: scale(2) }] },
      ],
    }] } },
  }));
  const v0 = await writeArray(`${g}/s0`, { shape: s0, chunks: [1, 2, 8, 8], dt: "uint16", seed: 15, codecs: [le, zstd] });
  const v1 = await writeArray(`${g}/s1`, { shape: s1, chunks: [1, 4, 8, 10], dt: "uint16", seed: 16,
    shard: { chunk_shape: [1, 2, 4, 5], codecs: [le, gz], index_codecs: [le, crc] } });
  const c1 = (v, s) => v.slice(count(s.slice(1)), 2 * count(s.slice(1)));
  add("ome05", g, [{ data: c1(v0, s0), shape: s0.slice(1), name: `${g}/s0` }, { data: c1(v1, s1), shape: s1.slice(1), name: `${g}/s1` }],
    "uint16", { channels: 2, channel: 1, voxel: [[500, 100, 100], [500, 200, 200]] });
}

fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify({ cases, skipped: [] }, null, 1));
