package adapt

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// Save writes the adapted model to the folder dir: the parent's files with
// decoder.onnx re-encoded with the adapted weights (same graph), the test
// values recomputed for it, weights.npz (when the parent has one) updated,
// and a card recording the parent and the adaptation. It writes into a
// temporary folder beside dir and renames it, so dir is either complete or
// untouched; an existing dir is replaced only when it holds an adapted
// model. It writes nothing when ctx is cancelled first.
func Save(ctx context.Context, dir string, p *Parent, res *Result) error {
	files, err := modelFiles(p, res)
	if err != nil {
		return fmt.Errorf("adapt: save %s: %w", dir, err)
	}
	if err := writeFolder(ctx, dir, files); err != nil {
		return fmt.Errorf("adapt: save %s: %w", dir, err)
	}
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// modelFiles builds every file of the adapted model folder.
func modelFiles(p *Parent, res *Result) (map[string][]byte, error) {
	files, raw, notes, err := weightFiles(p, res.Decoder, res.Encoder)
	if err != nil {
		return nil, err
	}
	notes = append([]string{"fields other than name, adaptation, test_tensors and files describe the parent model"}, notes...)
	o := res.Options
	parentName := p.Name()
	if s, ok := raw["name"].(string); ok && s != "" {
		parentName = s
	}
	raw["name"] = parentName + "-adapted"
	if ev, ok := raw["evaluation"]; ok {
		raw["parent_evaluation"] = ev
		delete(raw, "evaluation")
	}
	parentFiles := map[string]string{}
	for _, name := range []string{"card.json", "encoder.onnx", "decoder.onnx"} {
		parentFiles[name] = sha(p.Files[name])
	}
	what := map[string]string{
		TrainDecoder: "self-supervised fine-tuning of the decoder MLP (encoder frozen)",
		TrainWhole:   "self-supervised fine-tuning of the whole network (encoder and decoder)",
		TrainScratch: "self-supervised training of the whole network from random weights",
	}[res.Train]
	if res.KeptParent {
		what += " (no checkpoint beat the parent on the held-out planes: the parent's weights are kept)"
	}
	lateralCheck := map[string]any{
		"held_out_planes": res.HeldOut,
		"crops":           res.ValCrops,
		"metric":          fmt.Sprintf("mean clipped-Fourier PSNR at r = %g (24 for 128 px) of %d×%d crops of the held-out xy planes, rows average-pooled by the factor and reconstructed; intensities scaled as niiv eval does", 24*float64(o.Crop)/128, o.Crop, o.Crop),
		"best_step":       res.BestStep,
		"stopped_early":   res.StoppedEarly,
		"kept_parent":     res.KeptParent,
	}
	if !math.IsNaN(res.Lateral) {
		lateralCheck["parent_db"] = round(res.LateralParent, 3)
		lateralCheck["adapted_db"] = round(res.Lateral, 3)
	}
	raw["adaptation"] = map[string]any{
		"method": what + " on lateral pairs from the volume's own xy planes: " +
			"random crops, 8 dihedral symmetries, rows average-pooled by the factor; L1 loss, Adam; niiv adapt (Go)",
		"trained":       res.Train,
		"lateral_check": lateralCheck,
		"parent": map[string]any{
			"name":   parentName,
			"source": p.Model.Source,
			"sha256": parentFiles,
		},
		"volume": map[string]any{
			"name":   res.Volume.Name,
			"shape":  []int{res.Volume.Shape.Z, res.Volume.Shape.Y, res.Volume.Shape.X},
			"sha256": res.Volume.SHA256,
			"note":   "sha256 of the voxel data (C order, native type, little endian)",
		},
		"normalisation_range": []float64{res.NormLow, res.NormHigh},
		"factor":              o.Factor,
		"crop":                o.Crop,
		"batch":               o.Batch,
		"points_per_crop":     pointsLabel(o),
		"pool":                o.Pool,
		"lr":                  o.LR,
		"optimizer":           "Adam (betas 0.9, 0.999, eps 1e-8)",
		"seed":                o.Seed,
		"steps":               res.Steps,
		"seconds":             round(res.Seconds, 1),
		"loss":                round(res.Loss, 6),
		"parent_loss":         round(res.ParentLoss, 6),
		"loss_note":           fmt.Sprintf("mean L1 (normalised intensities) of the adapted and the parent decoder on %d fixed crops of the volume's xy planes", EvalCrops),
		"last_training_loss":  round(res.LastLoss, 6),
		"date":                time.Now().UTC().Format(time.RFC3339),
		"notes":               notes,
	}
	return withCard(files, raw)
}

// withCard adds card.json, raw with the sha256 and size of every file, to
// files.
func withCard(files map[string][]byte, raw map[string]any) (map[string][]byte, error) {
	fm := map[string]any{}
	for name, b := range files {
		fm[name] = map[string]any{"sha256": sha(b), "bytes": len(b)}
	}
	raw["files"] = fm
	cb, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, err
	}
	files["card.json"] = append(cb, '\n')
	return files, nil
}

