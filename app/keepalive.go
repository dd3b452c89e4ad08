package app

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// keepAliveEvery is how often keepAlive renews the window's objects: well
// within Fyne's one-minute cache lifetime.
const keepAliveEvery = 15 * time.Second

// keepAlive works around a Fyne 2.7 crash (fyne-io/fyne#5965, fixed after
// 2.7.1): the driver forgets which canvas an object belongs to a minute
// after it last asked, on the next full canvas refresh, and learns it again
// only on the next repaint; a Select tapped in between opens its pop-up
// menu on no canvas and panics (the soak test hit it). Asking for the
// canvas of every object of the window, and of the dialogs shown, renews
// it. It runs on the UI goroutine every keepAliveEvery until ctx ends.
func (u *ui) keepAlive(ctx context.Context) {
	t := time.NewTicker(keepAliveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			u.do(func() {
				c := u.win.Canvas()
				renew(c.Content())
				for _, o := range c.Overlays().List() {
					renew(o)
				}
			})
		}
	}
}

// renew asks the driver for the canvas of obj and of the objects it
// contains, which marks their canvas entries alive.
func renew(obj fyne.CanvasObject) {
	if obj == nil {
		return
	}
	fyne.CurrentApp().Driver().CanvasForObject(obj)
	switch o := obj.(type) {
	case *fyne.Container:
		for _, c := range o.Objects {
			renew(c)
		}
	case *container.Scroll:
		renew(o.Content)
	case *widget.PopUp:
		renew(o.Content)
	case *widget.Form:
		for _, it := range o.Items {
			renew(it.Widget)
		}
	}
}
