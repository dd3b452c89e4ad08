//go:build linux && cgo

package glrender

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/go-gl/gl/v4.3-core/gl"
)

// PlatformEnv names the environment variable that restricts the EGL
// platform Open tries: "device", "surfaceless" or "default" (unset: all,
// in that order).
const PlatformEnv = "NIIV_EGL_PLATFORM"

// LibraryEnv names the environment variable holding the EGL library to
// open instead of libEGL.so.1.
const LibraryEnv = "NIIV_EGL_LIBRARY"

// VersionEnv names the environment variable that picks the OpenGL version
// Open asks for: "4.3" (compute shaders only), "3.3" (the fallback:
// fragment-shader decoder, encoder on the CPU) or unset (4.3, else 3.3).
const VersionEnv = "NIIV_GL_VERSION"

// Device is an OpenGL 4.3 core context (or, as a fallback, a 3.3 core
// context; see Info.API) on its own locked OS thread. It is safe for
// concurrent use: Do serialises work onto that thread.
type Device struct {
	info    Info
	work    chan func()
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once

	// Resources owned by the GL thread (touched only inside Do).
	draw *drawState
}

// Open creates a headless OpenGL 4.3 core context, or a 3.3 core context
// where 4.3 is not available (or where VersionEnv asks for it). The error
// wraps ErrUnavailable when none can be made.
func Open() (*Device, error) {
	apis, err := wantedAPIs(os.Getenv(VersionEnv))
	if err != nil {
		return nil, fmt.Errorf("glrender: %w: %v", ErrUnavailable, err)
	}
	return open(apis)
}

// wantedAPIs returns the context versions to try for a VersionEnv value.
func wantedAPIs(v string) ([]string, error) {
	switch strings.TrimSpace(v) {
	case "":
		return []string{api43, api33}, nil
	case api43, "4":
		return []string{api43}, nil
	case api33, "3":
		return []string{api33}, nil
	}
	return nil, fmt.Errorf("%s=%q: want %s or %s", VersionEnv, v, api43, api33)
}

// open creates a context of the first of apis that can be made.
func open(apis []string) (*Device, error) {
	d := &Device{work: make(chan func()), quit: make(chan struct{}), stopped: make(chan struct{})}
	ready := make(chan error, 1)
	go d.loop(apis, ready)
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("glrender: %w: %v", ErrUnavailable, err)
	}
	return d, nil
}

// makeContext creates an OpenGL context of version api on the calling
// (locked) thread and loads the GL functions for it.
func makeContext(api string) (*eglContext, error) {
	major, minor := 4, 3
	if api == api33 {
		major, minor = 3, 3
	}
	ctx, err := openEGL(os.Getenv(LibraryEnv), os.Getenv(PlatformEnv), major, minor)
	if err != nil {
		return nil, err
	}
	if api == api43 {
		err = gl.InitWithProcAddrFunc(procAddress)
		if err != nil {
			err = fmt.Errorf("load OpenGL 4.3 functions: %v missing", err)
		}
	} else {
		err = initGL33()
	}
	if err != nil {
		ctx.close()
		return nil, err
	}
	return ctx, nil
}

func (d *Device) loop(apis []string, ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	defer close(d.stopped)
	var ctx *eglContext
	var errs []error
	for _, api := range apis {
		c, err := makeContext(api)
		if err == nil {
			ctx, d.info.API = c, api
			break
		}
		errs = append(errs, err)
	}
	if ctx == nil {
		ready <- contextError(apis, errs)
		return
	}
	defer ctx.close()
	d.info.Vendor = gl.GoStr(gl.GetString(gl.VENDOR))
	d.info.Renderer = gl.GoStr(gl.GetString(gl.RENDERER))
	d.info.Version = gl.GoStr(gl.GetString(gl.VERSION))
	d.info.Platform = ctx.platform
	ready <- nil
	for {
		select {
		case f := <-d.work:
			f()
		case <-d.quit:
			d.release()
			return
		}
	}
}

