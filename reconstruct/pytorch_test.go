package reconstruct

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/volume"
)

// pytorchRef decodes xz planes of an 8-bit volume with the training
// package's PyTorch model (weights read from the model folder's ONNX files),
// normalised with numpy.percentile as in training.
const pytorchRef = `
import importlib.util, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
import model as M
spec = importlib.util.spec_from_file_location("bt", sys.argv[2])
bt = importlib.util.module_from_spec(spec); spec.loader.exec_module(bt)
net = bt.load(sys.argv[3], M)
vol = np.load(sys.argv[4]).astype(np.float32)
y, out_h, lp, hp = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[8]), float(sys.argv[9])
lo, hi = np.percentile(vol, [lp, hp])
low = torch.from_numpy(((vol[:, y, :] - lo) / (hi - lo)).astype(np.float32))[None, None]
with torch.no_grad():
    p = net.decode_grid(low, out_h, vol.shape[2])[0].numpy() * (hi - lo) + lo
np.save(sys.argv[7], p.astype(np.float32))
`

// TestPipelineMatchesPyTorch checks the whole niiv path (plane extraction,
// normalisation, coordinates, decoding, denormalisation) against the
// training package's PyTorch model on an 8-bit volume. It needs
// /usr/bin/python3 with PyTorch and ONNX.
func TestPipelineMatchesPyTorch(t *testing.T) {
	needRuntime(t)
	python := reftest.Python(t, "torch", "onnx")
	train, _ := filepath.Abs(filepath.Join("train"))
	script, _ := filepath.Abs(filepath.Join("..", "cli", "bench_torch.py"))
	if _, err := os.Stat(filepath.Join(train, "model.py")); err != nil {
		t.Skipf("skipping: training package not found: %v", err)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	s := volume.Shape{Z: 6, Y: 3, X: 21}
	data := make([]uint8, s.Len())
	for i := range data {
		data[i] = uint8(rng.IntN(200) + 20)
	}
	vol, _ := volume.New(s, data, volume.Unknown())
	dir := t.TempDir()
	volPath := filepath.Join(dir, "vol.npy")
	writeNPYUint8(t, volPath, data, s)
	for _, mdir := range modelDirs(t) {
		mdir, _ = filepath.Abs(mdir)
		m := loadTest(t, mdir, ModelOptions{Device: "cpu"})
		n := NewNiiv(m, nil)
		const y, outH = 1, 23
		got, err := n.Render(context.Background(), FullPlane(vol, volume.XZ, y, s.X, outH))
		if err != nil {
			t.Fatal(err)
		}
		outPath := filepath.Join(dir, "out.npy")
		cmd := exec.Command(python, "-c", pytorchRef, train, script, mdir, volPath, fmt.Sprint(y), fmt.Sprint(outH), outPath,
			fmt.Sprint(m.lowP), fmt.Sprint(m.hiP))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: python: %v\n%s", mdir, err, out)
		}
		want, _ := readNPYFile(t, outPath)
		lo, hi := n.NormRange(vol)
		if d := tensor.MaxAbsDiff(got.Pix, want) / (hi - lo); d > 1e-4 {
			t.Errorf("%s: Go vs PyTorch: max difference %.3g of the normalisation range", filepath.Base(mdir), d)
		} else {
			t.Logf("%s: Go vs PyTorch: max difference %.3g of the normalisation range", filepath.Base(mdir), d)
		}
	}
}

func writeNPYUint8(t *testing.T, path string, data []uint8, s volume.Shape) {
	hdr := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d), }", s.Z, s.Y, s.X)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(hdr)))
	b = append(b, hdr...)
	b = append(b, data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
