#!/usr/bin/env bash
# Soak test: the real niiv window under Xvfb, driven by a seeded random
# sequence of xdotool actions, with the process's memory and goroutines
# recorded over time (NIIV_DEBUG_STATS, internal/debugstats).
#
#   scripts/soak.sh [--seed N] [--actions N] [--file VOLUME] [--out DIR]
#                   [--big] [--short] [--bin NIIV] [--rev REV] [--pace S]
#                   [--only KIND,...] [--closes N] [--leak-limit P]
#
#   --seed N      seed of the action sequence (bash RANDOM; default 1)
#   --actions N   number of random actions (default 300)
#   --file F      the volume to view (default ../shared/data/isbi2012-sstem-4x4x50nm.npy
#                 beside the repository, else the bundled sample)
#   --big         view a 20×1024×1024 stack made from the ISBI stack (numpy)
#   --short       the CI variant (2-2.5 min with the build here): 60 actions on the
#                 bundled sample (--file overrides), Open… switching to a second
#                 sample, shorter pauses, one close
#   --out DIR     keep everything here (default: a new temporary folder)
#   --bin NIIV    use this niiv binary instead of building the working tree
#   --rev REV     build this commit (git archive) instead of the working tree
#   --pace S      longest pause after an action, seconds (default 0.6)
#   --only K,...  only these kinds of action, to corner a leak: wheel zoom pan
#                 click clickall dblclick modekey modeselect model contrast slider
#                 windowlevel keys screenshot open adapt export
#   --closes N    rounds of timed closes after a restart (default 1; --short: 0)
#   --leak-limit P  the RSS growth that fails, in % (default 10)
#
# Actions: wheel (Shift: ×10) in a random view, zoom (+/−, Ctrl+wheel), pan
# (drag), clicks in one view or in all three, double-click, mode keys 1–5
# and the Mode selector, the Model selector (lite ↔ paper, from general), contrast (A, I,
# M, right-drag window/level, the Min/Max sliders, Auto), slice keys, R, C,
# X, the S screenshot, Open… (the other volume of DIR/data, through Fyne's
# file dialog), Adapt then Cancel, Export isotropic… (save dialog, then
# Cancel). The first actions cover every kind once. After each action the
# process must be alive. At the middle and at the end the viewer is brought
# to the same state (first volume, niiv mode, views reset, a freshly loaded
# lite whose latent cache holds only this view), left until it is idle,
# and asked for a settled sample (SIGUSR1: a garbage collection and
# malloc_trim first); the growth of RSS between the two is the leak measure
# (what the old models, volumes, pipelines and dialogs left behind).
#
# Then closing is timed during long tasks, from the request until the
# process has exited: SIGTERM during an export, the window manager's close
# (WM_DELETE_WINDOW, sent with libX11 through python3's ctypes, since Xvfb
# has no window manager) during an adaptation, and during decodes (paper,
# or lite every other round) at a seeded delay after a slice step; the last
# two after a restart, --closes times (--short: only the window manager's
# close during an export). --actions 0 --closes N only closes. Cancel's
# latency in the adaptation and export dialogs is reported too.
#
# Fails (exit 1) on a crash (the process died, a non-zero status after a
# close, or "panic"/"SIGSEGV"/"fatal error"/"runtime error"/"internal error"
# in its log; the viewer reports a panic of its window loop as "viewer:
# internal error: ..." with the stack and exits with status 1), RSS growth over the
# second half above 10 % (--leak-limit), or a close slower than 2 s. Results are in
# DIR/summary.txt; DIR/actions.log, DIR/niiv*.log and DIR/stats*.txt hold
# the details (stats columns: t_s rss_kb goroutines heap_kb cpu_s).
#
# Needs xvfb-run, xdotool, ImageMagick and /usr/bin/python3 (numpy for
# --big): scripts/setup.sh test.
set -euo pipefail