// errClosed is returned by Do after Close.
var errClosed = errors.New("glrender: device closed")

// Do runs f on the device's GL thread and returns its error. f must not
// call Do.
func (d *Device) Do(f func() error) error {
	var err error
	done := make(chan struct{})
	job := func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("glrender: panic on the GL thread: %v", r)
			}
		}()
		err = f()
	}
	select {
	case d.work <- job:
	case <-d.stopped:
		return errClosed
	}
	<-done
	return err
}

// Info describes the device.
func (d *Device) Info() Info { return d.info }

// Close releases the context and ends its thread. It is safe to call more
// than once; Do fails afterwards.
func (d *Device) Close() error {
	d.once.Do(func() { close(d.quit) })
	<-d.stopped
	return nil
}

// release frees the device's own resources; it runs on the GL thread.
func (d *Device) release() {
	if d.draw != nil {
		d.draw.delete()
		d.draw = nil
	}
}

var shared struct {
	sync.Mutex
	dev *Device
	err error
	ok  bool
}

// Shared returns the process's shared device, opened on first use; the
// error of that first attempt is remembered. It is never closed.
func Shared() (*Device, error) {
	shared.Lock()
	defer shared.Unlock()
	if !shared.ok {
		shared.dev, shared.err = Open()
		shared.ok = true
	}
	return shared.dev, shared.err
}

// glError returns the pending GL error, if any, with context.
func glError(what string) error {
	if e := gl.GetError(); e != gl.NO_ERROR {
		return fmt.Errorf("glrender: %s: GL error 0x%x", what, e)
	}
	return nil
}

// compile builds a program from shader sources of the given kinds.
func compile(name string, stages ...shaderSource) (uint32, error) {
	prog := gl.CreateProgram()
	var shaders []uint32
	defer func() {
		for _, s := range shaders {
			gl.DeleteShader(s)
		}
	}()
	for _, st := range stages {
		s := gl.CreateShader(st.kind)
		shaders = append(shaders, s)
		src, free := gl.Strs(st.src + "\x00")
		gl.ShaderSource(s, 1, src, nil)
		free()
		gl.CompileShader(s)
		var ok int32
		gl.GetShaderiv(s, gl.COMPILE_STATUS, &ok)
		if ok == 0 {
			gl.DeleteProgram(prog)
			return 0, fmt.Errorf("glrender: compile %s shader: %s", name, infoLog(s, false))
		}
		gl.AttachShader(prog, s)
	}
	gl.LinkProgram(prog)
	var ok int32
	gl.GetProgramiv(prog, gl.LINK_STATUS, &ok)
	if ok == 0 {
		msg := infoLog(prog, true)
		gl.DeleteProgram(prog)
		return 0, fmt.Errorf("glrender: link %s program: %s", name, msg)
	}
	return prog, nil
}

type shaderSource struct {
	kind uint32
	src  string
}

func infoLog(obj uint32, program bool) string {
	var n int32
	if program {
		gl.GetProgramiv(obj, gl.INFO_LOG_LENGTH, &n)
	} else {
		gl.GetShaderiv(obj, gl.INFO_LOG_LENGTH, &n)
	}
	if n <= 0 {
		return "(no log)"
	}
	buf := make([]byte, n)
	if program {
		gl.GetProgramInfoLog(obj, n, nil, &buf[0])
	} else {
		gl.GetShaderInfoLog(obj, n, nil, &buf[0])
	}
	return gl.GoStr(&buf[0])
}

// contextError describes why no context of the versions apis could be
// made: the one error where all attempts failed alike (no EGL, no
// display), else each version's.
func contextError(apis []string, errs []error) error {
	same := true
	for _, e := range errs[1:] {
		same = same && e.Error() == errs[0].Error()
	}
	if same {
		return errs[0]
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = fmt.Sprintf("OpenGL %s: %v", apis[i], e)
	}
	return errors.New(strings.Join(parts, "; "))
}
