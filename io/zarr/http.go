package zarr

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// httpStore reads a Zarr or N5 hierarchy served over HTTP(S) as static
// files, by a web server or an object store: GET for whole keys, Range
// requests for parts of shards, HEAD for existence. 404 and 403 mean that
// a key does not exist (object stores answer 403 for missing keys when
// listing is not allowed). Requests that fail with a 5xx or 429 status or
// a connection error, including a body cut short, are retried a bounded
// number of times with exponential backoff; once a request to a host has
// failed after all of them, the next requests to it are not retried for a
// few seconds unless one succeeds, so that a server that is down fails a
// read of many chunks quickly.
type httpStore struct {
	client *http.Client
	// retries is the number of retries after the first attempt.
	retries int
	// wait is the pause before the first retry; it doubles each time.
	wait time.Duration

	mu   sync.Mutex
	down map[string]time.Time // host → when a request to it last failed for good
}

// defaultHTTP is the store of every URL Open reads.
var defaultHTTP = &httpStore{client: newHTTPClient(), retries: 3, wait: 250 * time.Millisecond}

// downFor is how long requests to a host that failed are not retried.
const downFor = 5 * time.Second

// retriesFor returns the retries a request to host may make.
func (s *httpStore) retriesFor(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.down[host]; ok && time.Since(t) < downFor {
		return 0
	}
	return s.retries
}

// markHost records whether a request to host succeeded (or failed for a
// reason retries cannot cure) or failed for good.
func (s *httpStore) markHost(host string, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case failed:
		if s.down == nil {
			s.down = map[string]time.Time{}
		}
		s.down[host] = time.Now()
	case s.down != nil:
		delete(s.down, host)
	}
}

// newHTTPClient returns a client with timeouts for connecting, for the
// response headers and for a whole request, and enough idle connections
// per host for the parallel chunk reads.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone() // proxy from the environment, 30 s dial timeout
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: t, Timeout: 5 * time.Minute}
}

// maxChunkFetch bounds the body of a chunk or shard part read over HTTP.
const maxChunkFetch = maxChunkBytes + 1<<20

// httpError is a request for a key that failed: a status other than
// success, or no response or a body cut short (Status 0). It matches
// fs.ErrNotExist for 404 and 403.
type httpError struct {
	Method string
	URL    string
	Range  string // the Range header sent, "" for none
	Status int    // 0: no (complete) response
	// Attempts is the number of requests made, retries included.
	Attempts int
	// Err is the connection or body error, or a description of a bad
	// response.
	Err error
}

// Error names the request, the URL and the status or error.
func (e *httpError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method + " " + e.URL)
	if e.Range != "" {
		b.WriteString(" (" + e.Range + ")")
	}
	b.WriteString(": ")
	switch {
	case e.Status != 0 && e.Err != nil:
		fmt.Fprintf(&b, "%d %s: %v", e.Status, http.StatusText(e.Status), e.Err)
	case e.Status != 0:
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	default:
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the connection or body error.
func (e *httpError) Unwrap() error { return e.Err }

// Is reports a missing key (404, 403) as fs.ErrNotExist.
func (e *httpError) Is(target error) bool {
	return target == fs.ErrNotExist && missingStatus(e.Status)
}

func missingStatus(s int) bool { return s == http.StatusNotFound || s == http.StatusForbidden }

// retryStatus reports the statuses worth asking again: server errors and
// throttling.
func retryStatus(s int) bool { return s >= 500 || s == http.StatusTooManyRequests }

// final wraps an error of a body handler that a retry would not cure.
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }
func (f final) Unwrap() error { return f.err }

