package reconstruct

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/niiv/niiv/internal/tensor"
	ort "github.com/yalue/onnxruntime_go"
)

// Card is the part of a model card (card.json) the engine uses.
type Card struct {
	Name   string `json:"name"`
	Preset string `json:"preset"`
	Factor int    `json:"factor"`
	// Factors lists every factor a multi-factor model was trained on (a
	// random one per batch); empty for a single-factor model.
	Factors      []int `json:"factors,omitempty"`
	Architecture struct {
		Feats              int    `json:"feats"`
		Blocks             int    `json:"blocks"`
		MLPDepth           int    `json:"mlp_depth"`
		MLPWidth           int    `json:"mlp_width"`
		Head               string `json:"head"`
		SamplePadding      string `json:"sample_padding"`
		Parameters         int    `json:"parameters"`
		MACsPerOutputPixel int    `json:"macs_per_output_pixel"`
	} `json:"architecture"`
	Normalisation *struct {
		Kind           string  `json:"kind"`
		LowPercentile  float64 `json:"low_percentile"`
		HighPercentile float64 `json:"high_percentile"`
	} `json:"normalisation"`
	TestTensors *struct {
		Lowres    string  `json:"lowres"`
		Latent    string  `json:"latent"`
		Coords    string  `json:"coords"`
		Values    string  `json:"values"`
		Tolerance float64 `json:"tolerance"`
	} `json:"test_tensors"`
	Files map[string]struct {
		SHA256 string `json:"sha256"`
		Bytes  int64  `json:"bytes"`
	} `json:"files"`
}

// ModelOptions configure LoadModel.
type ModelOptions struct {
	// Device is "auto", "cpu" (default), "cuda", "tensorrt", "coreml" or
	// "directml". GPU providers the library lacks fall back to CPU; the
	// reason is in Model.Note.
	Device string
	// Threads is the number of ONNX Runtime intra-op threads and native
	// decoder workers; 0 means one per CPU.
	Threads int
	// Library is the ONNX Runtime shared library; "" finds it (FindLibrary).
	Library string
	// Embedded holds models shipped with the program (assets.Models): a
	// folder per model name. LoadModel looks names up there.
	Embedded fs.FS
	// ORTDecoder makes the model decode with the ONNX decoder graph instead
	// of the native Go decoder (slower; for comparison and tests).
	ORTDecoder bool
	// Int8 runs the native decoder's hidden layers in int8 on CPUs with
	// AVX-512 VNNI (ignored elsewhere; Model.Decoder says "native-int8"
	// when used): faster, not exact (values differ from float32 by about
	// 1/255 of the activations' range per layer).
	Int8 bool
}

// Model is a loaded niiv model: the encoder as an ONNX Runtime session and
// the decoder, natively (default) or as a session. It is safe for
// concurrent use. Close releases it, and may be called while other
// goroutines use it: every call that touches the sessions or the
// accelerator holds the model, Close cancels those calls and frees the
// sessions only once they have returned, and calls made after Close fail
// with an error wrapping ErrClosed.
type Model struct {
	// Name is the model's short name ("lite", "paper", "tiny"), the folder
	// name it was loaded from.
	Name string
	// Source says where it was loaded from ("embedded:lite" or a path).
	Source string
	Card   Card
	// Library is the ONNX Runtime library file in use.
	Library string
	// Provider is the execution provider actually used for the encoder:
	// "cpu", "cuda", ..., or "gl" when an accelerator encodes.
	Provider string
	// Note explains a device fallback or a decoder choice in one line; ""
	// when everything went as asked.
	Note string
	// Decoder is "native", "native-int8", "onnx" or "gl" (an accelerator:
	// compute or fragment shaders).
	Decoder string
	// Threads is the number of threads used.
	Threads int

	feats      int
	enc, dec   *ort.DynamicAdvancedSession
	enc1       *ort.DynamicAdvancedSession // one intra-op thread, for parallel workers
	mlp        *mlp
	lowP, hiP  float64
	life       lifetime
	testLowres []float32 // kept for self-checks

	// For accelerators: the model files (EncoderGraph, DecoderMLP) and the
	// accelerator itself (nil: CPU; see SetAccelerator).
	encONNX, decONNX []byte
	files            fs.FS // the folder the model was loaded from
	accel            Accelerator
	cpuDesc          [3]string // Provider, Decoder and Note without an accelerator
}

