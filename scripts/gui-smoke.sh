#!/usr/bin/env bash
# GUI smoke test: starts the real niiv viewer under Xvfb on the bundled
# sample, drives it with xdotool (slice, zoom, mode, keyboard screenshot),
# grabs the screen with ImageMagick and checks that
#   * the window shows the 2×2 layout: all four quadrants are non-uniform,
#   * the interaction changed the picture,
#   * the S key wrote a non-blank screenshot of the layout;
# then opens a 3-channel, 5-time-point confocal-like stack and checks that
#   * the three views show a colour composite (not gray) in niiv mode,
#   * the . key steps time and changes the picture,
#   * niiv figure --channels 0,1,2 --time 2 writes a colour composite,
#   * niiv reconstruct carries the three channels into an isotropic TIFF.
#
#   scripts/gui-smoke.sh            (needs xvfb-run, xdotool, ImageMagick)
#   OUT=dir scripts/gui-smoke.sh    keep the screenshots in dir
set -euo pipefail

if [ "${1:-}" != "--inside" ]; then
  cd "$(dirname "$0")/.."
  for tool in xvfb-run xdotool import convert; do
    command -v "$tool" >/dev/null || { echo "gui-smoke: $tool is missing (scripts/setup.sh test)" >&2; exit 1; }
  done
  out=${OUT:-$(mktemp -d)}
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  echo "gui-smoke: building niiv"
  go build -o "$out/niiv" .
  exec xvfb-run -a -s "-screen 0 1400x1000x24" bash "$0" --inside "$out"
fi

out=$2
log=$out/niiv.log
fail() { echo "gui-smoke: FAIL: $*" >&2; tail -n 20 "$log" >&2 || true; exit 1; }

export LANG=en_US.UTF-8 # Fyne logs an error for the C locale
cd "$out" # the save dialogs open in the current folder
"$out/niiv" view --screenshots "$out" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

wid=""
for _ in $(seq 1 60); do
  wid=$(xdotool search --name '^niiv' 2>/dev/null | head -n 1 || true)
  [ -n "$wid" ] && break
  kill -0 "$pid" 2>/dev/null || fail "niiv exited early"
  sleep 0.5
done
[ -n "$wid" ] || fail "no niiv window after 30 s"
sleep 3 # first frames
eval "$(xdotool getwindowgeometry --shell "$wid")" # X Y WIDTH HEIGHT
echo "gui-smoke: window $wid at ${X},${Y} size ${WIDTH}x${HEIGHT}"

# quadrant_stddevs FILE: prints the 4 quadrants' grey-level standard deviations.
quadrant_stddevs() {
  convert "$1" -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage -colorspace Gray \
    -crop 2x2@ +repage -format '%[fx:standard_deviation] ' info:
}

import -window root "$out/before.png"

xy_x=$((X + WIDTH / 4)); xy_y=$((Y + HEIGHT / 4))
xz_x=$((X + 3 * WIDTH / 4)); xz_y=$((Y + HEIGHT / 4))
# Slice: three wheel steps up in XY, then a click in XZ (moves the crosshair).
xdotool mousemove "$xy_x" "$xy_y"; sleep 0.3
for _ in 1 2 3; do xdotool click 4; sleep 0.2; done
xdotool mousemove "$xz_x" "$((xz_y + 40))" click 1; sleep 0.3
# Zoom: Ctrl+wheel in XY, and + on the keyboard.
xdotool mousemove "$xy_x" "$xy_y"; sleep 0.2
xdotool keydown ctrl click 4 click 4 keyup ctrl; sleep 0.3
xdotool key plus; sleep 0.3
# Mode: 5 = split view, then 3 = niiv.
xdotool key 5; sleep 1
xdotool key 3; sleep 1
# Keyboard screenshot of the layout (rendered in the background).
xdotool key s
for _ in $(seq 1 60); do
  ls "$out"/niiv-*.png >/dev/null 2>&1 && break
  sleep 0.5
done
sleep 1
import -window root "$out/after.png"

