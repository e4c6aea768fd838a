#!/usr/bin/perl
# Persistent connections: several requests on one connection, pipelining
# (responses in order), HTTP/1.0 with and without keep-alive, Connection:
# close, keepalive_requests, keepalive_timeout, and request bodies that
# nobody reads (with Content-Length or chunked) being discarded so that the
# next request on the connection is served, many connections at once,
# clients that reset, and a graceful stop with a response under way.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 180);
my $P = $t->prefix;
my ($port, $p_req3, $p_idle1, $p_off, $p_time) = map { $t->port } 1 .. 5;

$t->write_file("html/f$_.txt", "file $_\n") for 1 .. 100;
$t->write_file('html/a.txt', "file a\n");
$t->write_file('html/big.txt', 'B' x 300_000);
$t->write_file('html/dir/index.html', "dir index\n");
$t->write_file('html/huge.bin', 'h' x (24 * 1024 * 1024));

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types { text/plain txt; text/html html; }
    default_type text/plain;
    root $P/html;

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        location = /ret { return 200 "ret\\n"; }
    }
    server {
        listen 127.0.0.1:$p_req3;
        keepalive_requests 3;
    }
    server {
        listen 127.0.0.1:$p_idle1;
        keepalive_timeout 1;
    }
    server {
        listen 127.0.0.1:$p_off;
        keepalive_timeout 0;
    }
    server {
        listen 127.0.0.1:$p_time;
        keepalive_time 1s;
    }
}
EOF

$t->start(workers => 1, ports => [ $port, $p_req3, $p_idle1, $p_off, $p_time ])
  or do { $t->done; exit };

# ---- helpers ----------------------------------------------------------------

my $H = "Host: localhost\r\n";