// ModelFormat opens a model stored in another form than a niiv model
// folder (a bioimage.io package): ok reports whether ref is one of its
// kind; when it is, the opener checks it and returns the niiv model files
// it holds (card.json, encoder.onnx, decoder.onnx and the card's test
// tensors) and the model's short name, or the reason it cannot be used.
type ModelFormat func(ref string, opt ModelOptions) (files fs.FS, name string, ok bool, err error)

var formats struct {
	sync.RWMutex
	list []ModelFormat
}

// RegisterModelFormat makes LoadModel try open on every model reference
// before folders and embedded names, as image.RegisterFormat does for
// image formats. Packages that implement a format register it in init.
func RegisterModelFormat(open ModelFormat) {
	formats.Lock()
	defer formats.Unlock()
	formats.list = append(formats.list, open)
}

// Files returns the files the model was loaded from (its folder, embedded
// folder or package).
func (m *Model) Files() fs.FS { return m.files }

// ModelName returns the short model name of a method or model reference:
// "niiv-lite" → "lite".
func ModelName(ref string) string { return strings.TrimPrefix(ref, "niiv-") }

// EmbeddedNames lists the models in an embedded models FS.
func EmbeddedNames(fsys fs.FS) []string {
	if fsys == nil {
		return nil
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := fs.Stat(fsys, path.Join(e.Name(), "card.json")); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

// LoadModel loads a model from ref: a folder holding encoder.onnx,
// decoder.onnx and card.json, or the name of an embedded model ("lite" or
// "niiv-lite"). It checks the files against the card's checksums, the
// graphs' inputs and outputs against the model contract, and the outputs
// against the model's test tensors. Errors wrap ErrNoRuntime when the ONNX
// Runtime library is missing; callers should then fall back to a classical
// method.
func LoadModel(ref string, opt ModelOptions) (*Model, error) {
	m, err := loadModel(ref, opt)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: load model %s: %w", ref, err)
	}
	return m, nil
}

func loadModel(ref string, opt ModelOptions) (*Model, error) {
	var fsys fs.FS
	var m Model
	formats.RLock()
	opens := formats.list
	formats.RUnlock()
	for _, f := range opens {
		pkg, name, ok, err := f(ref, opt)
		if !ok {
			continue
		}
		if err != nil {
			return nil, err
		}
		fsys, m.Source, m.Name = pkg, ref, name
		break
	}
	st, statErr := os.Stat(ref)
	switch {
	case fsys != nil: // a model package, checked by its opener
	case statErr == nil && st.IsDir():
		fsys, m.Source = os.DirFS(ref), ref
		m.Name = path.Base(strings.TrimRight(strings.ReplaceAll(ref, "\\", "/"), "/"))
	case opt.Embedded != nil && fs.ValidPath(ModelName(ref)):
		name := ModelName(ref)
		if _, err := fs.Stat(opt.Embedded, path.Join(name, "card.json")); err == nil {
			fsys, _ = fs.Sub(opt.Embedded, name)
			m.Source, m.Name = "embedded:"+name, name
		}
	}
	if fsys == nil {
		emb := EmbeddedNames(opt.Embedded)
		list := "none"
		if len(emb) > 0 {
			list = strings.Join(emb, ", ")
		}
		return nil, fmt.Errorf("not a model folder and not an embedded model (embedded models: %s)", list)
	}
	cardData, err := fs.ReadFile(fsys, "card.json")
	if err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	if err := json.Unmarshal(cardData, &m.Card); err != nil {
		return nil, fmt.Errorf("card.json: %w", err)
	}
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		if f, ok := m.Card.Files[name]; ok && f.SHA256 != "" {
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != f.SHA256 {
				return nil, fmt.Errorf("%s is corrupt: sha256 differs from the model card's", name)
			}
		}
		return b, nil
	}
	encData, err := read("encoder.onnx")
	if err != nil {
		return nil, err
	}
	decData, err := read("decoder.onnx")
	if err != nil {
		return nil, err
	}
	m.encONNX, m.decONNX = encData, decData
	m.files = fsys
	m.lowP, m.hiP = 0.5, 99.5
	if n := m.Card.Normalisation; n != nil && n.HighPercentile > n.LowPercentile {
		m.lowP, m.hiP = n.LowPercentile, n.HighPercentile
	}
	if m.Library, err = InitRuntime(opt.Library); err != nil {
		return nil, err
	}
	if err := checkGraph("encoder.onnx", encData, []string{"lowres"}, []int{4}, []string{"latent"}, []int{4}); err != nil {
		return nil, err
	}
	if err := checkGraph("decoder.onnx", decData, []string{"latent", "lowres", "coords"}, []int{4, 4, 3}, []string{"values"}, []int{2}); err != nil {
		return nil, err
	}
	m.Threads = opt.Threads
	if m.Threads <= 0 {
		m.Threads = runtime.NumCPU()
	}
	if err := m.openSessions(encData, decData, opt.Device); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	// Latent channels: from the card, else by running the encoder once.
	m.feats = m.Card.Architecture.Feats
	if m.feats <= 0 {
		lat, err := m.Encode(context.Background(), make([]float32, 4), 1, 2, 2)
		if err != nil {
			return nil, err
		}
		m.feats = len(lat) / 4
	}
	m.Decoder = "onnx"
	if !opt.ORTDecoder {
		g, err := parseONNX(decData)
		if err == nil {
			m.mlp, err = mlpFromGraph(g, m.feats)
		}
		if err != nil {
			m.addNote("native decoder unavailable (" + err.Error() + "); decoding with ONNX Runtime")
		} else {
			m.Decoder = "native"
		}
	}
	if err := m.selfCheck(fsys); err != nil {
		return nil, err
	}
	if opt.Int8 && m.mlp != nil {
		if int8Kernels {
			m.mlp.int8 = true
			m.Decoder = "native-int8"
		} else {
			m.addNote("int8 decoder needs AVX-512 VNNI; decoding in float32")
		}
	}
	ok = true
	return &m, nil
}

