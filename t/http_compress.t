#!/usr/bin/perl
# Compression as an nginx user sees it: gzip, br and zstd bodies that the
# command-line tools decode back to the original bytes (a 64 KiB and a
# 5 MiB file, with and without sendfile), the choice of coding by
# Accept-Encoding q-values, what is never compressed (HEAD, Range, short
# bodies, other types, Via, gzip_disable, HTTP/1.0 by default), the Vary,
# ETag, Accept-Ranges and framing changes, HTTP/1.0 bodies that end at the
# close, the precompressed siblings of *_static (on and always, with
# conditional requests) and the configuration errors. Needs the gzip,
# brotli and zstd programs (Debian packages gzip, brotli, zstd).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More;
use WmTest;
use WmHttpClient;

my $t    = WmTest->new(timeout => 240);
my $P    = $t->prefix;
my $port = $t->port;

# ---- what this binary has, and the tools ------------------------------------

my $features = do {
    my $r = $t->run('-V');
    ($r->{stdout} . $r->{stderr}) =~ /^features:(.*)$/m ? " $1 " : ' ';
};
my %built = map { $_ => ($features =~ / \Q$_\E /) ? 1 : 0 } qw(gzip brotli zstd);
my %tool  = (gzip => 'gzip', br => 'brotli', zstd => 'zstd');

sub have_tool {
    my $name = shift;
    for my $dir (split /:/, $ENV{PATH} // '/usr/bin:/bin') {
        return 1 if -x "$dir/$name";
    }
    return 0;
}
for my $c (sort keys %tool) {
    ok(have_tool($tool{$c}), "the $tool{$c} program is installed")
      or diag("apt-get install $tool{$c}");
}

# ---- the files ----------------------------------------------------------------

# Text that compresses: words with numbers, the same on every run.
sub text {
    my $len  = shift;
    my @w    = qw(alpha beta gamma delta proxy static upstream location);
    my $seed = 4242;
    my $s    = '';
    while (length $s < $len) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= $w[ $seed % @w ] . ($seed % 7 == 0 ? " $seed\n" : ' ');
    }
    return substr($s, 0, $len);
}

my $T64  = text(64 * 1024);
my $BIG  = text(5 * 1024 * 1024);
my $PAGE = "<html><body>" . text(3000) . "</body></html>\n";
# Printable noise: it compresses little, so the compressed body outgrows
# the socket buffers of a client that does not read.
my $NOISE = do {
    my $seed = 99;
    my $s    = '';
    while (length $s < 8 * 1024 * 1024) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= pack 'C4', map { 33 + (($seed >> (7 * $_)) % 90) } 0 .. 3;
    }
    $s;
};
my %files = (
    'html/t64.txt'    => $T64,
    'html/big.txt'    => $BIG,
    'html/noise.txt'  => $NOISE,
    'html/page.html'  => $PAGE,
    'html/small.txt'  => "tiny text\n",
    'html/style.css'  => text(2000),
    'html/img.png'    => text(4000),
    'static/pre.txt'  => text(5000),
    'static/only.txt' => text(6000),
);
$t->write_file($_, $files{$_}) for sort keys %files;

# Precompressed siblings, made by the tools (their bytes are what must be
# served, unchanged).
sub compress_file {
    my ($cmd, $in, $out) = @_;
    system("$cmd < '$in' > '$out'") == 0 or die "$cmd $in: $?";
}
compress_file('gzip -9 -c -n', "$P/static/pre.txt",  "$P/static/pre.txt.gz");
compress_file('gzip -9 -c -n', "$P/static/only.txt", "$P/static/only.txt.gz");
compress_file('brotli -c',     "$P/static/pre.txt",  "$P/static/pre.txt.br")
  if have_tool('brotli');
compress_file('zstd -q -c',    "$P/static/pre.txt",  "$P/static/pre.txt.zst")
  if have_tool('zstd');

sub slurp {
    my $f = shift;
    open my $fh, '<:raw', $f or return undef;
    local $/;
    return scalar <$fh>;
}

sub etag_of {
    my @st = stat shift or die "stat: $!";
    return sprintf '"%x-%x"', $st[9], $st[7];
}

