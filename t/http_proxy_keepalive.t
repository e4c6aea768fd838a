#!/usr/bin/perl
# The upstream keepalive pool of the HTTP proxy (wmproxy.conf(5), HTTP
# UPSTREAM MODULE), counted on the upstream side: requests of different
# clients ride one upstream connection, keepalive_requests, keepalive_time
# and keepalive_timeout end it, `Connection: close` from the upstream and
# HTTP/1.0 keep it out of the pool, the pool keeps at most `keepalive N`;
# a pooled connection the upstream closed while idle is never used, and
# one it closes (or resets) when the next request arrives is retried once
# on a fresh connection with the same bytes, never twice.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 300);
my $port = $t->port;
my $up = WmMockHttp->new;
my $pk = $up->port;

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    upstream ka { server 127.0.0.1:$pk; keepalive 4; }
    upstream ka3 { server 127.0.0.1:$pk; keepalive 4; keepalive_requests 3; }
    upstream kat { server 127.0.0.1:$pk; keepalive 4; keepalive_timeout 1s; }
    upstream kalife { server 127.0.0.1:$pk; keepalive 4; keepalive_time 1s; }
    upstream ka1 { server 127.0.0.1:$pk; keepalive 1; }
    log_format up '\$request_uri \$status \$upstream_addr \$upstream_status';
    access_log logs/up.log up;

    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /ka/ { proxy_pass http://ka; }
        location /ka3/ { proxy_pass http://ka3; }
        location /kat/ { proxy_pass http://kat; }
        location /katr/ { proxy_pass http://kat; proxy_read_timeout 1s; }
        location /kalife/ { proxy_pass http://kalife; }
        location /ka1/ { proxy_pass http://ka1; }
        location /v10/ {
            proxy_pass http://ka;
            proxy_http_version 1.0;
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

my $OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

sub client {
    my ($req) = @_;
    my $c = WmHttpClient->new($port) or die "connect: $!";
    $c->send($req);
    return $c;
}

sub get { client("GET $_[0] HTTP/1.1\r\nHost: h\r\n\r\n") }

# True when $s reads EOF (or a reset) within $timeout seconds.
sub eof_on {
    my ($s, $timeout) = @_;
    return 0 unless IO::Select->new($s)->can_read($timeout // 5);
    my $n = sysread($s, my $buf, 4096);
    return !$n;
}

# True when nothing at all arrives on $s for $timeout seconds.
sub quiet {
    my ($s, $timeout) = @_;
    return !IO::Select->new($s)->can_read($timeout);
}

sub no_new_conn { !IO::Select->new($up->listener)->can_read($_[0] // 0.3) }

# One request on the known upstream connection $s, answered with keep.
sub on_conn {
    my ($s, $path, $resp) = @_;
    my $c = get($path);
    my $rq = WmMockHttp::read_request($s, timeout => 5);
    return ($rq, undef) if $rq->{error};
    $up->reply($rq, $resp // $OK, keep => 1);
    return ($rq, $c->read_response);
}

subtest 'requests of different clients reuse one upstream connection' => sub {
    my $c = get('/ka/1');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    is($rq->{raw}, "GET /ka/1 HTTP/1.1\r\nHost: ka\r\n\r\n",
        'HTTP/1.1, no Connection field (proxy_set_header Connection "")');
    $up->reply($rq, $OK, keep => 1);
    is($c->read_response->{body}, 'ok', 'first answer');
    for my $i (2 .. 6) {
        my ($rq, $r) = on_conn($s, "/ka/$i");
        is($rq->{line}, "GET /ka/$i HTTP/1.1",
            "request $i arrived on the same upstream connection");
        is($r && $r->{body}, 'ok', "answer $i");
    }
    ok(no_new_conn(), 'no other upstream connection was opened');
    is($up->accepted, 1, 'one connection accepted upstream for 6 requests');
    close $s;
};

subtest 'a connection closed by the upstream while idle is not used' => sub {
    my $c = get('/ka/a');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, $OK, keep => 1);
    is($c->read_response->{body}, 'ok', 'answered, connection pooled');
    my $off = $t->log_size;
    close $s;
    sleep 0.5;
    $c = get('/ka/b');
    my $s2 = $up->accept_conn(5);
    ok($s2, 'the next request opened a new connection');
    $rq = WmMockHttp::read_request($s2);
    is($rq->{line}, 'GET /ka/b HTTP/1.1', 'with the request');
    $up->reply($rq, $OK, keep => 1);
    is($c->read_response->{status}, 200, 'and the client got its answer');
    unlike($t->log_since($off), qr/\[(error|warn)\]/, 'nothing logged as error');
    close $s2;
};

# The upstream takes the next request on its pooled connection and closes
# (or resets) it without a word, as when its idle timer fired meanwhile.
for my $how ('close', 'reset') {
    subtest "a pooled connection the upstream ${how}s under a request" => sub {
        my $c = get("/ka/x$how");
        my $s = $up->accept_conn;
        my $rq = WmMockHttp::read_request($s);
        $up->reply($rq, $OK, keep => 1);
        $c->read_response;
        my $off = $t->log_size;

        my $body = "field=value&n=$how";
        my $req = "POST /ka/y$how HTTP/1.1\r\nHost: h\r\nContent-Length: "
          . length($body) . "\r\n\r\n$body";
        $c = client($req);
        $rq = WmMockHttp::read_request($s, timeout => 5);
        is($rq->{body}, $body, 'the request came on the pooled connection');
        my $first = $rq->{raw};
        setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
          if $how eq 'reset';
        close $s;
        my $s2 = $up->accept_conn(5);
        ok($s2, 'retried on a new connection');
        $rq = $s2 ? WmMockHttp::read_request($s2) : {};
        is($rq->{raw}, $first, 'with the same bytes, body included');
        $up->reply($rq, "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone",
            keep => 1) if $s2;
        my $r = $c->read_response;
        is("$r->{status} $r->{body}", '201 done', 'the client never saw the failure');
        ok($t->wait_log(qr{^/ka/y$how 201 127\.0\.0\.1:$pk 201$}m,
            file => 'logs/up.log'), 'one try in $upstream_addr');
        unlike($t->log_since($off), qr/\[(error|warn)\]/, 'nothing logged as error');
        close $s2 if $s2;
    };
}

subtest 'retried once only: a fresh connection that fails is a 502' => sub {
    my $c = get('/ka/p');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, $OK, keep => 1);
    $c->read_response;
    my $off = $t->log_size;
    $c = get('/ka/q');
    $rq = WmMockHttp::read_request($s, timeout => 5);
    is($rq->{line}, 'GET /ka/q HTTP/1.1', 'on the pooled connection');
    close $s;
    my $s2 = $up->accept_conn(5);
    $rq = WmMockHttp::read_request($s2);
    is($rq->{line}, 'GET /ka/q HTTP/1.1', 'again on a new one');
    close $s2;
    my $r = $c->read_response;
    is($r->{status}, 502, 'which closed too: 502');
    ok(no_new_conn(1), 'no third connection');
    ok($t->wait_log(qr/\[error\].*upstream prematurely closed connection while reading response header from upstream.*request: "GET \/ka\/q HTTP\/1\.1"/,
        from => $off), 'logged as nginx does');
};

subtest 'keepalive_requests: a connection carries at most N requests' => sub {
    my $c = get('/ka3/1');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, $OK, keep => 1);
    $c->read_response;
    for my $i (2, 3) {
        my ($rq, $r) = on_conn($s, "/ka3/$i");
        is($rq->{line}, "GET /ka3/$i HTTP/1.1", "request $i on the first connection");
    }
    ok(eof_on($s, 5), 'then wmproxy closed it');
    $c = get('/ka3/4');
    my $s2 = $up->accept_conn(5);
    ok($s2, 'request 4 on a new connection');
    $rq = WmMockHttp::read_request($s2);
    $up->reply($rq, $OK, keep => 1);
    is($c->read_response->{body}, 'ok', 'answered');
    close $s;
    close $s2;
};

# One request through uri on a new upstream connection, which wmproxy
# then closes after keepalive_timeout (1s) idle.
sub idle_closed {
    my ($uri) = @_;
    my $c = get($uri);
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, $OK, keep => 1);
    $c->read_response;
    my $t0 = time;
    ok(quiet($s, 0.5), 'kept open a while');
    ok(eof_on($s, 10), 'then closed by wmproxy');
    cmp_ok(time - $t0, '>=', 0.9, 'not before keepalive_timeout (1s)');
    cmp_ok(time - $t0, '<', 5, 'nor much after it');
    close $s;
}

subtest 'keepalive_timeout: an idle connection is closed' => sub {
    idle_closed('/kat/1');
};

subtest 'keepalive_timeout equal to proxy_read_timeout: closed too' => sub {
    # (the pool then keeps the read timer the response restarted)
    idle_closed('/katr/1');
};

subtest 'keepalive_time: an old connection is not put back' => sub {
    my $c = get('/kalife/1');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, $OK, keep => 1);
    $c->read_response;
    sleep 1.2;
    my ($rq2, $r) = on_conn($s, '/kalife/2');
    is($rq2->{line}, 'GET /kalife/2 HTTP/1.1', 'still used once it is old');
    ok(eof_on($s, 5), 'but closed after that response');
    close $s;
};

subtest 'Connection: close from the upstream and HTTP/1.0 keep it out' => sub {
    my $c = get('/ka/cc');
    my $s = $up->accept_conn;
    my $rq = WmMockHttp::read_request($s);
    $up->reply($rq, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        keep => 1);
    is($c->read_response->{body}, 'ok', 'answered');
    ok(eof_on($s, 5), 'wmproxy closed the connection');
    close $s;

    $c = get('/v10/x');
    $s = $up->accept_conn;
    $rq = WmMockHttp::read_request($s);
    is($rq->{raw}, "GET /v10/x HTTP/1.0\r\nHost: ka\r\n\r\n",
        'proxy_http_version 1.0 (Connection "" inherited)');
    $up->reply($rq, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", keep => 1);
    is($c->read_response->{body}, 'ok', 'answered');
    ok(eof_on($s, 5), 'and not pooled');
    close $s;

    $c = get('/ka/noframe');
    $s = $up->accept_conn;
    $rq = WmMockHttp::read_request($s);
    $up->reply($rq, "HTTP/1.1 200 OK\r\n\r\nuntil close");
    is($c->read_response->{body}, 'until close', 'a body to the close');
    $c = get('/ka/after');
    my $s2 = $up->accept_conn(5);
    ok($s2, 'a new connection for the next request');
    $rq = WmMockHttp::read_request($s2);
    $up->reply($rq, $OK);
    is($c->read_response->{body}, 'ok', 'answered');
};

subtest 'keepalive N: concurrent connections, at most N kept' => sub {
    my @c = (get('/ka1/a'), get('/ka1/b'));
    my @s = ($up->accept_conn, $up->accept_conn);
    ok($s[0] && $s[1], 'two requests at once: two connections');
    my @rq = map { WmMockHttp::read_request($_) } @s;
    $up->reply($_, $OK, keep => 1) for @rq;
    is($_->read_response->{body}, 'ok', 'answered') for @c;
    my $closed = grep { eof_on($_, 3) } @s;
    is($closed, 1, 'keepalive 1: one of them closed, one kept');
    my ($kept) = grep { quiet($_, 0) } @s;
    my ($rq, $r) = on_conn($kept, '/ka1/c');
    is($rq->{line}, 'GET /ka1/c HTTP/1.1', 'the kept one carries the next request');
    close $_ for @s;
};

$t->done;
