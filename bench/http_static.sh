#!/usr/bin/env bash
#
# Static-file benchmark: wmproxy against Debian's nginx on the same machine,
# in the same run, interleaved, with wrk. Prints the median of R rounds for
# each server and the ratio wmproxy/nginx.
#
# Usage: bench/http_static.sh [path/to/wmproxy]
#
# Environment (all optional):
#   WMPROXY    the wmproxy binary (default ./wmproxy; the first argument wins)
#   NGINX      the nginx binary (default /usr/sbin/nginx)
#   WRK        the wrk binary (default wrk)
#   ROUNDS     rounds per case and server (default 3)
#   DURATION   seconds per wrk run (default 5)
#   THREADS    wrk threads (default 2)
#   CONNS      wrk connections (default 64)
#   WORKERS    worker counts to try (default "1 2")
#   PORT_WM    wmproxy port (default 18080)
#   PORT_NGX   nginx port (default 18081)
#   KEEP       1 keeps the temp directory (configs, logs, wrk outputs)
#
# Cases: 1 KiB file (requests/s, and p99 latency), 1 MiB file (MiB/s as
# wrk reports it, head included), 64 KiB HTML-like text with
# "Accept-Encoding: gzip" (requests/s; skipped when the wmproxy binary has no
# gzip directive). Every load is bounded by DURATION; with the defaults the
# whole run takes about 2-4 minutes.

set -u
set -o pipefail

WMPROXY=${1:-${WMPROXY:-./wmproxy}}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
WORKERS=${WORKERS:-"1 2"}
PORT_WM=${PORT_WM:-18080}
PORT_NGX=${PORT_NGX:-18081}
KEEP=${KEEP:-0}

die() { echo "http_static.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- checks

[ -x "$WMPROXY" ] || die "no wmproxy binary at '$WMPROXY' (argument or WMPROXY=)"
WMPROXY=$(cd "$(dirname "$WMPROXY")" && pwd)/$(basename "$WMPROXY")
[ -x "$NGINX" ] || die "no nginx binary at '$NGINX' (NGINX=)"
command -v "$WRK" >/dev/null || die "wrk not found (WRK=)"
command -v curl >/dev/null || die "curl not found"
command -v gzip >/dev/null || die "gzip not found"
case $ROUNDS in ''|*[!0-9]*|0) die "ROUNDS must be a positive integer";; esac
case $DURATION in ''|*[!0-9]*|0) die "DURATION must be a positive integer";; esac