# ---- the server ---------------------------------------------------------------

my $on = join ' ', map { $built{$_} ? "$_ on;" : '' } qw(gzip brotli zstd);
my $types = join ' ', map { $built{$_} ? "${_}_types text/plain;" : '' }
  qw(gzip brotli zstd);
my $alloff = 'gzip off; brotli off; zstd off;';

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types {
        text/html  html;
        text/plain txt;
        text/css   css;
        image/png  png;
    }
    default_type application/octet-stream;
    gzip_vary on;
    gzip_comp_level 6;
    brotli_comp_level 4;
    gzip_buffers 16 8k;

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        sendfile on;
        $on
        $types

        location /gzonly/ { alias $P/html/; brotli off; zstd off; }
        location /nosf/ { alias $P/html/; sendfile off; }
        location /noise/ {
            alias $P/html/;
            gzip_comp_level 1;
            brotli off;
            zstd off;
        }
        location /novary/ { alias $P/html/; gzip_vary off; }
        location /minlen/ {
            alias $P/html/;
            gzip_min_length 100k;
            brotli_min_length 100k;
            zstd_min_length 100k;
        }
        location /all/ { alias $P/html/; gzip_types *; brotli off; zstd off; }
        location /v10/ { alias $P/html/; gzip_http_version 1.0; }
        location /proxied/ { alias $P/html/; gzip_proxied expired any; }
        location /disable/ { alias $P/html/; gzip_disable "^curl/\\d" msie6; }
        location /off/ { alias $P/html/; $alloff }
        location /static/ {
            root $P;
            $alloff
            gzip_static on;
            brotli_static on;
            zstd_static on;
        }
        location /gzstatic/ { alias $P/static/; $alloff gzip_static on; }
        location /always/ { alias $P/static/; $alloff gzip_static always; }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

# ---- helpers ------------------------------------------------------------------

sub req {
    my ($raw, %o) = @_;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send($raw);
    my $r = $c->read_response(%o);
    $r->{conn} = $c;
    return $r;
}

# GET (or method =>) with headers; ae => the Accept-Encoding value.
sub get {
    my ($path, %h) = @_;
    my $m  = delete $h{method}  // 'GET';
    my $v  = delete $h{version} // '1.1';
    my $ae = delete $h{ae};
    my $raw = "$m $path HTTP/$v\r\nHost: localhost\r\n";
    $raw .= "Connection: close\r\n" if $v eq '1.1';
    $raw .= "Accept-Encoding: $ae\r\n" if defined $ae;
    $raw .= "$_: $h{$_}\r\n" for sort keys %h;
    return req("$raw\r\n", head => $m eq 'HEAD');
}

# The decoded body by the coding's own tool, or undef.
my $n = 0;
sub decode {
    my ($coding, $body) = @_;
    return $body if !defined $coding || $coding eq '';
    my $prog = $tool{$coding} or return undef;
    my $f    = "$P/body." . $n++;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $body;
    close $fh;
    my $out = `$prog -d -c < '$f' 2>/dev/null`;
    return $? == 0 ? $out : undef;
}

