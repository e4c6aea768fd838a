#!/usr/bin/perl
# gzip, brotli and zstd of proxied responses: upstream bodies framed by
# Content-Length and chunked (a big one too) come out compressed and the
# coding's own tool gives back the exact bytes; gzip_proxied with every
# value (off by default, any, expired, no-cache, no-store, private,
# no_last_modified, no_etag, auth) judged against the upstream's Expires,
# Cache-Control, Last-Modified and ETag for requests that carry Via; a
# strong upstream ETag made weak; a body the upstream already coded passed
# as is. Needs the gzip, brotli and zstd programs.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More;
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t    = WmTest->new(timeout => 240);
my $P    = $t->prefix;
my $port = $t->port;

my $features = do {
    my $r = $t->run('-V');
    ($r->{stdout} . $r->{stderr}) =~ /^features:(.*)$/m ? " $1 " : ' ';
};
my %built = map { $_ => ($features =~ / \Q$_\E /) ? 1 : 0 }
  qw(gzip brotli zstd);
my %tool = (gzip => 'gzip', br => 'brotli', zstd => 'zstd');

# Text that compresses, the same on every run.
sub text {
    my $len  = shift;
    my @w    = qw(alpha beta gamma delta proxy static upstream location);
    my $seed = 77;
    my $s    = '';
    while (length $s < $len) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= $w[ $seed % @w ] . ($seed % 7 == 0 ? " $seed\n" : ' ');
    }
    return substr($s, 0, $len);
}
my $SMALL = text(20_000);
my $BIG   = text(3 * 1024 * 1024 + 17);

