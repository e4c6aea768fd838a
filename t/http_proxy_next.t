#!/usr/bin/perl
# Failover of the HTTP proxy (wmproxy.conf(5), HTTP PROXY MODULE):
# proxy_next_upstream with each condition (error, timeout, invalid_header,
# http_500/502/503/504/403/404/429, non_idempotent, off), _tries and
# _timeout, as seen by a client, in $upstream_addr/$upstream_status and by
# two mock upstreams (A first, B its backup); 502 when every server
# failed, 504 for proxy_read_timeout and proxy_connect_timeout with short
# timeouts (never before the timeout), with nginx's log lines.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 300);
my ($port, $dead, $dead2) = map { $t->port } 1 .. 3;
my $A = WmMockHttp->new;
my $B = WmMockHttp->new;
my ($pa, $pb) = ($A->port, $B->port);

# A server that never completes a connection: its accept queue is full.
my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1', Listen => 1)
  or die "listen: $!";
my $ph = $hole->sockport;
my @fill;
for (1 .. 8) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ph", Timeout => 0.5,
        Blocking => 1) or last;
    push @fill, $s;
}

my $loc = sub {
    my ($name, $extra) = @_;
    return "        location /$name/ { proxy_pass http://ab; $extra }\n";
};
my $locs = join '', map { $loc->(@$_) } (
    [ 'def', '' ],
    [ 'http', 'proxy_next_upstream error timeout invalid_header http_500 '
        . 'http_502 http_503 http_504 http_403 http_404 http_429;' ],
    [ 'off', 'proxy_next_upstream off;' ],
    [ 'nonidem', 'proxy_next_upstream error timeout non_idempotent;' ],
    [ 'tries1', 'proxy_next_upstream_tries 1;' ],
    [ 'rt', 'proxy_read_timeout 1s;' ],
    [ 'rterr', 'proxy_read_timeout 1s; proxy_next_upstream error;' ],
    [ 'nut', 'proxy_read_timeout 1s; proxy_next_upstream_timeout 1s;' ],
);

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    upstream ab { server 127.0.0.1:$pa max_fails=0; server 127.0.0.1:$pb backup; }
    upstream refused { server 127.0.0.1:$dead; server 127.0.0.1:$pb backup; }
    upstream allrefused { server 127.0.0.1:$dead; server 127.0.0.1:$dead2; }
    upstream hole { server 127.0.0.1:$ph; }

    server {
        listen 127.0.0.1:$port;
        add_header X-Up "\$upstream_addr|\$upstream_status" always;
$locs
        location /refused/ { proxy_pass http://refused; }
        location /allrefused/ { proxy_pass http://allrefused; }
        location /ct/ {
            proxy_pass http://hole;
            proxy_connect_timeout 1s;
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

my $OKB = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB";
my ($sa, $sb) = ("127.0.0.1:$pa", "127.0.0.1:$pb");

sub client {
    my $c = WmHttpClient->new($port) or die "connect: $!";
    $c->send($_[0]);
    return $c;
}

sub get { client("GET $_[0] HTTP/1.1\r\nHost: h\r\n\r\n") }
sub post {
    client("POST $_[0] HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
}

# A takes the request and answers $resp (or closes when undef).
sub a_answers {
    my ($resp) = @_;
    my $rq = $A->accept_request;
    return $rq if $rq->{error};
    if (defined $resp) {
        $A->reply($rq, $resp);
    } else {
        close $rq->{s};
    }
    return $rq;
}

# B gets the request (or not, within $wait seconds) and answers "B".
sub b_answers {
    my ($wait) = @_;
    my $rq = $B->accept_request(timeout => $wait // 10);
    $B->reply($rq, $OKB) unless $rq->{error};
    return $rq;
}

sub status_of { "$_[0]{status} $_[0]{h}{'x-up'}" }

for my $st (500, 502, 503, 504, 403, 404, 429) {
    subtest "http_$st" => sub {
        my $resp = "HTTP/1.1 $st X\r\nContent-Length: 1\r\n\r\nA";
        my $c = get("/http/$st");
        a_answers($resp);
        my $rq = b_answers();
        is($rq->{line}, "GET /http/$st HTTP/1.0", "listed: moved to B");
        my $r = $c->read_response;
        is(status_of($r), "200 $sa, $sb|$st, 200", 'B answers; both tries in the variables');
        is($r->{body}, 'B', 'with its body');

        $c = get("/def/$st");
        a_answers($resp);
        $r = $c->read_response;
        is(status_of($r), "$st $sa|$st", 'not listed (default): A\'s answer');
        is($r->{body}, 'A', 'with its body');
        ok(!b_answers(0.3)->{s}, 'B not asked');
    };
}

subtest 'error: a close before the response moves idempotent requests' => sub {
    my $off = $t->log_size;
    my $c = get('/def/e');
    a_answers(undef);
    is(b_answers()->{line}, 'GET /def/e HTTP/1.0', 'B asked');
    is(status_of($c->read_response), "200 $sa, $sb|502, 200", 'answered by B');
    ok($t->wait_log(qr/\[error\].*upstream prematurely closed connection while reading response header from upstream.*upstream: "http:\/\/$sa\/def\/e"/,
        from => $off), 'A\'s failure logged');

    $c = post('/def/p');
    my $rq = a_answers(undef);
    is($rq->{body}, 'abc', 'A got the POST');
    my $r = $c->read_response;
    is(status_of($r), "502 $sa|502", 'a POST is not sent twice: 502');
    ok(!b_answers(0.3)->{s}, 'B not asked');

    $c = post('/nonidem/p');
    a_answers(undef);
    $rq = b_answers();
    is($rq->{body}, 'abc', 'non_idempotent: B gets the POST with its body');
    is(status_of($c->read_response), "200 $sa, $sb|502, 200", 'answered by B');

    $c = post('/refused/p');
    is(b_answers()->{body}, 'abc',
        'a POST that never reached a server moves without non_idempotent');
    is(status_of($c->read_response), "200 127.0.0.1:$dead, $sb|502, 200",
        'refused first, then B');
};

subtest 'invalid_header' => sub {
    my $c = get('/http/ih');
    a_answers("HTTP/1.1 2x0 OK\r\n\r\n");
    is(b_answers()->{line}, 'GET /http/ih HTTP/1.0', 'listed: B asked');
    is(status_of($c->read_response), "200 $sa, $sb|502, 200", 'answered by B');
    $c = get('/def/ih');
    a_answers("HTTP/1.1 2x0 OK\r\n\r\n");
    is(status_of($c->read_response), "502 $sa|502", 'not listed: 502');
};

subtest 'off, _tries' => sub {
    my $c = get('/off/x');
    a_answers(undef);
    is(status_of($c->read_response), "502 $sa|502", 'off: 502 after A');
    ok(!b_answers(0.3)->{s}, 'B not asked');
    $c = get('/tries1/x');
    a_answers(undef);
    is(status_of($c->read_response), "502 $sa|502", 'tries 1: 502 after A');
    ok(!b_answers(0.3)->{s}, 'B not asked');
};

subtest 'every server refused: 502' => sub {
    my $off = $t->log_size;
    my $r = get('/allrefused/x')->read_response;
    is(status_of($r), "502 127.0.0.1:$dead, 127.0.0.1:$dead2|502, 502", '502, both tried');
    like($r->{body}, qr{<title>502 Bad Gateway</title>}, 'the 502 page');
    my $log = '';
    $t->wait_until(sub { ($log = $t->log_since($off)) =~ /$dead2/ });
    like($log, qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream.*upstream: "http:\/\/127\.0\.0\.1:$dead\/allrefused\/x"/,
        'the first refusal logged');
    like($log, qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream.*upstream: "http:\/\/127\.0\.0\.1:$dead2\/allrefused\/x"/,
        'the second too');
};

subtest 'proxy_read_timeout: 504 or the next server' => sub {
    my $off = $t->log_size;
    my $t0 = time;
    my $c = get('/rterr/x');
    my $rq = $A->accept_request;
    my $r = $c->read_response(timeout => 20);
    my $took = time - $t0;
    is(status_of($r), "504 $sa|504", 'A silent, timeout not listed: 504');
    like($r->{body}, qr{<title>504 Gateway Time-out</title>}, 'the 504 page');
    cmp_ok($took, '>=', 0.9, 'not before proxy_read_timeout (1s)');
    cmp_ok($took, '<', 15, 'and not much later');
    ok($t->wait_log(qr/\[error\].*upstream timed out \(110: Connection timed out\) while reading response header from upstream.*upstream: "http:\/\/$sa\/rterr\/x"/,
        from => $off), 'logged as nginx does');
    ok(IO::Select->new($rq->{s})->can_read(5) && !sysread($rq->{s}, my $x, 10),
        'the timed-out upstream connection was closed');
    close $rq->{s};

    $c = get('/rt/x');
    $rq = $A->accept_request;
    is(b_answers(20)->{line}, 'GET /rt/x HTTP/1.0', 'timeout listed: B asked');
    is(status_of($c->read_response), "200 $sa, $sb|504, 200", 'and answered');
    close $rq->{s};

    $c = get('/nut/x');
    $rq = $A->accept_request;
    $r = $c->read_response(timeout => 20);
    is(status_of($r), "504 $sa|504",
        'proxy_next_upstream_timeout 1s spent on A: 504, B not asked');
    ok(!b_answers(0.3)->{s}, 'B not asked');
    close $rq->{s};
};

subtest 'proxy_connect_timeout: 504' => sub {
  SKIP: {
        skip 'could not make a server that never accepts', 4 unless @fill;
        my $off = $t->log_size;
        my $t0 = time;
        my $r = get('/ct/x')->read_response(timeout => 20);
        my $took = time - $t0;
        is(status_of($r), "504 127.0.0.1:$ph|504", 'a connect that never completes: 504');
        cmp_ok($took, '>=', 0.9, 'not before proxy_connect_timeout (1s)');
        cmp_ok($took, '<', 15, 'and not much later');
        ok($t->wait_log(qr/\[error\].*upstream timed out \(110: Connection timed out\) while connecting to upstream/,
            from => $off), 'logged as nginx does');
    }
};

subtest 'still serving' => sub {
    my $c = get('/def/ok');
    my $rq = a_answers("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
    is(status_of($c->read_response), "200 $sa|200", 'A answers');
};

close $_ for @fill;
$t->done;
