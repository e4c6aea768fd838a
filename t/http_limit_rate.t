#!/usr/bin/perl
# limit_rate and limit_rate_after: a 512 KiB file at 256k takes about two
# seconds (only a generous lower bound is asserted), its bytes intact;
# limit_rate_after lets the first bytes go at once and throttles the
# rest; `set $limit_rate` overrides the directive (0: no limit), and a bad
# value is logged; each response of a keep-alive connection gets its own
# allowance; a proxied response is throttled too; a throttled response
# does not hold up other clients; a HEAD is not slowed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use Test::More;
use Time::HiRes qw(time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($port, $up) = ($t->port, $t->port);

my $big = join '', map { chr(($_ * 7 + ($_ >> 9)) & 255) } 0 .. 512 * 1024 - 1;
$t->write_file('html/big.bin', $big);
$t->write_file('html/small.bin', substr($big, 0, 104 * 1024));
$t->write_file('html/quick.txt', "quick\n");

$t->write_conf(<<"EOF");
events { }
http {
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$up;
        root $P/html;
    }
    server {
        listen 127.0.0.1:$port;
        root $P/html;
        location /slow/ { alias $P/html/; limit_rate 256k; }
        location /after/ {
            alias $P/html/;
            limit_rate 2k;
            limit_rate_after 100k;
        }
        location /var/ {
            alias $P/html/;
            limit_rate 1k;
            set \$limit_rate 128k;
        }
        location /var0/ {
            alias $P/html/;
            limit_rate 1k;
            set \$limit_rate 0;
        }
        location /bad/ {
            alias $P/html/;
            limit_rate 128k;
            set \$limit_rate fast;
        }
        location /ifrate/ {
            alias $P/html/;
            if (\$arg_slow) { limit_rate 128k; }
        }
        location /show { limit_rate 64k; return 200 "rate=\$limit_rate\n"; }
        location /showset {
            limit_rate 64k;
            set \$limit_rate 3k;
            return 200 "rate=\$limit_rate\n";
        }
        location /shownone { return 200 "rate=\$limit_rate\n"; }
        location /proxy/ { limit_rate 256k; proxy_pass http://127.0.0.1:$up/; }
    }
}
EOF
$t->start(ports => [$port]) or do { $t->done; exit };

# Fetches a URI on a new connection: (response, seconds it took).
sub timed {
    my ($uri, $method) = @_;
    $method //= 'GET';
    my $t0 = time;
    my $c  = WmHttpClient->new($port) or return ({ error => "connect: $!" }, 0);
    $c->send("$method $uri HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my $r = $c->read_response(timeout => 60, head => $method eq 'HEAD');
    return ($r, time - $t0);
}

my ($r, $secs) = timed('/slow/big.bin');
is($r->{status}, 200, 'limit_rate 256k: 200');
is(length($r->{body}), length($big), 'limit_rate 256k: every byte');
is(md5_hex($r->{body}), md5_hex($big), 'limit_rate 256k: the right bytes');
cmp_ok($secs, '>', 1.2, "limit_rate 256k: 512 KiB took more than 1.2 s ($secs)");

# Without limit_rate the same file is not throttled: the control for the
# bound above (a generous bound: 512 KiB at 256k would take 2 s).
($r, $secs) = timed('/big.bin');
is(md5_hex($r->{body}), md5_hex($big), 'no limit: the right bytes');

# limit_rate_after 100k at 2k: the first 100 KiB come at once (at 2k they
# would take 50 s; the read gives up after 25), the last 4 KiB slowly.
{
    my $c = WmHttpClient->new($port);
    my $t0 = time;
    $c->send("GET /after/small.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my $deadline = time + 25;
    my $head_end;
    while (time < $deadline) {
        $head_end //= do { my $i = index($c->{buf}, "\r\n\r\n"); $i < 0 ? undef : $i + 4 };
        last if defined $head_end && length($c->{buf}) - $head_end >= 100 * 1024;
        $c->fill($deadline) or last;
    }
    ok(defined $head_end && length($c->{buf}) - $head_end >= 100 * 1024,
        'limit_rate_after 100k: the first 100 KiB arrive before the limit applies');
    my $t1 = time;
    $c->wait_eof(60);
    my $body = substr($c->{buf}, $head_end // 0);
    is(md5_hex($body), md5_hex(substr($big, 0, 104 * 1024)),
        'limit_rate_after: every byte, the right ones');
    my $rest = time - $t1;
    cmp_ok($rest, '>', 1.2, "limit_rate_after: the last 4 KiB at 2k took more than 1.2 s ($rest)");
}

# set $limit_rate overrides limit_rate 1k.
($r, $secs) = timed('/var/small.bin');
is(md5_hex($r->{body}), md5_hex(substr($big, 0, 104 * 1024)),
    'set $limit_rate 128k: the right bytes');
cmp_ok($secs, '>', 0.5, "set \$limit_rate 128k: 104 KiB took more than 0.5 s ($secs)");
($r, $secs) = timed('/var0/small.bin');
is(md5_hex($r->{body}), md5_hex(substr($big, 0, 104 * 1024)),
    'set $limit_rate 0: the whole file (at 1k it would take 104 s)');

# A bad $limit_rate: logged, the location's limit_rate used.
($r, $secs) = timed('/bad/small.bin');
is(length($r->{body}), 104 * 1024, 'a bad $limit_rate: the whole body');
cmp_ok($secs, '>', 0.5, "a bad \$limit_rate: limit_rate 128k applies ($secs)");
ok($t->wait_log(qr/\[error\] .*invalid \$limit_rate "fast", limit_rate 131072 used.*request: "GET \/bad\/small.bin/),
    'a bad $limit_rate is logged');

# limit_rate in an if block.
($r, $secs) = timed('/ifrate/small.bin?slow=1');
is(length($r->{body}), 104 * 1024, 'limit_rate in if: the whole body');
cmp_ok($secs, '>', 0.5, "limit_rate in if: throttled ($secs)");

# A proxied response is throttled as well.
($r, $secs) = timed('/proxy/big.bin');
is(md5_hex($r->{body}), md5_hex($big), 'proxied at 256k: the right bytes');
cmp_ok($secs, '>', 1.2, "proxied at 256k: took more than 1.2 s ($secs)");

# $limit_rate reads the rate in bytes per second.
is((timed('/show'))[0]{body}, "rate=65536\n", '$limit_rate: limit_rate 64k');
is((timed('/showset'))[0]{body}, "rate=3072\n", '$limit_rate: after set 3k');
is((timed('/shownone'))[0]{body}, "rate=0\n", '$limit_rate: no limit');

# HEAD: only a head, not delayed into the body's allowance.
($r, $secs) = timed('/slow/big.bin', 'HEAD');
is($r->{status}, 200, 'HEAD of a throttled file: 200');
is($r->{h}{'content-length'}, length($big), 'HEAD: Content-Length');

# Keep-alive: each response has its own limit_rate_after.
{
    my $c = WmHttpClient->new($port);
    for my $n (1, 2) {
        $c->send("GET /after/quick.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        my $k = $c->read_response(timeout => 20);
        is($k->{body}, "quick\n", "keep-alive response $n: within limit_rate_after");
    }
}

# While a client is throttled, others are served.
{
    my $slow = WmHttpClient->new($port);
    $slow->send("GET /slow/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my ($q) = timed('/quick.txt');
    is($q->{body}, "quick\n", 'another client is served during a throttled response');
    my $s = $slow->read_response(timeout => 60);
    is(md5_hex($s->{body} // ''), md5_hex($big), 'the throttled response completes');
}

# Bad values are refused by -t.
my $base = "events { }\nhttp {\n";
$t->conf_rejected("${base}limit_rate fast;\n}\n", 6,
    qr/"limit_rate" directive/, 'limit_rate fast');
$t->conf_rejected("${base}limit_rate_after -1;\n}\n", 6,
    qr/"limit_rate_after" directive/, 'limit_rate_after -1');

$t->done;