// weightFiles builds the files of a model folder with the parent's graphs
// and new weights dec and enc (enc nil: the parent's encoder): the ONNX
// graphs, test tensors, weights.npz and the other files of the parent,
// with the parent's card parsed into raw for the caller to edit, and notes
// for it.
func weightFiles(p *Parent, dec *reconstruct.DecoderMLP, enc *reconstruct.EncoderEDSR) (files map[string][]byte, raw map[string]any, notes []string, err error) {
	files = map[string][]byte{}
	for name, b := range p.Files {
		if name != "card.json" {
			files[name] = b
		}
	}
	decb, err := reconstruct.WriteDecoderMLP(p.Files["decoder.onnx"], dec)
	if err != nil {
		return nil, nil, nil, err
	}
	files["decoder.onnx"] = decb
	if enc != nil {
		encb, err := reconstruct.WriteEncoderEDSR(p.Files["encoder.onnx"], enc)
		if err != nil {
			return nil, nil, nil, err
		}
		files["encoder.onnx"] = encb
	}
	var card reconstruct.Card
	raw = map[string]any{}
	if err := json.Unmarshal(p.Files["card.json"], &card); err != nil {
		return nil, nil, nil, fmt.Errorf("parent card.json: %w", err)
	}
	if err := json.Unmarshal(p.Files["card.json"], &raw); err != nil {
		return nil, nil, nil, fmt.Errorf("parent card.json: %w", err)
	}
	if tt := card.TestTensors; tt != nil {
		if enc != nil {
			lat, err := testLatent(files[tt.Lowres], enc)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("test tensors: %s: %w", tt.Lowres, err)
			}
			files[tt.Latent] = lat
		}
		vals, err := testValues(files, tt.Lowres, tt.Latent, tt.Coords, dec)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("test tensors: %w", err)
		}
		files[tt.Values] = vals
	}
	if b, ok := files["weights.npz"]; ok {
		nb, err := updateNPZ(b, dec, enc)
		if err != nil {
			delete(files, "weights.npz")
			notes = append(notes, "weights.npz dropped: "+err.Error())
		} else {
			files["weights.npz"] = nb
		}
	}
	return files, raw, notes, nil
}

func pointsLabel(o Options) any {
	if o.Points == o.Crop*o.Crop {
		return "all"
	}
	return o.Points
}

func round(v float64, digits int) float64 {
	s := fmt.Sprintf("%.*f", digits, v)
	var r float64
	fmt.Sscan(s, &r)
	return r
}

// testValues decodes the model's test coordinates with the adapted decoder
// (the Go forward pass) and returns them as test_values.npy ([1, Q]).
func testValues(files map[string][]byte, lowName, latName, coordName string, d *reconstruct.DecoderMLP) ([]byte, error) {
	low, ls, err := tensor.DecodeNPY(files[lowName])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", lowName, err)
	}
	lat, _, err := tensor.DecodeNPY(files[latName])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", latName, err)
	}
	coords, _, err := tensor.DecodeNPY(files[coordName])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", coordName, err)
	}
	if len(ls) != 4 || ls[0] != 1 || ls[1] != 1 || len(lat) != d.Feats*ls[2]*ls[3] {
		return nil, fmt.Errorf("%s has shape %v, want [1,1,H,W] matching the latent grid", lowName, ls)
	}
	n, err := newNet(d)
	if err != nil {
		return nil, err
	}
	v := n.predict(lat, low, ls[2], ls[3], coords)
	return tensor.EncodeNPY(v, 1, len(v)), nil
}

