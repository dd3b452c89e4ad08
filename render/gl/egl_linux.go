//go:build linux && cgo

package glrender

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <EGL/egl.h>
#include <EGL/eglext.h>

// libEGL is opened at run time, so that niiv starts (and falls back to the
// CPU) on systems without it: the EGL names below are our function
// pointers, resolved by niivLoadEGL.
#define eglGetProcAddress niiv_eglGetProcAddress
#define eglQueryString niiv_eglQueryString
#define eglGetDisplay niiv_eglGetDisplay
#define eglInitialize niiv_eglInitialize
#define eglBindAPI niiv_eglBindAPI
#define eglChooseConfig niiv_eglChooseConfig
#define eglCreateContext niiv_eglCreateContext
#define eglCreatePbufferSurface niiv_eglCreatePbufferSurface
#define eglMakeCurrent niiv_eglMakeCurrent
#define eglGetError niiv_eglGetError
#define eglDestroySurface niiv_eglDestroySurface
#define eglDestroyContext niiv_eglDestroyContext
#define eglTerminate niiv_eglTerminate
static PFNEGLGETPROCADDRESSPROC eglGetProcAddress;
static PFNEGLQUERYSTRINGPROC eglQueryString;
static PFNEGLGETDISPLAYPROC eglGetDisplay;
static PFNEGLINITIALIZEPROC eglInitialize;
static PFNEGLBINDAPIPROC eglBindAPI;
static PFNEGLCHOOSECONFIGPROC eglChooseConfig;
static PFNEGLCREATECONTEXTPROC eglCreateContext;
static PFNEGLCREATEPBUFFERSURFACEPROC eglCreatePbufferSurface;
static PFNEGLMAKECURRENTPROC eglMakeCurrent;
static PFNEGLGETERRORPROC eglGetError;
static PFNEGLDESTROYSURFACEPROC eglDestroySurface;
static PFNEGLDESTROYCONTEXTPROC eglDestroyContext;
static PFNEGLTERMINATEPROC eglTerminate;

