// Reads OME-Zarr 0.5 images with zarrita (the JavaScript Zarr
// implementation), independently of niiv's own reader, for the omezarr
// package's tests.
//
// Usage: node read_zarrita.mjs NODE_MODULES OUT_DIR IMAGE...
//
// For each IMAGE (the i-th, from 0) it writes OUT_DIR/i/L.f64, the voxels
// of level L as little-endian float64 in C order, and prints one JSON line:
// {"attrs": the group's attributes, "levels": [{"path", "shape", "dtype",
// "chunks", "dims"}...]}.
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const [nm, out, ...images] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(path.join(nm, p)).href);
const zarr = await load("zarrita/dist/src/index.js");
const FileSystemStore = (await load("@zarrita/storage/dist/src/fs.js")).default;

// zarrita strips crc32c checksums without checking them: this CRC-32C
// (Castagnoli, reflected polynomial 0x82f63b78, written here from the
// specification) checks them.
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
      decode(d) {
        const body = d.subarray(0, d.length - 4);
        const sum = new DataView(d.buffer, d.byteOffset + d.length - 4, 4).getUint32(0, true);
        if (crc32c(body) !== sum) throw new Error(`crc32c mismatch: data has ${crc32c(body)}, stored ${sum}`);
        return body;
      },
      computeEncodedSize: (n) => n + 4,
    };
  },
}));

for (const [i, img] of images.entries()) {
  const root = zarr.root(new FileSystemStore(img));
  const g = await zarr.open(root, { kind: "group" });
  const ms = g.attrs.ome.multiscales[0];
  const levels = [];
  fs.mkdirSync(path.join(out, String(i)), { recursive: true });
  for (const [l, ds] of ms.datasets.entries()) {
    const a = await zarr.open(root.resolve(ds.path), { kind: "array" });
    const { data, shape, stride } = await zarr.get(a);
    const n = shape.reduce((x, y) => x * y, 1);
    const f = new Float64Array(n);
    let j = 0;
    for (let z = 0; z < shape[0]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[2]; x++) f[j++] = Number(data[z * stride[0] + y * stride[1] + x * stride[2]]);
    fs.writeFileSync(path.join(out, String(i), `${l}.f64`), Buffer.from(f.buffer));
    levels.push({ path: ds.path, shape: a.shape, dtype: a.dtype, chunks: a.chunks, dims: a.dimensionNames ?? null });
  }
  console.log(JSON.stringify({ attrs: g.attrs, levels }));
}
