#!/usr/bin/perl
# The compressed-file cache (compress_cache): a static file compressed on
# the fly once is answered from the worker's cache the next time (the
# debug log says so, the body is the same), a file changed in place (same
# size, new mtime) is compressed again and never answered stale, each
# coding and level has its own entry, ranges and HEAD are unaffected,
# files over 1 MiB stream without the cache, and `compress_cache off`
# turns it off. Needs the gzip program.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;

my $t    = WmTest->new(timeout => 120);
my $P    = $t->prefix;
my $port = $t->port;

my $r = $t->run('-V');
if (($r->{stdout} . $r->{stderr}) !~ /^features:.* gzip/m) {
    plan skip_all => 'built without zlib';
}

sub text {
    my ($len, $seed) = @_;
    my @w = qw(alpha beta gamma delta proxy static upstream location);
    my $s = '';
    while (length $s < $len) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= $w[ $seed % @w ] . ($seed % 7 == 0 ? " $seed\n" : ' ');
    }
    return substr($s, 0, $len);
}

my %files = (
    'html/a.txt'   => text(40_000, 1),
    'html/b.txt'   => text(40_000, 2),
    'html/big.txt' => text(1_200_000, 3),
);
$t->write_file($_, $files{$_}) for sort keys %files;

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types { text/plain txt; }
    gzip on;
    gzip_types text/plain;
    server {
        listen 127.0.0.1:$port;
        root $P/html;
        location /l6/ { alias $P/html/; gzip_comp_level 6; }
        location /off/ { alias $P/html/; compress_cache off; }
    }
}
EOF
$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

sub get {
    my ($path, %h) = @_;
    my $m   = delete $h{method} // 'GET';
    my $raw = "$m $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $raw .= "$_: $h{$_}\r\n" for sort keys %h;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send("$raw\r\n");
    return $c->read_response(head => $m eq 'HEAD');
}

sub gunzip {
    my $body = shift;
    my $f    = "$P/body.gz";
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $body;
    close $fh;
    my $out = `gzip -d -c < '$f' 2>/dev/null`;
    return $? == 0 ? $out : undef;
}

my $hit_re = qr/gzip: \d+ bytes from the compressed-file cache/;

# get_gz PATH: the response, and whether the log shows a cache hit for it
sub get_gz {
    my ($path, %h) = @_;
    my $off = $t->log_size;
    my $res = get($path, 'Accept-Encoding' => 'gzip', %h);
    $res->{hit} = $t->log_since($off) =~ $hit_re ? 1 : 0;
    return $res;
}

sub gz_ok {
    my ($res, $file, $name) = @_;
    is($res->{status}, 200, "$name: 200");
    is($res->{h}{'content-encoding'} // '', 'gzip', "$name: gzip");
    my $got = gunzip($res->{body});
    ok(defined $got && $got eq $files{$file}, "$name: body decodes to the file");
}

my $first = get_gz('/a.txt');
gz_ok($first, 'html/a.txt', 'first request');
is($first->{hit}, 0, 'first request: compressed, no cache hit');
my $second = get_gz('/a.txt');
gz_ok($second, 'html/a.txt', 'second request');
is($second->{hit}, 1, 'second request: from the cache');
is($second->{body}, $first->{body}, 'the cached bytes are the ones made first');
is($second->{h}{'transfer-encoding'} // '', 'chunked',
    'a hit is framed as a miss (chunked, as nginx)');
is($second->{h}{etag}, $first->{h}{etag}, 'same weak ETag');

my $other = get_gz('/b.txt');
gz_ok($other, 'html/b.txt', 'another file');
is($other->{hit}, 0, 'another file is its own entry');

my $l6 = get_gz('/l6/a.txt');
gz_ok($l6, 'html/a.txt', 'level 6');
is($l6->{hit}, 0, 'another level is its own entry');
is(get_gz('/l6/a.txt')->{hit}, 1, 'level 6 again: a hit');

# A change in place: same size, new bytes, a new mtime.
$files{'html/a.txt'} = text(40_000, 77);
$t->write_file('html/a.txt', $files{'html/a.txt'});
utime(time + 5, time + 5, "$P/html/a.txt");
my $changed = get_gz('/a.txt');
gz_ok($changed, 'html/a.txt', 'changed file');
is($changed->{hit}, 0, 'a changed file is compressed again, never stale');
is(get_gz('/a.txt')->{hit}, 1, 'and cached again');

my $plain = get('/a.txt');
is($plain->{status}, 200, 'no Accept-Encoding: 200');
ok(!exists $plain->{h}{'content-encoding'}, 'no Accept-Encoding: the file as is');
is($plain->{body}, $files{'html/a.txt'}, 'no Accept-Encoding: the bytes');

my $range = get_gz('/a.txt', Range => 'bytes=0-9');
is($range->{status}, 206, 'a range: 206');
is($range->{body}, substr($files{'html/a.txt'}, 0, 10),
    'a range: the bytes of the file, uncompressed');

my $head = get_gz('/a.txt', method => 'HEAD');
is($head->{status}, 200, 'HEAD: 200');
is($head->{body}, '', 'HEAD: no body');

my $big1 = get_gz('/big.txt');
gz_ok($big1, 'html/big.txt', 'over 1 MiB');
is(get_gz('/big.txt')->{hit}, 0, 'over 1 MiB: streamed, never cached');

get_gz('/off/b.txt');
my $off = get_gz('/off/b.txt');
gz_ok($off, 'html/b.txt', 'compress_cache off');
is($off->{hit}, 0, 'compress_cache off: no hit');

# -t: bad values
for my $bad ('compress_cache lots;', 'compress_cache 1m; compress_cache 2m;') {
    $t->write_file('bad.conf', "events { } http { $bad }\n");
    my $res = $t->run('-t', '-c', "$P/bad.conf");
    isnt($res->{code}, 0, "-t fails: $bad");
    like($res->{stderr}, qr/"compress_cache" directive/, "-t names it: $bad");
}

$t->done;
