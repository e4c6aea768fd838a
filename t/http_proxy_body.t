#!/usr/bin/perl
# Bodies through the HTTP proxy (wmproxy.conf(5), HTTP PROXY MODULE):
# request bodies with Content-Length and chunked (re-framed in chunks for
# HTTP/1.1 upstreams, sent with Content-Length to HTTP/1.0 ones), response
# bodies with Content-Length, chunked and close-delimited, each checked
# byte for byte with sha256 on 20 MB and 200 MB transfers both ways; a
# client that stops reading must not make wmproxy buffer the response
# (the worker's RSS stays bounded while the upstream is held back); a
# client that leaves in the middle of its body, a bad chunked body, and
# client_max_body_size on a chunked body.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF SO_SNDBUF);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 600);
my $P = $t->prefix;
my $port = $t->port;

my $up  = WmMockHttp->new;    # lockstep, for exact bytes
my $big = WmMockHttp->new;    # forked, for long transfers
my $stall = WmMockHttp->new;  # forked, reads the body late
# A small receive buffer on the upstream side, so that what the kernel
# holds between wmproxy and the stalled upstream stays small.
setsockopt($stall->listener, SOL_SOCKET, SO_RCVBUF, 65536) or die;
my ($pu, $pb, $ps) = ($up->port, $big->port, $stall->port);
my $port2 = $t->port;

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$port;
        location /lock/ {
            proxy_pass http://127.0.0.1:$pu;
            proxy_http_version 1.1;
        }
        location /lock10/ {
            proxy_pass http://127.0.0.1:$pu;
        }
        location /small/ {
            proxy_pass http://127.0.0.1:$pu;
            proxy_http_version 1.1;
            client_max_body_size 100;
        }
        location /big/ {
            proxy_pass http://127.0.0.1:$pb;
            proxy_http_version 1.1;
        }
        location /nobuf/ {
            proxy_pass http://127.0.0.1:$pb;
            proxy_http_version 1.1;
            proxy_buffering off;
        }
    }
    server {
        listen 127.0.0.1:$port2 rcvbuf=64k;
        location / {
            proxy_pass http://127.0.0.1:$ps;
            proxy_http_version 1.1;
            proxy_request_buffering off;
        }
    }
}
EOF

# Deterministic payload: $n bytes made of a 1 MiB block of pseudo-random
# bytes, each MiB stamped with its number.
my $BLOCK = join '', map { chr(($_ * 7919 + ($_ >> 3)) & 0xff) } 0 .. (1 << 20) - 1;
sub piece {
    my ($i, $len) = @_;
    my $b = pack('N', $i) . substr($BLOCK, 4);
    return substr($b, 0, $len);
}
sub payload_sha {
    my ($n) = @_;
    my $d = Digest::SHA->new(256);
    for (my ($i, $off) = (0, 0); $off < $n; $i++, $off += 1 << 20) {
        $d->add(piece($i, $n - $off < (1 << 20) ? $n - $off : 1 << 20));
    }
    return $d->hexdigest;
}

sub wsend {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        return 0 unless defined $n && $n > 0;
        $off += $n;
    }
    return 1;
}

# Reads exactly $n bytes (or to EOF when $n is undef), hashing them.
sub read_hash {
    my ($s, $n, $pre) = @_;
    my $d = Digest::SHA->new(256);
    my $got = 0;
    if (defined $pre && length $pre) {
        $d->add($pre);
        $got += length $pre;
    }
    while (!defined $n || $got < $n) {
        my $want = defined $n ? $n - $got : 1 << 20;
        $want = 1 << 20 if $want > 1 << 20;
        my $r = sysread($s, my $buf, $want);
        last unless $r;
        $d->add($buf);
        $got += $r;
    }
    return ($got, $d->hexdigest);
}

# Reads a head from $s: (head text, bytes after it).
sub read_head {
    my ($s) = @_;
    my $buf = '';
    while (index($buf, "\r\n\r\n") < 0) {
        my $r = sysread($s, $buf, 65536, length $buf);
        return ($buf, '') unless $r;
    }
    my $i = index($buf, "\r\n\r\n");
    return (substr($buf, 0, $i + 4), substr($buf, $i + 4));
}