// niivLoadEGL opens libEGL and resolves the functions; it returns the
// name of what is missing, or NULL.
static const char *niivLoadEGL(const char *path) {
	static void *lib;
	if (lib != NULL) return NULL;
	void *l;
	if (path != NULL && path[0] != 0) {
		l = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
		if (l == NULL) return path;
	} else {
		l = dlopen("libEGL.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (l == NULL) l = dlopen("libEGL.so", RTLD_NOW | RTLD_GLOBAL);
		if (l == NULL) return "libEGL.so.1";
	}
#define NIIV_SYM(name) if ((*(void **)(&name) = dlsym(l, #name)) == NULL) return #name
	NIIV_SYM(eglGetProcAddress);
	NIIV_SYM(eglQueryString);
	NIIV_SYM(eglGetDisplay);
	NIIV_SYM(eglInitialize);
	NIIV_SYM(eglBindAPI);
	NIIV_SYM(eglChooseConfig);
	NIIV_SYM(eglCreateContext);
	NIIV_SYM(eglCreatePbufferSurface);
	NIIV_SYM(eglMakeCurrent);
	NIIV_SYM(eglGetError);
	NIIV_SYM(eglDestroySurface);
	NIIV_SYM(eglDestroyContext);
	NIIV_SYM(eglTerminate);
#undef NIIV_SYM
	lib = l;
	return NULL;
}

#ifndef EGL_PLATFORM_SURFACELESS_MESA
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD
#endif

typedef struct {
	EGLDisplay dpy;
	EGLContext ctx;
	EGLSurface surf;
	const char *platform;
	const char *step;
	EGLint err;
} niivEGL;

static int niivHasExt(const char *list, const char *ext) {
	if (list == NULL) return 0;
	size_t n = strlen(ext);
	const char *p = list;
	while ((p = strstr(p, ext)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
		p += n;
	}
	return 0;
}

static int niivInit(niivEGL *e, EGLDisplay dpy) {
	EGLint maj, min;
	if (dpy == EGL_NO_DISPLAY) return 0;
	if (!eglInitialize(dpy, &maj, &min)) return 0;
	e->dpy = dpy;
	return 1;
}

// niivDisplay finds a display: a hardware EGL device first (headless NVIDIA,
// Mesa render nodes), then Mesa's surfaceless platform, then the default
// display. want is "", "device", "surfaceless" or "default".
static void niivDisplay(niivEGL *e, const char *want) {
	const char *cexts = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
	PFNEGLGETPLATFORMDISPLAYEXTPROC getPlatformDisplay =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC) eglGetProcAddress("eglGetPlatformDisplayEXT");
	int any = want == NULL || want[0] == 0;
	if ((any || strcmp(want, "device") == 0) && getPlatformDisplay &&
	    niivHasExt(cexts, "EGL_EXT_platform_device")) {
		PFNEGLQUERYDEVICESEXTPROC queryDevices =
			(PFNEGLQUERYDEVICESEXTPROC) eglGetProcAddress("eglQueryDevicesEXT");
		PFNEGLQUERYDEVICESTRINGEXTPROC queryDeviceString =
			(PFNEGLQUERYDEVICESTRINGEXTPROC) eglGetProcAddress("eglQueryDeviceStringEXT");
		EGLDeviceEXT devs[16];
		EGLint n = 0;
		if (queryDevices && queryDevices(16, devs, &n)) {
			for (EGLint i = 0; i < n; i++) {
				const char *dexts = queryDeviceString ? queryDeviceString(devs[i], EGL_EXTENSIONS) : NULL;
				if (niivHasExt(dexts, "EGL_MESA_device_software")) continue;
				if (niivInit(e, getPlatformDisplay(EGL_PLATFORM_DEVICE_EXT, devs[i], NULL))) {
					e->platform = "device";
					return;
				}
			}
		}
	}
	if ((any || strcmp(want, "surfaceless") == 0) && getPlatformDisplay &&
	    niivHasExt(cexts, "EGL_MESA_platform_surfaceless")) {
		if (niivInit(e, getPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL))) {
			e->platform = "surfaceless";
			return;
		}
	}
	if (any || strcmp(want, "default") == 0) {
		if (niivInit(e, eglGetDisplay(EGL_DEFAULT_DISPLAY))) {
			e->platform = "default";
			return;
		}
	}
	e->step = "display";
	e->err = eglGetError();
}

// niivOpen creates an OpenGL major.minor core context and makes it current
// on the calling thread, without a surface when the display allows it and
// with a 16x16 pbuffer otherwise.
static void niivOpen(niivEGL *e, const char *lib, const char *want, int major, int minor) {
	memset(e, 0, sizeof *e);
	e->dpy = EGL_NO_DISPLAY;
	e->ctx = EGL_NO_CONTEXT;
	e->surf = EGL_NO_SURFACE;
	const char *missing = niivLoadEGL(lib);
	if (missing != NULL) {
		e->step = missing;
		e->err = -1;
		return;
	}
	niivDisplay(e, want);
	if (e->dpy == EGL_NO_DISPLAY) return;
	if (!eglBindAPI(EGL_OPENGL_API)) {
		e->step = "eglBindAPI(EGL_OPENGL_API)";
		e->err = eglGetError();
		return;
	}
	const char *dexts = eglQueryString(e->dpy, EGL_EXTENSIONS);
	int surfaceless = niivHasExt(dexts, "EGL_KHR_surfaceless_context");
	EGLint cfgAttr[] = {
		EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
		EGL_SURFACE_TYPE, surfaceless ? 0 : EGL_PBUFFER_BIT,
		EGL_NONE,
	};
	EGLConfig cfg;
	EGLint n = 0;
	if (!eglChooseConfig(e->dpy, cfgAttr, &cfg, 1, &n) || n < 1) {
		e->step = "eglChooseConfig (no OpenGL config)";
		e->err = eglGetError();
		return;
	}
	EGLint ctxAttr[] = {
		EGL_CONTEXT_MAJOR_VERSION, major,
		EGL_CONTEXT_MINOR_VERSION, minor,
		EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
		EGL_NONE,
	};
	e->ctx = eglCreateContext(e->dpy, cfg, EGL_NO_CONTEXT, ctxAttr);
	if (e->ctx == EGL_NO_CONTEXT) {
		e->step = "eglCreateContext (OpenGL core context of the wanted version)";
		e->err = eglGetError();
		return;
	}
	if (!surfaceless) {
		EGLint pbAttr[] = {EGL_WIDTH, 16, EGL_HEIGHT, 16, EGL_NONE};
		e->surf = eglCreatePbufferSurface(e->dpy, cfg, pbAttr);
		if (e->surf == EGL_NO_SURFACE) {
			e->step = "eglCreatePbufferSurface";
			e->err = eglGetError();
			return;
		}
	}
	if (!eglMakeCurrent(e->dpy, e->surf, e->surf, e->ctx)) {
		e->step = "eglMakeCurrent";
		e->err = eglGetError();
		return;
	}
	e->step = NULL;
}

