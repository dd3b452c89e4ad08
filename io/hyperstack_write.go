package volio

import (
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/volume"
)

// SaveHyperstack writes every channel and time point of h to path: a .tif
// or .tiff as an ImageJ hyperstack (WriteHyperstackTIFF), a .ome.tif or
// .ome.tiff as an OME-TIFF (WriteOMETIFF), a .zarr as an
// OME-Zarr image with c and t axes (omezarr.WriteHyperstack, options o).
// A hyperstack of one channel and one time point is written as Save (or
// SaveZarr) writes its volume; other formats hold one volume only and are
// refused for more.
func SaveHyperstack(ctx context.Context, path string, h *volume.Hyperstack, o omezarr.Options) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if h.Times()*h.Channels() == 1 {
		switch ext {
		case ".tif", ".tiff":
			if isOMETIFF(path) {
				return WriteOMETIFF(path, h)
			}
			if h.Channel(0).ColorKnown || h.Channel(0).HasRange {
				return WriteHyperstackTIFF(path, h)
			}
		case ".zarr":
			return SaveZarr(ctx, path, h.At(0, 0), o)
		}
		return Save(path, h.At(0, 0))
	}
	switch ext {
	case ".tif", ".tiff":
		if isOMETIFF(path) {
			return WriteOMETIFF(path, h)
		}
		return WriteHyperstackTIFF(path, h)
	case ".zarr":
		if err := omezarr.WriteHyperstack(ctx, path, h, o); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &Error{"write", path, err}
		}
		return nil
	}
	return &Error{"write", path, fmt.Errorf("%s holds one volume, and this is %s: write a .tif (ImageJ hyperstack) or .zarr (OME-Zarr), or choose one channel and time point", ext, h)}
}

// WriteHyperstackTIFF writes h as an uncompressed ImageJ hyperstack (pages
// in ImageJ's order: channel fastest, then z, then time) with
// channels=, slices=, frames=, the voxel size and frame interval, and
// ImageJ's private metadata: one display range and one lookup table (black
// to the channel's colour) per channel, so that Fiji shows a composite in
// the channels' colours and tifffile reads the axes back as TZCYX. The file
// appears only when complete.
func WriteHyperstackTIFF(path string, h *volume.Hyperstack) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	if h == nil {
		return &Error{"write", path, errors.New("no hyperstack")}
	}
	nt, nc := h.Times(), h.Channels()
	total := h.Shape()
	total.Z *= nt * nc
	if err := checkAlloc(total, h.DType()); err != nil {
		return &Error{"write", path, fmt.Errorf("%s is too large to write as one TIFF: %w", h.Name, err)}
	}
	vols := make([][]*volume.Volume, nt)
	for t := range vols {
		vols[t] = make([]*volume.Volume, nc)
		for c := range vols[t] {
			v, err := inMemory(h.At(t, c))
			if err != nil {
				return &Error{"write", path, err}
			}
			vols[t][c] = v
		}
	}
	s := h.Shape()
	var pages []tiffPlane
	for t := range nt {
		for z := range s.Z {
			for c := range nc {
				pages = append(pages, tiffPlane{vols[t][c], z})
			}
		}
	}
	l := layoutFor(vols[0][0])
	l.desc, l.extra = hyperstackMeta(h, vols)
	return writeTIFFFile(path, &l, pages)
}

