package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/volume"
)

// channelRow is one channel's controls: shown, colour, and a button that
// selects it (the contrast controls and the histogram follow the selected
// channel).
type channelRow struct {
	visible *widget.Check
	colour  *widget.Select
	pick    *widget.Button
}

// channelColours are the colours a channel may take, by name.
var channelColours = []struct {
	name string
	c    volume.Color
}{
	{"green", volume.Green}, {"magenta", volume.Magenta}, {"cyan", volume.Cyan},
	{"yellow", volume.Yellow}, {"red", volume.Red}, {"blue", volume.Blue},
	{"orange", volume.Orange}, {"white", volume.White},
}

// colourName names c: a name from channelColours, else "#RRGGBB".
func colourName(c volume.Color) string {
	for _, n := range channelColours {
		if n.c == c {
			return n.name
		}
	}
	return c.String()
}

// colourOptions are the colour select's options, with c's hex form when
// it has no name (a colour from the file).
func colourOptions(c volume.Color) []string {
	var o []string
	for _, n := range channelColours {
		o = append(o, n.name)
	}
	if colourName(c) == c.String() {
		o = append(o, c.String())
	}
	return o
}

// name is the shown file's name: the hyperstack's, else the volume's.
func (u *ui) name() string {
	if n := u.model.Stack().Name; n != "" {
		return n
	}
	return u.model.Volume().Name
}

// buildChannels makes the channel panel for the stack shown: one row per
// channel when there are several, nothing for one.
func (u *ui) buildChannels() {
	m := u.model
	u.chanRows = nil
	var objs []fyne.CanvasObject
	if n := m.Channels(); n > 1 {
		objs = append(objs, widget.NewLabel(fmt.Sprintf("Channels (%d) · click a name to adjust its contrast", n)))
		for c := range n {
			ch := m.Channel(c)
			r := channelRow{}
			r.visible = widget.NewCheck("", func(on bool) {
				if !u.syncing {
					u.model.SetChannelVisible(c, on)
				}
			})
			r.colour = widget.NewSelect(colourOptions(ch.Color), func(s string) {
				if u.syncing {
					return
				}
				for _, n := range channelColours {
					if n.name == s {
						u.model.SetChannelColor(c, n.c)
						return
					}
				}
				if col, err := volume.ParseColor(s); err == nil {
					u.model.SetChannelColor(c, col)
				}
			})
			r.pick = widget.NewButton(fmt.Sprintf("%d %s", c, ch.Name), func() { u.model.SelectChannel(c) })
			u.chanRows = append(u.chanRows, r)
			objs = append(objs, container.NewBorder(nil, nil, r.visible, r.colour, r.pick))
		}
	}
	u.chanBox.Objects = objs
	if objs == nil {
		u.chanBox.Hide() // no space taken: the panel is as for one volume
	} else {
		u.chanBox.Show()
	}
	u.chanBox.Refresh()
}

// syncChannels brings the channel rows in line with the model.
func (u *ui) syncChannels() {
	m := u.model
	for c, r := range u.chanRows {
		ch := m.Channel(c)
		r.visible.SetChecked(ch.Visible)
		r.colour.SetSelected(colourName(ch.Color))
		imp := widget.MediumImportance
		if c == m.Selected() {
			imp = widget.HighImportance
		}
		if r.pick.Importance != imp {
			r.pick.Importance = imp
			r.pick.Refresh()
		}
	}
}

// syncTime shows the time slider for several time points.
func (u *ui) syncTime() {
	m := u.model
	if m.Times() < 2 {
		u.timeBox.Hide()
		return
	}
	u.timeSl.Max = float64(m.Times() - 1)
	u.timeSl.SetValue(float64(m.Time()))
	h := m.Stack()
	label := fmt.Sprintf("%d / %d", m.Time(), m.Times()-1)
	if h.TimeStep > 0 {
		label += fmt.Sprintf(" · %g %s", float64(m.Time())*h.TimeStep, h.TimeUnit)
	}
	u.timeLabel.SetText(label)
	u.timeBox.Show()
}

// chooseChannels asks which channels of h to show when it has more than a
// composite draws (volume.MaxShown), offering the first ones; done gets
// the chosen hyperstack. Cancel shows nothing new.
func (u *ui) chooseChannels(h *volume.Hyperstack, done func(*volume.Hyperstack)) {
	first := make([]string, volume.MaxShown)
	for i := range first {
		first[i] = strconv.Itoa(i)
	}
	entry := widget.NewEntry()
	entry.SetText(strings.Join(first, ","))
	msg := widget.NewLabel(fmt.Sprintf("%s has %d channels; a composite shows up to %d.\nChannels to show (from 0, comma-separated):", h.Name, h.Channels(), volume.MaxShown))
	errLabel := widget.NewLabel("")
	var d dialog.Dialog
	show := widget.NewButton("Show", func() {
		var chs []int
		for _, p := range strings.Split(entry.Text, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				errLabel.SetText(fmt.Sprintf("%q is not a channel number", p))
				return
			}
			chs = append(chs, n)
		}
		if len(chs) > volume.MaxShown {
			errLabel.SetText(fmt.Sprintf("choose at most %d channels", volume.MaxShown))
			return
		}
		sel, err := h.Select(chs, nil)
		if err != nil {
			errLabel.SetText(strings.TrimPrefix(err.Error(), "volume: "))
			return
		}
		d.Hide()
		done(sel)
	})
	show.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { d.Hide(); u.sayModel() })
	cd := dialog.NewCustomWithoutButtons("Choose channels", container.NewVBox(msg, entry, errLabel), u.win)
	cd.SetButtons([]fyne.CanvasObject{cancel, show})
	d = cd
	d.Show()
}

// warmStats computes, in the background, the statistics of every time
// point of the channels shown (histogram, automatic contrast, niiv's
// normalisation), so that stepping time does not compute them on the UI
// goroutine (a volume read from disk would be read there).
func (u *ui) warmStats(h *volume.Hyperstack) {
	if h.Times() < 2 {
		return
	}
	u.bg.Go(func(ctx context.Context) {
		for t := range h.Times() {
			for c := range min(h.Channels(), volume.MaxShown) {
				if ctx.Err() != nil {
					return
				}
				h.At(t, c).Stats()
			}
		}
	})
}