# The upstream: /LOCATION/CASE[-chunked][-big]; CASE names the headers.
my %case = (
    plain   => '',
    past    => "Expires: Thu, 01 Dec 1994 16:00:00 GMT\r\n",
    future  => "Expires: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
    cc      => "Cache-Control: max-age=60\r\n",
    nocache => "Cache-Control: public, no-cache\r\n",
    nostore => "Cache-Control: no-store\r\n",
    private => "Cache-Control: private, max-age=0\r\n",
    lm      => "Last-Modified: Thu, 01 Dec 1994 16:00:00 GMT\r\n",
    etag    => "ETag: \"e1\"\r\n",
    weak    => "ETag: W/\"e2\"\r\n",
);
my $up = WmMockHttp->new;
$up->serve(sub {
    my $s  = shift;
    my $rq = WmMockHttp::read_request($s);
    my ($case) = ($rq->{line} // '') =~ m{^\w+ /[^/]+/([^ ]+) };
    $case //= 'plain';
    my $body = $case =~ s/-big//r ne $case ? $BIG : $SMALL;
    my $chunked = $case =~ /-chunked/;
    $case =~ s/-.*//;
    my $h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      . ($case{$case} // '');
    if ($case eq 'coded') {
        $h .= "Content-Encoding: gzip\r\n";
        $body = "not really gzip";
    }
    my $out;
    if ($chunked) {
        $out = "${h}Transfer-Encoding: chunked\r\n\r\n";
        for (my $i = 0; $i < length $body; $i += 10_007) {
            my $c = substr($body, $i, 10_007);
            $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
        }
        $out .= "0\r\n\r\n";
    } else {
        $out = "${h}Content-Length: " . length($body) . "\r\n\r\n$body";
    }
    print $s $out;
    close $s;
});
my $pu = $up->port;

my $on = join ' ', map { $built{$_} ? "$_ on; ${_}_types text/plain;" : '' }
  qw(gzip brotli zstd);
my $locs = join '', map {
    "        location /$_/ { proxy_pass http://127.0.0.1:$pu;"
      . " gzip_proxied $_; }\n"
} qw(off any expired no-cache no-store private no_last_modified no_etag auth);

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    gzip_vary on;
    $on
    server {
        listen 127.0.0.1:$port;
        location /default/ { proxy_pass http://127.0.0.1:$pu; }
        location /both/ {
            proxy_pass http://127.0.0.1:$pu;
            gzip_proxied no-cache private;
        }
$locs    }
}
EOF
$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

# GET path with headers (ae => Accept-Encoding).
sub get {
    my ($path, %h) = @_;
    my $ae  = delete $h{ae} // 'gzip';
    my $raw = "GET $path HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
      . "Accept-Encoding: $ae\r\n";
    $raw .= "$_: $h{$_}\r\n" for sort keys %h;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send("$raw\r\n");
    return $c->read_response;
}

my $n = 0;
sub decode {
    my ($coding, $body) = @_;
    return $body if !defined $coding;
    my $prog = $tool{$coding} or return undef;
    my $f    = "$P/body." . $n++;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $body;
    close $fh;
    my $out = `$prog -d -c < '$f' 2>/dev/null`;
    return $? == 0 ? $out : undef;
}

# The response has coding (undef: none) and decodes to want.
sub is_coded {
    my ($r, $coding, $want, $name) = @_;
    if ($r->{error} || !defined $r->{status}) {
        fail("$name: " . ($r->{error} // 'no response'));
        return;
    }
    is($r->{status} . ' ' . ($r->{h}{'content-encoding'} // 'identity'),
        '200 ' . ($coding // 'identity'), "$name: coding");
    if (defined $coding) {
        ok(!exists $r->{h}{'content-length'}, "$name: no Content-Length");
    }
    my $got = decode($r->{h}{'content-encoding'}, $r->{body});
    ok(defined $got && length($got) == length($want)
          && sha256_hex($got) eq sha256_hex($want),
        "$name: the exact bytes (" . length($want) . ')')
      or diag('got ' . (defined $got ? length($got) : 'undef'));
}

my @via = (Via => '1.1 cache.example');
my @have = grep { $built{ $_ eq 'br' ? 'brotli' : $_ } } qw(gzip br zstd);

# ---- compressed at all, each coding, each framing --------------------------
for my $c (@have) {
    for my $f ('', '-chunked', '-chunked-big', '-big') {
        is_coded(get("/off/plain$f", ae => $c), $c,
            $f =~ /big/ ? $BIG : $SMALL, "$c, upstream plain$f, no Via");
    }
}

# ---- gzip_proxied -----------------------------------------------------------
my @cases = (
    ['/off/plain',              0, 'off'],
    ['/default/plain',          0, 'the default is off'],
    ['/any/cc',                 1, 'any'],
    ['/expired/past',           1, 'expired, Expires in the past'],
    ['/expired/future',         0, 'expired, Expires in the future'],
    ['/expired/cc',             0, 'expired, no Expires but Cache-Control'],
    ['/no-cache/nocache',       1, 'no-cache, Cache-Control: no-cache'],
    ['/no-cache/cc',            0, 'no-cache, Cache-Control: max-age'],
    ['/no-cache/past',          0, 'no-cache, Expires without expired'],
    ['/no-store/nostore',       1, 'no-store, Cache-Control: no-store'],
    ['/no-store/nocache',       0, 'no-store, Cache-Control: no-cache'],
    ['/private/private',        1, 'private, Cache-Control: private'],
    ['/private/cc',             0, 'private, Cache-Control: max-age'],
    ['/both/private',           1, 'no-cache private, private'],
    ['/both/nocache',           1, 'no-cache private, no-cache'],
    ['/both/nostore',           0, 'no-cache private, no-store'],
    ['/no_last_modified/lm',    0, 'no_last_modified, with Last-Modified'],
    ['/no_last_modified/plain', 1, 'no_last_modified, without'],
    ['/no_etag/etag',           0, 'no_etag, with ETag'],
    ['/no_etag/weak',           0, 'no_etag, with a weak ETag'],
    ['/no_etag/plain',          1, 'no_etag, without'],
    ['/auth/cc',                0, 'auth, no Authorization'],
);
for my $k (@cases) {
    my ($path, $yes, $name) = @$k;
    is_coded(get($path, @via), $yes ? 'gzip' : undef, $SMALL,
        "gzip_proxied $name");
}
is_coded(get('/auth/cc', @via, Authorization => 'Basic dTpw'), 'gzip',
    $SMALL, 'gzip_proxied auth, with Authorization');
is_coded(get('/any/cc-chunked-big', @via, ae => $have[-1]), $have[-1],
    $BIG, "gzip_proxied any, a big chunked body in $have[-1]");

# ---- headers ----------------------------------------------------------------
{
    my $r = get('/off/etag');
    is($r->{h}{etag}, 'W/"e1"', 'a strong upstream ETag is made weak');
    is($r->{h}{vary}, 'Accept-Encoding', '  Vary: Accept-Encoding');
    $r = get('/off/weak');
    is($r->{h}{etag}, 'W/"e2"', 'a weak one stays as it is');
    $r = get('/off/etag', ae => 'identity');
    is("$r->{h}{etag} " . ($r->{h}{'content-encoding'} // 'none'),
        '"e1" none', 'uncompressed: the ETag unchanged');
    $r = get('/off/coded');
    is(($r->{h}{'content-encoding'} // 'none') . " $r->{body}",
        'gzip not really gzip', 'a body the upstream coded is not coded again');
}

$up->stop;
$t->done;