// hyperstackMeta returns the ImageJ description and the private metadata
// tags (display ranges, lookup tables) of a hyperstack.
func hyperstackMeta(h *volume.Hyperstack, vols [][]*volume.Volume) (string, []tiffTag) {
	nt, nc, nz := h.Times(), h.Channels(), h.Shape().Z
	ranges := make([]float64, 0, 2*nc)
	for c := range nc {
		ch := h.Channel(c)
		lo, hi := ch.Min, ch.Max
		if !ch.HasRange {
			st := vols[0][c].Stats()
			lo, hi = st.Min, st.Max
		}
		ranges = append(ranges, lo, hi)
	}
	var b strings.Builder
	b.WriteString("ImageJ=1.11a\n")
	fmt.Fprintf(&b, "images=%d\n", nt*nc*nz)
	if nc > 1 {
		fmt.Fprintf(&b, "channels=%d\n", nc)
	}
	if nz > 1 {
		fmt.Fprintf(&b, "slices=%d\n", nz)
	}
	if nt > 1 {
		fmt.Fprintf(&b, "frames=%d\n", nt)
	}
	if nc > 1 || nt > 1 {
		b.WriteString("hyperstack=true\n")
	}
	if nc > 1 {
		b.WriteString("mode=composite\n")
	}
	vox := h.Voxel()
	if vox.Known && vox.Validate() == nil {
		if u := imagejUnit(vox.Unit); u != "" {
			fmt.Fprintf(&b, "unit=%s\n", u)
		}
		fmt.Fprintf(&b, "spacing=%s\n", strconv.FormatFloat(vox.Z, 'g', -1, 64))
	}
	if sec := seconds(h.TimeStep, h.TimeUnit); sec > 0 && nt > 1 {
		fmt.Fprintf(&b, "finterval=%s\n", strconv.FormatFloat(sec, 'g', -1, 64))
	}
	b.WriteString("loop=false\n")
	fmt.Fprintf(&b, "min=%s\nmax=%s\n", strconv.FormatFloat(ranges[0], 'g', -1, 64), strconv.FormatFloat(ranges[1], 'g', -1, 64))

	// ImageJ's metadata, little-endian like the rest of the file: a header
	// ("IJIJ", then type and count pairs), the ranges as one entry of
	// doubles, one 768-byte lookup table per channel.
	le := binary.LittleEndian
	named := false
	for c := range nc {
		named = named || h.Channel(c).Name != ""
	}
	head := le.AppendUint32(nil, ijMagic)
	if named {
		head = le.AppendUint32(le.AppendUint32(head, ijLabels), uint32(nt*nz*nc))
	}
	head = le.AppendUint32(le.AppendUint32(head, ijRanges), 1)
	head = le.AppendUint32(le.AppendUint32(head, ijLUTs), uint32(nc))
	data := append([]byte(nil), head...)
	counts := []uint32{uint32(len(head))}
	if named {
		// Each plane's label is its channel's name, in page order.
		label := make([][]byte, nc)
		for c := range nc {
			for _, u := range utf16.Encode([]rune(h.Channel(c).Name)) {
				label[c] = le.AppendUint16(label[c], u)
			}
		}
		for range nt * nz {
			for c := range nc {
				data = append(data, label[c]...)
				counts = append(counts, uint32(len(label[c])))
			}
		}
	}
	counts = append(counts, uint32(8*len(ranges)))
	for _, r := range ranges {
		data = le.AppendUint64(data, math.Float64bits(r))
	}
	for c := range nc {
		col := h.Channel(c).Color
		lut := make([]byte, 768)
		for i := range 256 {
			lut[i] = uint8(int(col.R) * i / 255)
			lut[256+i] = uint8(int(col.G) * i / 255)
			lut[512+i] = uint8(int(col.B) * i / 255)
		}
		data = append(data, lut...)
		counts = append(counts, 768)
	}
	cb := make([]byte, 0, 4*len(counts))
	for _, n := range counts {
		cb = le.AppendUint32(cb, n)
	}
	extra := []tiffTag{
		{tagIJMetaCounts, tLong, uint64(len(counts)), cb},
		{tagIJMeta, tByte, uint64(len(data)), data},
	}
	return b.String(), extra
}

// seconds converts a time step to seconds; 0 when the unit is unknown.
func seconds(step float64, unit string) float64 {
	switch unit {
	case "s", "sec", "second", "seconds":
		return step
	case "ms", "millisecond":
		return step / 1000
	case "min", "minute", "minutes":
		return step * 60
	case "h", "hour", "hours":
		return step * 3600
	}
	return 0
}

