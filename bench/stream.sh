#!/usr/bin/env bash
#
# Stream (layer 4) benchmark: wmproxy, Debian's nginx (stream module) and
# HAProxy (mode tcp, with splice) forwarding to the same backends on
# loopback, in one run, interleaved. Every figure is also measured
# directly against the backend, and each proxy is printed as a ratio of
# proxied / direct (1.00 would be a free proxy).
#
# Usage: bench/stream.sh [path/to/wmproxy]
#
# Environment (all optional):
#   WMPROXY NGINX HAPROXY IPERF3   binaries (defaults ./wmproxy,
#                      /usr/sbin/nginx, /usr/sbin/haproxy, iperf3)
#   ROUNDS     rounds per case (default 3), DURATION seconds per run (5)
#   CONC       connections in flight for the connection-rate case (50)
#   SESSIONS   UDP sessions for the request-response case (50)
#   UDP_RATE   iperf3 -u target bit rate (default 2G)
#   UDP_BUF    socket buffers of the UDP bulk case (default 4M): iperf3 -w
#              on both ends, direct and proxied alike, and rcvbuf= on the
#              proxies' UDP listen; the kernel caps it at net.core.rmem_max
#              (212992 on a stock Debian, where the figures are lower)
#   PORT_BASE  first of the 12 loopback ports used (default 19100)
#   KEEP       1 keeps the temp directory
#
# Cases:
#   tcp Gbit/s   iperf3 -t DURATION, one stream (received rate)
#   tcp conn/s   wm_loadgen connrate: connect, 16 bytes each way, close
#   udp rr/s     wm_loadgen udprr: SESSIONS sockets, one datagram in flight
#   udp Gbit/s   iperf3 -u -b UDP_RATE -l 1400 -w UDP_BUF (received rate,
#                and the loss % the iperf3 server counted)
# After the ratios, a table of each proxy's own CPU use during each case
# (user + system of all its processes), and for conn/s and udp rr/s the
# CPU microseconds it spent per connection / round trip: the proxy's cost,
# which the ratio hides when client, backend and proxy share the CPUs.
# HAProxy has no UDP proxying: its UDP rows are "-". Each proxy runs one
# worker (HAProxy: one thread). The whole run takes about 4-6 minutes.

set -u
set -o pipefail

WMPROXY=${1:-${WMPROXY:-./wmproxy}}
NGINX=${NGINX:-/usr/sbin/nginx}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
IPERF3=${IPERF3:-iperf3}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONC=${CONC:-50}
SESSIONS=${SESSIONS:-50}
UDP_RATE=${UDP_RATE:-2G}
UDP_BUF=${UDP_BUF:-4M}
PORT_BASE=${PORT_BASE:-19100}
KEEP=${KEEP:-0}

die() { echo "stream.sh: $*" >&2; exit 1; }

[ -x "$WMPROXY" ] || die "no wmproxy binary at '$WMPROXY'"
WMPROXY=$(cd "$(dirname "$WMPROXY")" && pwd)/$(basename "$WMPROXY")
[ -x "$NGINX" ] || die "no nginx at '$NGINX'"
[ -x "$HAPROXY" ] || die "no haproxy at '$HAPROXY'"
command -v "$IPERF3" >/dev/null || die "iperf3 not found"
command -v cc >/dev/null || die "cc not found"
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGX_STREAM" ] || die "no $NGX_STREAM (apt-get install libnginx-mod-stream)"

# Ports: backends, then one TCP+UDP port per proxy.
P_IPERF=$PORT_BASE                 # iperf3 server (TCP control + data, UDP)
P_TECHO=$((PORT_BASE + 1))         # TCP echo
P_UECHO=$((PORT_BASE + 2))         # UDP echo
P_WM_IPERF=$((PORT_BASE + 3)); P_WM_TECHO=$((PORT_BASE + 4)); P_WM_UECHO=$((PORT_BASE + 5))
P_NG_IPERF=$((PORT_BASE + 6)); P_NG_TECHO=$((PORT_BASE + 7)); P_NG_UECHO=$((PORT_BASE + 8))
P_HA_IPERF=$((PORT_BASE + 9)); P_HA_TECHO=$((PORT_BASE + 10))