# Decodes a chunked body from $s (after $pre), hashing the data.
sub read_chunked_hash {
    my ($s, $pre) = @_;
    my $buf = $pre;
    my $d = Digest::SHA->new(256);
    my $total = 0;
    my $fill = sub { sysread($s, $buf, 1 << 20, length $buf) };
    for (;;) {
        while (index($buf, "\r\n") < 0) { $fill->() or return (-1, '') }
        my $j = index($buf, "\r\n");
        my $size = hex substr($buf, 0, $j);
        substr($buf, 0, $j + 2, '');
        if ($size == 0) {
            while (index($buf, "\r\n") < 0) { $fill->() or return (-1, '') }
            last;
        }
        while (length $buf < $size + 2) { $fill->() or return (-1, '') }
        $d->add(substr($buf, 0, $size));
        $total += $size;
        substr($buf, 0, $size + 2, '');
    }
    return ($total, $d->hexdigest);
}

# The forked upstream: /big/up* reads the body (Content-Length or
# chunked) and answers with its length and sha256; /big/down/N sends N
# bytes with Content-Length, /big/chunked/N chunked in uneven chunks,
# /big/close/N until the close.
$big->serve(sub {
    my ($s) = @_;
    my ($head, $rest) = read_head($s);
    my ($path) = $head =~ m{^\S+ (\S+)};
    if ($path =~ m{^/big/up}) {
        my ($n, $sha);
        if ($head =~ /\r\nTransfer-Encoding: chunked\r\n/i) {
            ($n, $sha) = read_chunked_hash($s, $rest);
        } else {
            my ($cl) = $head =~ /\r\nContent-Length: (\d+)\r\n/i;
            ($n, $sha) = read_hash($s, $cl, $rest);
        }
        my $te = $head =~ /\r\nTransfer-Encoding: chunked\r\n/i ? 'chunked' : 'length';
        my $body = "$n $sha $te";
        wsend($s, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
              . "\r\nConnection: close\r\n\r\n$body");
        return;
    }
    my ($kind, $n) = $path =~ m{^/\w+/(down|chunked|close)/(\d+)} or return;
    wsend($s, "HTTP/1.1 200 OK\r\n"
          . ($kind eq 'down' ? "Content-Length: $n\r\n"
             : $kind eq 'chunked' ? "Transfer-Encoding: chunked\r\n" : '')
          . "Connection: close\r\n\r\n");
    my $sizes = 0;
    for (my ($i, $off) = (0, 0); $off < $n; $i++, $off += 1 << 20) {
        my $p = piece($i, $n - $off < (1 << 20) ? $n - $off : 1 << 20);
        if ($kind eq 'chunked') {
            # uneven chunks: 1, 1000, then the rest of the MiB
            my @parts = (substr($p, 0, 1), substr($p, 1, 1000), substr($p, 1001));
            for (@parts) {
                next unless length;
                wsend($s, sprintf("%x\r\n", length) . $_ . "\r\n") or return;
            }
        } else {
            wsend($s, $p) or return;
        }
    }
    wsend($s, "0\r\n\r\n") if $kind eq 'chunked';
});

# The stalled upstream: sleeps before it reads a byte of the body, then
# reports its length and sha256.
$stall->serve(sub {
    my ($s) = @_;
    my ($head, $rest) = read_head($s);
    sleep 6;
    my ($cl) = $head =~ /\r\nContent-Length: (\d+)\r\n/i;
    my ($n, $sha) = read_hash($s, $cl, $rest);
    my $body = "$n $sha";
    wsend($s, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
          . "\r\nConnection: close\r\n\r\n$body");
});

$t->start(workers => 1, ports => [$port, $port2]) or do { $t->done; exit };

sub client {
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10)
      or die "connect: $!";
    binmode $c;
    return $c;
}

