#!/usr/bin/perl
# WebSocket (and any Upgrade) through the HTTP proxy (wmproxy.conf(5),
# HTTP PROXY MODULE): the Upgrade request as the upstream reads it, the
# 101 head the client gets, then frames echoed both ways through the
# two-way tunnel (small, 1 MiB, server first), proxy_read_timeout as the
# idle timeout of the tunnel (traffic in either direction keeps it), the
# close of either side passed on, and the refusals: a 101 to a request
# without Upgrade is a 502, a 200 to an Upgrade request is a response; an
# upgrade on a kept upstream connection (the request written at once).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha1_base64);
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 300);
my $port = $t->port;
my $up = WmMockHttp->new;
my $pw = $up->port;

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    log_format ws '\$request_uri \$status \$upstream_status';
    access_log logs/ws.log ws;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    upstream pooled { server 127.0.0.1:$pw; keepalive 4; }
    server {
        listen 127.0.0.1:$port;
        location /ws/ {
            proxy_pass http://127.0.0.1:$pw;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 2s;
        }
        location /pooled/ {
            proxy_pass http://pooled;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
        }
        location /plain/ {
            proxy_pass http://127.0.0.1:$pw;
            proxy_http_version 1.1;
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

my $KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
my $ACCEPT = sha1_base64($KEY . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';

# A WebSocket frame: FIN, opcode, optional mask (client to server).
sub frame {
    my ($op, $data, $mask) = @_;
    my $len = length $data;
    my $b = chr(0x80 | $op);
    my $m = $mask ? 0x80 : 0;
    if ($len < 126) {
        $b .= chr($m | $len);
    } elsif ($len < 65536) {
        $b .= chr($m | 126) . pack('n', $len);
    } else {
        $b .= chr($m | 127) . pack('Q>', $len);
    }
    return $b . $data unless $mask;
    my $key = pack('N', 0x37fa213d);
    my $k = substr($key x (int($len / 4) + 1), 0, $len);
    return $b . $key . ($data ^ $k);
}

sub readn {
    my ($s, $n, $timeout) = @_;
    my $buf = '';
    my $sel = IO::Select->new($s);
    while (length $buf < $n) {
        $sel->can_read($timeout // 10) or return;
        my $r = sysread($s, $buf, $n - length $buf, length $buf);
        return unless $r;
    }
    return $buf;
}

# Reads one frame: (opcode, payload) unmasked.
sub read_frame {
    my ($s) = @_;
    my $h = readn($s, 2) // return;
    my ($b0, $b1) = map { ord } split //, $h;
    my $len = $b1 & 0x7f;
    $len = unpack('n', readn($s, 2)) if $len == 126;
    $len = unpack('Q>', readn($s, 8)) if $len == 127;
    my $key = ($b1 & 0x80) ? readn($s, 4) : undef;
    my $data = $len ? readn($s, $len) // return : '';
    $data ^= substr($key x (int($len / 4) + 1), 0, $len) if defined $key;
    return ($b0 & 0x0f, $data);
}

sub wsend {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

sub eof_on {
    my ($s, $timeout) = @_;
    return 0 unless IO::Select->new($s)->can_read($timeout // 5);
    return !sysread($s, my $x, 4096);
}

# Opens a tunnel: (client socket, upstream socket, the upstream's request,
# the client's 101 head).
sub open_ws {
    my ($path) = @_;
    my $c = WmHttpClient->new($port) or die;
    $c->send("GET $path HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\nSec-WebSocket-Key: $KEY\r\n"
          . "Sec-WebSocket-Version: 13\r\n\r\n");
    my $rq = $up->accept_request;
    $up->reply($rq, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\nSec-WebSocket-Accept: $ACCEPT\r\n\r\n",
        keep => 1);
    my $head = '';
    my $s = $c->{s};
    while (index($head, "\r\n\r\n") < 0) {
        IO::Select->new($s)->can_read(10) or last;
        sysread($s, $head, 1, length $head) or last;
    }
    return ($s, $rq->{s}, $rq, $head);
}

# The mock echoes $n frames back (unmasked).
sub echo {
    my ($us, $n) = @_;
    for (1 .. $n) {
        my ($op, $data) = read_frame($us);
        return 0 unless defined $op;
        wsend($us, frame($op, $data)) or return 0;
    }
    return 1;
}

subtest 'the upgrade handshake, then an echo both ways' => sub {
    my ($cs, $us, $rq, $head) = open_ws('/ws/chat');
    is($rq->{raw}, "GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1:$pw\r\n"
          . "Connection: upgrade\r\nUpgrade: websocket\r\n"
          . "Sec-WebSocket-Key: $KEY\r\nSec-WebSocket-Version: 13\r\n\r\n",
        'the upstream got Upgrade and Connection: upgrade, the key passed');
    like($head, qr{^HTTP/1\.1 101 Switching Protocols\r\n}, '101 to the client');
    like($head, qr{\r\nUpgrade: websocket\r\n}i, 'with Upgrade');
    like($head, qr{\r\nConnection: upgrade\r\n}i, 'Connection: upgrade');
    like($head, qr{\r\nSec-WebSocket-Accept: \Q$ACCEPT\E\r\n}, 'and the accept key');
    unlike($head, qr{Content-Length|Transfer-Encoding}i, 'no body framing');

    wsend($cs, frame(1, 'hello', 1));
    ok(echo($us, 1), 'the upstream got a frame');
    my ($op, $data) = read_frame($cs);
    is("$op $data", '1 hello', 'echoed back to the client');

    my $big = join '', map { chr(($_ * 31) & 0xff) } 1 .. (1 << 20);
    wsend($cs, frame(2, $big, 1));
    ok(echo($us, 1), 'a 1 MiB binary frame through');
    ($op, $data) = read_frame($cs);
    ok($op == 2 && $data eq $big, 'and 1 MiB back, byte for byte');

    wsend($us, frame(1, 'server first'));
    ($op, $data) = read_frame($cs);
    is($data, 'server first', 'the upstream may speak first');

    wsend($cs, frame(8, pack('n', 1000), 1));
    ($op, $data) = read_frame($us);
    is($op, 8, 'a close frame through');
    close $cs;
    ok(eof_on($us, 5), 'the client closed: the upstream sees the close');
    close $us;
    ok($t->wait_log(qr{^/ws/chat 101 101$}m, file => 'logs/ws.log'),
        'logged with 101 once the tunnel ended');
};

# The request is written at once on a kept connection (EV_WRITE off): the
# tunnel that follows must still write to the upstream.
subtest 'an upgrade on a kept upstream connection' => sub {
    my $c = WmHttpClient->new($port) or die;
    $c->send("GET /pooled/first HTTP/1.1\r\nHost: h\r\n\r\n");
    my $rq = $up->accept_request;
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        keep => 1);
    is($c->read_response->{body}, 'ok', 'a first request kept the connection');
    my $n = $up->accepted;
    my $w = WmHttpClient->new($port) or die;
    $w->send("GET /pooled/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\nSec-WebSocket-Key: $KEY\r\n"
          . "Sec-WebSocket-Version: 13\r\n\r\n");
    my $rq2 = WmMockHttp::read_request($rq->{s});
    like($rq2->{line} // '', qr{^GET /pooled/chat HTTP/1\.1}, 'the upgrade came on it');
    is($up->accepted, $n, '  no new connection');
    $up->reply($rq2, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\nSec-WebSocket-Accept: $ACCEPT\r\n\r\n",
        keep => 1);
    my $cs = $w->{s};
    my $head = '';
    while (index($head, "\r\n\r\n") < 0) {
        IO::Select->new($cs)->can_read(10) or last;
        sysread($cs, $head, 1, length $head) or last;
    }
    like($head, qr{^HTTP/1\.1 101 }, '101 to the client');
    wsend($cs, frame(1, 'via the pool', 1));
    ok(echo($rq->{s}, 1), 'the upstream got the frame');
    my ($op, $data) = read_frame($cs);
    is("$op $data", '1 via the pool', 'and the client the echo');
    close $cs;
    ok(eof_on($rq->{s}, 5), 'the close passed on');
    close $rq->{s};
};

subtest 'the upstream closes: the client sees it after the last bytes' => sub {
    my ($cs, $us) = open_ws('/ws/b');
    wsend($us, frame(1, 'bye'));
    close $us;
    my ($op, $data) = read_frame($cs);
    is($data, 'bye', 'the last frame arrived');
    ok(eof_on($cs, 5), 'then the close');
};

subtest 'proxy_read_timeout is the idle timeout of the tunnel' => sub {
    my ($cs, $us) = open_ws('/ws/idle');
    # Traffic every 0.7 s for 3.5 s keeps it open past the 2 s timeout.
    for my $i (1 .. 5) {
        sleep 0.7;
        if ($i % 2) {
            wsend($cs, frame(1, "c$i", 1));
            echo($us, 1);
            my ($op, $data) = read_frame($cs);
            is($data, "c$i", "message $i from the client");
        } else {
            wsend($us, frame(1, "u$i"));
            my ($op, $data) = read_frame($cs);
            is($data, "u$i", "message $i from the upstream");
        }
    }
    my $off = $t->log_size;
    my $t0 = time;
    ok(eof_on($cs, 15), 'then quiet: the client connection is closed');
    my $took = time - $t0;
    cmp_ok($took, '>=', 1.9, 'not before proxy_read_timeout (2s)');
    ok(eof_on($us, 5), 'and the upstream connection too');
    ok($t->wait_log(qr/\[info\].*upstream timed out \(110: Connection timed out\) while proxying upgraded connection/,
        from => $off), 'logged at info');
};

subtest 'refusals and plain answers' => sub {
    my $off = $t->log_size;
    my $c = WmHttpClient->new($port);
    $c->send("GET /plain/x HTTP/1.1\r\nHost: h\r\n\r\n");
    my $rq = $up->accept_request;
    $up->reply($rq, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\n\r\n");
    is($c->read_response->{status}, 502, 'a 101 to a request without Upgrade: 502');
    ok($t->wait_log(qr/\[error\].*upstream sent "101" response to a request without an upgrade/,
        from => $off), 'logged');

    $c = WmHttpClient->new($port);
    $c->send("GET /ws/no HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\n\r\n");
    $rq = $up->accept_request;
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno");
    my $r = $c->read_response;
    is("$r->{status} $r->{body}", '200 no', 'a 200 to an Upgrade request is a response');
    $c->send("GET /plain/y HTTP/1.1\r\nHost: h\r\n\r\n");
    $rq = $up->accept_request;
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    is($c->read_response->{body}, 'ok', 'and the client connection goes on');
};

$t->done;