sub get_req { "GET $_[0] HTTP/1.1\r\n$H" . ($_[1] // '') . "\r\n" }

# Reads one response and checks its status line, Connection header and
# body.
sub expect {
    my ($c, $name, $line, $conn, $body, %o) = @_;
    my $r = $c->read_response(%o);
    if ($r->{error}) {
        fail("$name: $r->{error}");
        return $r;
    }
    my $ok = $r->{line} eq $line
      && (!defined $conn || ($r->{h}{connection} // '') eq $conn)
      && (!defined $body || $r->{body} eq $body);
    ok($ok, $name)
      or diag("got: $r->{line}, Connection: "
          . ($r->{h}{connection} // '<none>') . ", body: \"$r->{body}\"");
    return $r;
}

sub closed_ok {
    my ($c, $name) = @_;
    ok($c->wait_eof(5) && $c->{buf} eq '', $name)
      or diag("after: \"$c->{buf}\"");
}

sub open_ok {
    my ($c, $name) = @_;
    # Open: one more request on it is answered.
    $c->send(get_req('/a.txt'));
    expect($c, $name, 'HTTP/1.1 200 OK', 'keep-alive', "file a\n");
}

# ---- one connection, many requests ------------------------------------------

{
    my $c = WmHttpClient->new($port);
    for my $i (1 .. 5) {
        $c->send(get_req("/f$i.txt"));
        expect($c, "keep-alive request $i", 'HTTP/1.1 200 OK', 'keep-alive',
            "file $i\n");
    }
    $c->send("HEAD /f6.txt HTTP/1.1\r\n$H\r\n");
    my $r = expect($c, 'HEAD on the connection', 'HTTP/1.1 200 OK',
        'keep-alive', '', head => 1);
    is($r->{h}{'content-length'}, 7, 'HEAD: Content-Length of the file');
    $c->send(get_req('/f7.txt', "If-None-Match: *\r\n"));
    expect($c, '304 on the connection', 'HTTP/1.1 304 Not Modified',
        'keep-alive', '');
    $c->send(get_req('/nope.txt'));
    expect($c, '404 on the connection', 'HTTP/1.1 404 Not Found',
        'keep-alive');
    $c->send(get_req('/dir'));
    expect($c, '301 on the connection', 'HTTP/1.1 301 Moved Permanently',
        'keep-alive');
    $c->send(get_req('/ret'));
    expect($c, 'return on the connection', 'HTTP/1.1 200 OK', 'keep-alive',
        "ret\n");
    $c->send("GET /f8.txt HT");
    sleep 0.2;
    $c->send("TP/1.1\r\nHo");
    sleep 0.2;
    $c->send("st: localhost\r\n\r\n");
    expect($c, 'a head in three pieces on the connection', 'HTTP/1.1 200 OK',
        'keep-alive', "file 8\n");
    $c->send(get_req('/big.txt'));
    $r = expect($c, 'a 300 KB file on the connection', 'HTTP/1.1 200 OK',
        'keep-alive');
    is(length $r->{body}, 300_000, 'the 300 KB file is complete');
    open_ok($c, 'the connection is still open after 12 requests');
}

# ---- pipelining -------------------------------------------------------------

{
    my $c = WmHttpClient->new($port);
    my @want;
    my $burst = '';
    for my $i (1 .. 10) {
        if ($i == 4) {
            $burst .= "HEAD /f4.txt HTTP/1.1\r\n$H\r\n";
            push @want, [ 'HTTP/1.1 200 OK', '', 1 ];
        } elsif ($i == 6) {
            $burst .= get_req('/missing.txt');
            push @want, [ 'HTTP/1.1 404 Not Found', undef ];
        } elsif ($i == 8) {
            $burst .= get_req('/f8.txt', "Range: bytes=5-5\r\n");
            push @want, [ 'HTTP/1.1 206 Partial Content', '8' ];
        } else {
            $burst .= get_req("/f$i.txt");
            push @want, [ 'HTTP/1.1 200 OK', "file $i\n" ];
        }
    }
    $c->send($burst);
    for my $i (1 .. 10) {
        my ($line, $body, $head) = @{ $want[ $i - 1 ] };
        expect($c, "pipelined response $i of 10 in order", $line,
            'keep-alive', $body, head => $head);
    }
    open_ok($c, 'the connection is open after the pipeline');

    # 100 requests in one write.
    $c = WmHttpClient->new($port);
    $c->send(join '', map { get_req("/f$_.txt") } 1 .. 100);
    my $n = 0;
    for my $i (1 .. 100) {
        my $r = $c->read_response;
        last if $r->{error};
        $n++ if $r->{line} eq 'HTTP/1.1 200 OK' && $r->{body} eq "file $i\n";
    }
    is($n, 100, '100 pipelined requests: 100 responses in order');

    # Big responses, pipelined, read only once all requests are sent.
    $c = WmHttpClient->new($port);
    $c->send(join '', map { get_req('/big.txt') } 1 .. 30);
    $n = 0;
    for my $i (1 .. 30) {
        my $r = $c->read_response;
        last if $r->{error};
        $n++ if $r->{line} eq 'HTTP/1.1 200 OK'
          && $r->{body} eq 'B' x 300_000;
    }
    is($n, 30, '30 pipelined requests for 300 KB: 30 complete responses');

    # The next request arrives while a big response is still being
    # written (the client does not read yet).
    $c = WmHttpClient->new($port);
    $c->send(get_req('/big.txt'));
    sleep 0.3;
    $c->send(get_req('/f1.txt'));
    sleep 0.3;
    my $r = expect($c, 'a request sent during a big response: the big one',
        'HTTP/1.1 200 OK', 'keep-alive');
    is(length $r->{body}, 300_000, 'the big response is complete');
    expect($c, 'a request sent during a big response: then it',
        'HTTP/1.1 200 OK', 'keep-alive', "file 1\n");

    # A burst of exactly 16384 bytes of requests (one full read).
    $c = WmHttpClient->new($port);
    my $one = get_req('/f1.txt', "X-Pad: ");
    my $burst16k = '';
    my $count = 0;
    while (length($burst16k) + length($one) + 2 + 100 <= 16384) {
        $burst16k .= get_req('/f1.txt', "X-Pad: " . ('p' x 98) . "\r\n");
        $count++;
    }
    my $last = get_req('/f2.txt', "X-Pad: ");
    my $pad = 16384 - length($burst16k) - length($last) - 2;
    $burst16k .= get_req('/f2.txt', "X-Pad: " . ('q' x $pad) . "\r\n");
    is(length $burst16k, 16384, 'the burst is 16384 bytes');
    $c->send($burst16k);
    $n = 0;
    for my $i (1 .. $count + 1) {
        my $r = $c->read_response;
        last if $r->{error};
        $n++ if $r->{line} eq 'HTTP/1.1 200 OK'
          && $r->{body} eq ($i <= $count ? "file 1\n" : "file 2\n");
    }
    is($n, $count + 1, "a 16384-byte burst of @{[ $count + 1 ]} requests: "
          . 'all answered in order');
    open_ok($c, 'the connection is open after the 16384-byte burst');

    # A pipeline ending with Connection: close: the rest is not answered.
    $c = WmHttpClient->new($port);
    $c->send(get_req('/f1.txt') . get_req('/f2.txt', "Connection: close\r\n")
          . get_req('/f3.txt'));
    expect($c, 'pipeline: first', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 1\n");
    expect($c, 'pipeline: the one with Connection: close',
        'HTTP/1.1 200 OK', 'close', "file 2\n");
    closed_ok($c, 'pipeline: closed after Connection: close, the third '
          . 'request is not answered');
}

# ---- versions and Connection ------------------------------------------------

{
    my $c = WmHttpClient->new($port);
    $c->send("GET /a.txt HTTP/1.0\r\n\r\n");
    expect($c, 'HTTP/1.0: Connection: close', 'HTTP/1.1 200 OK', 'close',
        "file a\n");
    closed_ok($c, 'HTTP/1.0 without keep-alive: the connection is closed');

    $c = WmHttpClient->new($port);
    $c->send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect($c, 'HTTP/1.0 with Connection: keep-alive', 'HTTP/1.1 200 OK',
        'keep-alive', "file a\n");
    $c->send("GET /f1.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    expect($c, 'HTTP/1.0 keep-alive: a second request', 'HTTP/1.1 200 OK',
        'keep-alive', "file 1\n");
    $c->send("GET /f2.txt HTTP/1.0\r\n\r\n");
    expect($c, 'HTTP/1.0: a third request without keep-alive',
        'HTTP/1.1 200 OK', 'close', "file 2\n");
    closed_ok($c, 'HTTP/1.0: closed after the request without keep-alive');

    $c = WmHttpClient->new($port);
    $c->send("GET /ret HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect($c, 'HTTP/1.0 keep-alive: a return', 'HTTP/1.1 200 OK',
        'keep-alive', "ret\n");
    open_ok($c, 'HTTP/1.0 keep-alive: still open');

    for my $v ('close', 'Close', 'keep-alive, close', 'foo, close, bar') {
        $c = WmHttpClient->new($port);
        $c->send(get_req('/a.txt', "Connection: $v\r\n"));
        expect($c, "Connection: $v", 'HTTP/1.1 200 OK', 'close', "file a\n");
        closed_ok($c, "Connection: $v: the connection is closed");
    }

    $c = WmHttpClient->new($port);
    $c->send(get_req('/a.txt', "Connection: upgrade, foo\r\n"));
    expect($c, 'Connection: other tokens: keep-alive', 'HTTP/1.1 200 OK',
        'keep-alive', "file a\n");
}

# ---- keepalive_requests, keepalive_timeout ----------------------------------

{
    my $c = WmHttpClient->new($p_req3);
    for my $i (1 .. 3) {
        $c->send(get_req("/f$i.txt"));
        expect($c, "keepalive_requests 3: response $i", 'HTTP/1.1 200 OK',
            $i < 3 ? 'keep-alive' : 'close', "file $i\n");
    }
    closed_ok($c, 'keepalive_requests 3: closed after the third');

    $c = WmHttpClient->new($p_req3);
    $c->send(join '', map { get_req("/f$_.txt") } 1 .. 5);
    expect($c, "keepalive_requests 3, pipelined: response $_",
        'HTTP/1.1 200 OK', $_ < 3 ? 'keep-alive' : 'close', "file $_\n")
      for 1 .. 3;
    closed_ok($c, 'keepalive_requests 3, pipelined: 3 answers, then closed');

    $c = WmHttpClient->new($p_idle1);
    $c->send(get_req('/a.txt'));
    expect($c, 'keepalive_timeout 1: keep-alive', 'HTTP/1.1 200 OK',
        'keep-alive', "file a\n");
    closed_ok($c, 'keepalive_timeout 1: the idle connection is closed');

    # Connect early in a second, so that 1.5 s later is one whole second
    # further: the elapsed time must not be rounded to seconds.
    sleep 0.05 while time - int(time) > 0.2;
    $c = WmHttpClient->new($p_time);
    $c->send(get_req('/a.txt'));
    expect($c, 'keepalive_time 1s: a first request', 'HTTP/1.1 200 OK',
        'keep-alive', "file a\n");
    sleep 1.5;
    $c->send(get_req('/f1.txt'));
    expect($c, 'keepalive_time 1s: a request after 1.5 s ends the '
          . 'connection', 'HTTP/1.1 200 OK', 'close', "file 1\n");
    closed_ok($c, 'keepalive_time 1s: closed');

    $c = WmHttpClient->new($p_off);
    $c->send(get_req('/a.txt'));
    expect($c, 'keepalive_timeout 0: Connection: close', 'HTTP/1.1 200 OK',
        'close', "file a\n");
    closed_ok($c, 'keepalive_timeout 0: closed after the response');
}

# ---- request bodies nobody reads --------------------------------------------

{
    my $c = WmHttpClient->new($port);
    $c->send(get_req('/f1.txt', "Content-Length: 10\r\n") . '0123456789'
          . get_req('/f2.txt'));
    expect($c, 'GET with a body: answered', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 1\n");
    expect($c, 'GET with a body: the body is discarded, the next request '
          . 'is served', 'HTTP/1.1 200 OK', 'keep-alive', "file 2\n");

    # The body arrives after the response.
    $c->send(get_req('/f3.txt', "Content-Length: 5\r\n"));
    expect($c, 'a body sent late: the response comes first',
        'HTTP/1.1 200 OK', 'keep-alive', "file 3\n");
    sleep 0.2;
    $c->send('ab');
    sleep 0.2;
    $c->send('cde' . get_req('/f4.txt'));
    expect($c, 'a body sent late in pieces is discarded', 'HTTP/1.1 200 OK',
        'keep-alive', "file 4\n");

    # A big body.
    $c->send(get_req('/f5.txt', "Content-Length: 500000\r\n")
          . ('x' x 500_000) . get_req('/f6.txt'));
    expect($c, 'a 500 KB body: answered', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 5\n");
    expect($c, 'a 500 KB body is discarded', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 6\n");

    # Chunked, with an extension and a trailer.
    $c->send(get_req('/f7.txt', "Transfer-Encoding: chunked\r\n")
          . "5;ext=1\r\nhello\r\n1a\r\n" . ('z' x 26) . "\r\n0\r\n"
          . "X-Trailer: t\r\n\r\n" . get_req('/f8.txt'));
    expect($c, 'a chunked body: answered', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 7\n");
    expect($c, 'a chunked body is discarded', 'HTTP/1.1 200 OK',
        'keep-alive', "file 8\n");

    # Chunked, in pieces after the response.
    $c->send(get_req('/f9.txt', "Transfer-Encoding: chunked\r\n") . "3\r\n");
    expect($c, 'a chunked body sent late: the response first',
        'HTTP/1.1 200 OK', 'keep-alive', "file 9\n");
    sleep 0.2;
    $c->send("abc\r");
    sleep 0.2;
    $c->send("\n0\r\n\r\n" . get_req('/f10.txt'));
    expect($c, 'a chunked body sent late in pieces is discarded',
        'HTTP/1.1 200 OK', 'keep-alive', "file 10\n");
    open_ok($c, 'the connection is still open after the bodies');

    # A broken chunked body after the response: the connection closes,
    # since the next request cannot be found.
    $c = WmHttpClient->new($port);
    $c->send(get_req('/f1.txt', "Transfer-Encoding: chunked\r\n"));
    expect($c, 'a chunked body to come: the response', 'HTTP/1.1 200 OK',
        'keep-alive', "file 1\n");
    $c->send("zz\r\nhello\r\n0\r\n\r\n" . get_req('/f2.txt'));
    closed_ok($c, 'then a bad chunk size: the connection is closed, the '
          . 'next request is not answered');

    # The body arrives while a big response is still being written.
    $c = WmHttpClient->new($port);
    $c->send(get_req('/big.txt', "Content-Length: 5\r\n"));
    sleep 0.3;
    $c->send('vwxyz' . get_req('/f5.txt'));
    sleep 0.3;
    my $r = expect($c, 'a body sent during a big response: the response',
        'HTTP/1.1 200 OK', 'keep-alive');
    is(length $r->{body}, 300_000, 'a body sent during a big response: '
          . 'the response is complete');
    expect($c, 'a body sent during a big response is discarded, the next '
          . 'request served', 'HTTP/1.1 200 OK', 'keep-alive', "file 5\n");

    # Expect: 100-continue and a body nobody reads: nginx says 100 Continue
    # (the client then sends the body) before the response.
    $c = WmHttpClient->new($port);
    $c->send(get_req('/f3.txt', "Expect: 100-continue\r\n"
          . "Content-Length: 5\r\n"));
    $r = $c->read_response;
    is($r->{line} // $r->{error}, 'HTTP/1.1 100 Continue',
        'Expect: 100-continue with a body: HTTP/1.1 100 Continue first');
    if (($r->{status} // 0) == 100) {
        expect($c, 'Expect: 100-continue: then the response',
            'HTTP/1.1 200 OK', 'keep-alive', "file 3\n");
    } else {
        ok($r->{line} eq 'HTTP/1.1 200 OK' && $r->{body} eq "file 3\n",
            'Expect: 100-continue: the response');
    }
    $c->send('abcde' . get_req('/f4.txt'));
    expect($c, 'Expect: 100-continue: the body is discarded, the next '
          . 'request is served', 'HTTP/1.1 200 OK', 'keep-alive',
        "file 4\n");

    # A body on a request that gets an error is discarded too (nginx keeps
    # the connection).
    $c = WmHttpClient->new($port);
    $c->send(get_req('/nope.txt', "Content-Length: 5\r\n") . 'abcde'
          . get_req('/f1.txt'));
    expect($c, 'a 404 with a body: keep-alive (nginx)',
        'HTTP/1.1 404 Not Found', 'keep-alive');
    expect($c, 'a 404 with a body: the next request is served',
        'HTTP/1.1 200 OK', 'keep-alive', "file 1\n");

    $c = WmHttpClient->new($port);
    $c->send("POST /a.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nabcde"
          . get_req('/f2.txt'));
    expect($c, 'POST with a body to a file: 405, keep-alive (nginx)',
        'HTTP/1.1 405 Not Allowed', 'keep-alive');
    expect($c, 'POST with a body to a file: the next request is served',
        'HTTP/1.1 200 OK', 'keep-alive', "file 2\n");
}

# ---- many connections at once ------------------------------------------------

{
    # 50 keep-alive connections, 10 rounds: each round sends one request
    # on every connection, then reads every answer.
    my @c = map { WmHttpClient->new($port) } 1 .. 50;
    my $good = 0;
    for my $round (1 .. 10) {
        for my $i (0 .. $#c) {
            my $f = ($round * 7 + $i) % 100 + 1;
            $c[$i]->send(get_req("/f$f.txt"));
        }
        for my $i (0 .. $#c) {
            my $f = ($round * 7 + $i) % 100 + 1;
            my $r = $c[$i]->read_response;
            $good++ if !$r->{error} && $r->{line} eq 'HTTP/1.1 200 OK'
              && $r->{body} eq "file $f\n"
              && $r->{h}{connection} eq 'keep-alive';
        }
    }
    is($good, 500, '50 connections x 10 requests: 500 right answers');

    # Clients that reset their connection in the middle of a response.
    for (1 .. 5) {
        my $c = WmHttpClient->new($port);
        $c->send(get_req('/big.txt'));
        $c->fill(time + 5);
        setsockopt($c->{s}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c->{s};
    }
    my $c = WmHttpClient->new($port);
    $c->send(get_req('/a.txt'));
    expect($c, 'still serving after 5 clients reset mid-response',
        'HTTP/1.1 200 OK', 'keep-alive', "file a\n");
}

# ---- a graceful stop ----------------------------------------------------------

{
    # SIGQUIT while a big response is under way and another connection is
    # idle: the response completes, the idle connection is closed, then
    # the processes exit.
    my $idle = WmHttpClient->new($port);
    $idle->send(get_req('/a.txt'));
    expect($idle, 'graceful stop: an idle keep-alive connection',
        'HTTP/1.1 200 OK', 'keep-alive', "file a\n");
    my $c = WmHttpClient->new($port);
    $c->send(get_req('/huge.bin'));
    $c->fill(time + 5) while length $c->{buf} < 100_000 && !$c->{eof};
    my @pids = ($t->master_pid, $t->workers);
    $t->signal('QUIT');
    ok($idle->wait_eof(5), 'graceful stop: the idle connection is closed');
    my $r = $c->read_response(timeout => 30);
    ok(!$r->{error} && length($r->{body}) == 24 * 1024 * 1024
          && $r->{body} eq 'h' x (24 * 1024 * 1024),
        'graceful stop: the response under way is complete')
      or diag($r->{error} // 'wrong body of ' . length($r->{body})
          . ' bytes');
    ok($c->wait_eof(5), 'graceful stop: then its connection is closed');
    ok($t->wait_gone(@pids, timeout => 10),
        'graceful stop: the master and the worker exit');
}

unlike($t->log_text, qr/\[(?:crit|alert|emerg)\]/,
    'no [crit], [alert] or [emerg] in the error log');

$t->done;
