package viewer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"
	"time"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// Slice asks a Renderer for the image of a region of one plane; its fields
// mean what reconstruct.Request's do: Index is a plane index (k is the
// centre of plane k, fractional for XY), R0, R1, C0, C1 bound the region in
// the plane's continuous coordinates (voxel k spans [k, k+1)), and W×H is
// the output size.
type Slice struct {
	Vol            *volume.Volume
	Axis           volume.Axis
	Index          float64
	R0, R1, C0, C1 float64
	W, H           int
}

// Renderer decodes a region of a plane at a given resolution. Package
// viewer/engine adapts the reconstruct methods (nearest, linear, niiv) to
// it. Implementations must be safe for concurrent use.
type Renderer interface {
	Name() string
	Render(ctx context.Context, s Slice) (*volume.Image, error)
}

// NamingRenderer is a Renderer that names, image by image, what decoded
// it when that differs from Name(): a GPU renderer that had to decode a
// plane on the CPU says so for that frame.
type NamingRenderer interface {
	Renderer
	// RenderNamed is Render, and also returns the name for this image's
	// label ("" means Name()).
	RenderNamed(ctx context.Context, s Slice) (img *volume.Image, name string, err error)
}

// Colourer paints a float image with a style, as render.Image does; the
// OpenGL renderer implements it. It must be safe for concurrent use.
type Colourer interface {
	Image(src *volume.Image, s render.Style) (*image.RGBA, error)
}

// Methods are the renderers behind the modes. Niiv may be nil (no model
// loaded): the niiv modes then fall back to Linear and say so.
type Methods struct {
	Nearest, Linear, Niiv Renderer
	// NiivError explains why Niiv is nil, for the views' labels.
	NiivError error
	// Colour paints the decoded images; nil means the CPU reference
	// renderer. Overlays are always drawn by package render.
	Colour Colourer
	// Owner counts the holders of the models behind the renderers (nil:
	// they own nothing to close). A Pipeline holds it while it lives;
	// hold it (Retain … Release) around any other use that outlives the
	// caller's own hold.
	Owner *Owner
}

// colour paints src with s through ms.Colour, or on the CPU.
func (ms Methods) colour(src *volume.Image, s render.Style) (*image.RGBA, error) {
	if ms.Colour != nil {
		return ms.Colour.Image(src, s)
	}
	return render.Image(src, s), nil
}

func (ms Methods) renderer(m Mode) Renderer {
	switch m {
	case Nearest:
		return ms.Nearest
	case Niiv:
		if ms.Niiv != nil {
			return ms.Niiv
		}
	}
	return ms.Linear
}

// Request is a frozen order for one view's frame. It shares the volume but
// nothing mutable with the model.
type Request struct {
	// ID increases with every request built; a frame carries its request's
	// id so that a view shows only the newest.
	ID  uint64
	Vol *volume.Volume
	Geometry
	Mode                  Mode
	SplitLeft, SplitRight Mode
	SplitFrac             float64
	Style                 render.Style
	// Cross is the crosshair position in output image pixels (nil: none).
	Cross *[2]float64
	// ScaleBar asks for a scale bar; Caption is stamped when not empty.
	ScaleBar bool
	Caption  string
	// Layers are the channels of a composite, nil for a one-channel
	// volume (Vol is drawn with Style). Vol is then the selected channel
	// and gives the geometry; each visible layer's Vol is decoded with
	// the mode and drawn in its colour with its own Style.
	Layers []Layer
}

// Slice returns the decoding order for r's visible region.
func (r Request) Slice() Slice {
	return Slice{Vol: r.Vol, Axis: r.Axis, Index: r.Index,
		R0: r.R0, R1: r.R1, C0: r.C0, C1: r.C1, W: r.W, H: r.H}
}

// finalModes returns the decoding modes the final frame needs.
func (r Request) finalModes() []Mode {
	switch r.Mode {
	case Difference:
		return []Mode{Niiv, Linear}
	case Split:
		if r.SplitLeft == r.SplitRight {
			return []Mode{r.SplitLeft}
		}
		return []Mode{r.SplitLeft, r.SplitRight}
	}
	return []Mode{r.Mode}
}

