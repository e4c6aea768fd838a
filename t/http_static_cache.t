#!/usr/bin/perl
# The static-file cache (static_cache): small files and bodies compressed
# on the fly are answered from the worker's memory the next time (the
# debug log says so, the bytes are the same), a file changed in place
# (same size) or made unreadable is never answered from the cache, a file
# changed in the last two seconds is not kept, each coding and level has
# its own entry, ranges, multipart ranges, conditionals and HEAD work on
# cached files, large files bypass it, and `static_cache off` turns it
# off. Needs the gzip program.
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
$files{'html/small.txt'} = text(3000, 4);
$t->write_file($_, $files{$_}) for sort keys %files;
# Settled files: changed more than two seconds ago (the ctime of a file
# just written is now, and cannot be set back: wait).
utime(time - 100, time - 100, "$P/$_") for sort keys %files;
sleep 3;

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
        location /off/ { alias $P/html/; static_cache off; }
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

my $hit_re = qr/gzip: \d+ bytes from the static-file cache/;

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

# The file's own bytes: kept after the first request.
sub get_raw {
    my ($path, %h) = @_;
    my $off = $t->log_size;
    my $res = get($path, %h);
    $res->{hit} = $t->log_since($off) =~ /: \d+ bytes from the static-file cache/
      ? 1 : 0;
    return $res;
}
my $s1 = get_raw('/small.txt');
is($s1->{status}, 200, 'small file: 200');
is($s1->{hit}, 0, 'small file, first request: read from the file');
my $s2 = get_raw('/small.txt');
is($s2->{status}, 200, 'small file again: 200');
is($s2->{hit}, 1, 'small file again: from the cache');
is($s2->{body}, $files{'html/small.txt'}, 'small file from the cache: the bytes');
is($s2->{h}{'content-length'}, 3000, 'from the cache: Content-Length');
is($s2->{h}{etag}, $s1->{h}{etag}, 'from the cache: the same ETag');
is($s2->{h}{'last-modified'}, $s1->{h}{'last-modified'},
    'from the cache: the same Last-Modified');
my $s3 = get_raw('/small.txt', Range => 'bytes=10-19');
is($s3->{status}, 206, 'a range of a cached file: 206');
is($s3->{hit}, 1, 'a range of a cached file: from the cache');
is($s3->{body}, substr($files{'html/small.txt'}, 10, 10), 'the range bytes');
my $s4 = get_raw('/small.txt', Range => 'bytes=0-1,-2');
is($s4->{status}, 206, 'multipart ranges of a cached file: 206');
my ($head2, $tail2) = (substr($files{'html/small.txt'}, 0, 2),
    substr($files{'html/small.txt'}, -2));
ok(index($s4->{body}, "\r\n\r\n$head2\r\n") >= 0
      && index($s4->{body}, "\r\n\r\n$tail2\r\n") >= 0,
    'multipart ranges: both parts');
my $s5 = get_raw('/small.txt', 'If-None-Match' => $s1->{h}{etag});
is($s5->{status}, 304, 'If-None-Match on a cached file: 304');
my $s6 = get_raw('/small.txt', method => 'HEAD');
is($s6->{status}, 200, 'HEAD of a cached file: 200');
is($s6->{body}, '', 'HEAD of a cached file: no body');
is($s6->{h}{'content-length'}, 3000, 'HEAD: Content-Length');
my $s7 = get_raw('/off/small.txt');
$s7 = get_raw('/off/small.txt');
is($s7->{hit}, 0, 'static_cache off: never from the cache');
is($s7->{body}, $files{'html/small.txt'}, 'static_cache off: the bytes');

# Made unreadable for the workers: the change of its inode shows.
chmod 0600, "$P/html/small.txt";
my $s8 = get_raw('/small.txt');
is($s8->{status}, 403, 'a cached file made unreadable: 403, not the cached bytes');
is($s8->{hit}, 0, 'the unreadable file was not answered from the cache');
chmod 0644, "$P/html/small.txt";

# A change in place: same size, new bytes. Just written, it is served
# from the file and not kept; once settled, it is kept again.
$files{'html/small.txt'} = text(3000, 99);
$t->write_file('html/small.txt', $files{'html/small.txt'});
my $s9 = get_raw('/small.txt');
is($s9->{body}, $files{'html/small.txt'}, 'changed in place: the new bytes');
is($s9->{hit}, 0, 'changed in place: not from the cache');
is(get_raw('/small.txt')->{hit}, 0, 'changed in the last two seconds: not kept');

$files{'html/a.txt'} = text(40_000, 77);
$t->write_file('html/a.txt', $files{'html/a.txt'});
my $changed = get_gz('/a.txt');
gz_ok($changed, 'html/a.txt', 'changed file');
is($changed->{hit}, 0, 'a changed file is compressed again, never stale');
is(get_gz('/a.txt')->{hit}, 0, 'a just changed file is not kept');
sleep 3;
get_gz('/a.txt');
my $again = get_gz('/a.txt');
is($again->{hit}, 1, 'once settled, kept again');
gz_ok($again, 'html/a.txt', 'changed file from the cache');
get_raw('/small.txt');
my $s10 = get_raw('/small.txt');
is($s10->{hit}, 1, 'the changed small file, settled: from the cache');
is($s10->{body}, $files{'html/small.txt'}, 'and its new bytes');

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
gz_ok($off, 'html/b.txt', 'static_cache off');
is($off->{hit}, 0, 'static_cache off: no hit');

# -t: bad values
for my $bad ('static_cache lots;', 'static_cache 1m; static_cache 2m;') {
    $t->write_file('bad.conf', "events { } http { $bad }\n");
    my $res = $t->run('-t', '-c', "$P/bad.conf");
    isnt($res->{code}, 0, "-t fails: $bad");
    like($res->{stderr}, qr/"static_cache" directive/, "-t names it: $bad");
}

$t->done;