// response is what fetch keeps of a response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// fetch makes a request, retrying connection errors, retryable statuses
// and body errors of read (unless wrapped in final). read consumes the
// body of a successful response; nil discards it. An unsuccessful status
// is an *httpError, returned with the response (without its body).
func (s *httpStore) fetch(method, u, rng string, read func(*http.Response) ([]byte, error)) (*response, error) {
	herr := &httpError{Method: method, URL: u}
	if rng != "" {
		herr.Range = "Range: " + rng
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		herr.Err = unwrapURLError(err)
		return nil, herr
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	host := req.URL.Host
	r, failed, err := s.try(req, s.retriesFor(host), herr, read)
	s.markHost(host, failed)
	return r, err
}

// try makes the attempts of fetch; failed reports that the last one failed
// in a way worth retrying.
func (s *httpStore) try(req0 *http.Request, retries int, herr *httpError, read func(*http.Response) ([]byte, error)) (r *response, failed bool, err error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			time.Sleep(s.wait << (attempt - 1))
		}
		herr.Attempts = attempt + 1
		resp, err := s.client.Do(req0.Clone(context.Background()))
		if err != nil {
			herr.Status, herr.Err = 0, unwrapURLError(err)
			if attempt < retries {
				continue
			}
			return nil, true, herr
		}
		st := resp.StatusCode
		ok := st >= 200 && st < 300
		if !ok || read == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
			resp.Body.Close()
			if !ok {
				herr.Status, herr.Err = st, nil
				if retryStatus(st) && attempt < retries {
					continue
				}
				return &response{status: st, header: resp.Header}, retryStatus(st), herr
			}
			return &response{status: st, header: resp.Header}, false, nil
		}
		body, err := read(resp)
		resp.Body.Close()
		if err != nil {
			herr.Status, herr.Err = st, err
			var f final
			if errors.As(err, &f) {
				herr.Err = f.err
				return nil, false, herr
			}
			if attempt < retries {
				continue
			}
			return nil, true, herr
		}
		return &response{status: st, header: resp.Header, body: body}, false, nil
	}
}

// unwrapURLError drops the method and URL that *url.Error repeats.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readBody reads a whole body of at most limit bytes.
func readBody(limit int64) func(*http.Response) ([]byte, error) {
	return func(resp *http.Response) ([]byte, error) {
		if resp.ContentLength > limit {
			return nil, final{fmt.Errorf("%d bytes, more than the %d MiB limit", resp.ContentLength, limit>>20)}
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("reading the body: %w", err)
		}
		if int64(len(b)) > limit {
			return nil, final{fmt.Errorf("more than the %d MiB limit", limit>>20)}
		}
		if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
			return nil, fmt.Errorf("the body has %d bytes, Content-Length says %d", len(b), resp.ContentLength)
		}
		return b, nil
	}
}

func (s *httpStore) isFile(p string) (bool, error) {
	r, err := s.fetch(http.MethodHead, p, "", nil)
	if r != nil && (r.status == http.StatusMethodNotAllowed || r.status == http.StatusNotImplemented) {
		// No HEAD: ask for the first byte.
		r, err = s.fetch(http.MethodGet, p, "bytes=0-0", readBody(1<<20))
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case r != nil && r.status == http.StatusRequestedRangeNotSatisfiable:
		return true, nil // an empty file
	}
	return false, err
}

func (s *httpStore) readMeta(p string) ([]byte, string, error) {
	r, err := s.fetch(http.MethodGet, p, "", readBody(maxMetaBytes))
	if err != nil {
		return nil, "", err
	}
	h := fnv.New64a()
	h.Write(r.body)
	stamp := fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%x", p, r.header.Get("ETag"), r.header.Get("Last-Modified"), len(r.body), h.Sum64())
	return r.body, stamp, nil
}

func (s *httpStore) readFile(p string) ([]byte, error) {
	r, err := s.fetch(http.MethodGet, p, "", readBody(maxChunkFetch))
	if err != nil {
		return nil, err
	}
	if r.body == nil {
		r.body = []byte{}
	}
	return r.body, nil
}