// testLatent encodes the model's test input with the trained encoder (the
// Go forward pass) and returns it as test_latent.npy ([1, F, H, W]).
func testLatent(lowNPY []byte, e *reconstruct.EncoderEDSR) ([]byte, error) {
	low, ls, err := tensor.DecodeNPY(lowNPY)
	if err != nil {
		return nil, err
	}
	if len(ls) != 4 || ls[0] != 1 || ls[1] != 1 {
		return nil, fmt.Errorf("shape %v, want [1,1,H,W]", ls)
	}
	h, w := ls[2], ls[3]
	n := newEncNet(e)
	wk := n.newWork()
	n.forward(n.pack(nil), low, h, w, wk)
	ld := n.ld()
	lat := make([]float32, e.Feats*h*w)
	for p := 0; p < h*w; p++ {
		for f := 0; f < e.Feats; f++ {
			lat[f*h*w+p] = wk.latent[p*ld+f]
		}
	}
	return tensor.EncodeNPY(lat, 1, e.Feats, h, w), nil
}

// updateNPZ replaces the decoder MLP's arrays (decoder.mlp.K.weight as
// [out][in], decoder.mlp.K.bias) in a weights.npz written by
// reconstruct/train/export.py.
func updateNPZ(b []byte, d *reconstruct.DecoderMLP, e *reconstruct.EncoderEDSR) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	repl := map[string][]float32{}
	shapes := map[string][]int{}
	for i, l := range d.Layers {
		wt := make([]float32, len(l.W))
		for r := 0; r < l.In; r++ {
			for c := 0; c < l.Out; c++ {
				wt[c*l.In+r] = l.W[r*l.Out+c]
			}
		}
		key := fmt.Sprintf("decoder.mlp.%d.", 2*i)
		repl[key+"weight.npy"], shapes[key+"weight.npy"] = wt, []int{l.Out, l.In}
		repl[key+"bias.npy"], shapes[key+"bias.npy"] = l.B, []int{l.Out}
	}
	if e != nil {
		names := []string{"encoder.head."}
		for b := range e.Blocks {
			names = append(names, fmt.Sprintf("encoder.body.%d.conv1.", b), fmt.Sprintf("encoder.body.%d.conv2.", b))
		}
		names = append(names, "encoder.tail.")
		for i, c := range e.Convs() {
			repl[names[i]+"weight.npy"], shapes[names[i]+"weight.npy"] = c.W, []int{c.Out, c.In, 3, 3}
			repl[names[i]+"bias.npy"], shapes[names[i]+"bias.npy"] = c.B, []int{c.Out}
		}
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	found := 0
	for _, f := range zr.File {
		v, ok := repl[f.Name]
		if !ok {
			if err := zw.Copy(f); err != nil {
				return nil, err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		old, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		_, shape, err := tensor.DecodeNPY(old)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if fmt.Sprint(shape) != fmt.Sprint(shapes[f.Name]) {
			return nil, fmt.Errorf("%s has shape %v, want %v", f.Name, shape, shapes[f.Name])
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store, Modified: f.Modified})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(tensor.EncodeNPY(v, shapes[f.Name]...)); err != nil {
			return nil, err
		}
		found++
	}
	if found != len(repl) {
		return nil, fmt.Errorf("weights.npz holds %d of the trained network's %d arrays", found, len(repl))
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeFolder writes files into a temporary folder beside dir and renames
// it to dir (atomicfile.WriteDir), replacing dir only when it holds an
// adapted model. A folder half written when niiv was killed stays hidden
// (".NAME.tmp-N") and is removed by the next save to dir; a full disk
// removes it at once and says how much space the model needs.
func writeFolder(ctx context.Context, dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if st, err := os.Stat(dir); err == nil && (!st.IsDir() || !isAdapted(dir)) {
		return errors.New("exists and is not an adapted model folder; choose another --out")
	}
	return atomicfile.WriteDir(ctx, dir, files)
}

// isAdapted reports whether dir holds a model card with an adaptation,
// or one that niiv train wrote.
func isAdapted(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil {
		return false
	}
	var c struct {
		Adaptation json.RawMessage `json:"adaptation"`
		Training   struct {
			Method string `json:"method"`
		} `json:"training"`
	}
	return json.Unmarshal(b, &c) == nil && (len(c.Adaptation) > 0 || strings.HasSuffix(c.Training.Method, "niiv train (Go)"))
}

// DefaultDir returns where an adapted model of volumePath is kept by
// default: the folder "<file>.adapted-<model>" beside the volume when the
// volume is a file or folder on disk whose folder can be written, else one
// in the user cache (<cache>/niiv/adapted/<file>-<hash of its absolute
// path>-<model>) — also for the bundled sample, which has no file, and for
// a volume read from an http(s) URL, beside which nothing is written (the
// hash is then the URL's; without a user cache the folder is made in the
// working folder).
func DefaultDir(volumePath, model string) string {
	beside, cached := candidateDirs(volumePath, model)
	if beside != "" {
		if _, err := os.Stat(volumePath); err == nil && writable(filepath.Dir(beside)) {
			return beside
		}
	}
	if cached == "" {
		return beside
	}
	return cached
}

// candidateDirs returns the two places DefaultDir chooses between; cached
// is empty when the system has no user cache folder, beside when the
// volume is a URL (cached is then never empty).
func candidateDirs(volumePath, model string) (beside, cached string) {
	safe := strings.NewReplacer("/", "_", "\\", "_", ":", "_")
	model = safe.Replace(reconstruct.ModelName(model))
	var abs, base string
	if isURL(volumePath) {
		abs, base = volumePath, safe.Replace(urlBase(volumePath))
	} else {
		var err error
		if abs, err = filepath.Abs(volumePath); err != nil {
			abs = volumePath
		}
		base = filepath.Base(abs)
		beside = filepath.Join(filepath.Dir(abs), base+".adapted-"+model)
	}
	if cache, err := os.UserCacheDir(); err == nil {
		cached = filepath.Join(cache, "niiv", "adapted", base+"-"+sha([]byte(abs))[:12]+"-"+model)
	} else if beside == "" {
		cached = base + "-" + sha([]byte(abs))[:12] + ".adapted-" + model
	}
	return beside, cached
}

// isURL reports whether a volume path is an http:// or https:// URL, which
// niiv reads over HTTP and never writes beside.
func isURL(p string) bool {
	for _, prefix := range []string{"http://", "https://"} {
		if len(p) >= len(prefix) && strings.EqualFold(p[:len(prefix)], prefix) {
			return true
		}
	}
	return false
}

// urlBase is the last element of a URL's path ("img.zarr"), or its host.
func urlBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "volume"
	}
	if b := path.Base(u.Path); b != "/" && b != "." && b != "" {
		return b
	}
	if u.Host != "" {
		return u.Host
	}
	return "volume"
}

// writable reports whether a file can be created in dir.
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".niiv-write-test-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// Remembered returns the folder of the model adapted to vol (read from
// volumePath) from model by an earlier run that saved to DefaultDir, when
// that folder holds an adapted model made from the same voxels. Viewers
// use it to offer the adapted model again. It only reads: both places
// DefaultDir may have chosen are looked at, beside the volume first.
func Remembered(volumePath string, vol *volume.Volume, model string) (string, bool) {
	beside, cached := candidateDirs(volumePath, model)
	for _, dir := range []string{beside, cached} {
		if dir != "" && sameVoxels(dir, vol) {
			return dir, true
		}
	}
	return "", false
}

// sameVoxels reports whether dir holds a model adapted to vol's voxels.
func sameVoxels(dir string, vol *volume.Volume) bool {
	b, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil {
		return false
	}
	var c struct {
		Adaptation struct {
			Volume struct {
				SHA256 string `json:"sha256"`
			} `json:"volume"`
		} `json:"adaptation"`
	}
	if json.Unmarshal(b, &c) != nil || c.Adaptation.Volume.SHA256 == "" {
		return false
	}
	info, err := describe(context.Background(), vol)
	return err == nil && c.Adaptation.Volume.SHA256 == info.SHA256
}
