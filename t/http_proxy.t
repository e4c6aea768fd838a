#!/usr/bin/perl
# The HTTP reverse proxy (wmproxy.conf(5), HTTP PROXY MODULE), request and
# response heads: the exact bytes a mock upstream receives (URI replacement
# with and without a URI part, proxy_set_header defaults and overrides,
# hop-by-hop headers dropped, X-Forwarded-For, proxy_http_version,
# proxy_pass_request_headers), upstream{} groups, unix sockets, proxy_pass
# with variables, the response headers passed and hidden, response framing
# towards HTTP/1.1 and HTTP/1.0 clients, HEAD and interim responses, 502
# for refused connections and malformed responses (with their log lines),
# and the $upstream_* variables seen from error_page.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my ($port, $dead, $dead2) = map { $t->port } 1 .. 3;

my $up1 = WmMockHttp->new;
my $up2 = WmMockHttp->new;
my $upu = WmMockHttp->new(unix => "$P/up.sock");
chmod 0777, "$P/up.sock";
my ($p1, $p2) = ($up1->port, $up2->port);

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    upstream backend { server 127.0.0.1:$p1; }
    upstream bad { server 127.0.0.1:$dead; server 127.0.0.1:$dead2; }

    server {
        listen 127.0.0.1:$port;
        server_name localhost;

        location /api/ {
            proxy_pass http://127.0.0.1:$p1/backend/;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
        location /raw/ {
            proxy_pass http://127.0.0.1:$p1;
        }
        location /group/ {
            proxy_pass http://backend;
        }
        location /sethost/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Host \$host;
            proxy_set_header Accept-Encoding "";
            proxy_set_header X-Port \$proxy_port;
        }
        location /noheaders/ {
            proxy_pass http://backend/;
            proxy_pass_request_headers off;
            proxy_set_header X-One one;
        }
        location /hide/ {
            proxy_pass http://backend;
            proxy_hide_header X-Secret;
            proxy_pass_header X-Accel-Expires;
        }
        location /unix/ {
            proxy_pass http://unix:$P/up.sock:/u/;
        }
        location /var/ {
            proxy_pass http://\$http_x_to;
        }
        location /varuri/ {
            proxy_pass http://127.0.0.1:$p2/fixed\$is_args\$args;
        }
        location /refused/ {
            proxy_pass http://127.0.0.1:$dead;
        }
        location /bad/ {
            proxy_pass http://bad;
            error_page 502 504 /report;
        }
        location /icpt/ {
            proxy_pass http://127.0.0.1:$p2;
            proxy_intercept_errors on;
            error_page 404 /report;
        }
        location = / {
            proxy_pass http://127.0.0.1:$p1;
        }
        location = /report {
            return 200 "addr=\$upstream_addr status=\$upstream_status connect=\$upstream_connect_time recv=\$upstream_bytes_received x=\$upstream_http_x_id\\n";
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

# Sends $req through wmproxy, lets $up accept it and answer $resp: (the
# request the upstream read, the response the client read).
sub proxied {
    my ($up, $req, $resp, %o) = @_;
    my $c = WmHttpClient->new($port) or return ({ error => "connect: $!" });
    $c->send($req);
    my $rq = $up->accept_request;
    $up->reply($rq, $resp) unless $rq->{error};
    my $r = $c->read_response(timeout => 10, %o);
    return ($rq, $r, $c);
}

my $OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

subtest 'a URI part replaces the location prefix; headers set, hop-by-hop dropped' => sub {
    my ($rq, $r) = proxied($up1,
        "GET /api/x%20y/z?a=1&b HTTP/1.1\r\nHost: front.example\r\n"
          . "User-Agent: t/1\r\nConnection: keep-alive, X-Hop\r\n"
          . "Keep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: x\r\n"
          . "X-Forwarded-For: 10.1.1.1\r\nUpgrade: h2c\r\nX-Hop: dropped?\r\n"
          . "Accept: */*\r\n\r\n", $OK);
    is($rq->{raw},
        "GET /backend/x%20y/z?a=1&b HTTP/1.0\r\n"
          . "Host: 127.0.0.1:$p1\r\nConnection: close\r\n"
          . "X-Real-IP: 127.0.0.1\r\n"
          . "X-Forwarded-For: 10.1.1.1, 127.0.0.1\r\n"
          . "User-Agent: t/1\r\nX-Hop: dropped?\r\nAccept: */*\r\n\r\n",
        'the upstream got the exact head') or diag explain $rq;
    is($r->{status}, 200, 'the client got 200');
    is($r->{body}, 'ok', 'and the body');
    is($r->{h}{server}, 'wmproxy/' . ($r->{h}{server} =~ m{/(.*)} ? $1 : ''),
        'Server is wmproxy');
    is($r->{h}{connection}, 'keep-alive', 'the client keeps its connection');
    ($rq, $r) = proxied($up1,
        "GET /api/a%5cb%22c HTTP/1.1\r\nHost: front.example\r\n\r\n", $OK);
    is($rq->{line}, 'GET /backend/a%5Cb%22c HTTP/1.0',
        'a decoded backslash and double quote go upstream escaped again');
    is($r->{status}, 200, 'and the client got 200');
};

subtest 'no URI part: the target goes as the client sent it' => sub {
    my ($rq, $r) = proxied($up1,
        "GET /raw/a/../b%41//c?x=%20 HTTP/1.1\r\nHost: h\r\n\r\n", $OK);
    is($rq->{line}, 'GET /raw/a/../b%41//c?x=%20 HTTP/1.0',
        'request line unchanged');
    is($r->{status}, 200, '200');
    ($rq, $r) = proxied($up1, "GET http://h/raw/abs?q HTTP/1.1\r\nHost: h\r\n\r\n",
        $OK);
    is($rq->{line}, 'GET /raw/abs?q HTTP/1.0',
        'an absolute-form target loses scheme and host');
    # The parser gives a target without a path its own "/": the raw
    # target sent is that "/" (the worker read far past it before).
    ($rq, $r) = proxied($up1, "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", $OK);
    is($rq->{line}, 'GET / HTTP/1.0', 'an absolute-form target without a path');
    is($r->{status}, 200, 'and its answer');
    ($rq, $r) = proxied($up1, "GET http://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
        $OK);
    is($rq->{line}, 'GET /?q=1 HTTP/1.0',
        'an absolute-form target with a query and no path');
    is($r->{status}, 200, 'and its answer');
};

subtest 'upstream group: Host is the group name; overrides' => sub {
    my ($rq, $r) = proxied($up1,
        "GET /group/g HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", $OK);
    is($rq->{raw},
        "GET /group/g HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n"
          . "Content-Length: 0\r\n\r\n", 'Host: backend');
    ($rq, $r) = proxied($up1,
        "GET /sethost/s HTTP/1.1\r\nHost: Front.Example:8080\r\n"
          . "Accept-Encoding: gzip\r\n\r\n", $OK);
    is($rq->{raw},
        "GET /sethost/s HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n"
          . "X-Port: 80\r\n\r\n",
        'HTTP/1.1, Host $host, an empty value drops the header');
    ($rq, $r) = proxied($up1,
        "POST /noheaders/n?q HTTP/1.1\r\nHost: h\r\nCookie: c=1\r\n"
          . "Content-Length: 3\r\n\r\nabc", $OK);
    is($rq->{raw},
        "POST /n?q HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n"
          . "X-One: one\r\nContent-Length: 3\r\n\r\nabc",
        'proxy_pass_request_headers off: only the set ones and the framing');
};

subtest 'response headers: hop-by-hop and hidden ones dropped' => sub {
    my ($rq, $r) = proxied($up1, "GET /hide/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 201 Made Here\r\nServer: upstream/1\r\nDate: yesterday\r\n"
          . "X-Pad: pad\r\nX-Accel-Expires: 5\r\nX-Secret: s\r\n"
          . "Connection: keep-alive, X-Kept\r\nKeep-Alive: timeout=5\r\n"
          . "X-Kept: k\r\nContent-Type: text/x\r\nSet-Cookie: a=1\r\n"
          . "Set-Cookie: b=2\r\nLocation: /there\r\n"
          . "Content-Length: 3\r\n\r\nabc");
    is($r->{line}, 'HTTP/1.1 201 Made Here', 'status line with its reason');
    like($r->{h}{server}, qr/^wmproxy/, 'our Server');
    isnt($r->{h}{date}, 'yesterday', 'our Date');
    ok(!exists $r->{h}{'x-pad'}, 'X-Pad hidden by default');
    is($r->{h}{'x-accel-expires'}, '5', 'proxy_pass_header passes X-Accel-Expires');
    ok(!exists $r->{h}{'x-secret'}, 'proxy_hide_header');
    ok(!exists $r->{h}{'keep-alive'}, 'Keep-Alive dropped');
    is($r->{h}{connection}, 'keep-alive', 'Connection is ours');
    is($r->{h}{'x-kept'}, 'k', 'other headers pass');
    is($r->{h}{'content-type'}, 'text/x', 'Content-Type');
    is($r->{h}{'set-cookie'}, 'a=1, b=2', 'both Set-Cookie lines');
    is($r->{n}{'set-cookie'}, 2, 'as two lines');
    is($r->{h}{location}, '/there', 'Location');
    is($r->{body}, 'abc', 'body');
};

subtest 'response framing for HTTP/1.1 and HTTP/1.0 clients; HEAD; 1xx' => sub {
    my $chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      . "3;ext=1\r\nabc\r\n5\r\ndefgh\r\n0\r\nTrailer: x\r\n\r\n";
    my ($rq, $r) = proxied($up1, "GET /raw/c HTTP/1.1\r\nHost: h\r\n\r\n",
        $chunked);
    is($r->{chunked}, 1, 'chunked to an HTTP/1.1 client');
    is($r->{body}, 'abcdefgh', 'decoded and re-chunked');
    my $c;
    ($rq, $r, $c) = proxied($up1, "GET /raw/c HTTP/1.0\r\n\r\n", $chunked);
    ok(!$r->{chunked} && !defined $r->{h}{'content-length'},
        'an HTTP/1.0 client gets a close-delimited body');
    is($r->{body}, 'abcdefgh', 'same bytes');
    ($rq, $r) = proxied($up1, "GET /raw/close HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nuntil the close");
    is($r->{body}, 'until the close', 'a close-delimited response, re-chunked');
    is($r->{chunked}, 1, 'chunked');
    ($rq, $r) = proxied($up1, "HEAD /raw/h HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head => 1);
    is($rq->{line}, 'HEAD /raw/h HTTP/1.0', 'HEAD passed');
    is($r->{h}{'content-length'}, '10', 'its Content-Length is kept');
    ($rq, $r) = proxied($up1, "GET /raw/i HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n$OK");
    is($r->{status}, 200, 'interim responses are skipped');
    is($r->{body}, 'ok', 'the final one passes');
    ($rq, $r) = proxied($up1, "GET /raw/204 HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n");
    is($r->{status}, 204, '204');
    ok(!defined $r->{h}{'content-length'} && !defined $r->{h}{'transfer-encoding'},
        'without framing headers');
};

subtest 'two proxied requests on one client connection' => sub {
    my $c = WmHttpClient->new($port);
    for my $i (1 .. 2) {
        $c->send("GET /raw/k$i HTTP/1.1\r\nHost: h\r\n\r\n");
        my $rq = $up1->accept_request;
        is($rq->{line}, "GET /raw/k$i HTTP/1.0", "request $i");
        $up1->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n$i$i");
        my $r = $c->read_response;
        is($r->{body}, "$i$i", "response $i");
    }
};

subtest 'unix socket with a URI part' => sub {
    my ($rq, $r) = proxied($upu, "GET /unix/z?k=v HTTP/1.1\r\nHost: h\r\n\r\n",
        $OK);
    is($rq->{raw}, "GET /u/z?k=v HTTP/1.0\r\nHost: localhost\r\n"
          . "Connection: close\r\n\r\n", 'the unix upstream got it');
    is($r->{body}, 'ok', 'answered');
};

subtest 'proxy_pass with variables' => sub {
    my ($rq, $r) = proxied($up1,
        "GET /var/a HTTP/1.1\r\nHost: h\r\nX-To: backend\r\n\r\n", $OK);
    is($rq->{raw}, "GET /var/a HTTP/1.0\r\nHost: backend\r\n"
          . "Connection: close\r\nX-To: backend\r\n\r\n", 'a group by name');
    ($rq, $r) = proxied($up2,
        "GET /var/b HTTP/1.1\r\nHost: h\r\nX-To: 127.0.0.1:$p2\r\n\r\n", $OK);
    is($rq->{line}, 'GET /var/b HTTP/1.0', 'an address');
    is($rq->{h}{host}, "127.0.0.1:$p2", 'Host is the address');
    ($rq, $r) = proxied($up2, "GET /varuri/x?y=2 HTTP/1.1\r\nHost: h\r\n\r\n",
        $OK);
    is($rq->{line}, 'GET /fixed?y=2 HTTP/1.0',
        'with variables the URI part is the whole URI');

    my $off = $t->log_size;
    my $c = WmHttpClient->new($port);
    $c->send("GET /var/c HTTP/1.1\r\nHost: h\r\nX-To: nosuch.invalid\r\n\r\n");
    $r = $c->read_response;
    is($r->{status}, 502, 'a name without an upstream block: 502');
    ok($t->wait_log(qr/\[error\].*no resolver defined to resolve nosuch\.invalid/,
        from => $off), 'logged');
};

subtest 'a refused connection is 502 with nginx\'s log line' => sub {
    my $off = $t->log_size;
    my $c = WmHttpClient->new($port);
    $c->send("GET /refused/r HTTP/1.1\r\nHost: h\r\n\r\n");
    my $r = $c->read_response;
    is($r->{status}, 502, '502');
    like($r->{body}, qr{<title>502 Bad Gateway</title>}, 'the 502 page');
    ok($t->wait_log(qr/\[error\].*connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, .*request: "GET \/refused\/r HTTP\/1\.1".*upstream: "http:\/\/127\.0\.0\.1:$dead\/refused\/r"/,
        from => $off), 'connect() failed ... while connecting to upstream');
};

subtest 'malformed responses: 502, the upstream connection closed' => sub {
    my @bad = (
        [ 'bad status line', "HTTP/1.1 2x0 OK\r\n\r\n" ],
        [ 'not HTTP', "hello there\r\n\r\n" ],
        [ 'two different Content-Length',
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok" ],
        [ 'Content-Length and Transfer-Encoding',
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" ],
        [ 'obs-fold', "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok" ],
        [ 'a header too big for proxy_buffer_size',
          "HTTP/1.1 200 OK\r\nX-Big: " . ('b' x 5000) . "\r\n\r\n" ],
    );
    for my $b (@bad) {
        my $off = $t->log_size;
        my $c = WmHttpClient->new($port);
        $c->send("GET /raw/bad HTTP/1.1\r\nHost: h\r\n\r\n");
        my $rq = $up1->accept_request;
        my $s = $rq->{s};
        syswrite($s, $b->[1]);
        my $r = $c->read_response;
        is($r->{status}, 502, "$b->[0]: 502");
        ok($t->wait_log(qr/\[error\].*upstream sent .*while reading response header from upstream/,
            from => $off), "$b->[0]: logged")
          or diag $t->log_since($off);
        # wmproxy closed its side: the mock reads EOF.
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        my $eof = select(my $x = $rin, undef, undef, 5)
          && !sysread($s, my $junk, 100);
        ok($eof, "$b->[0]: the upstream connection was closed");
        close $s;
    }
    my ($rq, $r) = proxied($up1, "GET /raw/after HTTP/1.1\r\nHost: h\r\n\r\n",
        $OK);
    is($r->{body}, 'ok', 'served normally afterwards');
    my $c = WmHttpClient->new($port);
    $c->send("GET /raw/chunks HTTP/1.1\r\nHost: h\r\n\r\n");
    $rq = $up1->accept_request;
    $up1->reply($rq, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "2\r\nok\r\nzz\r\n");
    $r = $c->read_response;
    is($r->{status}, 200, 'bad chunking after the head: the head was sent');
    ok($r->{error}, 'but the body is cut short (no last chunk)');
    ok($c->wait_eof, 'and the client connection is closed');
};

subtest '$upstream_* variables in error_page' => sub {
    my $c = WmHttpClient->new($port);
    $c->send("GET /bad/x HTTP/1.1\r\nHost: h\r\n\r\n");
    my $r = $c->read_response;
    is($r->{status}, 502, 'every server refused: 502');
    is($r->{body}, "addr=127.0.0.1:$dead, 127.0.0.1:$dead2 status=502, 502 "
          . "connect=-, - recv=0, 0 x=\n", 'both tries reported');
    my ($rq);
    ($rq, $r) = proxied($up2, "GET /icpt/x HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nX-Id: 42\r\nContent-Length: 4\r\n\r\nnope");
    is($r->{status}, 404, 'proxy_intercept_errors: the error_page answers');
    like($r->{body}, qr/^addr=127\.0\.0\.1:$p2 status=404 connect=0\.\d{3} recv=55 x=42$/,
        'with the upstream\'s status, times, bytes and header');
    ($rq, $r) = proxied($up2, "GET /icpt/y HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope");
    is($r->{status}, 403, 'a status without error_page passes as is');
    is($r->{body}, 'nope', 'with its body');
};

$t->done;