// WriteOMETIFF writes h as an uncompressed single-file OME-TIFF: the pages
// of WriteHyperstackTIFF (DimensionOrder XYCZT), described by OME-XML with
// the sizes, the physical voxel size, the time increment and one Channel
// element per channel (Name, Color), as Bio-Formats, Fiji and tifffile
// read it. The file appears only when complete.
func WriteOMETIFF(path string, h *volume.Hyperstack) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	if h == nil {
		return &Error{"write", path, errors.New("no hyperstack")}
	}
	nt, nc := h.Times(), h.Channels()
	total := h.Shape()
	total.Z *= nt * nc
	if err := checkAlloc(total, h.DType()); err != nil {
		return &Error{"write", path, fmt.Errorf("%s is too large to write as one TIFF: %w", h.Name, err)}
	}
	s := h.Shape()
	var pages []tiffPlane
	vols := make([][]*volume.Volume, nt)
	for t := range nt {
		vols[t] = make([]*volume.Volume, nc)
		for c := range nc {
			v, err := inMemory(h.At(t, c))
			if err != nil {
				return &Error{"write", path, err}
			}
			vols[t][c] = v
		}
		for z := range s.Z {
			for c := range nc {
				pages = append(pages, tiffPlane{vols[t][c], z})
			}
		}
	}
	l := layoutFor(vols[0][0])
	l.desc, l.extra = omeXML(h, l.bps, l.format), nil
	return writeTIFFFile(path, &l, pages)
}

// omeXML returns the OME-XML of WriteOMETIFF's file.
func omeXML(h *volume.Hyperstack, bps, format int) string {
	typ := map[[2]int]string{{8, fmtUint}: "uint8", {16, fmtUint}: "uint16", {16, fmtInt}: "int16", {32, fmtFloat}: "float"}[[2]int{bps, format}]
	s := h.Shape()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd" Creator="niiv">`)
	fmt.Fprintf(&b, `<Image ID="Image:0" Name="%s">`, xmlEscape(h.Name))
	fmt.Fprintf(&b, `<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="%s" SizeX="%d" SizeY="%d" SizeZ="%d" SizeC="%d" SizeT="%d" BigEndian="false" Interleaved="false"`,
		typ, s.X, s.Y, s.Z, h.Channels(), h.Times())
	if vox := h.Voxel(); vox.Known && vox.Validate() == nil {
		u := vox.Unit
		if u == "um" {
			u = "µm"
		}
		for _, a := range []struct {
			n string
			v float64
		}{{"X", vox.X}, {"Y", vox.Y}, {"Z", vox.Z}} {
			fmt.Fprintf(&b, ` PhysicalSize%s="%s" PhysicalSize%sUnit="%s"`, a.n, strconv.FormatFloat(a.v, 'g', -1, 64), a.n, xmlEscape(u))
		}
	}
	if sec := seconds(h.TimeStep, h.TimeUnit); sec > 0 {
		fmt.Fprintf(&b, ` TimeIncrement="%s" TimeIncrementUnit="s"`, strconv.FormatFloat(sec, 'g', -1, 64))
	}
	b.WriteString(">")
	for c := range h.Channels() {
		ch := h.Channel(c)
		rgba := int32(uint32(ch.Color.R)<<24 | uint32(ch.Color.G)<<16 | uint32(ch.Color.B)<<8 | 255)
		fmt.Fprintf(&b, `<Channel ID="Channel:0:%d" Name="%s" Color="%d" SamplesPerPixel="1"/>`, c, xmlEscape(ch.Label(c)), rgba)
	}
	fmt.Fprintf(&b, `<TiffData IFD="0" PlaneCount="%d"/>`, s.Z*h.Channels()*h.Times())
	b.WriteString("</Pixels></Image></OME>")
	return b.String()
}

// xmlEscape escapes s for an XML attribute.
func xmlEscape(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return ""
	}
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// isOMETIFF reports whether path ends in .ome.tif or .ome.tiff.
func isOMETIFF(path string) bool {
	p := strings.ToLower(path)
	return strings.HasSuffix(p, ".ome.tif") || strings.HasSuffix(p, ".ome.tiff")
}