// Frame is a finished picture of one view.
type Frame struct {
	// Request is the request the frame answers.
	Request Request
	// Image is the picture, Request.W×Request.H pixels, to be drawn at
	// Request.Offset in the widget (nil when nothing is visible).
	Image *image.RGBA
	// Method names what decoded it: "linear", "niiv-lite", "niiv-lite − linear",
	// "linear | niiv-lite".
	Method string
	// Decode is the time spent decoding the frame's images (0 when they all
	// came from the cache); Total includes colouring and overlays.
	Decode, Total time.Duration
	// Cached reports that every decoded image came from the cache.
	Cached bool
	// Final is false for the cheap preview that precedes a niiv frame.
	Final bool
	// Note is a warning for the label, e.g. why niiv fell back to linear.
	Note string
	// Err is set when decoding failed; Image is then nil.
	Err error
	// Loading marks a status-only frame, sent when the first picture of a
	// request on a volume read from disk (volume.Lazy) takes longer than
	// LoadingAfter: Image is nil, and the view keeps the picture it has
	// under the label "loading…".
	Loading bool
}

// LoadingAfter is how long a request on a lazy volume may go without a
// picture before the view says it is loading.
const LoadingAfter = 150 * time.Millisecond

// Label returns the view's status line: "decoding 512×380 px · 2.1 nm/px ·
// niiv-lite · 43 ms".
func (f Frame) Label() string {
	r := f.Request
	if f.Err != nil {
		return "error: " + f.Err.Error()
	}
	if f.Loading {
		return fmt.Sprintf("loading %d×%d px from %s…", r.W, r.H, r.Vol.Name)
	}
	if r.W == 0 {
		return "nothing visible"
	}
	t := fmt.Sprintf("%d ms", f.Decode.Milliseconds())
	if f.Cached {
		t = "cached"
	} else if f.Decode < time.Millisecond {
		t = fmt.Sprintf("%.2f ms", f.Decode.Seconds()*1e3)
	}
	s := fmt.Sprintf("decoding %d×%d px · %s/px · %s · %s", r.W, r.H,
		render.FormatLength(r.PerPixel(), r.Unit), f.Method, t)
	if !f.Final {
		s += " · refining…"
	}
	if f.Note != "" {
		s += " · " + f.Note
	}
	return s
}

// cacheKey identifies a decoded image: the same method over the same region
// at the same size gives the same pixels.
type cacheKey struct {
	method string
	req    Slice
}

// job is one decode, shared by the requests that need it.
type job struct {
	done    chan struct{}
	img     *volume.Image
	name    string // what decoded img, when not the renderer's Name()
	elapsed time.Duration
	err     error
	cancel  context.CancelFunc
}

// cacheSize is the number of decoded images a worker keeps (per view): enough
// for the preview, both sides of a split and the previous slice.
const cacheSize = 8

// Worker turns one view's requests into frames. A newer request cancels the
// older one, and the decodes only the older one needed; decoded images are
// cached, so a change of contrast, colormap or crosshair lines only
// re-colours.
type Worker struct {
	methods Methods
	deliver func(Frame)
	sync    bool

	mu       sync.Mutex
	latest   uint64
	cancel   context.CancelFunc
	inflight map[cacheKey]*job
	cache    map[cacheKey]*job
	order    []cacheKey
	limit    int // cached images kept: cacheSize per channel of the newest request
	closed   bool
	// running counts the worker's goroutines (requests and decodes), so
	// that Close can wait for them.
	running sync.WaitGroup
}

// NewWorker returns a worker that calls deliver with each frame (from its own
// goroutine, or from Submit's caller when synchronous). A synchronous worker
// does all its work inside Submit, for tests and headless export.
func NewWorker(methods Methods, deliver func(Frame), synchronous bool) *Worker {
	return &Worker{methods: methods, deliver: deliver, sync: synchronous,
		inflight: map[cacheKey]*job{}, cache: map[cacheKey]*job{}}
}

