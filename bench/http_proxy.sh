#!/usr/bin/env bash
#
# HTTP reverse-proxy benchmark: wmproxy, Debian's nginx and HAProxy, each
# with 1 worker and upstream keepalive, in front of one backend (nginx, 1
# worker, serving a 1 KiB file), measured with wrk in the same run, taking
# turns. Prints for each proxy the median requests/s and p99 latency of R
# rounds divided by those of wrk straight to the backend.
#
# Usage: bench/http_proxy.sh [path/to/wmproxy]
#
# Environment (all optional):
#   WMPROXY    the wmproxy binary (default ./wmproxy; the first argument wins)
#   NGINX      the nginx binary (default /usr/sbin/nginx)
#   HAPROXY    the haproxy binary (default /usr/sbin/haproxy)
#   WRK        the wrk binary (default wrk)
#   ROUNDS     rounds (default 3)
#   DURATION   seconds per wrk run (default 5)
#   THREADS    wrk threads (default 2)
#   CONNS      wrk connections (default 64)
#   SIZE       bytes of the file the backend serves (default 1024)
#   PORT_BASE  first of 4 ports: backend, wmproxy, nginx, haproxy (18090)
#   KEEP       1 keeps the temp directory (configs, logs, wrk outputs)
#   PIN        1 runs wrk and the backend on CPU 0 and each proxy on CPU 1
#              (taskset): what a proxy does with a core of its own, which
#              the shared default cannot show on a 2-CPU machine; direct
#              is then wrk and backend on one CPU (default 0: no pinning)
#
# rps ratio: proxy requests/s over direct requests/s (higher is better, 1.0
# is a free proxy); p99 ratio: proxy p99 over direct p99 (lower is better);
# cpu_us/req: CPU time (user + system, all its processes) the proxy spent
# per request served, for direct the backend's. On a machine where wrk,
# backend and proxy share the CPUs, the rps ratio is bounded by
# (wrk + backend) / (wrk + backend + proxy) CPU per request.
# Every load is bounded by DURATION; with the defaults the whole run takes
# about 1 min 30 s.

set -u
set -o pipefail

WMPROXY=${1:-${WMPROXY:-./wmproxy}}
NGINX=${NGINX:-/usr/sbin/nginx}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
WRK=${WRK:-wrk}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
SIZE=${SIZE:-1024}
PORT_BASE=${PORT_BASE:-18090}
KEEP=${KEEP:-0}
PIN=${PIN:-0}

# With PIN=1: where the load side (wrk, backend) and the proxies run.
LOAD_CPU=()
PROXY_CPU=()
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null || die "PIN=1 needs taskset"
    LOAD_CPU=(taskset -c 0)
    PROXY_CPU=(taskset -c 1)
fi

P_BACK=$PORT_BASE
P_WM=$((PORT_BASE + 1))
P_NGX=$((PORT_BASE + 2))
P_HAP=$((PORT_BASE + 3))

die() { echo "http_proxy.sh: $*" >&2; exit 1; }

[ -x "$WMPROXY" ] || die "no wmproxy binary at '$WMPROXY' (argument or WMPROXY=)"
WMPROXY=$(cd "$(dirname "$WMPROXY")" && pwd)/$(basename "$WMPROXY")
[ -x "$NGINX" ] || die "no nginx binary at '$NGINX' (NGINX=)"
[ -x "$HAPROXY" ] || die "no haproxy binary at '$HAPROXY' (HAPROXY=)"
command -v "$WRK" >/dev/null || die "wrk not found (WRK=)"
command -v curl >/dev/null || die "curl not found"
case $ROUNDS in ''|*[!0-9]*|0) die "ROUNDS must be a positive integer";; esac
case $DURATION in ''|*[!0-9]*|0) die "DURATION must be a positive integer";; esac

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $P_BACK $P_WM $P_NGX $P_HAP; do
    port_busy "$p" && die "port $p is in use (set PORT_BASE)"
done

TMP=$(mktemp -d /tmp/wm-bench-proxy.XXXXXX) || die "mktemp failed"
chmod 755 "$TMP"
OUT=$TMP/out
mkdir -p "$TMP/www" "$TMP/back/logs" "$TMP/back/tmp" "$TMP/wm/logs" \
    "$TMP/ngx/logs" "$TMP/ngx/tmp" "$OUT"