sub check {
    my ($r, $name, %w) = @_;
    if ($r->{error}) {
        fail("$name: $r->{error}");
        return;
    }
    is($r->{status}, $w{status} // 200, "$name: status");
    for my $k (sort keys %{ $w{h} // {} }) {
        my $v = $w{h}{$k};
        if (!defined $v) {
            ok(!exists $r->{h}{ lc $k }, "$name: no $k")
              or diag("$k: $r->{h}{lc $k}");
        } elsif (ref $v eq 'Regexp') {
            like($r->{h}{ lc $k } // '<none>', $v, "$name: $k");
        } else {
            is($r->{h}{ lc $k } // '<none>', $v, "$name: $k: $v");
        }
    }
    if (exists $w{body}) {
        my $got = $r->{body} eq '' ? ''
          : decode($r->{h}{'content-encoding'}, $r->{body});
        ok(defined $got && sha256_hex($got) eq sha256_hex($w{body}),
            "$name: body (" . length($w{body}) . " bytes"
              . ($r->{h}{'content-encoding'}
                ? ", decoded from $r->{h}{'content-encoding'})" : ')'))
          or diag('got ' . (defined $got ? length($got) . ' bytes' : 'undef')
              . ' from ' . length($r->{body}) . ' bytes');
    }
}

# A compressed response: the changed headers, and the decoded body.
sub compressed {
    my ($r, $name, $coding, $file, %more) = @_;
    check($r, $name,
        h => { 'Content-Encoding' => $coding, 'Content-Length' => undef,
            'Transfer-Encoding' => 'chunked', 'Accept-Ranges' => undef,
            'Vary' => 'Accept-Encoding',
            'ETag' => 'W/' . etag_of("$P/$file"),
            %{ $more{h} // {} } },
        body => $files{$file});
}

sub plain {
    my ($r, $name, $file, %more) = @_;
    check($r, $name,
        h => { 'Content-Encoding' => undef,
            'Content-Length' => length $files{$file},
            'ETag' => etag_of("$P/$file"), %{ $more{h} // {} } },
        body => $files{$file}, %{ $more{w} // {} });
}

my ($GZ, $BR, $ZS) = @built{qw(gzip brotli zstd)};

# ---- the codings, big and small, sendfile on and off ---------------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    compressed(get('/gzonly/t64.txt', ae => 'gzip'), '64 KiB gzip', 'gzip',
        'html/t64.txt', h => { 'Content-Type' => 'text/plain' });
    compressed(get('/gzonly/big.txt', ae => 'gzip'), '5 MiB gzip, sendfile',
        'gzip', 'html/big.txt');
    compressed(get('/nosf/big.txt', ae => 'gzip'), '5 MiB gzip, no sendfile',
        'gzip', 'html/big.txt');
    compressed(get('/gzonly/big.txt', ae => 'x-gzip'), 'x-gzip is gzip',
        'gzip', 'html/big.txt');
}
SKIP: {
    skip 'brotli not built in', 1 unless $BR;
    compressed(get('/t64.txt', ae => 'br'), '64 KiB br', 'br',
        'html/t64.txt');
    compressed(get('/big.txt', ae => 'br'), '5 MiB br, sendfile', 'br',
        'html/big.txt');
    compressed(get('/nosf/big.txt', ae => 'br'), '5 MiB br, no sendfile',
        'br', 'html/big.txt');
}
SKIP: {
    skip 'zstd not built in', 1 unless $ZS;
    compressed(get('/t64.txt', ae => 'zstd'), '64 KiB zstd', 'zstd',
        'html/t64.txt');
    compressed(get('/big.txt', ae => 'zstd'), '5 MiB zstd, sendfile', 'zstd',
        'html/big.txt');
    compressed(get('/nosf/big.txt', ae => 'zstd'), '5 MiB zstd, no sendfile',
        'zstd', 'html/big.txt');
}

# ---- negotiation ----------------------------------------------------------------

SKIP: {
    skip 'needs gzip, brotli and zstd built in', 1 unless $GZ && $BR && $ZS;
    my @cases = (
        [ 'gzip, zstd, br',                   'br',   'ties go to br' ],
        [ 'gzip, zstd',                       'zstd', 'then zstd' ],
        [ 'br;q=0.5, gzip',                   'gzip', 'br;q=0.5, gzip' ],
        [ 'br;q=0.5, gzip;q=0.4, zstd;q=0.6', 'zstd', 'the highest q wins' ],
        [ 'gzip;q=0, br;q=0',                 '',     'q=0 refuses' ],
        [ 'gzip;q=0',                         '',     'gzip;q=0' ],
        [ '*;q=0',                            '',     '*;q=0: identity anyway' ],
        [ 'identity',                         '',     'identity' ],
        [ '*',                                'br',   '* takes every coding' ],
        [ 'GZIP;Q=1',                         'gzip', 'case-insensitive' ],
    );
    for my $c (@cases) {
        my ($ae, $want, $name) = @$c;
        my $r = get('/t64.txt', ae => $ae);
        if ($want) {
            compressed($r, "Accept-Encoding: $ae ($name)", $want,
                'html/t64.txt');
        } else {
            plain($r, "Accept-Encoding: $ae ($name)", 'html/t64.txt',
                h => { 'Vary' => 'Accept-Encoding' });
        }
    }
    my $r = req("GET /t64.txt HTTP/1.1\r\nHost: localhost\r\n"
          . "Connection: close\r\nAccept-Encoding: br;q=0.1\r\n"
          . "Accept-Encoding: zstd;q=0.9\r\n\r\n");
    compressed($r, 'two Accept-Encoding lines count together', 'zstd',
        'html/t64.txt');
}

# ---- never compressed -------------------------------------------------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    plain(get('/t64.txt'), 'no Accept-Encoding', 'html/t64.txt',
        h => { 'Vary' => 'Accept-Encoding', 'Accept-Ranges' => 'bytes' });
    check(get('/t64.txt', method => 'HEAD', ae => 'gzip'), 'HEAD',
        h => { 'Content-Encoding' => undef,
            'Content-Length' => length $T64 }, body => '');
    check(get('/t64.txt', ae => 'gzip, br, zstd', Range => 'bytes=0-99'),
        'Range: 206, not compressed', status => 206,
        h => { 'Content-Encoding' => undef, 'Content-Length' => 100,
            'Content-Range' => 'bytes 0-99/' . length $T64 },
        body => substr($T64, 0, 100));
    check(get('/t64.txt', ae => 'gzip',
            'If-None-Match' => etag_of("$P/html/t64.txt")),
        '304: not compressed', status => 304,
        h => { 'Content-Encoding' => undef, 'Transfer-Encoding' => undef });
    plain(get('/small.txt', ae => 'gzip'),
        'shorter than gzip_min_length 20', 'html/small.txt',
        h => { 'Vary' => undef });
    plain(get('/minlen/t64.txt', ae => 'gzip, br, zstd'),
        'shorter than *_min_length 100k', 'html/t64.txt',
        h => { 'Vary' => undef });
    plain(get('/img.png', ae => 'gzip, br, zstd'), 'image/png: not in types',
        'html/img.png', h => { 'Vary' => undef });
    plain(get('/style.css', ae => 'gzip, br, zstd'), 'text/css: not in types',
        'html/style.css');
    compressed(get('/all/style.css', ae => 'gzip'), 'gzip_types *', 'gzip',
        'html/style.css');
    compressed(get('/gzonly/page.html', ae => 'gzip'),
        'text/html is always a type', 'gzip', 'html/page.html');
    plain(get('/off/t64.txt', ae => 'gzip, br, zstd'), 'gzip off',
        'html/t64.txt', h => { 'Vary' => undef });
    plain(get('/t64.txt', ae => 'gzip, br, zstd', Via => '1.1 cache'),
        'a request with Via (gzip_proxied off)', 'html/t64.txt');
    compressed(get('/proxied/t64.txt', ae => 'gzip', Via => '1.1 cache'),
        'gzip_proxied any: compressed despite Via', 'gzip', 'html/t64.txt');
    plain(get('/disable/t64.txt', ae => 'gzip', 'User-Agent' => 'curl/8.0'),
        'gzip_disable regex', 'html/t64.txt');
    plain(get('/disable/t64.txt', ae => 'gzip',
            'User-Agent' => 'Mozilla/4.0 (compatible; MSIE 6.0; Windows 98)'),
        'gzip_disable msie6', 'html/t64.txt');
    compressed(get('/disable/t64.txt', ae => 'gzip',
            'User-Agent' => 'Firefox/1'),
        'gzip_disable: another User-Agent is compressed', 'gzip',
        'html/t64.txt');
    check(get('/gzonly/t64.txt', ae => 'gzip', version => '1.0'),
        'HTTP/1.0 with gzip_http_version 1.1: not compressed',
        h => { 'Content-Encoding' => undef,
            'Content-Length' => length $T64 },
        body => $T64);
    my $r = get('/nope.html', ae => 'gzip');
    check($r, '404 page: compressed as in nginx', status => 404,
        h => { 'Content-Encoding' => 'gzip' });
    my $page = decode($r->{h}{'content-encoding'}, $r->{body}) // '';
    like($page, qr{<h1>404 Not Found</h1>}, '404 page: body decodes');
}

# ---- HTTP/1.0: no chunked framing, the close ends the body -----------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    my $r = get('/v10/big.txt', ae => 'gzip', version => '1.0');
    check($r, 'HTTP/1.0 client, gzip_http_version 1.0',
        h => { 'Content-Encoding' => 'gzip', 'Content-Length' => undef,
            'Transfer-Encoding' => undef, 'Connection' => 'close' },
        body => $BIG);
    ok($r->{conn}->wait_eof(5), 'HTTP/1.0: the server closed');
}

# ---- keep-alive: two compressed responses on one connection ----------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    my $c = WmHttpClient->new($port);
    $c->send("GET /gzonly/t64.txt HTTP/1.1\r\nHost: localhost\r\n"
          . "Accept-Encoding: gzip\r\n\r\n"
          . "GET /gzonly/page.html HTTP/1.1\r\nHost: localhost\r\n"
          . "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    compressed($c->read_response, 'pipelined 1', 'gzip', 'html/t64.txt');
    compressed($c->read_response, 'pipelined 2', 'gzip', 'html/page.html');
}

# ---- a client that reads slowly: the filter waits, then goes on -------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    my $off = $t->log_size;
    my $c = WmHttpClient->new($port, 4096);
    $c->send("GET /noise/noise.txt HTTP/1.1\r\nHost: localhost\r\n"
          . "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    ok($t->wait_log(qr/gzip: waiting for the client to read/, from => $off,
            timeout => 5), 'a slow client: compression waits');
    compressed($c->read_response, 'a slow client gets it all', 'gzip',
        'html/noise.txt');
}

# ---- a client that goes away mid-body ---------------------------------------------

SKIP: {
    skip 'gzip not built in', 1 unless $GZ;
    for (1 .. 3) {
        my $c = WmHttpClient->new($port);
        $c->send("GET /gzonly/big.txt HTTP/1.1\r\nHost: localhost\r\n"
              . "Accept-Encoding: gzip\r\n\r\n");
        $c->fill(time + 2);
        close $c->{s};
    }
    compressed(get('/gzonly/t64.txt', ae => 'gzip'),
        'after aborted responses', 'gzip', 'html/t64.txt');
}

# ---- precompressed siblings --------------------------------------------------------

my $pre = $files{'static/pre.txt'};
for my $c ([ 'gzip', 'gz', 'gzip' ], [ 'br', 'br', 'brotli' ],
    [ 'zstd', 'zst', 'zstd' ])
{
    my ($coding, $ext, $dir) = @$c;
    SKIP: {
        skip "no $tool{$coding} to make the sibling", 1
          unless -e "$P/static/pre.txt.$ext";
        my $sib = slurp("$P/static/pre.txt.$ext");
        my $r   = get('/static/pre.txt', ae => $coding);
        check($r, "${dir}_static: pre.txt.$ext",
            h => { 'Content-Encoding' => $coding,
                'Content-Length' => length $sib,
                'Content-Type' => 'text/plain',
                'ETag' => etag_of("$P/static/pre.txt.$ext"),
                'Vary' => 'Accept-Encoding',
                'Transfer-Encoding' => undef });
        ok($r->{body} eq $sib, "${dir}_static: the sibling's bytes");
        is(decode($coding, $r->{body}), $pre, "${dir}_static: decodes");
    }
}
{
    my $sib = slurp("$P/static/pre.txt.gz");
    my $r   = get('/static/only.txt', ae => 'br, zstd, gzip');
    check($r, 'only .gz exists: served for br, zstd, gzip',
        h => { 'Content-Encoding' => 'gzip',
            'Content-Length' => -s "$P/static/only.txt.gz" });
    $r = get('/static/pre.txt');
    plain($r, 'no Accept-Encoding: the file itself, with Vary',
        'static/pre.txt', h => { 'Vary' => 'Accept-Encoding' });
    $r = get('/static/pre.txt', ae => 'gzip', method => 'HEAD');
    check($r, '*_static HEAD',
        h => { 'Content-Encoding' => 'gzip', 'Content-Length' => length $sib },
        body => '');
    $r = get('/gzstatic/pre.txt', ae => 'gzip',
        'If-None-Match' => etag_of("$P/static/pre.txt.gz"));
    check($r, '*_static: If-None-Match of the sibling: 304', status => 304,
        h => { 'Content-Encoding' => undef,
            'ETag' => etag_of("$P/static/pre.txt.gz") });
    $r = get('/gzstatic/pre.txt', ae => 'gzip',
        'If-None-Match' => etag_of("$P/static/pre.txt"));
    is($r->{status}, 200, '*_static: the original ETag does not match');
    $r = get('/gzstatic/pre.txt', ae => 'gzip', Range => 'bytes=0-9');
    check($r, '*_static: a range of the sibling', status => 206,
        h => { 'Content-Encoding' => 'gzip', 'Content-Length' => 10,
            'Content-Range' => 'bytes 0-9/' . length $sib });
    ok($r->{body} eq substr($sib, 0, 10), '*_static: the range bytes');
    $r = get('/gzstatic/pre.txt', ae => 'br');
    plain($r, 'gzip_static on, client without gzip: the file, Vary',
        'static/pre.txt', h => { 'Vary' => 'Accept-Encoding' });
    for my $ae (undef, 'gzip;q=0', 'br') {
        $r = get('/always/pre.txt', defined $ae ? (ae => $ae) : ());
        check($r, 'gzip_static always, Accept-Encoding: ' . ($ae // 'none'),
            h => { 'Content-Encoding' => 'gzip',
                'Content-Length' => length $sib, 'Vary' => undef });
        ok($r->{body} eq $sib, 'gzip_static always: the .gz bytes');
    }
    $r = get('/always/pre.txt.gz', ae => 'gzip');
    check($r, 'the sibling by its own name: no .gz.gz, as is',
        h => { 'Content-Encoding' => undef, 'Content-Length' => length $sib });
}

# ---- configuration errors -----------------------------------------------------------

sub conf_error {
    my ($text, $re, $name) = @_;
    my $f = $t->write_conf("events { }\nhttp { server { $text } }\n",
        name => 'bad.conf');
    my $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 1, "-t fails: $name");
    like($r->{stderr}, $re, "-t says why: $name");
}
conf_error('gzip_comp_level 10;',
    qr/bad\.conf:5: "gzip_comp_level" directive has invalid value "10", it must be between 1 and 9/,
    'gzip_comp_level 10');
conf_error('brotli_comp_level 12;',
    qr/"brotli_comp_level" directive has invalid value "12", it must be between 0 and 11/,
    'brotli_comp_level 12');
conf_error('zstd_comp_level 0;',
    qr/"zstd_comp_level" directive has invalid value "0", it must be between 1 and 22/,
    'zstd_comp_level 0');
conf_error('gzip_proxied off any;',
    qr/"gzip_proxied" directive has "off" with other values/,
    'gzip_proxied off any');
conf_error('gzip_proxied sometimes;',
    qr/"gzip_proxied" directive has invalid value "sometimes"/,
    'gzip_proxied sometimes');
conf_error('gzip_static maybe;', qr/"gzip_static" directive has invalid value "maybe"/,
    'gzip_static maybe');
conf_error('gzip_http_version 2.0;',
    qr/"gzip_http_version" directive has invalid value "2.0"/,
    'gzip_http_version 2.0');
conf_error('gzip_disable "(";', qr/"gzip_disable" directive/,
    'gzip_disable with a bad regex');
conf_error('gzip on; gzip on;', qr/"gzip" directive is duplicate/,
    'gzip twice');
for my $c (qw(gzip brotli zstd)) {
    next if $built{$c};
    conf_error("$c on;", qr/"$c" directive is not built in/,
        "$c on without the library");
}

unlike($t->log_text, qr/\[(?:crit|alert|emerg)\]/,
    'no [crit], [alert] or [emerg] in the error log');

$t->done;