kill -0 "$pid" 2>/dev/null || fail "niiv died during the interaction"

read -r -a sd <<<"$(quadrant_stddevs "$out/after.png")"
echo "gui-smoke: quadrant grey stddev: ${sd[*]}"
[ "${#sd[@]}" -eq 4 ] || fail "could not measure the quadrants"
for s in "${sd[@]}"; do
  awk -v s="$s" 'BEGIN { exit !(s > 0.03) }' || fail "a quadrant is nearly uniform (stddev $s): layout missing or blank"
done

diff=$(compare -metric AE "$out/before.png" "$out/after.png" null: 2>&1 || true)
echo "gui-smoke: pixels changed by the interaction: $diff"
awk -v d="$diff" 'BEGIN { exit !(d + 0 > 1000) }' || fail "the interaction did not change the picture"

shot=$(ls "$out"/niiv-*.png 2>/dev/null | head -n 1 || true)
[ -n "$shot" ] || fail "the S key wrote no screenshot"
ssd=$(convert "$shot" -colorspace Gray -format '%[fx:standard_deviation]' info:)
echo "gui-smoke: S screenshot $(basename "$shot") $(identify -format '%wx%h' "$shot"), stddev $ssd"
awk -v s="$ssd" 'BEGIN { exit !(s > 0.03) }' || fail "the S screenshot is blank"

# Record…: the dialog (a 4 s sweep of the XY view by default), its Save…
# button (the dialog's one blue button, found on the screen), the save
# dialog, then the movie rendered in the background.
xdotool mousemove $((X + WIDTH / 2 + 215)) $((Y + HEIGHT / 2 + 20)) click 1; sleep 1.5
import -window root "$out/record-dialog.png"
box=$(convert "$out/record-dialog.png" -fuzz 8% -fill black +opaque "srgb(41,111,246)" -fill white -opaque "srgb(41,111,246)" -format '%@' info:)
[[ "$box" =~ ^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$ ]] || fail "Record… showed no dialog with a Save… button ($box)"
bw=${BASH_REMATCH[1]} bh=${BASH_REMATCH[2]} bx=${BASH_REMATCH[3]} by=${BASH_REMATCH[4]}
[ "$bw" -lt 200 ] && [ "$bh" -lt 60 ] || fail "the blue area $box is not a button"
xdotool mousemove $((bx + bw / 2)) $((by + bh / 2)) click 1; sleep 1.5
xdotool key ctrl+a; xdotool type --delay 10 "sweep.gif"; xdotool key Return
for _ in $(seq 1 360); do
  [ -s "$out/sweep.gif" ] && break
  kill -0 "$pid" 2>/dev/null || fail "niiv died while recording"
  sleep 0.5
done
[ -s "$out/sweep.gif" ] || fail "Record… wrote no movie within 3 minutes"
frames=$(identify -format '%n\n' "$out/sweep.gif" | head -n 1)
echo "gui-smoke: Record… wrote sweep.gif: $frames frames of $(identify -format '%wx%h\n' "$out/sweep.gif" | head -n 1)"
[ "$frames" -eq 100 ] || fail "the recorded sweep has $frames frames, want 100 (4 s at 25 frames/s)"
ls -A "$out" | grep -q '^\.sweep' && fail "recording left a temporary file"

# SIGTERM (a session ending, a scheduler) closes the window cleanly.
kill -TERM "$pid"
for _ in $(seq 1 20); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
kill -0 "$pid" 2>/dev/null && fail "niiv did not close within 10 s of SIGTERM"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "niiv exited with status $rc after SIGTERM"
echo "gui-smoke: SIGTERM closed the viewer (status 0)"