# Uploads $n bytes (Content-Length, or chunked in 64 KiB chunks), returns
# the upstream's report "length sha framing".
sub upload {
    my ($path, $n, $chunked) = @_;
    my $c = client();
    wsend($c, "POST $path HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
          . ($chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: $n\r\n")
          . "\r\n");
    for (my ($i, $off) = (0, 0); $off < $n; $i++, $off += 1 << 20) {
        my $p = piece($i, $n - $off < (1 << 20) ? $n - $off : 1 << 20);
        if ($chunked) {
            for (my $o = 0; $o < length $p; $o += 65536) {
                my $part = substr($p, $o, 65536);
                wsend($c, sprintf("%x\r\n", length $part) . $part . "\r\n");
            }
        } else {
            wsend($c, $p);
        }
    }
    wsend($c, "0\r\n\r\n") if $chunked;
    my ($head, $rest) = read_head($c);
    my ($cl) = $head =~ /Content-Length: (\d+)/;
    while (defined $cl && length $rest < $cl) {
        sysread($c, $rest, 65536, length $rest) or last;
    }
    return $rest;
}

# Downloads $path: (status line, headers text, length, sha256).
sub download {
    my ($path, %o) = @_;
    my $c = client();
    wsend($c, "GET $path HTTP/$o{v}\r\nHost: h\r\n\r\n");
    my ($head, $rest) = read_head($c);
    my ($n, $sha);
    if ($head =~ /Transfer-Encoding: chunked/) {
        ($n, $sha) = read_chunked_hash($c, $rest);
    } elsif ($head =~ /Content-Length: (\d+)/) {
        ($n, $sha) = read_hash($c, $1, $rest);
    } else {
        ($n, $sha) = read_hash($c, undef, $rest);
    }
    return ($head, $n, $sha);
}

# The RSS of the only worker, in KiB.
sub worker_rss {
    my ($w) = $t->workers;
    open my $fh, '<', "/proc/$w/status" or return 0;
    local $/;
    my ($kb) = <$fh> =~ /VmRSS:\s+(\d+)/;
    return $kb;
}

subtest 'a client that does not read holds the upstream back' => sub {
    my $before = worker_rss();
    my $c = WmHttpClient->new($port, 4096) or die;
    $c->send("GET /big/down/104857600 HTTP/1.1\r\nHost: h\r\n\r\n");
    sleep 3;
    my $during = worker_rss();
    cmp_ok($during - $before, '<', 16 * 1024,
        "the worker grew by less than 16 MiB ($before -> $during KiB) "
          . 'while 100 MiB wait');
    # Now read it all: nothing was lost.
    my ($head, $rest) = read_head($c->{s});
    my ($n, $sha) = read_hash($c->{s}, 104857600, $rest);
    is("$n $sha", '104857600 ' . payload_sha(104857600), 'then every byte arrives');
};

subtest 'an upstream that does not read holds the client back' => sub {
    my $n = 100 * 1024 * 1024;
    my $before = worker_rss();
    my $c = IO::Socket::INET->new(Proto => 'tcp') or die;
    setsockopt($c, SOL_SOCKET, SO_SNDBUF, 65536) or die;
    connect($c, Socket::pack_sockaddr_in($port2, Socket::inet_aton('127.0.0.1')))
      or die "connect: $!";
    binmode $c;
    wsend($c, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: $n\r\n\r\n");
    # Write without blocking for 3 s while the upstream sleeps: only what
    # the socket buffers and wmproxy's proxy_buffers hold goes in.
    $c->blocking(0);
    my ($off, $i, $p) = (0, 0, piece(0, 1 << 20));
    my $until = time + 3;
    while (time < $until && $off < $n) {
        my $w = '';
        vec($w, fileno($c), 1) = 1;
        select(undef, my $wo = $w, undef, 0.2) or next;
        my $in = $off % (1 << 20);
        my $k = syswrite($c, $p, length($p) - $in, $in);
        next unless $k;
        $off += $k;
        $p = piece(++$i, 1 << 20) if ($off % (1 << 20)) == 0;
    }
    my $during = worker_rss();
    cmp_ok($off, '<', 8 * 1024 * 1024,
        "the client could send only $off bytes while the upstream slept");
    cmp_ok($during - $before, '<', 16 * 1024,
        "the worker grew by less than 16 MiB ($before -> $during KiB)");
    $c->blocking(1);
    my $in = $off % (1 << 20);
    wsend($c, substr($p, $in)) if $in;
    for ($i = int(($off + (1 << 20) - 1) / (1 << 20)); $i * (1 << 20) < $n; $i++) {
        wsend($c, piece($i, 1 << 20));
    }
    my ($head, $rest) = read_head($c);
    like($head, qr{^HTTP/1.1 200 }, 'answered once the upstream read it all');
    my ($cl) = $head =~ /Content-Length: (\d+)/;
    sysread($c, $rest, 4096, length $rest) while length $rest < ($cl // 0);
    is($rest, "$n " . payload_sha($n), 'every byte arrived in order');
};

my $MB20 = 20 * 1024 * 1024 + 12345;
my $sha20 = payload_sha($MB20);

subtest 'chunked request body: re-framed for 1.1, Content-Length for 1.0' => sub {
    my $c = WmHttpClient->new($port);
    $c->send("POST /lock/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "3\r\nabc\r\n2;ext=x\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n");
    my $rq = $up->accept_request;
    is($rq->{raw}, "POST /lock/c HTTP/1.1\r\nHost: 127.0.0.1:$pu\r\n"
          . "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "5\r\nabcde\r\n0\r\n\r\n",
        'one chunk of what was there, then the last chunk, no trailer');
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    is($c->read_response->{body}, 'ok', 'answered');

    $c = WmHttpClient->new($port);
    $c->send("POST /lock10/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "3\r\nabc\r\n");
    sleep 0.3;
    $c->send("2\r\nde\r\n0\r\n\r\n");
    $rq = $up->accept_request;
    is($rq->{raw}, "POST /lock10/c HTTP/1.0\r\nHost: 127.0.0.1:$pu\r\n"
          . "Connection: close\r\nContent-Length: 5\r\n\r\nabcde",
        'HTTP/1.0 upstream: the whole body with Content-Length');
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    is($c->read_response->{body}, 'ok', 'answered');
};

subtest 'request body errors' => sub {
    my $off = $t->log_size;
    my $c = WmHttpClient->new($port);
    $c->send("POST /lock/short HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n"
          . "0123456789");
    my $rq = $up->accept_conn;
    ok($rq, 'the upstream was connected');
    # The client goes once its bytes are through (an accepted upstream
    # connection says nothing about what wmproxy wrote on it yet).
    my $want = length("POST /lock/short HTTP/1.1\r\nHost: 127.0.0.1:$pu\r\n"
          . "Connection: close\r\nContent-Length: 100\r\n\r\n0123456789");
    my ($n) = read_hash($rq, $want);
    close $c->{s};
    my ($more) = read_hash($rq, undef);
    is("$n $more", "$want 0",
        'the upstream got the head and 10 bytes, then the close');
    close $rq;
    ok($t->wait_log(qr/\[info\].*client prematurely closed connection while reading the request body/,
        from => $off), 'logged at info');

    $c = WmHttpClient->new($port);
    $c->send("POST /lock/bad HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "3\r\nabc\r\nzz\r\n");
    $rq = $up->accept_conn;
    my $r = $c->read_response;
    is($r->{status}, 400, 'a bad chunked body: 400');
    ok($c->wait_eof, 'and the client connection closed');
    close $rq if $rq;

    $c = WmHttpClient->new($port);
    $c->send("POST /small/big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "64\r\n" . ('x' x 100) . "\r\n1\r\ny\r\n0\r\n\r\n");
    $rq = $up->accept_conn;
    $r = $c->read_response;
    is($r->{status}, 413, 'a chunked body over client_max_body_size: 413');
    close $rq if $rq;
    ok($t->wait_log(qr/client intended to send too large chunked body/,
        from => $off), 'logged');
};

subtest '20 MB up and down, every framing' => sub {
    is(upload('/big/up1', $MB20), "$MB20 $sha20 length",
        'Content-Length upload: same bytes');
    is(upload('/big/up2', $MB20, 1), "$MB20 $sha20 chunked",
        'chunked upload: re-chunked, same bytes');
    my ($head, $n, $sha) = download("/big/down/$MB20", v => '1.1');
    like($head, qr/Content-Length: $MB20\r\n/, 'Content-Length download');
    is("$n $sha", "$MB20 $sha20", 'same bytes');
    ($head, $n, $sha) = download("/big/chunked/$MB20", v => '1.1');
    like($head, qr/Transfer-Encoding: chunked/, 'chunked download');
    is("$n $sha", "$MB20 $sha20", 'same bytes');
    ($head, $n, $sha) = download("/big/close/$MB20", v => '1.1');
    like($head, qr/Transfer-Encoding: chunked/, 'close-delimited, re-chunked');
    is("$n $sha", "$MB20 $sha20", 'same bytes');
    ($head, $n, $sha) = download("/big/chunked/$MB20", v => '1.0');
    unlike($head, qr/Transfer-Encoding|Content-Length/,
        'to an HTTP/1.0 client: until the close');
    is("$n $sha", "$MB20 $sha20", 'same bytes');
    ($head, $n, $sha) = download("/nobuf/down/$MB20", v => '1.1');
    is("$n $sha", "$MB20 $sha20", 'proxy_buffering off: same bytes');
};

subtest '200 MB upload and download' => sub {
    my $n200 = 200 * 1024 * 1024;
    my $sha200 = payload_sha($n200);
    my $t0 = time;
    is(upload('/big/up3', $n200), "$n200 $sha200 length", '200 MB upload');
    my ($head, $n, $sha) = download("/big/down/$n200", v => '1.1');
    is("$n $sha", "$n200 $sha200", '200 MB download');
    diag(sprintf '200 MB both ways in %.1f s', time - $t0);
};

$big->stop;
$stall->stop;
$t->done;
