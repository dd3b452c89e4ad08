package reconstruct_test

import (
	"context"
	"fmt"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// A viewer frame: the xz plane y=1 of a 2-slice volume, upsampled ×2
// along z, through the Method interface. The niiv method is used the same
// way: m := reconstruct.NewNiiv(model, cache).
func ExampleMethod() {
	data := []float32{
		0, 0, 0, 0, 10, 20, // z=0: y=0 (x 0..2), y=1
		0, 0, 0, 40, 50, 60, // z=1
	}
	vol, _ := volume.New(volume.Shape{Z: 2, Y: 2, X: 3}, data, volume.Unknown())
	req := reconstruct.Request{Vol: vol, Axis: volume.XZ, Index: 1,
		R0: 0, R1: 2, C0: 0, C1: 3, // the whole plane: rows are z, columns x
		W: 3, H: 4}
	img, _ := reconstruct.Linear.Render(context.Background(), req)
	for y := 0; y < img.H; y++ {
		fmt.Println(img.Pix[y*img.W : (y+1)*img.W])
	}
	// Output:
	// [0 10 20]
	// [10 20 30]
	// [30 40 50]
	// [40 50 60]
}

// Metrics take images scaled to [0, 1].
func ExampleCFPSNR() {
	gt := &volume.Image{W: 4, H: 4, Pix: make([]float32, 16)}
	pred := &volume.Image{W: 4, H: 4, Pix: make([]float32, 16)}
	for i := range gt.Pix {
		gt.Pix[i] = float32(i%4) / 4
		pred.Pix[i] = gt.Pix[i] + 0.01
	}
	fmt.Printf("PSNR %.2f dB, CF-PSNR r=0 %.2f dB, r=2 %.2f dB\n",
		reconstruct.PSNR(pred, gt), reconstruct.CFPSNR(pred, gt, 0), reconstruct.CFPSNR(pred, gt, 2))
	// Output:
	// PSNR 40.00 dB, CF-PSNR r=0 40.00 dB, r=2 40.00 dB
}