// Submit starts work on req, cancelling the work on older requests.
func (w *Worker) Submit(req Request) {
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	if req.ID < w.latest || w.closed {
		w.mu.Unlock()
		cancel()
		return
	}
	if w.cancel != nil {
		w.cancel()
	}
	w.latest, w.cancel = req.ID, cancel
	w.limit = cacheSize * max(1, len(req.Layers))
	// Cancel decodes the new request does not need.
	need := map[cacheKey]bool{}
	for _, m := range append(req.finalModes(), Linear) {
		for _, s := range req.slices() {
			need[w.key(s, m)] = true
		}
	}
	for k, j := range w.inflight {
		if !need[k] {
			j.cancel()
			delete(w.inflight, k)
		}
	}
	if !w.sync {
		w.running.Add(1) // under mu: Close waits for it
	}
	w.mu.Unlock()
	if w.sync {
		w.run(ctx, req)
		cancel()
		return
	}
	go func() {
		defer w.running.Done()
		defer cancel()
		w.run(ctx, req)
	}()
}

// cancelAll cancels the work in progress; the worker takes new requests.
func (w *Worker) cancelAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
	for _, j := range w.inflight {
		j.cancel()
	}
}

// Close cancels the work in progress, refuses new requests, and waits up
// to CloseWait for the worker's goroutines to return (they stop at the
// renderers' next cancellation point: between planes, rows and ONNX
// Runtime calls). It returns an error when some were still running then.
func (w *Worker) Close() error {
	if !w.closeWithin(CloseWait) {
		return fmt.Errorf("viewer: worker: decodes still running %v after closing", CloseWait)
	}
	return nil
}

