package codec

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonScript is the reference side of the interoperability tests. It
// reads manifest.json from the folder given as its argument; for each case
// it decodes the Go-encoded file (when there is one) with numcodecs and
// records whether that gives the raw bytes, and encodes the raw bytes with
// numcodecs into NAME.py. Blosc cases whose size is not a multiple of the
// type size cannot go through numcodecs (it takes the type size from a
// numpy dtype), so they call the same c-blosc library through ctypes.
const pythonScript = `
import ctypes, json, os, sys, traceback
import numpy as np
import numcodecs

d = sys.argv[1]
cases = json.load(open(os.path.join(d, "manifest.json")))
results = {}
lib = None

def blosc_raw(raw, cfg, typesize):
    global lib
    if lib is None:
        lib = ctypes.CDLL("libblosc.so.1")
        lib.blosc_set_compressor.argtypes = [ctypes.c_char_p]
        lib.blosc_set_blocksize.argtypes = [ctypes.c_size_t]
        lib.blosc_compress.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t,
            ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    if lib.blosc_set_compressor(cfg["cname"].encode()) < 0:
        raise ValueError("compressor unknown to c-blosc")
    lib.blosc_set_blocksize(cfg.get("blocksize", 0))
    src = ctypes.create_string_buffer(raw, len(raw))
    dst = ctypes.create_string_buffer(len(raw) + 16)
    n = lib.blosc_compress(cfg.get("clevel", 5), cfg.get("shuffle", 1), typesize, len(raw),
        src, dst, len(raw) + 16)
    lib.blosc_set_blocksize(0)
    if n <= 0:
        raise ValueError("blosc_compress returned %d" % n)
    return dst.raw[:n]

for c in cases:
    name = c["name"]
    res = {}
    raw = open(os.path.join(d, name + ".raw"), "rb").read()
    codec = numcodecs.get_codec(dict(c["codec"]))
    ts = c.get("typesize", 1)
    if c.get("go"):
        try:
            enc = open(os.path.join(d, name + ".go"), "rb").read()
            out = codec.decode(enc)
            res["decoded_equal"] = bytes(memoryview(out).cast("B")) == raw
        except Exception as e:
            res["decode_error"] = repr(e)
    try:
        if c["codec"]["id"] == "blosc" and len(raw) % ts != 0:
            enc = blosc_raw(raw, c["codec"], ts)
        else:
            enc = codec.encode(np.frombuffer(raw, dtype="V%d" % ts if ts > 1 else "u1"))
        open(os.path.join(d, name + ".py"), "wb").write(bytes(enc))
    except Exception as e:
        res["encode_error"] = repr(e)
    results[name] = res
json.dump(results, open(os.path.join(d, "results.json"), "w"))
`

// pyCase is one case of the interoperability tests.
type pyCase struct {
	Name     string         `json:"name"`
	Codec    map[string]any `json:"codec"` // a numcodecs codec configuration
	TypeSize int            `json:"typesize,omitempty"`
	Go       bool           `json:"go"` // NAME.go holds a Go-encoded frame to decode
	raw      []byte
	goEnc    []byte
}

// pyResult is what the reference side reports for one case.
type pyResult struct {
	DecodedEqual *bool  `json:"decoded_equal"`
	DecodeError  string `json:"decode_error"`
	EncodeError  string `json:"encode_error"`
}

// pythonPath is the interpreter that has numcodecs: $PYTHON when set, else
// the system interpreter.
func pythonPath() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// runNumcodecs runs all cases through numcodecs in one Python process. It
// returns the reference results and the numcodecs-encoded bytes per case
// name, and skips the test when Python or numcodecs is missing.
func runNumcodecs(t *testing.T, cases []pyCase) (map[string]pyResult, map[string][]byte) {
	t.Helper()
	py := pythonPath()
	if err := exec.Command(py, "-c", "import numpy, numcodecs").Run(); err != nil {
		t.Skipf("reference implementation unavailable: %s cannot import numpy and numcodecs (%v); set $PYTHON to an interpreter that can", py, err)
	}
	dir := t.TempDir()
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.Name+".raw"), c.raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if c.Go {
			if err := os.WriteFile(filepath.Join(dir, c.Name+".go"), c.goEnc, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	manifest, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", pythonScript, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numcodecs reference run: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]pyResult{}
	if err := json.Unmarshal(data, &results); err != nil {
		t.Fatal(err)
	}
	encoded := map[string][]byte{}
	for _, c := range cases {
		if b, err := os.ReadFile(filepath.Join(dir, c.Name+".py")); err == nil {
			encoded[c.Name] = b
		}
	}
	return results, encoded
}