head -c "$SIZE" /dev/urandom >"$TMP/www/f.bin"
chmod -R 755 "$TMP"

PIDS=()
stop_all() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_all
    if [ "$KEEP" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user_line() { [ "$(id -u)" = 0 ] && echo "user nobody nogroup;"; }

# nginx temp paths under its prefix, so that it needs no /var/lib access
ngx_temps() {
    local d=$1
    echo "    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;"
    echo "    fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi;"
    echo "    scgi_temp_path $d/tmp/scgi;"
}

# The backend: nginx, 1 worker, the file from memory-friendly sendfile.
cat >"$TMP/back/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$(user_line)
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
$(ngx_temps "$TMP/back")
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 65;
    server {
        listen 127.0.0.1:$P_BACK;
        root $TMP/www;
    }
}
EOF

# The same proxy settings for wmproxy and nginx.
proxy_http() {
    cat <<EOF
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 65;
    upstream backend {
        server 127.0.0.1:$P_BACK;
        keepalive 64;
        keepalive_requests 100000;
    }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
}

cat >"$TMP/wm/wmproxy.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$(user_line)
pid logs/wmproxy.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
$(proxy_http $P_WM)
}
EOF

cat >"$TMP/ngx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$(user_line)
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
$(ngx_temps "$TMP/ngx")
$(proxy_http $P_NGX)
}
EOF

# HAProxy: one thread, connections to the backend kept and shared.
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 65s
    timeout server 65s
    timeout http-keep-alive 65s
    http-reuse always
frontend front
    bind 127.0.0.1:$P_HAP
    default_backend back
backend back
    server b1 127.0.0.1:$P_BACK
EOF

wait_port() {  # wait_port PORT PID NAME
    local i
    for i in $(seq 1 100); do
        port_busy "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited at start (logs in $TMP; KEEP=1)"
        sleep 0.1
    done
    die "$3 does not listen on port $1"
}

"$NGINX" -t -q -p "$TMP/back" -e logs/error.log -c "$TMP/back/nginx.conf" \
    || die "backend nginx -t failed"
"$NGINX" -t -q -p "$TMP/ngx" -e logs/error.log -c "$TMP/ngx/nginx.conf" \
    || die "nginx -t failed"
"$WMPROXY" -t -p "$TMP/wm" -c "$TMP/wm/wmproxy.conf" >"$OUT/wm-t.log" 2>&1 \
    || { cat "$OUT/wm-t.log" >&2; die "wmproxy -t failed"; }
"$HAPROXY" -c -q -f "$TMP/haproxy.cfg" || die "haproxy -c failed"

"${LOAD_CPU[@]}" "$NGINX" -p "$TMP/back" -e logs/error.log -c "$TMP/back/nginx.conf" &
PIDS+=($!); wait_port $P_BACK $! backend
"${PROXY_CPU[@]}" "$WMPROXY" -p "$TMP/wm" -c "$TMP/wm/wmproxy.conf" >"$TMP/wm/logs/stdio.log" 2>&1 &
PIDS+=($!); wait_port $P_WM $! wmproxy
"${PROXY_CPU[@]}" "$NGINX" -p "$TMP/ngx" -e logs/error.log -c "$TMP/ngx/nginx.conf" &
PIDS+=($!); wait_port $P_NGX $! nginx
"${PROXY_CPU[@]}" "$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$OUT/haproxy.log" 2>&1 &
PIDS+=($!); wait_port $P_HAP $! haproxy

NAMES=(direct wmproxy nginx haproxy)
PORTS=($P_BACK $P_WM $P_NGX $P_HAP)
# The process (with its workers) whose CPU time each target's run costs:
# the backend's for direct, the proxy's for the others.
CPU_PIDS=("${PIDS[@]}")

# Every path returns the file, byte for byte.
for i in 0 1 2 3; do
    curl -sS --max-time 10 -o "$OUT/check-${NAMES[$i]}" \
        "http://127.0.0.1:${PORTS[$i]}/f.bin" || die "${NAMES[$i]}: curl failed"
    cmp -s "$OUT/check-${NAMES[$i]}" "$TMP/www/f.bin" \
        || die "${NAMES[$i]}: the body differs from the file"