func (s *httpStore) readAt(p string, off, n int64) ([]byte, int64, error) {
	if n <= 0 {
		return []byte{}, -1, nil
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	if off < 0 {
		rng = fmt.Sprintf("bytes=-%d", n)
	}
	size := int64(-1)
	r, err := s.fetch(http.MethodGet, p, rng, func(resp *http.Response) ([]byte, error) {
		switch resp.StatusCode {
		case http.StatusPartialContent:
			first, last, total, err := parseContentRange(resp.Header.Get("Content-Range"))
			if err != nil {
				return nil, final{err}
			}
			if off >= 0 && first != off || off < 0 && total >= 0 && last != total-1 {
				return nil, final{fmt.Errorf("Content-Range %q is not the range asked for", resp.Header.Get("Content-Range"))}
			}
			want := last - first + 1
			if want > n {
				return nil, final{fmt.Errorf("Content-Range %q is longer than the range asked for", resp.Header.Get("Content-Range"))}
			}
			b := make([]byte, want)
			if _, err := io.ReadFull(resp.Body, b); err != nil {
				return nil, fmt.Errorf("reading the body: %w", err)
			}
			size = total
			return b, nil
		case http.StatusOK:
			// The server ignored Range and sends the whole file: skip to
			// the part asked for.
			total := resp.ContentLength
			start := off
			if off < 0 {
				if total < 0 {
					b, err := readBody(maxChunkFetch)(resp)
					if err != nil {
						return nil, err
					}
					size = int64(len(b))
					return b[max(size-n, 0):], nil
				}
				start = max(total-n, 0)
			}
			if _, err := io.CopyN(io.Discard, resp.Body, start); err != nil {
				if errors.Is(err, io.EOF) && total < 0 {
					size = 0
					return []byte{}, nil
				}
				return nil, fmt.Errorf("reading the body: %w", err)
			}
			b, err := io.ReadAll(io.LimitReader(resp.Body, n))
			if err != nil {
				return nil, fmt.Errorf("reading the body: %w", err)
			}
			if total >= 0 && int64(len(b)) < min(n, total-start) {
				return nil, fmt.Errorf("reading the body: %w", io.ErrUnexpectedEOF)
			}
			size = total
			return b, nil
		}
		return nil, final{fmt.Errorf("unexpected status for a Range request")}
	})
	switch {
	case err == nil:
		return r.body, size, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, nil
	case r != nil && r.status == http.StatusRequestedRangeNotSatisfiable:
		// Past the end, or a suffix of an empty file: "bytes */SIZE".
		_, _, total, _ := parseContentRange(r.header.Get("Content-Range"))
		return []byte{}, total, nil
	}
	return nil, size, err
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL" (TOTAL may be "*",
// read as -1) or "bytes */TOTAL" (first and last -1).
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("Content-Range %q is not bytes FIRST-LAST/SIZE", s)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return bad()
	}
	span, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return bad()
		}
	}
	if span == "*" {
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil {
		return bad()
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first || total >= 0 && last >= total {
		return bad()
	}
	return first, last, total, nil
}

func (s *httpStore) subfolders(string) ([]string, error) { return nil, errNoListing }

// URL locations are absolute URLs; path arithmetic works on their path
// and keeps the query (a token of a signed container URL, say).

func (s *httpStore) join(dir string, keys ...string) string {
	u, err := url.Parse(dir)
	if err != nil {
		return strings.TrimSuffix(dir, "/") + "/" + strings.Join(keys, "/")
	}
	u.Path = path.Join(append([]string{u.Path}, keys...)...)
	u.RawPath = ""
	return u.String()
}

func (s *httpStore) dir(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	d := path.Dir(u.Path)
	if d == "." {
		d = "/"
	}
	if d == u.Path || u.Path == "" {
		return p
	}
	u.Path, u.RawPath = d, ""
	return u.String()
}

func (s *httpStore) base(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return path.Base(p)
	}
	if u.Path == "" || u.Path == "/" {
		return u.Host
	}
	return path.Base(u.Path)
}

func (s *httpStore) rel(root, p string) (string, error) {
	r, err1 := url.Parse(root)
	q, err2 := url.Parse(p)
	if err1 != nil || err2 != nil || !strings.EqualFold(r.Scheme, q.Scheme) || !strings.EqualFold(r.Host, q.Host) {
		return "", fmt.Errorf("%s is not under %s", p, root)
	}
	rp, qp := strings.TrimSuffix(r.Path, "/"), strings.TrimSuffix(q.Path, "/")
	switch {
	case rp == qp:
		return ".", nil
	case strings.HasPrefix(qp, rp+"/"):
		return qp[len(rp)+1:], nil
	}
	return "", fmt.Errorf("%s is not under %s", p, root)
}

func (s *httpStore) abs(p string) string { return p }

// cleanURL checks a URL Open was given and returns it without a trailing
// slash or dot segments.
func cleanURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("the URL has no host")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	u.Path, u.RawPath = path.Clean(u.Path), ""
	return u.String(), nil
}