# Channels and time: a 3-channel, 5-time-point confocal-like stack,
# shown as a colour composite with niiv per channel.
"$out/niiv" sample --channels 3 --times 5 "$out/confocal.tif" >/dev/null
log=$out/niiv-channels.log
"$out/niiv" view --mode niiv --screenshots "$out" "$out/confocal.tif" >"$log" 2>&1 &
pid=$!
wid=""
for _ in $(seq 1 60); do
  wid=$(xdotool search --name '^niiv' 2>/dev/null | head -n 1 || true)
  [ -n "$wid" ] && break
  kill -0 "$pid" 2>/dev/null || fail "niiv exited early on confocal.tif"
  sleep 0.5
done
[ -n "$wid" ] || fail "no niiv window on confocal.tif after 30 s"
eval "$(xdotool getwindowgeometry --shell "$wid")"
# grab_stable FILE: waits (up to 40 s) until the screen stops changing —
# the niiv frames of every channel have replaced the linear previews — and
# saves it.
grab_stable() {
  import -window root "$1"
  for _ in $(seq 1 40); do
    sleep 1
    import -window root "$out/grab.png"
    d=$(compare -metric AE "$1" "$out/grab.png" null: 2>&1 || true)
    mv "$out/grab.png" "$1"
    [ "${d%% *}" = "0" ] && return 0
  done
  fail "the screen kept changing for 40 s"
}
# Keys act on the view under the mouse: it goes there before the first grab.
xdotool mousemove $((X + WIDTH / 4)) $((Y + HEIGHT / 4))
sleep 2
grab_stable "$out/channels-t0.png"
# quadrant_saturation FILE: the 4 quadrants' mean HSL saturation.
quadrant_saturation() {
  convert "$1" -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage -colorspace HSL -channel G -separate \
    -crop 2x2@ +repage -format '%[fx:mean] ' info:
}
read -r -a sat <<<"$(quadrant_saturation "$out/channels-t0.png")"
echo "gui-smoke: channels: quadrant saturation ${sat[*]}"
for s in "${sat[@]:0:3}"; do
  awk -v s="$s" 'BEGIN { exit !(s > 0.25) }' || fail "a view is not a colour composite (mean saturation $s)"
done
# Time: . steps to the next time point.
xdotool key period
grab_stable "$out/channels-t1.png"
kill -0 "$pid" 2>/dev/null || fail "niiv died stepping time"
diff=$(compare -metric AE "$out/channels-t0.png" "$out/channels-t1.png" null: 2>&1 || true)
echo "gui-smoke: channels: pixels changed by the time step: $diff"
awk -v d="$diff" 'BEGIN { exit !(d + 0 > 1000) }' || fail "the . key did not change the picture"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "niiv on confocal.tif exited with status $rc after SIGTERM"
# A composite figure of the three channels at time point 2.
"$out/niiv" figure --view layout --mode linear --channels 0,1,2 --time 2 --size 800x600 \
  --out "$out/composite.png" "$out/confocal.tif" >>"$log" 2>&1 || fail "niiv figure --channels failed"
fsat=$(convert "$out/composite.png" -colorspace HSL -channel G -separate -format '%[fx:mean]' info:)
echo "gui-smoke: channels: composite.png $(identify -format '%wx%h' "$out/composite.png"), mean saturation $fsat"
awk -v s="$fsat" 'BEGIN { exit !(s > 0.2) }' || fail "the composite figure is not in colour"
# An isotropic reconstruction of every channel of time point 0 keeps them.
"$out/niiv" reconstruct --time 0 --dtype input "$out/confocal.tif" "$out/iso.tif" >>"$log" 2>&1 || fail "niiv reconstruct of the channels failed"
"$out/niiv" info --header "$out/iso.tif" >"$out/iso-info.txt" 2>&1 || fail "niiv info iso.tif failed"
grep -q 'channels    3' "$out/iso-info.txt" && grep -q '0.1 × 0.1 × 0.1 µm' "$out/iso-info.txt" ||
  fail "iso.tif is not 3 isotropic channels: $(cat "$out/iso-info.txt")"
echo "gui-smoke: channels: reconstructed iso.tif: $(sed -n 's/^  shape *//p' "$out/iso-info.txt"), 3 channels"

echo "gui-smoke: ok (screenshots in $out)"