func (m *Model) addNote(s string) {
	if m.Note != "" {
		m.Note += "; "
	}
	m.Note += s
}

// openSessions creates the encoder and decoder sessions on the requested
// device, falling back to CPU.
func (m *Model) openSessions(enc, dec []byte, device string) error {
	device = strings.ToLower(device)
	var try []string
	switch device {
	case "", "cpu":
		try = []string{"cpu"}
	case "auto":
		try = append(autoProviders(), "cpu")
	default:
		if !slicesContains(Devices, device) {
			return fmt.Errorf("unknown device %q (want one of %s)", device, strings.Join(Devices, ", "))
		}
		try = []string{device, "cpu"}
	}
	var reasons []string
	for _, p := range try {
		err := m.openOn(p, enc, dec)
		if err == nil && p == "cpu" && m.Threads > 1 {
			err = m.openSingle(enc)
		}
		if err == nil {
			m.Provider = p
			if len(reasons) > 0 {
				m.addNote(strings.Join(reasons, "; ") + "; using CPU")
			}
			return nil
		}
		if p == "cpu" {
			return fmt.Errorf("create session: %w", err)
		}
		reasons = append(reasons, p+" unavailable: "+firstLine(err))
	}
	return errors.New("no execution provider")
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (m *Model) openOn(provider string, enc, dec []byte) error {
	o, err := sessionOptions(provider, m.Threads)
	if err != nil {
		return err
	}
	defer o.Destroy()
	e, err := ort.NewDynamicAdvancedSessionWithONNXData(enc, []string{"lowres"}, []string{"latent"}, o)
	if err != nil {
		return fmt.Errorf("encoder.onnx: %w", err)
	}
	d, err := ort.NewDynamicAdvancedSessionWithONNXData(dec, []string{"latent", "lowres", "coords"}, []string{"values"}, o)
	if err != nil {
		e.Destroy()
		return fmt.Errorf("decoder.onnx: %w", err)
	}
	m.enc, m.dec = e, d
	return nil
}

// openSingle creates the one-thread CPU encoder session that parallel
// workers use side by side (no thread-pool barriers between them).
func (m *Model) openSingle(enc []byte) error {
	o, err := sessionOptions("cpu", 1)
	if err != nil {
		return err
	}
	defer o.Destroy()
	m.enc1, err = ort.NewDynamicAdvancedSessionWithONNXData(enc, []string{"lowres"}, []string{"latent"}, o)
	if err != nil {
		return fmt.Errorf("encoder.onnx: %w", err)
	}
	return nil
}

// checkGraph verifies a graph's input and output names, ranks and float32
// element types.
func checkGraph(file string, data []byte, ins []string, inRanks []int, outs []string, outRanks []int) error {
	gi, go_, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return fmt.Errorf("%s is not a readable ONNX model: %v", file, firstLine(err))
	}
	check := func(kind string, got []ort.InputOutputInfo, names []string, ranks []int) error {
		if len(got) != len(names) {
			return fmt.Errorf("%s has %d %ss, want %d (%s)", file, len(got), kind, len(names), strings.Join(names, ", "))
		}
		for i, info := range got {
			if info.Name != names[i] {
				return fmt.Errorf("%s %s %d is %q, want %q", file, kind, i, info.Name, names[i])
			}
			if len(info.Dimensions) != ranks[i] {
				return fmt.Errorf("%s %s %q has shape %v, want rank %d", file, kind, info.Name, info.Dimensions, ranks[i])
			}
			if info.DataType != ort.TensorElementDataTypeFloat {
				return fmt.Errorf("%s %s %q is %v, want float32", file, kind, info.Name, info.DataType)
			}
		}
		return nil
	}
	if err := check("input", gi, ins, inRanks); err != nil {
		return err
	}
	return check("output", go_, outs, outRanks)
}