TMP=$(mktemp -d /tmp/wm-stream-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$TMP"
mkdir -p "$TMP/wm/logs" "$TMP/ngx/logs" "$TMP/out"
PIDS=()

stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && { pkill -KILL -P "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; }
        wait "$p" 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_all
    if [ "$KEEP" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOADGEN=$TMP/wm_loadgen
cc -O2 -o "$LOADGEN" "$(dirname "$0")/wm_loadgen.c" || die "cannot build wm_loadgen"

user_line() { [ "$(id -u)" = 0 ] && echo "user nobody nogroup;"; }

# Can this wmproxy proxy UDP? (-t says so when it cannot.)
cat >"$TMP/wm/udp-probe.conf" <<EOF
events {}
stream { server { listen 127.0.0.1:$P_WM_UECHO udp; proxy_pass 127.0.0.1:$P_UECHO; } }
EOF
WM_UDP=1
"$WMPROXY" -t -q -p "$TMP/wm" -c "$TMP/wm/udp-probe.conf" >/dev/null 2>&1 || WM_UDP=0

{
    echo "daemon off; master_process on; worker_processes 1;"
    user_line
    echo "pid logs/wmproxy.pid; error_log logs/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "stream {"
    echo "  server { listen 127.0.0.1:$P_WM_IPERF; proxy_pass 127.0.0.1:$P_IPERF; }"
    echo "  server { listen 127.0.0.1:$P_WM_TECHO; proxy_pass 127.0.0.1:$P_TECHO; }"
    if [ $WM_UDP = 1 ]; then
        echo "  server { listen 127.0.0.1:$P_WM_IPERF udp rcvbuf=$UDP_BUF; proxy_pass 127.0.0.1:$P_IPERF; proxy_timeout 10s; }"
        echo "  server { listen 127.0.0.1:$P_WM_UECHO udp; proxy_pass 127.0.0.1:$P_UECHO; proxy_timeout 10s; }"
    fi
    echo "}"
} >"$TMP/wm/wmproxy.conf"

{
    echo "load_module $NGX_STREAM;"
    echo "daemon off; master_process on; worker_processes 1;"
    user_line
    echo "pid logs/nginx.pid; error_log logs/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "stream {"
    echo "  server { listen 127.0.0.1:$P_NG_IPERF; proxy_pass 127.0.0.1:$P_IPERF; }"
    echo "  server { listen 127.0.0.1:$P_NG_TECHO; proxy_pass 127.0.0.1:$P_TECHO; }"
    echo "  server { listen 127.0.0.1:$P_NG_IPERF udp rcvbuf=$UDP_BUF; proxy_pass 127.0.0.1:$P_IPERF; proxy_timeout 10s; }"
    echo "  server { listen 127.0.0.1:$P_NG_UECHO udp; proxy_pass 127.0.0.1:$P_UECHO; proxy_timeout 10s; }"
    echo "}"
} >"$TMP/ngx/nginx.conf"

cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option splice-request
    option splice-response
frontend iperf
    bind 127.0.0.1:$P_HA_IPERF
    default_backend iperf
backend iperf
    server s1 127.0.0.1:$P_IPERF
frontend echo
    bind 127.0.0.1:$P_HA_TECHO
    default_backend echo
backend echo
    server s1 127.0.0.1:$P_TECHO
EOF

"$WMPROXY" -t -q -p "$TMP/wm" -c "$TMP/wm/wmproxy.conf" || die "wmproxy -t failed"
"$NGINX" -t -q -p "$TMP/ngx" -e logs/error.log -c "$TMP/ngx/nginx.conf" || die "nginx -t failed"
"$HAPROXY" -c -q -f "$TMP/haproxy.cfg" || die "haproxy -c failed"

"$IPERF3" -s -p "$P_IPERF" >"$TMP/out/iperf3-server.log" 2>&1 & PIDS+=($!)
"$LOADGEN" tcp-echo "$P_TECHO" & PIDS+=($!)
"$LOADGEN" udp-echo "$P_UECHO" & PIDS+=($!)
"$WMPROXY" -p "$TMP/wm" -c "$TMP/wm/wmproxy.conf" >"$TMP/wm/logs/stdio.log" 2>&1 & PIDS+=($!)
"$NGINX" -p "$TMP/ngx" -e logs/error.log -c "$TMP/ngx/nginx.conf" >"$TMP/ngx/logs/stdio.log" 2>&1 & PIDS+=($!)
"$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$TMP/out/haproxy.log" 2>&1 & PIDS+=($!)
declare -A PROXY_PID=([wmproxy]=${PIDS[3]} [nginx]=${PIDS[4]} [haproxy]=${PIDS[5]})

port_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $P_IPERF $P_TECHO $P_WM_IPERF $P_WM_TECHO $P_NG_IPERF $P_NG_TECHO $P_HA_IPERF $P_HA_TECHO; do
    for i in $(seq 1 100); do port_up "$p" && break; sleep 0.1; done
    port_up "$p" || die "nothing listens on port $p"
done
sleep 0.5   # iperf3 logs the probe connections above as failed tests

# ---------------------------------------------------------------- measures

# iperf3 JSON -> "Gbit/s loss%"
iperf_json() {
    perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } or do { print "- -\n"; exit };
        my $e = $j->{end} or do { print "- -\n"; exit };
        if ($e->{sum_received}) {
            printf "%.2f %.1f\n", $e->{sum_received}{bits_per_second} / 1e9,
                $e->{sum_received}{lost_percent} // 0;
        } else {
            printf "%.2f %.1f\n", $e->{sum}{bits_per_second} / 1e9 * (1 - $e->{sum}{lost_percent} / 100),
                $e->{sum}{lost_percent};
        }'
}
m_tcp_bw()  { timeout $((DURATION + 20)) "$IPERF3" -c 127.0.0.1 -p "$1" -t "$DURATION" -J 2>/dev/null | iperf_json | cut -d' ' -f1; }
m_conn()    { timeout $((DURATION + 10)) "$LOADGEN" connrate "$1" "$CONC" "$DURATION" | cut -d' ' -f1; }
m_udp_rr()  { timeout $((DURATION + 10)) "$LOADGEN" udprr "$1" "$SESSIONS" "$DURATION" | cut -d' ' -f1; }
m_udp_bw()  { timeout $((DURATION + 20)) "$IPERF3" -c 127.0.0.1 -p "$1" -u -b "$UDP_RATE" -l 1400 -w "$UDP_BUF" -t "$DURATION" -J 2>/dev/null | iperf_json; }

# CPU ticks (user + system) used so far by PID and its children.
cpu_ticks() {
    local p t=0
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

median() {
    printf '%s\n' "$@" | grep -v -e '^-$' -e '^$' | sort -g | awk '{a[NR]=$1} END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b > 0) printf "%.2f", a/b; else print "-" }'; }

declare -A V   # V[case,who] = space-separated values of the rounds
declare -A LOSS CPU
record() { V[$1,$2]="${V[$1,$2]:-} $3"; }

# run_case CASE FUNC DIRECT_PORT WM_PORT NGX_PORT HA_PORT (empty = skip)
run_case() {
    local c=$1 f=$2 r who port v order pid t0 w0 cpu
    local -A ports=([direct]=$3 [wmproxy]=$4 [nginx]=$5 [haproxy]=$6)
    for r in $(seq 1 "$ROUNDS"); do
        # rotate who goes first each round
        case $((r % 4)) in
        1) order="direct wmproxy nginx haproxy";;
        2) order="haproxy nginx wmproxy direct";;
        3) order="wmproxy direct haproxy nginx";;
        0) order="nginx haproxy direct wmproxy";;
        esac
        for who in $order; do
            port=${ports[$who]}
            [ -n "$port" ] || continue
            pid=${PROXY_PID[$who]:-}
            [ -n "$pid" ] && { t0=$(cpu_ticks "$pid"); w0=$(date +%s.%N); }
            v=$($f "$port")
            cpu=-
            if [ -n "$pid" ]; then
                cpu=$(awk -v t="$(($(cpu_ticks "$pid") - t0))" -v hz="$HZ" -v w0="$w0" \
                    -v w1="$(date +%s.%N)" 'BEGIN { printf "%.0f", t / hz / (w1 - w0) * 100 }')
                CPU[$c,$who]="${CPU[$c,$who]:-} $cpu"
            fi
            if [ "$c" = udp_bw ]; then
                LOSS[$who]="${LOSS[$who]:-} ${v#* }"
                v=${v% *}
            fi
            [ -n "$v" ] || v=-
            printf '  %-8s round %d %-8s %s%s\n' "$c" "$r" "$who" "$v" \
                "$([ "$cpu" = - ] || echo "  (proxy cpu $cpu%)")"
            record "$c" "$who" "$v"
        done
    done
}

echo "== machine: $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== wmproxy $("$WMPROXY" -v 2>&1 | head -1), $("$NGINX" -v 2>&1), $("$HAPROXY" -v | head -1 | cut -d' ' -f1-3)"
echo "== rounds=$ROUNDS duration=${DURATION}s conc=$CONC sessions=$SESSIONS udp_rate=$UDP_RATE udp_buf=$UDP_BUF (rmem_max $(cat /proc/sys/net/core/rmem_max 2>/dev/null))"
[ $WM_UDP = 1 ] || echo "  NOTE: this wmproxy cannot proxy UDP (-t refuses it): its UDP rows are skipped"

WMU=""; WMUB=""
[ $WM_UDP = 1 ] && { WMU=$P_WM_UECHO; WMUB=$P_WM_IPERF; }
run_case tcp_bw m_tcp_bw "$P_IPERF" "$P_WM_IPERF" "$P_NG_IPERF" "$P_HA_IPERF"
run_case conn m_conn "$P_TECHO" "$P_WM_TECHO" "$P_NG_TECHO" "$P_HA_TECHO"
run_case udp_rr m_udp_rr "$P_UECHO" "$WMU" "$P_NG_UECHO" ""
run_case udp_bw m_udp_bw "$P_IPERF" "$WMUB" "$P_NG_IPERF" ""

echo "== results (median of $ROUNDS; ratio = through the proxy / direct)"
printf '%-14s %10s %10s %7s %10s %7s %10s %7s\n' case direct wmproxy ratio nginx ratio haproxy ratio
for c in tcp_bw conn udp_rr udp_bw; do
    case $c in
    tcp_bw) label="tcp Gbit/s";; conn) label="tcp conn/s";;
    udp_rr) label="udp rr/s";; udp_bw) label="udp Gbit/s";;
    esac
    d=$(median ${V[$c,direct]:-})
    row=$(printf '%-14s %10s' "$label" "$d")
    for who in wmproxy nginx haproxy; do
        m=$(median ${V[$c,$who]:-})
        row+=$(printf ' %10s %7s' "$m" "$(ratio "$m" "$d")")
    done
    echo "$row"