// closeWithin is Close waiting up to wait; it reports whether the
// goroutines all returned.
func (w *Worker) closeWithin(wait time.Duration) bool {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancelAll()
	done := make(chan struct{})
	go func() {
		w.running.Wait()
		close(done)
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func (w *Worker) key(s Slice, m Mode) cacheKey {
	r := w.methods.renderer(m)
	name := ""
	if r != nil {
		name = r.Name()
	}
	return cacheKey{method: name, req: s}
}

// get returns the job decoding s with mode m: cached, in flight, or new.
func (w *Worker) get(s Slice, m Mode) *job {
	k := w.key(s, m)
	w.mu.Lock()
	if j, ok := w.cache[k]; ok {
		w.mu.Unlock()
		return j
	}
	if j, ok := w.inflight[k]; ok {
		w.mu.Unlock()
		return j
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{done: make(chan struct{}), cancel: cancel}
	if w.closed {
		cancel() // the worker is closing: the job fails at once
	}
	w.inflight[k] = j
	if !w.sync {
		w.running.Add(1)
	}
	w.mu.Unlock()
	r := w.methods.renderer(m)
	run := func() {
		defer close(j.done)
		defer cancel()
		if r == nil {
			j.err = errors.New("viewer: no renderer for mode " + m.String())
		} else {
			// Zoomed out on a volume with a pyramid: a coarser level.
			l := pyramidLevel(k.req)
			r, note := levelRenderer(l, r, w.methods, m)
			// A corrupt chunk is drawn as missing, and the label says which.
			damage := volume.NewDamage()
			dctx := volume.WithDamage(ctx, damage.Add)
			t0 := time.Now()
			if nr, ok := r.(NamingRenderer); ok {
				j.img, j.name, j.err = nr.RenderNamed(dctx, l.Slice)
			} else {
				j.img, j.err = r.Render(dctx, l.Slice)
			}
			j.elapsed = time.Since(t0)
			if d := damage.Summary(); d != "" && j.err == nil {
				note = strings.TrimPrefix(note+" · damaged: "+d, " · ")
			}
			if note != "" {
				if j.name == "" {
					j.name = r.Name()
				}
				j.name += " · " + note
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.inflight[k] == j {
			delete(w.inflight, k)
		}
		if j.err == nil {
			w.cache[k] = j
			w.order = append(w.order, k)
			for len(w.order) > max(cacheSize, w.limit) {
				delete(w.cache, w.order[0])
				w.order = w.order[1:]
			}
		}
	}
	if w.sync {
		run()
	} else {
		go func() {
			defer w.running.Done()
			run()
		}()
	}
	return j
}

// cached reports whether the decodes of req's slices with mode m are all
// cached.
func (w *Worker) cached(req Request, m Mode) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range req.slices() {
		if _, ok := w.cache[w.key(s, m)]; !ok {
			return false
		}
	}
	return true
}

// getAll returns the jobs decoding req's slices with mode m.
func (w *Worker) getAll(req Request, m Mode) []*job {
	ss := req.slices()
	js := make([]*job, len(ss))
	for i, s := range ss {
		js[i] = w.get(s, m)
	}
	return js
}

// waitAll waits for every job of js or ctx; it returns the first error.
func waitAll(ctx context.Context, js []*job) error {
	for _, j := range js {
		if err := wait(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// elapsed sums the decode times of js.
func elapsed(js []*job) time.Duration {
	var d time.Duration
	for _, j := range js {
		d += j.elapsed
	}
	return d
}

// wait waits for j or ctx.
func wait(ctx context.Context, j *job) error {
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) run(ctx context.Context, req Request) {
	if req.Empty() {
		w.send(ctx, Frame{Request: req, Final: true})
		return
	}
	first := func() {} // called before the first picture or error is sent
	if !w.sync && req.Vol != nil && req.Vol.Lazy() {
		// Chunks may have to be read from disk: if no picture comes soon,
		// say so (the view keeps what it shows).
		var mu sync.Mutex
		shown := false
		t := time.AfterFunc(LoadingAfter, func() {
			mu.Lock()
			defer mu.Unlock()
			if !shown {
				w.send(ctx, Frame{Request: req, Loading: true})
			}
		})
		first = func() {
			mu.Lock()
			shown = true
			mu.Unlock()
			t.Stop()
		}
		defer first() // no "loading" after run returns
	}
	finals := req.finalModes()
	slow := false
	for _, m := range finals {
		if m == Niiv && w.methods.Niiv != nil && !w.cached(req, m) {
			slow = true
		}
	}
	if slow {
		// The cheap frame first: linear, coloured like the final one.
		pre := req
		pre.Mode = Linear
		t0 := time.Now()
		was := w.cached(req, Linear)
		js := w.getAll(req, Linear)
		if err := waitAll(ctx, js); err != nil {
			first()
			w.fail(ctx, req, err)
			return
		}
		f := compose(pre, map[Mode][]*job{Linear: js}, w.methods)
		if !was {
			f.Decode = elapsed(js)
		}
		f.Final = false
		f.Total = time.Since(t0)
		first()
		if !w.send(ctx, f) {
			return
		}
	}
	t0 := time.Now()
	allCached := true
	jobs := map[Mode][]*job{}
	fresh := map[Mode]bool{} // decoded for this request, not from the cache
	for _, m := range finals {
		fresh[m] = !w.cached(req, m)
		allCached = allCached && !fresh[m]
		jobs[m] = w.getAll(req, m)
	}
	for _, m := range finals {
		if err := waitAll(ctx, jobs[m]); err != nil {
			first()
			w.fail(ctx, req, err)
			return
		}
	}
	f := compose(req, jobs, w.methods)
	for m, js := range jobs {
		if fresh[m] {
			f.Decode += elapsed(js)
		}
	}
	f.Final, f.Cached = true, allCached
	f.Total = time.Since(t0)
	first()
	w.send(ctx, f)
}

func (w *Worker) fail(ctx context.Context, req Request, err error) {
	if ctx.Err() != nil {
		return // superseded: a newer request owns the view
	}
	w.send(ctx, Frame{Request: req, Final: true, Err: err})
}

// send delivers f unless its request was superseded; it reports whether it
// did.
func (w *Worker) send(ctx context.Context, f Frame) bool {
	w.mu.Lock()
	stale := f.Request.ID != w.latest || ctx.Err() != nil
	w.mu.Unlock()
	if stale {
		return false
	}
	w.deliver(f)
	return true
}

// Diff colours: the difference window is ± this fraction of the contrast
// window, fixed so that frames compare with each other.
const diffFraction = 0.2

// DiffRange returns w: difference mode draws niiv − linear from −w (blue)
// to +w (red) for a contrast style s.
func DiffRange(s render.Style) float64 { return diffFraction * (s.Max - s.Min) }

// compose colours the decoded images of a request and draws the overlays.
func compose(req Request, jobs map[Mode][]*job, ms Methods) Frame {
	f := Frame{Request: req}
	name := func(m Mode) string {
		if js := jobs[m]; len(js) > 0 && js[0].name != "" {
			return js[0].name
		}
		if r := ms.renderer(m); r != nil {
			return r.Name()
		}
		return m.String()
	}
	var err error
	switch {
	case req.Layers != nil:
		f.Image, f.Method, err = composeLayers(req, jobs, name)
	case req.Mode == Difference:
		jobs := single(jobs)
		var d *volume.Image
		d, err = render.Difference(jobs[Niiv].img, jobs[Linear].img)
		if err == nil {
			w := DiffRange(req.Style)
			f.Image, err = ms.colour(d, render.Style{Min: -w, Max: w, Gamma: 1, Map: render.Diverging})
		}
		f.Method = name(Niiv) + " − " + name(Linear)
	case req.Mode == Split:
		jobs := single(jobs)
		var a, b *image.RGBA
		a, err = ms.colour(jobs[req.SplitLeft].img, req.Style)
		if err == nil {
			b, err = ms.colour(jobs[req.SplitRight].img, req.Style)
		}
		if err == nil {
			f.Image, err = render.Split(a, b, req.SplitFrac, render.White)
		}
		f.Method = name(req.SplitLeft) + " | " + name(req.SplitRight)
	default:
		f.Image, err = ms.colour(jobs[req.Mode][0].img, req.Style)
		f.Method = name(req.Mode)
	}
	if err != nil {
		f.Err = err
		f.Image = nil
		return f
	}
	if ms.Niiv == nil && (req.Mode == Niiv || req.Mode == Difference ||
		(req.Mode == Split && (req.SplitLeft == Niiv || req.SplitRight == Niiv))) {
		f.Note = "no niiv model: linear shown"
	}
	if req.Cross != nil {
		render.Crosshair(f.Image, req.Cross[0], req.Cross[1], 4, render.CrosshairColor(req.Style.Map))
	}
	if req.Mode == Split {
		if err := render.SplitLabels(f.Image, req.SplitFrac, name(req.SplitLeft), name(req.SplitRight)); err != nil {
			f.Err = err
		}
	}
	if req.ScaleBar {
		// Sized for the view, not the image: a thin axial strip gets the
		// same bar as the square views beside it.
		size := render.TextSize(f.Image.Bounds())
		if req.Widget.X > 0 && req.Widget.Y > 0 {
			size = render.TextSize(image.Rectangle{Max: req.Widget})
		}
		if _, err := render.ScaleBarSized(f.Image, req.PerPixel(), req.Unit, size); err != nil {
			f.Err = err
		}
	}
	if req.Caption != "" {
		if err := render.Caption(f.Image, req.Caption); err != nil {
			f.Err = err
		}
	}
	return f
}

// single returns the one job per mode of a one-channel request.
func single(jobs map[Mode][]*job) map[Mode]*job {
	out := make(map[Mode]*job, len(jobs))
	for m, js := range jobs {
		out[m] = js[0]
	}
	return out
}

// composeLayers paints a composite request's frame: each mode's channels
// composed (render.Composite), and for Split the two modes' composites
// side by side.
func composeLayers(req Request, jobs map[Mode][]*job, name func(Mode) string) (*image.RGBA, string, error) {
	imgs := func(m Mode) []*volume.Image {
		out := make([]*volume.Image, len(jobs[m]))
		for i, j := range jobs[m] {
			out[i] = j.img
		}
		return out
	}
	switch req.Mode {
	case Difference:
		a, b := imgs(Niiv), imgs(Linear)
		d := make([]*volume.Image, len(a))
		for i := range a {
			var err error
			if d[i], err = render.Difference(a[i], b[i]); err != nil {
				return nil, "", err
			}
		}
		img, err := composite(req, d, true)
		return img, name(Niiv) + " − " + name(Linear), err
	case Split:
		a, err := composite(req, imgs(req.SplitLeft), false)
		if err != nil {
			return nil, "", err
		}
		b, err := composite(req, imgs(req.SplitRight), false)
		if err != nil {
			return nil, "", err
		}
		img, err := render.Split(a, b, req.SplitFrac, render.White)
		return img, name(req.SplitLeft) + " | " + name(req.SplitRight), err
	}
	img, err := composite(req, imgs(req.Mode), false)
	return img, name(req.Mode), err
}

// Pipeline is one worker per view.
type Pipeline struct {
	workers [3]*Worker
	owner   *Owner // held from NewPipeline to Close; nil when not held
	once    sync.Once
}

// CloseWait bounds how long Pipeline.Close waits for its workers'
// goroutines.
var CloseWait = 2 * time.Second

// NewPipeline returns a pipeline whose workers call deliver with finished
// frames. The GUI's deliver hands the frame to its UI goroutine. The
// pipeline holds methods.Owner until Close.
func NewPipeline(methods Methods, deliver func(Frame), synchronous bool) *Pipeline {
	p := &Pipeline{}
	if methods.Owner.Retain() {
		p.owner = methods.Owner
	}
	for i := range p.workers {
		p.workers[i] = NewWorker(methods, deliver, synchronous)
	}
	return p
}

// Submit sends req to its view's worker.
func (p *Pipeline) Submit(req Request) { p.workers[req.Axis].Submit(req) }

// Reuse returns ms with renderers that first take an image from p's
// workers' caches, so that an export at the screen's resolution (the S
// key) costs no decode for what the views already show.
func (p *Pipeline) Reuse(ms Methods) Methods {
	wrap := func(r Renderer) Renderer {
		if r == nil {
			return nil
		}
		return reuse{r, p}
	}
	ms.Nearest, ms.Linear, ms.Niiv = wrap(ms.Nearest), wrap(ms.Linear), wrap(ms.Niiv)
	return ms
}

// reuse is a Renderer that looks in a pipeline's caches first.
type reuse struct {
	r Renderer
	p *Pipeline
}

func (u reuse) Name() string { return u.r.Name() }

func (u reuse) Render(ctx context.Context, s Slice) (*volume.Image, error) {
	img, _, err := u.RenderNamed(ctx, s)
	return img, err
}

// RenderNamed implements NamingRenderer: a cached image keeps the name of
// what decoded it.
func (u reuse) RenderNamed(ctx context.Context, s Slice) (*volume.Image, string, error) {
	k := cacheKey{method: u.r.Name(), req: s}
	for _, w := range u.p.workers {
		w.mu.Lock()
		j, ok := w.cache[k]
		w.mu.Unlock()
		if ok {
			return j.img, j.name, nil
		}
	}
	if nr, ok := u.r.(NamingRenderer); ok {
		return nr.RenderNamed(ctx, s)
	}
	img, err := u.r.Render(ctx, s)
	return img, "", err
}

// Close cancels all work, waits up to CloseWait for the workers'
// goroutines to return, and then releases the pipeline's hold on its
// methods' Owner (a model is closed when its last holder releases it; a
// model closes only once its own calls have returned in any case). It
// returns an error when goroutines were still running after the wait.
// Calls after the first do nothing.
func (p *Pipeline) Close() error {
	var err error
	p.once.Do(func() {
		deadline := time.Now().Add(CloseWait)
		for _, w := range p.workers {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			w.cancelAll()
		}
		for _, w := range p.workers {
			if !w.closeWithin(time.Until(deadline)) {
				err = fmt.Errorf("viewer: pipeline: decodes still running %v after closing", CloseWait)
			}
		}
		p.owner.Release()
	})
	return err
}

// RenderFrame renders req's final frame synchronously, for export and the
// headless figure command. It returns an error instead of an error frame.
func RenderFrame(ctx context.Context, methods Methods, req Request) (Frame, error) {
	return NewFrames(methods).Render(ctx, req)
}

// Frames renders requests synchronously, one after the other, through one
// worker: images decoded for one request serve the next from the worker's
// cache (a montage's niiv panel, then its niiv − linear panel). It is not
// safe for concurrent use.
type Frames struct {
	w   *Worker
	out Frame
}

// NewFrames returns a synchronous frame renderer over methods.
func NewFrames(methods Methods) *Frames {
	fr := &Frames{}
	fr.w = NewWorker(methods, func(f Frame) { fr.out = f }, true)
	return fr
}

// Render renders req's final frame, as RenderFrame does. Requests must come
// in the order they were built (increasing IDs).
func (fr *Frames) Render(ctx context.Context, req Request) (Frame, error) {
	fr.out = Frame{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, fr.w.cancelAll)
	defer stop()
	fr.w.Submit(req)
	out := fr.out
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	if out.Err != nil {
		return out, fmt.Errorf("viewer: %v view: %w", req.Axis, out.Err)
	}
	if !out.Final {
		return out, fmt.Errorf("viewer: %v view: no frame", req.Axis)
	}
	return out, nil
}