// Close releases the model's sessions and accelerator. Calls in progress
// are cancelled, and the sessions are freed once they have returned (Close
// waits up to CloseWait for that; a call still running then frees them
// itself when it returns, and Close says so in its error). Calls made
// after Close fail with an error wrapping ErrClosed. It is safe to call
// more than once and from any goroutine.
func (m *Model) Close() error {
	if !m.life.close(m.free, CloseWait) {
		return fmt.Errorf("reconstruct: close model %s: %d calls still running after %v; the model is freed when they return", m.Name, m.life.inUse(), CloseWait)
	}
	return nil
}

// free destroys the sessions and the accelerator (with no call in
// progress).
func (m *Model) free() {
	if m.enc != nil {
		m.enc.Destroy()
	}
	if m.enc1 != nil {
		m.enc1.Destroy()
	}
	if m.dec != nil {
		m.dec.Destroy()
	}
	if m.accel != nil {
		m.accel.Close()
	}
}

// use runs f holding m: Close waits for f to return before it frees the
// sessions, and cancels f's context when it begins. A call cancelled by
// Close (not by ctx) fails with an error wrapping ErrClosed; a call on a
// closed model fails with one at once.
func (m *Model) use(ctx context.Context, f func(ctx context.Context) error) error {
	hctx, done, err := m.life.enter(ctx, m.Name)
	if err != nil {
		return err
	}
	defer done()
	err = f(hctx)
	if err != nil && ctx.Err() == nil && hctx.Err() != nil {
		return &closedError{m.Name} // cancelled by Close
	}
	return err
}

// receptiveField returns how many pixels beyond a latent pixel its value
// depends on: one per 3×3 convolution of the EDSR encoder (head, two per
// residual block, tail), or 0 when the card does not give the blocks.
func (m *Model) receptiveField() int {
	if b := m.Card.Architecture.Blocks; b > 0 {
		return 2*b + 2
	}
	return 0
}

// ReceptiveField returns how many pixels beyond a region the encoder's
// latents there depend on (0 when the card does not say).
func (m *Model) ReceptiveField() int { return m.receptiveField() }

// Feats returns the number of latent channels.
func (m *Model) Feats() int { return m.feats }

// Factor returns the anisotropy factor the model was trained for (0 when
// the card does not say).
func (m *Model) Factor() int { return m.Card.Factor }

// FactorRange returns the smallest and largest anisotropy factor the model
// was trained on: the card's factors for a multi-factor model, else its one
// factor for both (0, 0 when the card does not say).
func (m *Model) FactorRange() (lo, hi int) {
	if len(m.Card.Factors) > 0 {
		lo, hi = m.Card.Factors[0], m.Card.Factors[0]
		for _, f := range m.Card.Factors {
			lo, hi = min(lo, f), max(hi, f)
		}
		return lo, hi
	}
	return m.Card.Factor, m.Card.Factor
}

// Summary describes the model in one line: name, provider, decoder, library.
func (m *Model) Summary() string {
	if m.Provider == "gl" {
		// The device, kernels and any fallback are in the note; the CPU
		// settings matter only for planes beyond the device's limits.
		s := fmt.Sprintf("model %s (%s)", m.Name, m.Source)
		if m.Note != "" {
			s += ", " + m.Note
		}
		return s + fmt.Sprintf("; beyond the GPU's limits: CPU with %d threads, ONNX Runtime %s", m.Threads, m.Library)
	}
	s := fmt.Sprintf("model %s (%s), encoder on %s with %d threads, %s decoder, ONNX Runtime %s", m.Name, m.Source, m.Provider, m.Threads, m.Decoder, m.Library)
	if m.Note != "" {
		s += "; " + m.Note
	}
	return s
}