static void niivClose(niivEGL *e) {
	if (e->dpy == EGL_NO_DISPLAY || eglMakeCurrent == NULL) return;
	eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	if (e->surf != EGL_NO_SURFACE) eglDestroySurface(e->dpy, e->surf);
	if (e->ctx != EGL_NO_CONTEXT) eglDestroyContext(e->dpy, e->ctx);
	eglTerminate(e->dpy);
	e->dpy = EGL_NO_DISPLAY;
}

static void *niivProcAddress(const char *name) {
	return (void *) eglGetProcAddress(name);
}

// niivMissingGL stands in for OpenGL functions the driver does not have
// (on an OpenGL 3.3 context, the 4.x functions that go-gl's loader wants);
// niiv never calls them there, and niivMissingCalls counts it if it does.
static volatile long niivMissingCalls;
static void niivMissingGL(void) { niivMissingCalls++; }
static void *niivMissingAddr(void) { return (void *) niivMissingGL; }
static long niivMissingCount(void) { return niivMissingCalls; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// eglContext is an EGL display and OpenGL context, current on the thread
// that opened it.
type eglContext struct {
	e        C.niivEGL
	platform string
}

// openEGL creates an OpenGL major.minor core context and makes it current
// on the calling (locked) thread. lib is the EGL library to open ("" finds
// libEGL.so.1); platform is "" (try all) or one of "device",
// "surfaceless", "default".
func openEGL(lib, platform string, major, minor int) (*eglContext, error) {
	c := &eglContext{}
	cw := C.CString(platform)
	defer C.free(unsafe.Pointer(cw))
	cl := C.CString(lib)
	defer C.free(unsafe.Pointer(cl))
	C.niivOpen(&c.e, cl, cw, C.int(major), C.int(minor))
	if c.e.step != nil {
		step := C.GoString(c.e.step)
		code := int(c.e.err)
		if code == -1 {
			return nil, fmt.Errorf("EGL library not found or incomplete (%s missing; install libegl1 and the GPU's driver)", step)
		}
		C.niivClose(&c.e)
		if step == "display" {
			tried := platform
			if tried == "" {
				tried = "device, surfaceless, default"
			}
			return nil, fmt.Errorf("EGL: no display on platform %s (error 0x%x)", tried, code)
		}
		return nil, fmt.Errorf("EGL: %s failed (error 0x%x)", step, code)
	}
	c.platform = C.GoString(c.e.platform)
	return c, nil
}

// close releases the context; call it on the thread that opened it.
func (c *eglContext) close() { C.niivClose(&c.e) }

// procAddress returns the address of an OpenGL function.
func procAddress(name string) unsafe.Pointer {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return C.niivProcAddress(cn)
}

// procAddress33 returns the address of an OpenGL function for an OpenGL
// 3.3 context: the driver's, or a stand-in (niivMissingGL) where the driver
// has none (a 4.x function), so that go-gl's 4.3 loader accepts the
// context. With strict set, every function outside gl33Funcs gets the
// stand-in, so that a call to one is counted (missingCalls; tests).
func procAddress33(name string, strict bool) (p unsafe.Pointer, real bool) {
	if strict && !gl33Set[name] {
		return C.niivMissingAddr(), false
	}
	if p := procAddress(name); p != nil {
		return p, true
	}
	return C.niivMissingAddr(), false
}

// missingCalls returns how many times a stand-in of procAddress33 was
// called.
func missingCalls() int64 { return int64(C.niivMissingCount()) }