if [ "${1:-}" != "--inside" ]; then
  cd "$(dirname "$0")/.."
  repo=$(pwd)
  seed=1 actions=300 file="" out="" big=0 short=0 bin="" rev="" pace=0.6 only="" closes=1 closes_set="" leak=10
  while [ $# -gt 0 ]; do
    case "$1" in
      --seed) seed=$2; shift 2 ;;
      --actions) actions=$2; shift 2 ;;
      --file) file=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --bin) bin=$2; shift 2 ;;
      --rev) rev=$2; shift 2 ;;
      --pace) pace=$2; shift 2 ;;
      --only) only=$2; shift 2 ;;
      --closes) closes=$2 closes_set=1; shift 2 ;;
      --leak-limit) leak=$2; shift 2 ;;
      --big) big=1; shift ;;
      --short) short=1; shift ;;
      -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) echo "soak: unknown argument $1 (--help)" >&2; exit 2 ;;
    esac
  done
  if [ "$short" = 1 ]; then
    [ "$actions" = 300 ] && actions=60
    [ "$pace" = 0.6 ] && pace=0.3
  fi
  for tool in xvfb-run xdotool import convert /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is missing (scripts/setup.sh test)" >&2; exit 1; }
  done
  t0=$(date +%s)
  out=${out:-$(mktemp -d /tmp/niiv-soak.XXXXXX)}
  mkdir -p "$out/data" "$out/shots" "$out/config"
  out=$(cd "$out" && pwd)
  case "$out/" in "$repo"/*) echo "soak: --out must be outside the repository" >&2; exit 2 ;; esac
  rm -rf "${out:?}/data/"* "$out/shots/"* "$out"/*.log "$out"/stats*.txt "$out"/summary.txt "$out"/*.png

  if [ -n "$bin" ]; then
    cp "$bin" "$out/niiv"
  elif [ -n "$rev" ]; then
    echo "soak: building niiv at $rev"
    rm -rf "$out/src" && mkdir -p "$out/src"
    git archive "$rev" | tar -x -C "$out/src"
    (cd "$out/src" && go build -o "$out/niiv" .)
  else
    echo "soak: building niiv"
    go build -o "$out/niiv" .
  fi

  # The volumes, in DIR/data: 1-* is the one viewed first, 2-* the one
  # Open… switches to (links to the originals; made ones are written here).
  isbi=$repo/../shared/data/isbi2012-sstem-4x4x50nm.npy
  if [ -f "$isbi" ]; then isbi=$(cd "$(dirname "$isbi")" && pwd)/$(basename "$isbi"); else isbi=""; fi
  link() { # link SRC NAME: a link to a volume and its sidecar
    ln -s "$1" "$out/data/$2"
    if [ -f "$1.json" ]; then ln -s "$1.json" "$out/data/$2.json"; fi
  }
  if [ "$big" = 1 ]; then
    src=${file:-$isbi}
    [ -n "$src" ] || { echo "soak: --big needs the ISBI stack (../shared/data) or --file" >&2; exit 2; }
    src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
    name=$(basename "$src")
    vox=$(printf '%s\n' "$name" | grep -o -- '-[0-9.]*x[0-9.]*x[0-9.]*[a-zµ]*m\.npy$' || true)
    echo "soak: making a 20×1024×1024 stack from $name"
    /usr/bin/python3 - "$src" "$out/data/1-tiled-20x1024x1024${vox:-.npy}" <<'EOF'
import sys, numpy as np
v = np.load(sys.argv[1], mmap_mode="r")
n = min(20, v.shape[0])
z0 = (v.shape[0] - n) // 2
s = np.asarray(v[z0:z0 + n])
# Mirror tiling: seamless, 2x larger in y and x; slices repeat when the
# source has fewer than 20.
s = np.concatenate([s, s[:, :, ::-1]], axis=2)
s = np.concatenate([s, s[:, ::-1, :]], axis=1)
y0, x0 = max(0, (s.shape[1] - 1024) // 2), max(0, (s.shape[2] - 1024) // 2)
s = s[:, y0:y0 + 1024, x0:x0 + 1024]
reps = -(-20 // s.shape[0])
s = np.concatenate([s] * reps, axis=0)[:20]
if s.shape[1] < 1024 or s.shape[2] < 1024:
    s = np.pad(s, ((0, 0), (0, 1024 - s.shape[1]), (0, 1024 - s.shape[2])), mode="reflect")
np.save(sys.argv[2], np.ascontiguousarray(s))
print("soak: wrote", sys.argv[2], s.shape, s.dtype)
EOF
    firstsrc=$src
  else
    if [ -z "$file" ] && { [ "$short" = 1 ] || [ -z "$isbi" ]; }; then file=sample; fi
    file=${file:-$isbi}
    if [ "$file" = sample ]; then
      "$out/niiv" sample "$out/data/1-sample.npy" >/dev/null
      firstsrc=sample
    else
      [ -e "$file" ] || { echo "soak: no such volume: $file" >&2; exit 2; }
      firstsrc=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
      link "$firstsrc" "1-$(basename "$file")"
    fi
  fi
  if [ -n "$isbi" ] && [ "$firstsrc" != "$isbi" ] && [ "$short" = 0 ]; then
    link "$isbi" "2-$(basename "$isbi")"
  else
    "$out/niiv" sample --seed 2 "$out/data/2-sample-seed2.npy" >/dev/null
  fi
  echo "soak: $actions actions, seed $seed, on $(cd "$out/data" && ls -d 1-* | grep -v '\.json$') (Open… switches to $(cd "$out/data" && ls -d 2-* | grep -v '\.json$')); output in $out"
  export SOAK_SEED=$seed SOAK_ACTIONS=$actions SOAK_PACE=$pace SOAK_T0=$t0 SOAK_SHORT=$short SOAK_ONLY=$only SOAK_CLOSES=$closes SOAK_CLOSES_SET=$closes_set SOAK_LEAK=$leak
  exec xvfb-run -a -s "-screen 0 1400x1000x24" bash "$0" --inside "$out"
fi

# ---------------------------------------------------------------- inside Xvfb
out=$2
cd "$out/shots" # S saves here; the panel then names the file without a folder
export LANG=en_US.UTF-8 FYNE_THEME=dark FYNE_SCALE=1 XDG_CONFIG_HOME=$out/config
data=$out/data
first=$(ls -d "$data"/1-* | grep -v '\.json$' | head -n 1)
alog=$out/actions.log
: >"$alog"
say() { echo "soak: $*"; echo "$(date +%T) $*" >>"$alog"; }
note() { echo "$(date +%T) $*" >>"$alog"; } # the log only
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

pid="" wid="" run=0 log="" stats=""
# alive: the process has not exited (a zombie, or a group whose threads
# are being torn down, has).
alive() {
  local st
  [ -n "$pid" ] && st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  case "$st" in *") Z "* | *") X "*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null
}
cleanup() { if alive; then kill -KILL "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
trap 'echo "soak: script error at line $LINENO" >&2' ERR

# start VOLUME: starts niiv (log and stats per run), waits for its window.
start() {
  run=$((run + 1))
  log=$out/niiv-$run.log stats=$out/stats-$run.txt
  NIIV_DEBUG_STATS=$stats "$out/niiv" view "$1" >"$log" 2>&1 &
  pid=$!
  wid=""
  for _ in $(seq 1 120); do
    wid=$(xdotool search --name '^niiv' 2>/dev/null | head -n 1 || true)
    [ -n "$wid" ] && break
    alive || { say "niiv exited before its window appeared"; tail -n 30 "$log"; exit 1; }
    sleep 0.25
  done
  [ -n "$wid" ] || { say "no niiv window after 30 s"; exit 1; }
  eval "$(xdotool getwindowgeometry --shell "$wid")" # X Y WIDTH HEIGHT
  PX=$((X + WIDTH / 2)) PY=$((Y + HEIGHT / 2))       # the panel's corner
  current=$1 model=general # the default model
  sleep 3 # first frames
}

R=0
rnd() { R=$((RANDOM % $1)); } # not in $(…): a subshell's draws are lost
# A random point inside view v (0 XY, 1 XZ, 2 YZ): VX VY.
point() {
  local ox=$X oy=$Y w=$((WIDTH / 2)) h=$((HEIGHT / 2))
  [ "$1" = 1 ] && ox=$((X + w))
  [ "$1" = 2 ] && oy=$((Y + h))
  rnd $((w - 60)); VX=$((ox + 30 + R))
  rnd $((h - 80)); VY=$((oy + 40 + R))
}
views=(XY XZ YZ)
hover() { point "$1"; xdotool mousemove "$VX" "$VY"; sleep 0.05; xdotool mousemove_relative 1 1; sleep 0.05; }
pause() { rnd 100; sleep "$(awk -v p="$SOAK_PACE" -v r="$R" 'BEGIN { printf "%.2f", 0.1 + (p - 0.1) * r / 100 }')"; }

# modal: is a dialog open? Fyne dims the window under it; the panel's top
# padding is background grey (23,23,24) otherwise.
modal() {
  local p
  p=$(import -window root -crop "1x1+$((PX + 600))+$((PY + 1))" -depth 8 txt:- 2>/dev/null | tail -n 1)
  case "$p" in *"(23,23,24)"*) return 1 ;; *) return 0 ;; esac
}
# wait_modal on|off [tries]: waits for a dialog to open or to close.
wait_modal() {
  local i
  for i in $(seq 1 "${2:-20}"); do
    if [ "$1" = on ] && modal; then return 0; fi
    if [ "$1" = off ] && ! modal; then return 0; fi
    sleep 0.25
  done
  return 1
}
dialogs=0 skipped=0 unsettled=""
# unexpected_dialog: a dialog nobody asked for (an error): saved, closed.
unexpected_dialog() {
  dialogs=$((dialogs + 1))
  import -window root "$out/dialog-$dialogs.png"
  say "  an unexpected dialog is open (dialog-$dialogs.png); closing it"
  # A file dialog's Cancel (a click there beside a smaller dialog lands on
  # the shade, which ignores it); then the focused button of others (OK,
  # Close, Cancel: their only one).
  xdotool mousemove $((X + (WIDTH - 800) / 2 + 697)) $((Y + (HEIGHT - 560) / 2 + 538)) click 1; sleep 0.5
  modal || return 0
  xdotool key Tab; sleep 0.2; xdotool key space; sleep 0.5
  modal || return 0
  xdotool key Escape; sleep 0.3
  modal && say "  the dialog stays open"
  return 0
}
# title_has NAME: the window's title names the volume NAME (a base name).
title_has() { case "$(xdotool getwindowname "$wid" 2>/dev/null)" in *"$1") return 0 ;; *) return 1 ;; esac; }

# panel_rows: the panel's two separators, SEP1 (above Mode/Model) and SEP2
# (above the histogram); their rows are the only black ones. The rows below
# the message line move when it wraps.
panel_rows() {
  local h=$((HEIGHT / 2)) rows
  rows=$(import -window root -crop "560x$h+$((PX + 20))+$PY" +repage miff:- 2>/dev/null |
    convert - -colorspace Gray -scale "1x$h!" -depth 8 txt:- 2>/dev/null |
    awk -F'[,:]' 'NR > 1 && $0 ~ /gray\(0\)|#000000/ { if ($2 != last + 1) print $2; last = $2 }')
  SEP1=$(echo "$rows" | sed -n 1p) SEP2=$(echo "$rows" | sed -n 2p)
  if [ -z "$SEP1" ] || [ -z "$SEP2" ]; then
    if modal; then unexpected_dialog; fi
    return 1
  fi
  SEP1=$((PY + SEP1)) SEP2=$((PY + SEP2))
}

# choose_model NAME: the Model selector (click, then the item).
choose_model() {
  if ! panel_rows; then say "  panel rows not found"; skipped=$((skipped + 1)); return; fi
  xdotool mousemove $((PX + 500)) $((SEP1 + 23)) click 1; sleep 0.6
  local dy=57 # the menu lists general, lite, paper
  [ "$1" = lite ] && dy=96
  [ "$1" = paper ] && dy=135
  xdotool mousemove $((PX + 420)) $((SEP1 + dy)) click 1; sleep 0.3
  model=$1
}

# The dialogs: open the other volume, then the two long tasks.
open_other() {
  local target names slot i dx dy n
  target=$(ls -d "$data"/1-* "$data"/2-* | grep -v '\.json$' | grep -v -F -x "$current" | head -n 1)
  xdotool mousemove $((PX + 35)) $((PY + 20)) click 1
  wait_modal on || { say "  no Open dialog"; skipped=$((skipped + 1)); return; }
  sleep 1 # the listing
  # Fyne lists (Parent), then folders and the files Open… lists (app.openExtensions) by lower-case name.
  names=$(ls -A "$data" | grep -v '^\.' | while read -r n; do
    if [ -d "$data/$n" ] || echo "$n" | grep -qiE '\.(npy|npz|tif|tiff|mrc|mrcs|rec|map|st|h5|hdf5|hdf|he5|zattrs|zgroup|zarray|json)$'; then echo "$n"; fi
  done | awk '{ print tolower($0) "\t" $0 }' | LC_ALL=C sort | cut -f2)
  slot=0 i=0
  while read -r n; do
    i=$((i + 1))
    if [ "$data/$n" = "$target" ]; then slot=$i; fi
  done <<<"$names"
  [ "$slot" -gt 0 ] || { say "  $target not in the list"; skipped=$((skipped + 1)); return; }
  dx=$((X + (WIDTH - 800) / 2)) dy=$((Y + (HEIGHT - 560) / 2)) # the dialog, centred
  xdotool mousemove $((dx + 210 + slot * 84)) $((dy + 144)) click 1; sleep 0.3
  xdotool mousemove $((dx + 764)) $((dy + 538)) click 1
  wait_modal off 8 || { say "  the Open dialog stays"; unexpected_dialog; return; }
  local i
  for i in $(seq 1 40); do title_has "$(basename "$target")" && break; sleep 0.25; done
  title_has "$(basename "$target")" || { say "  the title does not name $(basename "$target") 10 s after Open"; return; }
  current=$target
  note "  opened $(basename "$target")"
  sleep 1
}
exports=0
export_start() {
  xdotool mousemove $((PX + 330)) $((PY + 20)) click 1 # Export isotropic… (after Open…, Screenshot…, Record…)
  wait_modal on || { say "  no save dialog"; skipped=$((skipped + 1)); return 1; }
  sleep 0.6
  exports=$((exports + 1))
  xdotool key ctrl+a; xdotool type --delay 10 "soak-export-$exports.tif"; xdotool key Return
  sleep 0.8
  modal || { say "  no export dialog (finished already?)"; return 1; }
}
adapt_start() {
  xdotool mousemove $((PX + 83)) $((PY + 60)) click 1
  wait_modal on 8 || { say "  no adapt dialog (button disabled?)"; skipped=$((skipped + 1)); return 1; }
}
cancels=() # seconds from Cancel until the dialog is gone
cancel_task() { # $1: the task; Cancel is its dialog's only button
  local t
  if ! modal; then note "  $1 finished before Cancel"; rm -rf "$data"/soak-export-* "$data"/*.adapted-*; return; fi
  xdotool key Tab; sleep 0.2
  t=$(now)
  xdotool key space
  if wait_modal off 60; then
    cancels+=("$1 $(since "$t")")
    note "  $1 cancelled, dialog gone after $(since "$t") s"
  else
    say "  the $1 dialog stays 30 s after Cancel"; unexpected_dialog
  fi
  rm -rf "$data"/soak-export-* "$data"/*.adapted-* # whatever finished before Cancel
}

kinds=(wheel zoom pan click clickall dblclick modekey modeselect model contrast slider windowlevel keys screenshot open adapt export)
weights=(6 4 4 3 2 1 4 1 2 3 2 2 2 2 1 1 1)
if [ -n "$SOAK_ONLY" ]; then # --only: keep those kinds
  keep=() keepw=()
  for i in "${!kinds[@]}"; do
    case ",$SOAK_ONLY," in *",${kinds[$i]},"*) keep+=("${kinds[$i]}"); keepw+=("${weights[$i]}") ;; esac
  done
  [ "${#keep[@]}" -gt 0 ] || { echo "soak: --only $SOAK_ONLY: no such kind (${kinds[*]})" >&2; exit 2; }
  kinds=("${keep[@]}") weights=("${keepw[@]}")
fi
table=()
for i in "${!kinds[@]}"; do for _ in $(seq 1 "${weights[$i]}"); do table+=("${kinds[$i]}"); done; done

act() {
  local v n k
  case "$1" in
    wheel)
      rnd 3; v=$R; hover "$v"; rnd 5; n=$((R + 1)); rnd 2; k=$((4 + R))
      rnd 4
      if [ "$R" = 0 ]; then xdotool keydown shift; fi
      for _ in $(seq 1 "$n"); do xdotool click "$k"; sleep 0.05; done
      if [ "$R" = 0 ]; then xdotool keyup shift; fi
      note "  ${views[$v]} wheel $([ "$k" = 4 ] && echo up || echo down) ×$n$([ "$R" = 0 ] && echo ' (shift)')" ;;
    zoom)
      rnd 3; v=$R; hover "$v"; rnd 4
      case $R in
        0) xdotool key plus; note "  ${views[$v]} +" ;;
        1) xdotool key minus; note "  ${views[$v]} -" ;;
        2) xdotool keydown ctrl click 4 keyup ctrl; note "  ${views[$v]} ctrl+wheel in" ;;
        3) xdotool keydown ctrl click 5 keyup ctrl; note "  ${views[$v]} ctrl+wheel out" ;;
      esac ;;
    pan)
      rnd 3; v=$R; point "$v"; local x0=$VX y0=$VY; point "$v"
      xdotool mousemove "$x0" "$y0" mousedown 1; sleep 0.05
      xdotool mousemove $(((x0 + VX) / 2)) $(((y0 + VY) / 2)); sleep 0.05
      xdotool mousemove "$VX" "$VY"; sleep 0.05; xdotool mouseup 1
      note "  ${views[$v]} drag ($x0,$y0)→($VX,$VY)" ;;
    click)
      rnd 3; v=$R; point "$v"; xdotool mousemove "$VX" "$VY" click 1; note "  ${views[$v]} click ($VX,$VY)" ;;
    clickall)
      for v in 0 1 2; do point "$v"; xdotool mousemove "$VX" "$VY" click 1; sleep 0.2; done; note "  click in XY, XZ, YZ" ;;
    dblclick)
      rnd 3; v=$R; point "$v"; xdotool mousemove "$VX" "$VY" click --repeat 2 --delay 80 1; note "  ${views[$v]} double-click" ;;
    modekey)
      rnd 3; hover "$R"; rnd 5; xdotool key $((R + 1)); note "  key $((R + 1))" ;;
    modeselect)
      if ! panel_rows; then say "  panel rows not found"; skipped=$((skipped + 1)); return; fi
      rnd 5
      xdotool mousemove $((PX + 160)) $((SEP1 + 23)) click 1; sleep 0.5
      xdotool mousemove $((PX + 100)) $((SEP1 + 57 + 39 * R)) click 1
      note "  Mode selector: item $((R + 1))" ;;
    model)
      if [ "$model" = lite ]; then choose_model paper; else choose_model lite; fi
      note "  Model selector: $model"; sleep 0.5 ;;
    contrast)
      rnd 3; hover "$R"; rnd 3; k=(a i m); xdotool key "${k[$R]}"; note "  key ${k[$R]}" ;;
    slider)
      if ! panel_rows; then say "  panel rows not found"; skipped=$((skipped + 1)); return; fi
      local y=$((SEP2 + 116)) x1 x2
      if [ "$y" -gt $((Y + HEIGHT - 6)) ]; then say "  the Min/Max row is scrolled off"; skipped=$((skipped + 1)); return; fi
      rnd 3
      case $R in
        0) rnd 230; x1=$((PX + 70 + R)); rnd 230; x2=$((PX + 70 + R)); note "  Min slider" ;;
        1) rnd 170; x1=$((PX + 385 + R)); rnd 170; x2=$((PX + 385 + R)); note "  Max slider" ;;
        2) x1=$((PX + 610)) x2=$x1; note "  Auto" ;;
      esac
      xdotool mousemove "$x1" "$y" mousedown 1; sleep 0.05; xdotool mousemove "$x2" "$y"; sleep 0.05; xdotool mouseup 1 ;;
    windowlevel)
      rnd 3; v=$R; point "$v"; local x0=$VX y0=$VY; point "$v"
      xdotool mousemove "$x0" "$y0" mousedown 3; sleep 0.05; xdotool mousemove "$VX" "$VY"; sleep 0.05; xdotool mouseup 3
      note "  ${views[$v]} right-drag (window/level)" ;;
    keys)
      rnd 3; v=$R; hover "$v"; rnd 9; k=(Up Down Left Right Prior Next r c x); xdotool key "${k[$R]}"
      note "  ${views[$v]} key ${k[$R]}" ;;
    screenshot)
      rnd 3; hover "$R"; xdotool key s; note "  key s"
      { ls -t "$out/shots"/niiv-*.png 2>/dev/null || true; } | tail -n +4 | xargs -r rm -f ;;
    open) open_other ;;
    adapt)
      if adapt_start; then rnd 20; sleep "$(awk -v r="$R" 'BEGIN { print 0.5 + r / 10 }')"; cancel_task adaptation; fi ;;
    export)
      if export_start; then rnd 20; sleep "$(awk -v r="$R" 'BEGIN { print 0.5 + r / 10 }')"; cancel_task export; fi ;;
  esac
}

crashes=0
crashed() { # $1: what was going on, $2: the exit status when known
  crashes=$((crashes + 1))
  local rc=${2:-}
  if [ -z "$rc" ]; then rc=0; wait "$pid" 2>/dev/null || rc=$?; fi
  cp "$log" "$out/crash-$crashes.log"
  say "CRASH during $1: niiv exited with status $rc (crash-$crashes.log)"
  grep -n -m 3 -E 'panic|SIGSEGV|fatal error|runtime error|internal error|signal' "$log" | sed 's/^/  /' || true
  # the head of the first goroutine's stack (the one that failed), functions only
  awk '/^goroutine /{ f = 1 } f && /^$/ { exit } f' "$log" | grep -v '^[[:space:]]' | head -n 12 | sed 's/^/  /' || true
}

# cpu_ticks: the process's user+system CPU time so far, in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# wait_idle [MAX]: waits (at most MAX s, default 60) until the process has
# used under 5 % of a CPU in each of two consecutive seconds: its decodes
# are done. IDLE_S: how long that took.
wait_idle() {
  local t a b quiet=0 hz
  t=$(now) hz=$(getconf CLK_TCK)
  a=$(cpu_ticks)
  while alive && awk -v s="$(since "$t")" -v m="${1:-60}" 'BEGIN { exit !(s < m) }'; do
    sleep 1
    b=$(cpu_ticks)
    [ -n "$a" ] && [ -n "$b" ] || break
    if [ $((b - a)) -le $((hz / 20)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
    a=$b
    [ "$quiet" -ge 2 ] && break
  done
  IDLE_S=$(since "$t")
}

# checkpoint NAME: the same state at the middle and the end: the first
# volume, niiv mode, views reset, no dialog, and a freshly loaded lite (so
# that its latent cache, up to an eighth of memory, holds only the planes
# of this view, not those of the half-run before); once the process is idle,
# one settled sample (SIGUSR1: GC, memory returned to the system):
# CP_RSS CP_GOR CP_HEAP (kB, count, kB).
checkpoint() {
  modal && unexpected_dialog
  [ "$current" = "$first" ] || open_other
  title_has "$(basename "$first")" || say "  checkpoint $1: the window does not show $(basename "$first") (title: $(xdotool getwindowname "$wid"))"
  hover 0; xdotool key 3; sleep 0.2; xdotool key r
  if [ "$model" = lite ]; then
    # paper, only long enough to load (its decodes stop when lite replaces it)
    choose_model paper; wait_idle 8; note "  checkpoint $1: paper, $IDLE_S s"
  fi
  choose_model lite
  hover 0; xdotool key r
  local cap=90
  [ "$SOAK_SHORT" = 1 ] && cap=45
  wait_idle $cap
  note "  checkpoint $1: a fresh lite, idle after $IDLE_S s"
  if awk -v s="$IDLE_S" -v c="$cap" 'BEGIN { exit !(s >= c) }'; then
    say "  checkpoint $1: still busy after $cap s (sampled anyway)"
    unsettled="$unsettled $1"
  fi
  settled_sample
  say "checkpoint $1 (settled): rss $((CP_RSS / 1024)) MB, ${CP_GOR} goroutines, Go heap $((CP_HEAP / 1024)) MB"
}
# settled_sample: asks for a settled sample (SIGUSR1) and reads it.
settled_sample() {
  local n0 i
  n0=$(grep -c '^# settled' "$stats" || true)
  kill -USR1 "$pid"
  for i in $(seq 1 100); do
    [ "$(grep -c '^# settled' "$stats" || true)" -gt "$n0" ] && grep -A1 '^# settled' "$stats" | tail -n 1 | grep -q . && break
    sleep 0.1
  done
  CP_RSS="" CP_GOR="" CP_HEAP=""
  read -r _ CP_RSS CP_GOR CP_HEAP _ < <(grep -A1 '^# settled' "$stats" | tail -n 1) || true
}

# close_timed HOW: closes (sigterm | wm) now and measures until exit: CLOSE_S, CLOSE_RC.
close_timed() {
  local t i
  t=$(now)
  if [ "$1" = sigterm ]; then
    kill -TERM "$pid"
  else
    /usr/bin/python3 - "$wid" <<'EOF' || say "  could not send WM_DELETE_WINDOW"
# What a window manager sends when its close button is pressed.
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open the display")
w = int(sys.argv[1], 0)
ev = XEvent()
ev.xclient.type = 33  # ClientMessage
ev.xclient.send_event = 1
ev.xclient.window = w
ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
ev.xclient.format = 32
ev.xclient.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
if not x.XSendEvent(d, w, 0, 0, ctypes.byref(ev)):
    sys.exit("XSendEvent failed")
x.XFlush(d)
x.XCloseDisplay(d)
EOF
  fi
  for i in $(seq 1 750); do alive || break; sleep 0.02; done
  CLOSE_S=$(since "$t")
  if alive; then
    say "  still running $CLOSE_S s after the close; killed"
    kill -KILL "$pid"; CLOSE_S=99
  fi
  CLOSE_RC=0
  wait "$pid" 2>/dev/null || CLOSE_RC=$?
}
closes=()
close_ok=1
record_close() { # $1: label
  closes+=("$1: ${CLOSE_S} s, status ${CLOSE_RC}")
  say "close $1: exited after ${CLOSE_S} s with status ${CLOSE_RC}"
  awk -v s="$CLOSE_S" 'BEGIN { exit !(s > 2) }' && close_ok=0
  if [ "$CLOSE_RC" != 0 ]; then crashed "close ($1)" "$CLOSE_RC"; fi
  return 0
}

# ------------------------------------------------------------------ the run
RANDOM=$SOAK_SEED
start "$first"
wait_idle 60
settled_sample
RSS0=$CP_RSS GOR0=$CP_GOR
say "started: pid $pid, window ${WIDTH}x${HEIGHT}; idle after $IDLE_S s: rss $((RSS0 / 1024)) MB, $GOR0 goroutines (settled)"
soak_from=$(grep -vc '^#' "$stats")
# A seeded permutation of the kinds first (every kind at least once), then
# draws from the weighted table.
order=("${kinds[@]}")
for ((i = ${#order[@]} - 1; i > 0; i--)); do rnd $((i + 1)); t=${order[$i]}; order[i]=${order[$R]}; order[R]=$t; done
survived=0 mid_rss="" half=$((SOAK_ACTIONS / 2))
for ((step = 1; step <= SOAK_ACTIONS; step++)); do
  if ((step <= ${#order[@]})); then a=${order[$((step - 1))]}; else rnd ${#table[@]}; a=${table[$R]}; fi
  note "$step $a"
  act "$a"
  pause
  if ! alive; then crashed "action $step ($a)"; break; fi
  survived=$step
  if ((step % 10 == 0)) && modal; then unexpected_dialog; fi
  if ((step % 20 == 0)); then
    read -r _ r g _ < <(grep -v '^#' "$stats" | tail -n 1) || true
    say "$step actions, rss $((r / 1024)) MB, $g goroutines"
  fi
  if ((step == half)); then
    checkpoint middle
    mid_rss=$CP_RSS mid_heap=$CP_HEAP mid_gor=$CP_GOR
    alive || { crashed "the middle checkpoint"; break; }
  fi
done

end_rss="" end_gor="" soak_to=""
if alive; then
  checkpoint end
  end_rss=$CP_RSS end_gor=$CP_GOR end_heap=$CP_HEAP
  soak_to=$(grep -vc '^#' "$stats")
  # Close 1: SIGTERM during an export (--short: the window manager's close,
  # and no other).
  how=sigterm label=SIGTERM
  if [ "$SOAK_SHORT" = 1 ]; then how=wm label="window close"; fi
  if export_start; then sleep 1.5; close_timed $how; record_close "$label during an export"
  else close_timed $how; record_close "$label (no export started)"; fi
fi
peak_final() { # the soak's samples of run 1: PEAK FINAL (kB)
  grep -v '^#' "$out/stats-1.txt" | sed -n "$((soak_from + 0)),${soak_to:-\$}p" |
    awk '{ if ($2 > p) p = $2; f = $2 } END { print p + 0, f + 0 }'
}
read -r peak final < <(peak_final) || true
final=${end_rss:-$final}
# The stats of the soak itself, for the record: RSS over the last half.
read -r half_first half_last < <(grep -v '^#' "$out/stats-1.txt" | sed -n "$soak_from,${soak_to:-\$}p" |
  awk '{ t[NR] = $1; r[NR] = $2 } END { m = int(NR / 2) + 1; print r[m] + 0, r[NR] + 0 }') || true

# Closes 2 and 3, --closes times (after a restart each): the window
# manager's close during an adaptation, and while new frames decode (paper,
# or the default general on odd rounds, after a slice step in XY), at a seeded delay that
# sweeps the time since the decodes started.
closes_n=$SOAK_CLOSES
[ "$SOAK_SHORT" = 1 ] && [ -z "$SOAK_CLOSES_SET" ] && closes_n=0
for ((round = 1; round <= closes_n && crashes == 0; round++)); do
  start "$first"
  if adapt_start; then sleep 1.5; close_timed wm; record_close "window close during an adaptation"
  else close_timed wm; record_close "window close (no adaptation started)"; fi
  ((crashes == 0)) || break
  start "$first"
  m=paper
  ((round % 2 == 0)) || m=general
  [ "$m" = paper ] && { choose_model paper; sleep 2; }
  hover 1; xdotool key 3 plus plus; hover 0; xdotool click 4 click 4
  rnd 15; d=$(awk -v r="$R" 'BEGIN { printf "%.1f", r / 10 }'); sleep "$d"
  close_timed wm; record_close "window close during $m decodes ($d s after a slice step)"
done

# ------------------------------------------------------------------ report
panics=$(cat "$out"/niiv-*.log | grep -c -E 'panic|SIGSEGV|fatal error|runtime error|internal error' || true)
growth=""
if [ -n "$mid_rss" ] && [ -n "$end_rss" ]; then
  growth=$(awk -v a="$mid_rss" -v b="$end_rss" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
fi
{
  echo "niiv soak: seed $SOAK_SEED, $SOAK_ACTIONS actions on $(basename "$first"), $(since "$SOAK_T0") s in all (with the build)"
  echo "actions survived:   $survived / $SOAK_ACTIONS (skipped: $skipped, unexpected dialogs: $dialogs)"
  echo "crashes:            $crashes (panic/SIGSEGV/fatal/runtime error lines in the logs: $panics)"
  echo "RSS at start:       $((RSS0 / 1024)) MB (settled, once the first frames are done)"
  echo "RSS peak / final:   $((peak / 1024)) MB / $((final / 1024)) MB (final: the end checkpoint's settled sample)"
  if [ -n "$growth" ]; then
    echo "RSS middle → end:   $((mid_rss / 1024)) MB → $((end_rss / 1024)) MB at the settled checkpoints: ${growth} % (limit $SOAK_LEAK %)"
    echo "Go heap middle → end: $((mid_heap / 1024)) MB → $((end_heap / 1024)) MB"
  [ -z "$unsettled" ] || echo "                    (not idle when sampled:$unsettled; the growth figure is less reliable)"
  fi
  echo "RSS last half, raw: $((half_first / 1024)) MB → $((half_last / 1024)) MB (samples, whatever the state)"
  if [ "${#cancels[@]}" -gt 0 ]; then
    printf '%s\n' "${cancels[@]}" | awk '{ n[$1]++; if ($2 > m[$1]) m[$1] = $2; s[$1] += $2 }
      END { for (k in n) printf "cancel %-12s %d×, dialog gone after %.2f s on average, %.2f s at most\n", k ":", n[k], s[k] / n[k], m[k] }'
  fi
  echo "goroutines:         $GOR0 at the start, ${mid_gor:-?} at the middle, ${end_gor:-?} at the end (settled)"
  for c in "${closes[@]}"; do echo "close:              $c (limit 2 s)"; done
  if [ "${#closes[@]}" -gt 1 ]; then
    printf '%s\n' "${closes[@]}" | awk -F': ' '{ split($NF, a, " "); n++; if (a[1] > m) m = a[1] }
      END { printf "close latency:      %d closes, %.2f s at most\n", n, m }'
  fi
} | tee "$out/summary.txt"

status=0
((crashes == 0)) || { echo "soak: FAIL: $crashes crash(es)"; status=1; }
[ "$panics" = 0 ] || { echo "soak: FAIL: panic/SIGSEGV/runtime error in the logs"; status=1; }
if [ -z "$growth" ]; then
  ((crashes > 0 || SOAK_ACTIONS < 2)) || { echo "soak: FAIL: no memory measure"; status=1; }
elif awk -v g="$growth" -v l="$SOAK_LEAK" 'BEGIN { exit !(g > l) }'; then
  echo "soak: FAIL: RSS grew ${growth} % over the second half"; status=1
fi
[ "$close_ok" = 1 ] || { echo "soak: FAIL: a close took more than 2 s"; status=1; }
[ "$status" = 0 ] && echo "soak: ok ($out)"
exit "$status"