// run runs a session, terminating it when ctx is cancelled.
func run(ctx context.Context, s *ort.DynamicAdvancedSession, in []ort.Value) (*ort.Tensor[float32], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, err
	}
	// Terminate may run on the cancelling goroutine at any moment; the run
	// options are destroyed only once it can no longer start or has returned.
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		ro.Terminate()
	})
	defer func() {
		if !stop() {
			<-terminated
		}
		ro.Destroy()
	}()
	out := []ort.Value{nil}
	if err := s.RunWithOptions(in, out, ro); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	t, ok := out[0].(*ort.Tensor[float32])
	if !ok {
		out[0].Destroy()
		return nil, fmt.Errorf("output is %T, want a float32 tensor", out[0])
	}
	return t, nil
}

// Encode runs the encoder on n normalised low-resolution slices of h×w
// ([n][h][w]) and returns the latent grids [n][F][h][w].
func (m *Model) Encode(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error) {
	return m.encode(ctx, m.enc, lowres, n, h, w)
}

// encodeWorker encodes like Encode on the calling goroutine only (one
// thread), for callers that run one encoder per CPU in parallel.
func (m *Model) encodeWorker(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error) {
	s := m.enc1
	if s == nil {
		s = m.enc
	}
	return m.encode(ctx, s, lowres, n, h, w)
}

// parallelEncoders reports whether encodeWorker runs single-threaded, so
// that callers should run one per CPU (not with an accelerator, which
// serialises its work).
func (m *Model) parallelEncoders() bool { return m.enc1 != nil && m.accel == nil }

func (m *Model) encode(ctx context.Context, s *ort.DynamicAdvancedSession, lowres []float32, n, h, w int) (lat []float32, err error) {
	if len(lowres) != n*h*w {
		return nil, fmt.Errorf("reconstruct: encode: %d values for %d×%d×%d", len(lowres), n, h, w)
	}
	err = m.use(ctx, func(ctx context.Context) error {
		lat, err = m.encodeHeld(ctx, s, lowres, n, h, w)
		return err
	})
	return lat, err
}

// encodeHeld is encode, with m held.
func (m *Model) encodeHeld(ctx context.Context, s *ort.DynamicAdvancedSession, lowres []float32, n, h, w int) ([]float32, error) {
	if m.accel != nil {
		lat, err := m.accel.Encode(ctx, lowres, n, h, w)
		if !errors.Is(err, ErrDeviceLimit) || s == nil {
			return lat, err
		}
		// Too large for the device: the CPU encodes this one.
		noteFallback(ctx)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(n), 1, int64(h), int64(w)), lowres)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: encode: %w", err)
	}
	defer in.Destroy()
	out, err := run(ctx, s, []ort.Value{in})
	if err != nil {
		return nil, fmt.Errorf("reconstruct: encode with %s: %w", m.Name, err)
	}
	defer out.Destroy()
	return append([]float32(nil), out.GetData()...), nil
}

// DecodeONNX runs the decoder graph through ONNX Runtime: latent
// [1][F][h][w], lowres [1][h][w], coords [q][2] (row, col in [−1, 1]) →
// values [q], normalised.
func (m *Model) DecodeONNX(ctx context.Context, latent, lowres []float32, h, w int, coords []float32) (v []float32, err error) {
	err = m.use(ctx, func(ctx context.Context) error {
		v, err = m.decodeONNX(ctx, latent, lowres, h, w, coords)
		return err
	})
	return v, err
}

func (m *Model) decodeONNX(ctx context.Context, latent, lowres []float32, h, w int, coords []float32) ([]float32, error) {
	f := int64(len(latent) / (h * w))
	lt, err := ort.NewTensor(ort.NewShape(1, f, int64(h), int64(w)), latent)
	if err != nil {
		return nil, err
	}
	defer lt.Destroy()
	lr, err := ort.NewTensor(ort.NewShape(1, 1, int64(h), int64(w)), lowres)
	if err != nil {
		return nil, err
	}
	defer lr.Destroy()
	ct, err := ort.NewTensor(ort.NewShape(1, int64(len(coords)/2), 2), coords)
	if err != nil {
		return nil, err
	}
	defer ct.Destroy()
	out, err := run(ctx, m.dec, []ort.Value{lt, lr, ct})
	if err != nil {
		return nil, fmt.Errorf("reconstruct: decode with %s: %w", m.Name, err)
	}
	defer out.Destroy()
	return append([]float32(nil), out.GetData()...), nil
}

