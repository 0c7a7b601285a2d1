#!/bin/bash
# TIME_WAIT demo: an `nc` loop against `sockpush send`, same lines, same rate.
#
# Needs root and Debian 12 packages: iproute2 netcat-openbsd gnuplot-nox python3
# (installed by this script when missing), and a built sockpush
# (build/release/sockpush, or set SOCKPUSH=/path/to/sockpush).
#
# Two network namespaces joined by a veth pair: "router" (the sender, with its
# ephemeral port range narrowed to PORTS ports) and "carbon" (a line sink that
# counts connections and lines). Over loopback the kernel's default
# tcp_tw_reuse=2 would hide the problem; over veth it does not.
#   phase 1: while ...; do echo "demo.value $i $ts" | nc -N carbon 2003; done   (RATE/s, SECONDS s)
#   pause:   until the sender's TIME_WAIT sockets have expired (at most 70 s)
#   phase 2: the same loop piped once into `sockpush send carbon 2003`
# Output: OUT/timewait.csv (one row per second) and OUT/timewait.png.
# Runs at most ~3.5 minutes, cleans up namespaces and processes on any exit.
set -euo pipefail

RATE=${RATE:-100}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-60}
PORTS=${PORTS:-2000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
OUT=${OUT:-$here}
SOCKPUSH=${SOCKPUSH:-$repo/build/release/sockpush}
ns_router=spdemo-router
ns_carbon=spdemo-carbon
# RFC 2544 benchmarking addresses: exist only inside the namespaces made here.
router_ip=198.18.0.1
carbon_ip=198.18.0.2
work=$(mktemp -d /tmp/timewait-demo.XXXXXX)
pids=()

[ "$(id -u)" = 0 ] || { echo "timewait-demo: run as root (namespaces, sysctls)" >&2; exit 1; }
[ -x "$SOCKPUSH" ] || { echo "timewait-demo: no sockpush at $SOCKPUSH; build it (README quick start) or set SOCKPUSH" >&2; exit 1; }
need=""
command -v ip >/dev/null || need="$need iproute2"
command -v nc >/dev/null || need="$need netcat-openbsd"
command -v gnuplot >/dev/null || need="$need gnuplot-nox"
command -v python3 >/dev/null || need="$need python3"
if [ -n "$need" ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Anything still running inside the demo's namespaces was started by it.
  for ns in "$ns_router" "$ns_carbon"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  ip netns del "$ns_router" 2>/dev/null || true
  ip netns del "$ns_carbon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_router() { ip netns exec "$ns_router" "$@"; }
in_carbon() { ip netns exec "$ns_carbon" "$@"; }

ip netns del "$ns_router" 2>/dev/null || true
ip netns del "$ns_carbon" 2>/dev/null || true
ip netns add "$ns_router"
ip netns add "$ns_carbon"
ip link add spdemo0 netns "$ns_router" type veth peer name spdemo1 netns "$ns_carbon"
in_router ip addr add "$router_ip/30" dev spdemo0
in_carbon ip addr add "$carbon_ip/30" dev spdemo1
for ns in "$ns_router" "$ns_carbon"; do
  ip netns exec "$ns" ip link set lo up
done
in_router ip link set spdemo0 up
in_carbon ip link set spdemo1 up
in_router sysctl -qw net.ipv4.ip_local_port_range="40000 $((40000 + PORTS - 1))"
in_router sysctl -qw net.ipv4.tcp_tw_reuse=0
# Safety: every packet of this demo must stay on the veth pair. Refuse to go
# on unless the router namespace reaches the carbon address through it.
if ! in_router ip route get "$carbon_ip" | grep -q "dev spdemo0"; then
  echo "timewait-demo: $carbon_ip is not routed over the demo's veth pair; stopping" >&2
  exit 1
fi

in_carbon python3 "$here/line_sink.py" 2003 "$work/sink" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/sink" ] && break; sleep 0.1; done
[ -s "$work/sink" ] || { echo "timewait-demo: sink did not start" >&2; exit 1; }

# The producer: RATE lines per second for SECONDS_PER_PHASE seconds, paced on
# bash's clock; each line goes to the command given ("nc" = one nc per line).
produce() {
  local mode=$1 i=0 total=$((RATE * SECONDS_PER_PHASE))
  local start=${EPOCHREALTIME/./} step=$((1000000 / RATE)) now wait
  while [ $i -lt $total ]; do
    i=$((i + 1))
    line="demo.value $i ${EPOCHREALTIME%.*}"
    if [ "$mode" = nc ]; then
      if ! echo "$line" | nc -N -w 2 "$carbon_ip" 2003 >/dev/null 2>>"$work/nc.err"; then
        echo x >> "$work/failures"
      fi
    else
      echo "$line"
    fi
    echo "$i" > "$work/sent.tmp" && mv "$work/sent.tmp" "$work/sent"
    now=${EPOCHREALTIME/./}
    wait=$((start + i * step - now))
    if [ $wait -gt 0 ]; then sleep "$(printf '0.%06d' "$wait")"; fi
  done
}

# The producers run entirely inside the router namespace: nc and sockpush
# there can only reach the carbon namespace.
in_router_shell() {
  in_router env RATE="$RATE" SECONDS_PER_PHASE="$SECONDS_PER_PHASE" carbon_ip="$carbon_ip" \
    work="$work" SOCKPUSH="$SOCKPUSH" bash -c "set -u; $(declare -f produce); $1"
}

csv="$OUT/timewait.csv"
echo "second,phase,time_wait,connections,lines_sent,lines_received,connect_failures,lines_lost" > "$csv"
t=0
base_conn=0
base_lines=0
# One CSV row per second while `$1` (phase name) runs; stops when pid $2 exits.
sample() {
  local phase=$1 pid=$2 tw conns lines sent fails
  while :; do
    tw=$(in_router ss -tan state time-wait | tail -n +2 | wc -l)
    read -r conns lines < "$work/sink"
    sent=$(cat "$work/sent" 2>/dev/null || echo 0)
    fails=$( (cat "$work/failures" 2>/dev/null || true) | wc -l)
    echo "$t,$phase,$tw,$((conns - base_conn)),$sent,$((lines - base_lines)),$fails,$((sent - (lines - base_lines)))" >> "$csv"
    t=$((t + 1))
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
}

echo "phase 1: nc loop, $RATE lines/s for $SECONDS_PER_PHASE s, $PORTS ephemeral ports"
rm -f "$work/failures" "$work/sent"
in_router_shell "produce nc" &
pids+=($!)
sample nc "${pids[-1]}"
wait "${pids[-1]}" || true
sleep 1
read -r conns lines < "$work/sink"
nc_sent=$(cat "$work/sent"); nc_received=$lines; nc_conns=$conns
nc_fails=$( (cat "$work/failures" 2>/dev/null || true) | wc -l)
nc_tw_peak=$(tail -n +2 "$csv" | cut -d, -f3 | sort -n | tail -1)
nc_stderr=$(wc -l < "$work/nc.err" 2>/dev/null || echo 0)

echo "pause: waiting for the sender's TIME_WAIT sockets to expire"
for _ in $(seq 70); do
  tw=$(in_router ss -tan state time-wait | tail -n +2 | wc -l)
  read -r conns lines < "$work/sink"
  echo "$t,pause,$tw,0,0,0,0,0" >> "$csv"
  t=$((t + 1))
  [ "$tw" -eq 0 ] && break
  sleep 1
done
read -r base_conn base_lines < "$work/sink"

echo "phase 2: the same loop piped into sockpush send"
rm -f "$work/failures" "$work/sent"
in_router_shell 'produce sockpush | "$SOCKPUSH" send "$carbon_ip" 2003 --timeout 10' &
pids+=($!)
tw_before=$(in_router ss -tan state time-wait | tail -n +2 | wc -l)
sample sockpush "${pids[-1]}"
sp_status=0
wait "${pids[-1]}" || sp_status=$?
sleep 1
read -r conns lines < "$work/sink"
sp_sent=$(cat "$work/sent"); sp_received=$((lines - base_lines)); sp_conns=$((conns - base_conn))
sp_tw_peak=$(awk -F, '$2=="sockpush"{print $3}' "$csv" | sort -n | tail -1)

gnuplot <<GNUPLOT
set terminal png size 1000,560 font ",11"
set output "$OUT/timewait.png"
set datafile separator ","
set key outside bottom center horizontal maxrows 2
set title "$RATE samples/s: one nc connection per sample vs. one sockpush connection ($PORTS ephemeral ports)"
set xlabel "seconds"
set ylabel "TIME\\\_WAIT sockets on the sender"
set y2label "lines sent but not received (cumulative)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot "$csv" every ::1 using 1:(stringcolumn(2) eq "nc" ? \$3 : 1/0) with lines lw 2 lc rgb "#d62728" title "nc loop: TIME\\\_WAIT", \
     "$csv" every ::1 using 1:(stringcolumn(2) eq "nc" ? \$8 : 1/0) axes x1y2 with lines lw 2 lc rgb "#ff9f1c" title "nc loop: lines not received", \
     "$csv" every ::1 using 1:(stringcolumn(2) eq "pause" ? \$3 : 1/0) with lines lw 1 lc rgb "#999999" title "pause: TIME\\\_WAIT expiring", \
     "$csv" every ::1 using 1:(stringcolumn(2) eq "sockpush" ? \$3 : 1/0) with lines lw 2 lc rgb "#1f77b4" title "sockpush send: TIME\\\_WAIT", \
     "$csv" every ::1 using 1:(stringcolumn(2) eq "sockpush" ? \$8 : 1/0) axes x1y2 with lines lw 2 lc rgb "#2ca02c" title "sockpush send: lines not received"
GNUPLOT

cat <<REPORT

                      nc loop    sockpush send
lines sent            $nc_sent          $sp_sent
lines received        $nc_received          $sp_received
lines lost            $((nc_sent - nc_received))          $((sp_sent - sp_received))
connections           $nc_conns          $sp_conns
connect failures      $nc_fails          (exit status $sp_status)
peak TIME_WAIT        $nc_tw_peak          $sp_tw_peak (at start of phase: $tw_before)
nc stderr lines:      $nc_stderr (nc without -v fails silently)
CSV: $csv
PNG: $OUT/timewait.png
REPORT
