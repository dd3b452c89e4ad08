package render

import (
	"image"
	"image/color"
	"sync"
	"testing"
)

// TestTextConcurrent measures and draws text from several goroutines at
// once, as frames composed in parallel do (a movie's renderers): run under
// -race, it fails if the shared font faces are used unguarded.
func TestTextConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			img := image.NewRGBA(image.Rect(0, 0, 200, 40))
			for i := range 50 {
				s := "10 µm " + string(rune('a'+(g+i)%26))
				if _, _, err := MeasureText(s, 13); err != nil {
					t.Error(err)
					return
				}
				if err := Text(img, image.Pt(2, 2), s, 13, color.RGBA{255, 255, 255, 255}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