// DecodePoints decodes arbitrary points with the model's decoder (native or
// ONNX): same arguments and result as DecodeONNX.
func (m *Model) DecodePoints(ctx context.Context, latent, lowres []float32, h, w int, coords []float32) (v []float32, err error) {
	err = m.use(ctx, func(ctx context.Context) error {
		v, err = m.decodePoints(ctx, latent, lowres, h, w, coords)
		return err
	})
	return v, err
}

func (m *Model) decodePoints(ctx context.Context, latent, lowres []float32, h, w int, coords []float32) ([]float32, error) {
	if m.accel != nil {
		v, err := m.accel.DecodePoints(ctx, latent, lowres, h, w, coords)
		if !errors.Is(err, ErrDeviceLimit) {
			return v, err
		}
		// Too large for the device: the CPU decodes this one.
		noteFallback(ctx)
	}
	if m.mlp == nil {
		return m.decodeONNX(ctx, latent, lowres, h, w, coords)
	}
	e := m.planeFor(latent, lowres, h, w, true)
	return m.mlp.decodePoints(e, coords), nil
}

// selfCheck compares the model's outputs with its test tensors when the
// folder has them.
func (m *Model) selfCheck(fsys fs.FS) error {
	tt := m.Card.TestTensors
	if tt == nil {
		return nil
	}
	load := func(name string) ([]float32, []int, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, err
		}
		return tensor.DecodeNPY(b)
	}
	low, ls, err := load(tt.Lowres)
	if err != nil {
		return fmt.Errorf("test tensor %s: %w", tt.Lowres, err)
	}
	lat, _, err := load(tt.Latent)
	if err != nil {
		return fmt.Errorf("test tensor %s: %w", tt.Latent, err)
	}
	coords, _, err := load(tt.Coords)
	if err != nil {
		return fmt.Errorf("test tensor %s: %w", tt.Coords, err)
	}
	want, _, err := load(tt.Values)
	if err != nil {
		return fmt.Errorf("test tensor %s: %w", tt.Values, err)
	}
	if len(ls) != 4 || ls[0] != 1 || ls[1] != 1 {
		return fmt.Errorf("test tensor %s has shape %v, want [1,1,H,W]", tt.Lowres, ls)
	}
	h, w := ls[2], ls[3]
	tol := tt.Tolerance
	if tol <= 0 {
		tol = 1e-4
	}
	if m.Provider != "cpu" {
		tol = max(tol, 1e-2) // GPU providers may use reduced-precision matmuls
	}
	gotLat, err := m.Encode(context.Background(), low, 1, h, w)
	if err != nil {
		return err
	}
	if d := tensor.MaxAbsDiff(gotLat, lat); !(d <= tol) {
		return fmt.Errorf("encoder output differs from %s by %.3g (tolerance %g): corrupt model or incompatible runtime", tt.Latent, d, tol)
	}
	if m.mlp != nil {
		got := m.mlp.decodePoints(m.planeFromLatent(lat, low, h, w), coords)
		if d := tensor.MaxAbsDiff(got, want); !(d <= tol) {
			m.mlp = nil
			m.Decoder = "onnx"
			m.addNote(fmt.Sprintf("native decoder differs from the test tensors by %.3g; decoding with ONNX Runtime", d))
		}
	}
	if m.mlp == nil {
		got, err := m.DecodeONNX(context.Background(), lat, low, h, w, coords)
		if err != nil {
			return err
		}
		if d := tensor.MaxAbsDiff(got, want); !(d <= tol) {
			return fmt.Errorf("decoder output differs from %s by %.3g (tolerance %g): corrupt model", tt.Values, d, tol)
		}
	}
	return nil
}

// MACs returns the model's multiply-accumulates per low-resolution pixel
// for the encoder and per output pixel for the decoder, from the card's
// architecture (0 when the card does not say). The native decoder does
// fewer: layer 1 is applied to the latent grid before interpolation.
func (m *Model) MACs() (encoder, decoder int) {
	a := m.Card.Architecture
	f, b, d, w := a.Feats, a.Blocks, a.MLPDepth, a.MLPWidth
	if f == 0 || d == 0 || w == 0 {
		return 0, 0
	}
	return 9*f + (2*b+1)*9*f*f, (f+9)*w + (d-1)*w*w + w
}