done
echo "== proxy CPU (all its processes, median): % of one CPU during the case; for conn/s and udp rr/s also"
echo "   us of CPU per connection / round trip (the proxy's cost, whatever the machine lets it reach)"
for c in tcp_bw conn udp_rr udp_bw; do
    row=$(printf '%-14s %10s' "$c" "")
    for who in wmproxy nginx haproxy; do
        m=$(median ${CPU[$c,$who]:-})
        per=""
        if [ "$m" != - ] && { [ "$c" = conn ] || [ "$c" = udp_rr ]; }; then
            per=$(awk -v p="$m" -v r="$(median ${V[$c,$who]:-})" \
                'BEGIN { if (r > 0) printf "%.1fus", p / 100 * 1e6 / r }')
        fi
        row+=$(printf ' %10s %7s' "$([ "$m" = - ] && echo - || echo "$m%")" "$per")
    done
    echo "$row"
done
for who in direct wmproxy nginx; do
    [ -n "${LOSS[$who]:-}" ] && echo "udp loss % ($who): median $(median ${LOSS[$who]})"
done
echo "== commands: iperf3 -c 127.0.0.1 -p PORT -t $DURATION [-u -b $UDP_RATE -l 1400 -w $UDP_BUF] -J;"
echo "   wm_loadgen connrate PORT $CONC $DURATION; wm_loadgen udprr PORT $SESSIONS $DURATION"
echo "== wmproxy.conf"; sed 's/^/  /' "$TMP/wm/wmproxy.conf"