done

to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000; printf "%.3f", n }'
}

# CPU ticks (user + system) used so far by PID and its children.
cpu_ticks() {
    local p t=0
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

run_wrk() {  # run_wrk OUT DURATION PORT [PID]: prints "rps p99ms cpu_us_per_request"
    local out=$1 rps p99 reqs t0 t1 cpu=-
    [ -n "${4:-}" ] && t0=$(cpu_ticks "$4")
    timeout $(($2 + 30)) "${LOAD_CPU[@]}" "$WRK" -t"$THREADS" -c"$CONNS" -d"$2s" --latency \
        "http://127.0.0.1:$3/f.bin" >"$out" 2>&1 || { cat "$out" >&2; return 1; }
    [ -n "${4:-}" ] && t1=$(cpu_ticks "$4")
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
    reqs=$(awk '/requests in/{print $1; exit}' "$out")
    if [ -n "${4:-}" ] && [ "${reqs:-0}" -gt 0 ]; then
        cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    fi
    p99=$(awk '$1=="99%"{print $2}' "$out")
    [ -n "$rps" ] && [ -n "$p99" ] || { cat "$out" >&2; return 1; }
    if grep -E 'Non-2xx|Socket errors' "$out" >/dev/null; then
        echo "  WARNING: errors in $(basename "$out"):" >&2
        grep -E 'Non-2xx|Socket errors' "$out" >&2
    fi
    echo "$rps $(to_ms "$p99") $cpu"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
        if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "-" }'; }

echo "== machine: $(nproc) cpu, $(uname -srm), load $(cut -d' ' -f1-3 /proc/loadavg)$([ "$PIN" = 1 ] && echo ", PIN=1: wrk and backend on CPU 0, proxies on CPU 1")"
echo "== wmproxy: $("$WMPROXY" -v 2>&1 | head -1); nginx: $("$NGINX" -v 2>&1 | head -1 | sed 's/.*: //');" \
    "haproxy: $("$HAPROXY" -v 2>&1 | head -1 | awk '{print $3}'); wrk -t$THREADS -c$CONNS" \
    "-d${DURATION}s, $ROUNDS round(s), ${SIZE}-byte file"

for i in 0 1 2 3; do  # warm-up, 1 s each, not counted
    run_wrk "$OUT/warm-$i" 1 "${PORTS[$i]}" >/dev/null || die "wrk failed"
done

declare -A RPS P99 CPU
for r in $(seq 1 "$ROUNDS"); do
    for k in 0 1 2 3; do  # a different order each round
        i=$(((k + r - 1) % 4))
        res=$(run_wrk "$OUT/${NAMES[$i]}-$r" "$DURATION" "${PORTS[$i]}" \
            "${CPU_PIDS[$i]}") || die "wrk failed"
        read -r rps p99 cpu <<<"$res"
        RPS[${NAMES[$i]}]+="$rps "
        P99[${NAMES[$i]}]+="$p99 "
        CPU[${NAMES[$i]}]+="$cpu "
        printf '  round %d %-8s %10s rps  p99 %8s ms  cpu %6s us/req\n' \
            "$r" "${NAMES[$i]}" "$rps" "$p99" "$cpu"
    done
done

# shellcheck disable=SC2086
{
    d_rps=$(median ${RPS[direct]}); d_p99=$(median ${P99[direct]})
    echo
    printf '%-9s %10s %10s %9s %9s %11s\n' target rps p99_ms rps_ratio p99_ratio cpu_us/req
    for n in "${NAMES[@]}"; do
        m_rps=$(median ${RPS[$n]}); m_p99=$(median ${P99[$n]}); m_cpu=$(median ${CPU[$n]})
        printf '%-9s %10.0f %10.2f %9s %9s %11s\n' "$n" "$m_rps" "$m_p99" \
            "$(ratio "$m_rps" "$d_rps")" "$(ratio "$m_p99" "$d_p99")" "$m_cpu"
    done
}
echo
echo "command per run: $WRK -t$THREADS -c$CONNS -d${DURATION}s --latency http://127.0.0.1:PORT/f.bin"