port_busy() {
    # true when something listens on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$PORT_WM" "$PORT_NGX"; do
    port_busy "$p" && die "port $p is in use (set PORT_WM / PORT_NGX)"
done

# (the list is read whole first: with pipefail, "| grep -q" could see the
# writer die of SIGPIPE and report a directive as missing)
DIRECTIVES=$("$WMPROXY" --directives 2>/dev/null)
has_directive() {
    printf '%s\n' "$DIRECTIVES" | grep "^$1\b" >/dev/null
}
HAVE_GZIP=0; has_directive gzip && HAVE_GZIP=1
HAVE_ACCESS_LOG=0; has_directive access_log && HAVE_ACCESS_LOG=1

# ---------------------------------------------------------------- files

TMP=$(mktemp -d /tmp/wm-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$TMP"
DOCROOT=$TMP/www
WMPFX=$TMP/wmproxy
NGXPFX=$TMP/nginx
OUT=$TMP/out
mkdir -p "$DOCROOT" "$WMPFX/logs" "$NGXPFX/logs" "$NGXPFX/tmp" "$OUT"
chmod -R 755 "$TMP"

WM_PID=
NGX_PID=

stop_pid() {
    # stop_pid PID NAME: SIGTERM (fast stop), wait up to 10 s, then SIGKILL
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    echo "http_static.sh: $2 (pid $pid) did not stop, killing it" >&2
    # its workers are its children: kill them by pid first
    local kids
    kids=$(pgrep -P "$pid" 2>/dev/null)
    [ -n "$kids" ] && kill -KILL $kids 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

stop_servers() {
    stop_pid "$WM_PID" wmproxy; WM_PID=
    stop_pid "$NGX_PID" nginx; NGX_PID=
}

cleanup() {
    stop_servers
    if [ "$KEEP" = 1 ]; then
        echo "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1 KiB and 1 MiB of random bytes; 64 KiB of repetitive HTML-like text.
head -c 1024 /dev/urandom >"$DOCROOT/1k.bin"
head -c 1048576 /dev/urandom >"$DOCROOT/1m.bin"
{
    echo '<!DOCTYPE html><html><head><title>bench</title></head><body>'
    i=0
    while :; do
        printf '<div class="row" id="r%d"><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p></div>\n' "$i"
        i=$((i + 1))
        [ $i -ge 700 ] && break
    done
} | head -c 65536 >"$DOCROOT/64k.html"
chmod 644 "$DOCROOT"/*

# ---------------------------------------------------------------- configs

# Settings both servers share (same meaning in both languages).
common_http() {
    cat <<EOF
    types {
        text/html                html;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000;
    etag on;
    server_tokens on;
EOF
}

gzip_conf() {
    cat <<EOF
    gzip on;
    gzip_comp_level 1;
    gzip_types text/html text/plain;
EOF
}

user_line() {
    # workers of a server started as root run as nobody in both servers;
    # say it explicitly so that both do the same.
    [ "$(id -u)" = 0 ] && echo "user nobody nogroup;"
}

write_wm_conf() {  # write_wm_conf N
    {
        echo "daemon off;"
        echo "master_process on;"
        echo "worker_processes $1;"
        user_line
        echo "pid logs/wmproxy.pid;"
        echo "error_log logs/error.log warn;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        common_http
        [ "$HAVE_ACCESS_LOG" = 1 ] && echo "    access_log off;"
        [ "$HAVE_GZIP" = 1 ] && gzip_conf
        echo "    server {"
        echo "        listen 127.0.0.1:$PORT_WM;"
        echo "        server_name localhost;"
        echo "        root $DOCROOT;"
        echo "    }"
        echo "}"
    } >"$WMPFX/wmproxy.conf"
}

write_ngx_conf() {  # write_ngx_conf N
    {
        echo "daemon off;"
        echo "master_process on;"
        echo "worker_processes $1;"
        user_line
        echo "pid logs/nginx.pid;"
        echo "error_log logs/error.log warn;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        common_http
        echo "    access_log off;"
        echo "    client_body_temp_path tmp/body;"
        echo "    proxy_temp_path tmp/proxy;"
        echo "    fastcgi_temp_path tmp/fastcgi;"
        echo "    uwsgi_temp_path tmp/uwsgi;"
        echo "    scgi_temp_path tmp/scgi;"
        gzip_conf
        echo "    server {"
        echo "        listen 127.0.0.1:$PORT_NGX;"
        echo "        server_name localhost;"
        echo "        root $DOCROOT;"
        echo "    }"
        echo "}"
    } >"$NGXPFX/nginx.conf"
}

wait_port() {  # wait_port PORT PID NAME: up to 10 s
    local i
    for i in $(seq 1 100); do
        port_busy "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited at start; see its log above"
        sleep 0.1
    done
    die "$3 does not listen on port $1"
}

start_servers() {  # start_servers N
    write_wm_conf "$1"
    write_ngx_conf "$1"
    "$WMPROXY" -t -p "$WMPFX" -c "$WMPFX/wmproxy.conf" >"$OUT/wm-t.log" 2>&1 \
        || { cat "$OUT/wm-t.log" >&2; die "wmproxy -t failed"; }
    "$NGINX" -t -q -p "$NGXPFX" -e logs/error.log -c "$NGXPFX/nginx.conf" \
        >"$OUT/ngx-t.log" 2>&1 \
        || { cat "$OUT/ngx-t.log" >&2; die "nginx -t failed"; }
    "$WMPROXY" -p "$WMPFX" -c "$WMPFX/wmproxy.conf" >>"$WMPFX/logs/stdio.log" 2>&1 &
    WM_PID=$!
    "$NGINX" -p "$NGXPFX" -e logs/error.log -c "$NGXPFX/nginx.conf" >>"$NGXPFX/logs/stdio.log" 2>&1 &
    NGX_PID=$!
    wait_port "$PORT_WM" "$WM_PID" wmproxy
    wait_port "$PORT_NGX" "$NGX_PID" nginx
}

# ---------------------------------------------------------------- checks of the answers

verify() {
    local name port f ce
    for name in wm ngx; do
        if [ $name = wm ]; then port=$PORT_WM; else port=$PORT_NGX; fi
        for f in 1k.bin 1m.bin 64k.html; do
            curl -sS --max-time 10 -o "$OUT/$name-$f" "http://127.0.0.1:$port/$f" \
                || die "$name: curl /$f failed"
            cmp -s "$OUT/$name-$f" "$DOCROOT/$f" \
                || die "$name: /$f differs from the file"
        done
        if [ "$HAVE_GZIP" = 1 ]; then
            curl -sS --max-time 10 -D "$OUT/$name-gz.h" -H 'Accept-Encoding: gzip' \
                -o "$OUT/$name-64k.gz" "http://127.0.0.1:$port/64k.html" \
                || die "$name: curl gzip failed"
            ce=$(tr -d '\r' <"$OUT/$name-gz.h" | awk -F': *' 'tolower($1)=="content-encoding"{print $2}')
            [ "$ce" = gzip ] || die "$name: no Content-Encoding: gzip for /64k.html"
            gzip -t "$OUT/$name-64k.gz" 2>/dev/null || die "$name: gzip body is not valid gzip"
            gzip -dc "$OUT/$name-64k.gz" | cmp -s - "$DOCROOT/64k.html" \
                || die "$name: gunzipped /64k.html differs from the file"
            echo "  $name: gzip 64k.html -> $(wc -c <"$OUT/$name-64k.gz") bytes, decompresses to the file"
        fi
        # the 1 MiB case must not be compressed, even when asked
        curl -sS --max-time 10 -D "$OUT/$name-1m.h" -H 'Accept-Encoding: gzip' \
            -o /dev/null "http://127.0.0.1:$port/1m.bin" || die "$name: curl 1m failed"
        if tr -d '\r' <"$OUT/$name-1m.h" | grep -i '^content-encoding:' >/dev/null; then
            die "$name: /1m.bin came compressed"
        fi
    done
    echo "  both servers return the same bytes for 1k.bin, 1m.bin, 64k.html"
}

# ---------------------------------------------------------------- wrk and its output

# to_ms VALUE: wrk latency (e.g. 812.00us, 1.23ms, 1.02s, 2.00m) in ms
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000;
        printf "%.3f", n }'
}

WRK_ERRORS=0
CMDS=()

# run_wrk OUTFILE DURATION URL [extra wrk args...]; prints "rps p99ms"
run_wrk() {
    local out=$1 d=$2 url=$3 rps p99 bad
    shift 3
    timeout $((d + 30)) "$WRK" -t"$THREADS" -c"$CONNS" -d"${d}s" --latency "$@" "$url" \
        >"$out" 2>&1 || { echo "wrk failed, see below" >&2; cat "$out" >&2; return 1; }
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
    p99=$(awk '$1=="99%"{print $2}' "$out")
    [ -n "$rps" ] && [ -n "$p99" ] || { cat "$out" >&2; return 1; }
    bad=$(awk '/Non-2xx or 3xx responses:/{print $NF} /Socket errors:/{gsub(",","");
          s=0; for(i=3;i<=NF;i+=2) s+=$(i+1); print s}' "$out" | awk '{s+=$1} END{print s+0}')
    if [ "$bad" != 0 ]; then
        echo "  WARNING: $bad errors in $(basename "$out"):" >&2
        grep -E 'Non-2xx|Socket errors' "$out" >&2
        WRK_ERRORS=$((WRK_ERRORS + 1))
    fi
    echo "$rps $(to_ms "$p99")"
}

median() {  # median of the arguments
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "-" }'; }

ROWS=()
add_row() {  # add_row CASE WORKERS WM NGX [DECIMALS]
    local wm=$3 ngx=$4 d=${5:-0}
    case $wm in *[0-9]*) wm=$(printf "%.${d}f" "$wm");; esac
    case $ngx in *[0-9]*) ngx=$(printf "%.${d}f" "$ngx");; esac
    ROWS+=("$(printf '%-28s %7s %12s %12s %7s' "$1" "$2" "$wm" "$ngx" "$(ratio "$3" "$4")")")
}

# bench_case N LABEL FILE WHAT [extra wrk args]: R rounds, alternating
# which server goes first; WHAT is rps or mib (MiB/s); the 1k case adds a
# p99 latency row.
bench_case() {
    local n=$1 label=$2 file=$3 what=$4 r first name port res
    shift 4
    local -a wm_v=() ngx_v=() wm_l=() ngx_l=()
    local extra="" a
    for a in "$@"; do
        case $a in *" "*) extra+=" '$a'";; *) extra+=" $a";; esac
    done
    CMDS+=("$WRK -t$THREADS -c$CONNS -d${DURATION}s --latency$extra http://127.0.0.1:PORT/$file")
    # warm-up, 1 s each, not counted
    run_wrk "$OUT/warm-wm" 1 "http://127.0.0.1:$PORT_WM/$file" "$@" >/dev/null || die "wrk failed"
    run_wrk "$OUT/warm-ngx" 1 "http://127.0.0.1:$PORT_NGX/$file" "$@" >/dev/null || die "wrk failed"
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then first="wm ngx"; else first="ngx wm"; fi
        for name in $first; do
            if [ $name = wm ]; then port=$PORT_WM; else port=$PORT_NGX; fi
            res=$(run_wrk "$OUT/w$n-$label-$name-$r" "$DURATION" \
                  "http://127.0.0.1:$port/$file" "$@") || die "wrk failed"
            read -r rps p99 <<<"$res"
            # MiB/s of file bodies: requests/s x file size (wrk's own
            # Transfer/sec is rounded to 0.01 GB and includes the heads)
            if [ "$what" = rps ]; then v=$rps
            else v=$(awk -v r="$rps" -v s="$(wc -c <"$DOCROOT/$file")" \
                     'BEGIN { printf "%.1f", r * s / 1048576 }'); fi
            printf '  w=%s %-10s round %d %-7s %10s  (p99 %s ms)\n' "$n" "$label" "$r" \
                "$( [ $name = wm ] && echo wmproxy || echo nginx )" "$v" "$p99"
            if [ $name = wm ]; then wm_v+=("$v"); wm_l+=("$p99")
            else ngx_v+=("$v"); ngx_l+=("$p99"); fi
        done
    done
    case $label in
    1k)   add_row "1 KiB rps" "$n" "$(median "${wm_v[@]}")" "$(median "${ngx_v[@]}")"
          add_row "1 KiB p99 ms (lower=better)" "$n" "$(median "${wm_l[@]}")" "$(median "${ngx_l[@]}")" 2;;
    1m)   add_row "1 MiB MiB/s" "$n" "$(median "${wm_v[@]}")" "$(median "${ngx_v[@]}")" 1;;
    64kgz) add_row "64 KiB gzip rps" "$n" "$(median "${wm_v[@]}")" "$(median "${ngx_v[@]}")";;
    esac
}

# ---------------------------------------------------------------- run

echo "== machine"
echo "  date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "  nproc:   $(nproc)"
echo "  kernel:  $(uname -srm)"
echo "  cpu:     $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
echo "  load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== versions"
echo "  wmproxy: $("$WMPROXY" -v 2>&1 | head -1)  ($WMPROXY)"
echo "  nginx:   $("$NGINX" -v 2>&1 | head -1)  ($NGINX)"
echo "  wrk:     $("$WRK" -v 2>&1 | head -1)"
echo "== settings"
echo "  rounds=$ROUNDS duration=${DURATION}s wrk -t$THREADS -c$CONNS workers='$WORKERS'"
echo "  wmproxy on 127.0.0.1:$PORT_WM, nginx on 127.0.0.1:$PORT_NGX, temp dir $TMP"
if [ "$HAVE_GZIP" = 0 ]; then
    echo "  NOTE: this wmproxy has no 'gzip' directive: the 64 KiB gzip case is SKIPPED"
fi
if [ "$HAVE_ACCESS_LOG" = 0 ]; then
    echo "  NOTE: this wmproxy has no 'access_log' directive (it writes no access log);"
    echo "        nginx runs with 'access_log off'"
fi

for n in $WORKERS; do
    echo "== $n worker(s)"
    start_servers "$n"
    echo "  started wmproxy (master pid $WM_PID), nginx (master pid $NGX_PID)"
    verify
    bench_case "$n" 1k 1k.bin rps
    bench_case "$n" 1m 1m.bin mib
    if [ "$HAVE_GZIP" = 1 ]; then
        bench_case "$n" 64kgz 64k.html rps -H 'Accept-Encoding: gzip'
    else
        add_row "64 KiB gzip rps" "$n" "skipped" "-"
    fi
    stop_servers
done

echo "== results (median of $ROUNDS rounds; ratio = wmproxy/nginx)"
printf '%-28s %7s %12s %12s %7s\n' case workers wmproxy nginx ratio
printf '%s\n' "${ROWS[@]}"
[ "$WRK_ERRORS" = 0 ] || echo "WARNING: $WRK_ERRORS wrk runs reported errors (see above)"
[ "$HAVE_GZIP" = 1 ] || echo "(gzip case skipped: wmproxy has no gzip directive)"

echo "== commands"
echo "  wmproxy: $WMPROXY -p <tmp>/wmproxy -c <tmp>/wmproxy/wmproxy.conf"
echo "  nginx:   $NGINX -p <tmp>/nginx -e logs/error.log -c <tmp>/nginx/nginx.conf"
printf '%s\n' "${CMDS[@]}" | sort -u | sed 's/^/  /'
echo "  (PORT = $PORT_WM for wmproxy, $PORT_NGX for nginx; 1 s warm-up of each before each case)"
echo "== wmproxy.conf (last run)"
sed 's/^/  /' "$WMPFX/wmproxy.conf"
echo "== nginx.conf (last run)"
sed 's/^/  /' "$NGXPFX/nginx.conf"
