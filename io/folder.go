package volio

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/niiv/niiv/volume"
)

// sliceFiles lists the 2-D PNG and TIFF files of a folder or glob pattern in
// natural order ("2.png" before "10.png").
func sliceFiles(path string) ([]string, error) {
	var files []string
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("bad pattern: %v", err)
		}
		files = m
	} else {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	var out []string
	for _, f := range files {
		switch strings.ToLower(filepath.Ext(f)) {
		case ".png", ".tif", ".tiff":
			if !strings.HasPrefix(filepath.Base(f), ".") {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no .png, .tif or .tiff slices found", ErrFormat)
	}
	sort.SliceStable(out, func(i, j int) bool { return naturalLess(filepath.Base(out[i]), filepath.Base(out[j])) })
	return out, nil
}

// naturalLess orders strings with embedded numbers by their numeric value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		ad, bd := unicode.IsDigit(rune(a[0])), unicode.IsDigit(rune(b[0]))
		if ad && bd {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// sliceConfig reads the size and type of one 2-D slice file without its
// pixels.
func sliceConfig(path string) (rows, cols int, dt volume.DType, err error) {
	fm, err := Detect(path)
	if err == nil && fm == TIFF {
		info, err := inspectTIFF(path)
		if err != nil {
			return 0, 0, 0, err
		}
		if info.Shape.Z != 1 {
			return 0, 0, 0, &Error{"read", path, fmt.Errorf("%w: a slice file must hold one image, this one has %d pages", ErrFormat, info.Shape.Z)}
		}
		return info.Shape.Y, info.Shape.X, info.DType, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, &Error{"read", path, err}
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return 0, 0, 0, &Error{"read", path, fmt.Errorf("%w: not a PNG or TIFF image: %v", ErrFormat, err)}
	}
	dt = volume.Uint8
	if cfg.ColorModel == color.Gray16Model || cfg.ColorModel == color.RGBA64Model || cfg.ColorModel == color.NRGBA64Model {
		dt = volume.Uint16
	}
	return cfg.Height, cfg.Width, dt, nil
}

func inspectFolder(path string) (Info, error) {
	files, err := sliceFiles(path)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	rows, cols, dt, err := sliceConfig(files[0])
	if err != nil {
		return Info{}, err
	}
	return Info{Path: path, Format: Folder, Shape: volume.Shape{Z: len(files), Y: rows, X: cols}, DType: dt,
		Voxel: volume.Unknown(), Detail: fmt.Sprintf("%d slices, %s … %s", len(files), filepath.Base(files[0]), filepath.Base(files[len(files)-1]))}, nil
}

func readFolder(path string) (*volume.Volume, error) {
	files, err := sliceFiles(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	rows, cols, dt, err := sliceConfig(files[0])
	if err != nil {
		return nil, err
	}
	shape := volume.Shape{Z: len(files), Y: rows, X: cols}
	if err := checkAlloc(shape, dt); err != nil {
		return nil, &Error{"read", path, err}
	}
	data := makeData(dt, shape.Len())
	plane := rows * cols
	for z, f := range files {
		r, c, d, err := sliceConfig(f)
		if err != nil {
			return nil, err
		}
		if r != rows || c != cols || d != dt {
			return nil, &Error{"read", f, fmt.Errorf("%w: slice is %d×%d %v but %s is %d×%d %v: all slices must match", ErrFormat, r, c, d, filepath.Base(files[0]), rows, cols, dt)}
		}
		if err := readSliceInto(f, data, z*plane, rows, cols, dt); err != nil {
			return nil, err
		}
	}
	return volume.New(shape, data, volume.Unknown())
}

// readSliceInto decodes one slice file into data at offset off.
func readSliceInto(path string, data any, off, rows, cols int, dt volume.DType) error {
	if fm, err := Detect(path); err == nil && fm == TIFF {
		src, r, c, d, err := readTIFFPlane(path)
		if err != nil {
			return err
		}
		if r != rows || c != cols || d != dt {
			return &Error{"read", path, fmt.Errorf("%w: slice size changed while reading", ErrFormat)}
		}
		copy(rawBytes(data)[off*dt.Size():], rawBytes(src))
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return &Error{"read", path, err}
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return &Error{"read", path, fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	b := img.Bounds()
	if b.Dy() != rows || b.Dx() != cols {
		return &Error{"read", path, fmt.Errorf("%w: slice size changed while reading", ErrFormat)}
	}
	grayOK := true
	for y := 0; y < rows; y++ {
		for x := 0; x < cols; x++ {
			var v uint32
			switch p := img.(type) {
			case *image.Gray:
				v = uint32(p.Pix[y*p.Stride+x])
			case *image.Gray16:
				i := y*p.Stride + 2*x
				v = uint32(p.Pix[i])<<8 | uint32(p.Pix[i+1])
			default:
				r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				if r != g || g != bb {
					grayOK = false
				}
				v = r
				if dt == volume.Uint8 {
					v >>= 8
				}
			}
			switch d := data.(type) {
			case []uint8:
				d[off+y*cols+x] = uint8(v)
			case []uint16:
				d[off+y*cols+x] = uint16(v)
			}
		}
	}
	if !grayOK {
		return &Error{"read", path, fmt.Errorf("%w: colour image: niiv reads grayscale slices; convert it first", ErrFormat)}
	}
	return nil
}
