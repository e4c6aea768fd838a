#!/usr/bin/perl
# Static files as an nginx user sees them: root, alias (nested too), index
# with several names and an absolute last one, the directory redirect, 404
# and 403 with their error log lines, types and default_type, a big file
# with and without sendfile, HEAD, ETag and Last-Modified, the conditional
# requests (304, 412), byte ranges (206, multipart/byteranges, 416,
# If-Range, max_ranges), etag off, server_tokens off and 405 for POST.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 180);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my $port = $t->port;
my $hp   = "127.0.0.1:$port";

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};
die "no version in configure.ac" unless $version;

# ---- the document root ------------------------------------------------------

my $MTIME = 1700000000;    # Tue, 14 Nov 2023 22:13:20 GMT
my $A     = '0123456789abcdefghij';
my %files = (
    'html/index.html'            => "<html>index</html>\n",
    'html/a.txt'                 => $A,
    'html/upper.TXT'             => "upper case extension\n",
    'html/page.html'             => "<p>page</p>\n",
    'html/file.unknownext'       => "unknown extension\n",
    'html/README'                => "no extension\n",
    'html/x.cst'                 => "custom type\n",
    'html/fallback.html'         => "absolute fallback index\n",
    'html/sub/index.html'        => "sub index\n",
    'html/sub/deeper/f.txt'      => "deeper file\n",
    'html/noindex/x.txt'         => "x\n",
    'html/multi/index.txt'       => "multi index.txt\n",
    'html/multi/index.html'      => "multi index.html\n",
    'html/multi2/index.txt'      => "multi2 index.txt\n",
    'html/abs/keep.txt'          => "abs dir\n",
    'html/abs2/second.html'      => "second index name\n",
    'html/post/index.html'       => "post index\n",
    'html/empty.txt'             => '',
    'data/images/logo.png'       => "PNG logo bytes\n",
    'data/images/thumbs/t.png'   => "PNG thumb bytes\n",
    'data/images/dir/inner.txt'  => "inner\n",
    'data/other/o.png'           => "PNG other bytes\n",
    'data/files/f.txt'           => "alias without slash\n",
    'secret.txt'                 => "TOP SECRET: outside the root\n",
);
$t->write_file($_, $files{$_}) for sort keys %files;
utime $MTIME, $MTIME, "$P/html/a.txt" or die "utime: $!";

# A big file: several MB of pseudo-random bytes, the same on every run.
my $big = do {
    my $seed = 12345;
    my $s    = '';
    while (length $s < 5 * 1024 * 1024 + 123) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= pack 'N', $seed;
    }
    substr($s, 0, 5 * 1024 * 1024 + 123);
};
$t->write_file('big/big.bin', $big);
my $big_sha = sha256_hex($big);

# A file the workers (user nobody) cannot read.
$t->write_file('html/private.txt', "private\n");
chmod 0600, "$P/html/private.txt";

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types {
        text/html  html htm;
        text/plain txt;
        image/png  png;
    }
    default_type application/octet-stream;

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html/;

        location /multi/ {
            index nothere.html index.txt index.html;
        }
        location /multi2/ {
            index nothere.html;
            index index.txt;
        }
        location /abs/ {
            index nothere.html also-not-here.html /fallback.html;
        }
        location /abs2/ {
            index nothere.html second.html /fallback.html;
        }
        location /img/ {
            alias $P/data/images/;
            location /img/thumbs/ {
                default_type text/x-thumb;
            }
            location /img/other/ {
                alias $P/data/other/;
            }
        }
        location = /exact-alias {
            alias $P/html/a.txt;
        }
        location ~ ^/thumbs/.*\.png\$ {
            root $P/data/images;
        }
        location /files {
            alias $P/data/files;
        }
        location /quiet/ {
            log_not_found off;
        }
        location /sf/ {
            alias $P/big/;
            sendfile on;
        }
        location /nopush/ {
            alias $P/big/;
            sendfile on;
            tcp_nopush on;
        }
        location /nosf/ {
            alias $P/big/;
            sendfile off;
        }
        location /noetag/ {
            alias $P/html/;
            etag off;
        }
        location /norange/ {
            alias $P/html/;
            max_ranges 0;
        }
        location /onerange/ {
            alias $P/html/;
            max_ranges 1;
        }
        location /before/ {
            alias $P/html/;
            if_modified_since before;
        }
        location /imsoff/ {
            alias $P/html/;
            if_modified_since off;
        }
        location /tokens/ {
            alias $P/html/;
            server_tokens off;
        }
        location /typed/ {
            alias $P/html/;
            types {
                application/x-custom cst;
            }
            default_type text/x-default;
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

# ---- helpers ----------------------------------------------------------------

my @DAY = qw(Sun Mon Tue Wed Thu Fri Sat);
my @MON = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);

sub http_date {
    my @g = gmtime shift;
    return sprintf '%s, %02d %s %04d %02d:%02d:%02d GMT', $DAY[ $g[6] ],
      $g[3], $MON[ $g[4] ], $g[5] + 1900, $g[2], $g[1], $g[0];
}

sub etag_of {
    my $f = shift;
    my @st = stat $f or die "stat $f: $!";
    return sprintf '"%x-%x"', $st[9], $st[7];
}

# The built-in page of a status, as nginx writes it.
sub page {
    my ($line, $sig) = @_;
    $sig //= "wmproxy/$version";
    return "<html>\r\n<head><title>$line</title></head>\r\n<body>\r\n"
      . "<center><h1>$line</h1></center>\r\n<hr><center>$sig</center>\r\n"
      . "</body>\r\n</html>\r\n";
}

# One request on a fresh connection; returns the parsed response.
sub req {
    my ($raw, %o) = @_;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send($raw);
    my $r = $c->read_response(%o);
    $r->{conn} = $c;
    return $r;
}

sub get {
    my ($path, %h) = @_;
    my $m    = delete $h{method} // 'GET';
    my $host = delete $h{Host}   // $hp;
    my $raw  = "$m $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n";
    $raw .= "$_: $h{$_}\r\n" for sort keys %h;
    return req("$raw\r\n", head => $m eq 'HEAD');
}

# Checks status line, headers (undef: must be absent) and body.
sub check {
    my ($r, $name, %w) = @_;
    if ($r->{error}) {
        fail("$name: $r->{error}");
        return;
    }
    is($r->{line}, $w{line}, "$name: $w{line}") if defined $w{line};
    for my $k (sort keys %{ $w{h} // {} }) {
        my $v = $w{h}{$k};
        if (!defined $v) {
            ok(!exists $r->{h}{ lc $k }, "$name: no $k header")
              or diag("$k: $r->{h}{lc $k}");
        } elsif (ref $v eq 'Regexp') {
            like($r->{h}{ lc $k } // '<none>', $v, "$name: $k");
        } else {
            is($r->{h}{ lc $k } // '<none>', $v, "$name: $k: $v");
        }
    }
    if (exists $w{body}) {
        my $ok = $r->{body} eq $w{body};
        (my $show = $w{body}) =~ s/\n/\\n/g;
        ok($ok, "$name: body" . (length $w{body} < 60 && $w{body} !~ /\r/
                ? " \"$show\"" : ' (' . length($w{body}) . ' bytes)'))
          or diag("got: " . (length $r->{body} > 400
                ? substr($r->{body}, 0, 400) . '...' : $r->{body}));
    }
}

# An error log line as nginx writes it for a request of this test.
sub err_line {
    my ($level, $msg, $request) = @_;
    return qr/^$D \[$level\] \d+#\d+: (?:\*\d+ )?\Q$msg\E, client: 127\.0\.0\.1, (?x)
        server:\ localhost,\ request:\ "\Q$request\E"/m;
}

sub log_has {
    my ($re, $off, $name) = @_;
    ok($t->wait_log($re, from => $off, timeout => 5), $name)
      or diag("log since: " . $t->log_since($off));
}

my $DATE_RE = do {
    my ($d, $m) = (join('|', @DAY), join('|', @MON));
    qr/^(?:$d), \d\d (?:$m) \d{4} \d\d:\d\d:\d\d GMT$/;
};
my $A_ETAG = sprintf '"%x-%x"', $MTIME, length $A;
my $A_LM   = 'Tue, 14 Nov 2023 22:13:20 GMT';
is(http_date($MTIME), $A_LM, 'the test computes HTTP dates right');

# ---- root, index, directories -----------------------------------------------

check(get('/'), 'GET / (index.html)',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Content-Type' => 'text/html', 'Content-Length' => 19,
        'Server' => "wmproxy/$version", 'Accept-Ranges' => 'bytes',
        'ETag' => etag_of("$P/html/index.html") },
    body => $files{'html/index.html'});
check(get('/index.html'), 'GET /index.html', line => 'HTTP/1.1 200 OK',
    body => $files{'html/index.html'});
check(get('/sub/'), 'GET /sub/ (index of a subdirectory)',
    line => 'HTTP/1.1 200 OK', body => "sub index\n");
check(get('/sub/deeper/f.txt'), 'a file two levels down',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/plain' },
    body => "deeper file\n");
check(get('/multi/'), 'index with several names: the first that exists',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/plain' },
    body => "multi index.txt\n");
check(get('/multi2/'), 'index given twice: the names add up',
    line => 'HTTP/1.1 200 OK', body => "multi2 index.txt\n");
check(get('/abs/'), 'index: none found, the absolute last name is served',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/html' },
    body => "absolute fallback index\n");
check(get('/abs2/'), 'index: a relative name before the absolute one wins',
    line => 'HTTP/1.1 200 OK', body => "second index name\n");

check(get('/sub'), 'a directory without slash: 301',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://$hp/sub/",
        'Content-Type' => 'text/html' },
    body => page('301 Moved Permanently'));
check(get('/sub?a=1&b=2'), 'a directory without slash keeps the arguments',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://$hp/sub/?a=1&b=2" });
check(get('/sub', Host => 'www.example.com'),
    'the redirect uses the Host and the port of the listening socket',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://www.example.com:$port/sub/" });
check(get('/sub', Host => 'www.example.com:8080'),
    'the Host port is replaced by the port of the listening socket',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://www.example.com:$port/sub/" });
check(get('/sub/deeper'), 'a nested directory without slash',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://$hp/sub/deeper/" });
check(get('/sub', method => 'HEAD'), 'HEAD of a directory without slash',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://$hp/sub/",
        'Content-Length' => length page('301 Moved Permanently') },
    body => '');

my $off = $t->log_size;
check(get('/nope.html'), 'a missing file: 404',
    line => 'HTTP/1.1 404 Not Found',
    h    => { 'Content-Type' => 'text/html', 'ETag' => undef,
        'Last-Modified' => undef, 'Accept-Ranges' => undef },
    body => page('404 Not Found'));
log_has(err_line('error', qq{open() "$P/html/nope.html" failed }
          . '(2: No such file or directory)', 'GET /nope.html HTTP/1.1'),
    $off, '404: [error] open() "ROOT/nope.html" failed (2: No such file '
      . 'or directory), client, server, request');
like($t->log_since($off),
    qr/request: "GET \/nope\.html HTTP\/1\.1", host: "\Q$hp\E"$/m,
    '404 log line: host: "HOST:PORT" as the client sent it (nginx)');

$off = $t->log_size;
check(get('/quiet/nope.html'), 'log_not_found off: still 404',
    line => 'HTTP/1.1 404 Not Found', body => page('404 Not Found'));
check(get('/nope2.html'), 'a second missing file (log marker)',
    line => 'HTTP/1.1 404 Not Found');
log_has(qr/open\(\) "\Q$P\E\/html\/nope2\.html" failed/, $off,
    'the marker 404 is logged');
unlike($t->log_since($off), qr/quiet/,
    'log_not_found off: nothing logged for the missing file');

$off = $t->log_size;
check(get('/missingdir/'), 'a missing directory: 404',
    line => 'HTTP/1.1 404 Not Found', body => page('404 Not Found'));
log_has(err_line('error', qq{"$P/html/missingdir/index.html" is not found }
          . '(2: No such file or directory)', 'GET /missingdir/ HTTP/1.1'),
    $off, 'missing directory: "ROOT/missingdir/index.html" is not found '
      . '(2: No such file or directory) (nginx)');

$off = $t->log_size;
check(get('/noindex/'), 'a directory without index: 403',
    line => 'HTTP/1.1 403 Forbidden', h => { 'Content-Type' => 'text/html' },
    body => page('403 Forbidden'));
log_has(err_line('error', qq{directory index of "$P/html/noindex/" is }
          . 'forbidden', 'GET /noindex/ HTTP/1.1'),
    $off, '403: [error] directory index of "ROOT/noindex/" is forbidden');

$off = $t->log_size;
check(get('/private.txt'), 'a file the worker may not read: 403',
    line => 'HTTP/1.1 403 Forbidden', body => page('403 Forbidden'));
log_has(err_line('error', qq{open() "$P/html/private.txt" failed }
          . '(13: Permission denied)', 'GET /private.txt HTTP/1.1'),
    $off, '403: [error] open() "..." failed (13: Permission denied)');

check(get('/a.txt/'), 'a file with a trailing slash: 404',
    line => 'HTTP/1.1 404 Not Found');

# ---- alias ------------------------------------------------------------------

check(get('/img/logo.png'), 'alias: /img/logo.png is ALIAS/logo.png',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'image/png' },
    body => "PNG logo bytes\n");
check(get('/img/thumbs/t.png'),
    'alias: a nested location inherits the alias',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'image/png' },
    body => "PNG thumb bytes\n");
check(get('/img/other/o.png'), 'alias: a nested location with its own',
    line => 'HTTP/1.1 200 OK', body => "PNG other bytes\n");
check(get('/img/other/logo.png'),
    'alias: the nested alias does not fall back to the outer one',
    line => 'HTTP/1.1 404 Not Found');
check(get('/img/dir'), 'alias: a directory without slash: 301',
    line => 'HTTP/1.1 301 Moved Permanently',
    h    => { 'Location' => "http://$hp/img/dir/" });
$off = $t->log_size;
check(get('/img/'), 'alias: a directory without index: 403',
    line => 'HTTP/1.1 403 Forbidden', body => page('403 Forbidden'));
log_has(err_line('error', qq{directory index of "$P/data/images/" is }
          . 'forbidden', 'GET /img/ HTTP/1.1'),
    $off, 'alias: 403 log: directory index of "ALIAS/" is forbidden');
check(get('/exact-alias'), 'alias of a file in an exact location (the '
      . 'type comes from the URI)', line => 'HTTP/1.1 200 OK',
    h => { 'Content-Type' => 'application/octet-stream' },
    body => $A);
check(get('/files/f.txt'), 'alias without trailing slashes',
    line => 'HTTP/1.1 200 OK', body => "alias without slash\n");
check(get('/img/../secret.txt'), 'alias: .. cannot leave the alias',
    line => 'HTTP/1.1 404 Not Found');

# ---- types ------------------------------------------------------------------

check(get('/a.txt'), 'types: .txt is text/plain',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/plain' });
check(get('/thumbs/t.png'), 'root in a regex location',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'image/png' },
    body => "PNG thumb bytes\n");
check(get('/upper.TXT'), 'types: extensions are case-insensitive',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/plain' });
check(get('/file.unknownext'), 'default_type for an unknown extension',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Content-Type' => 'application/octet-stream' },
    body => "unknown extension\n");
check(get('/README'), 'default_type for a file without extension',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Content-Type' => 'application/octet-stream' });
check(get('/typed/x.cst'), 'a location types block',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Content-Type' => 'application/x-custom' },
    body => "custom type\n");
check(get('/typed/a.txt'),
    'a location types block replaces the inherited one',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/x-default' });
check(get('/img/thumbs/t.png'), 'default_type alone keeps inherited types',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'image/png' });

# ---- ETag, Last-Modified, HEAD ----------------------------------------------

check(get('/a.txt'), 'GET /a.txt: validators',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Content-Length' => 20, 'ETag' => $A_ETAG,
        'Last-Modified' => $A_LM, 'Accept-Ranges' => 'bytes',
        'Date' => $DATE_RE,
        'Connection' => 'close' },
    body => $A);
like($A_ETAG, qr/^"[0-9a-f]+-[0-9a-f]+"$/, 'ETag is "hex mtime-hex size"');

{
    my $c = WmHttpClient->new($port);
    $c->send("HEAD /a.txt HTTP/1.1\r\nHost: $hp\r\n\r\n");
    my $r = $c->read_response(head => 1);
    check($r, 'HEAD /a.txt', line => 'HTTP/1.1 200 OK',
        h => { 'Content-Length' => 20, 'Content-Type' => 'text/plain',
            'ETag' => $A_ETAG, 'Last-Modified' => $A_LM,
            'Connection' => 'keep-alive' });
    $c->send("GET /page.html HTTP/1.1\r\nHost: $hp\r\n\r\n");
    $r = $c->read_response;
    check($r, 'HEAD sent no body: the next response follows at once',
        line => 'HTTP/1.1 200 OK', body => "<p>page</p>\n");
}
check(get('/empty.txt'), 'an empty file', line => 'HTTP/1.1 200 OK',
    h => { 'Content-Length' => 0 }, body => '');
check(get('/noetag/a.txt'), 'etag off: no ETag',
    line => 'HTTP/1.1 200 OK',
    h    => { 'ETag' => undef, 'Last-Modified' => $A_LM }, body => $A);

# ---- conditional requests ---------------------------------------------------

check(get('/a.txt', 'If-None-Match' => $A_ETAG), 'If-None-Match: 304',
    line => 'HTTP/1.1 304 Not Modified',
    h    => { 'ETag' => $A_ETAG, 'Last-Modified' => $A_LM,
        'Content-Length' => undef, 'Content-Type' => undef,
        'Transfer-Encoding' => undef, 'Accept-Ranges' => undef },
    body => '');
check(get('/a.txt', 'If-None-Match' => "\"x\", W/$A_ETAG"),
    'If-None-Match: a weak match in a list: 304',
    line => 'HTTP/1.1 304 Not Modified');
check(get('/a.txt', 'If-None-Match' => '*'), 'If-None-Match: *: 304',
    line => 'HTTP/1.1 304 Not Modified');
check(get('/a.txt', 'If-None-Match' => '"other"'),
    'If-None-Match: another tag: 200', line => 'HTTP/1.1 200 OK',
    body => $A);
check(get('/a.txt', 'If-Modified-Since' => $A_LM),
    'If-Modified-Since exact: 304', line => 'HTTP/1.1 304 Not Modified',
    h => { 'Last-Modified' => $A_LM }, body => '');
check(get('/a.txt', 'If-Modified-Since' => http_date($MTIME + 1)),
    'If-Modified-Since a second later (exact mode): 200',
    line => 'HTTP/1.1 200 OK', body => $A);
check(get('/a.txt', 'If-Modified-Since' => http_date($MTIME - 1)),
    'If-Modified-Since a second earlier: 200', line => 'HTTP/1.1 200 OK');
check(get('/before/a.txt', 'If-Modified-Since' => http_date($MTIME + 1)),
    'if_modified_since before: a later date gives 304',
    line => 'HTTP/1.1 304 Not Modified');
check(get('/imsoff/a.txt', 'If-Modified-Since' => $A_LM),
    'if_modified_since off: 200', line => 'HTTP/1.1 200 OK', body => $A);
check(get('/a.txt', 'If-Modified-Since' => 'garbage'),
    'If-Modified-Since garbage: 200', line => 'HTTP/1.1 200 OK');
check(get('/a.txt', 'If-Match' => '"nope"'), 'If-Match mismatch: 412',
    line => 'HTTP/1.1 412 Precondition Failed',
    h    => { 'Content-Type' => 'text/html' },
    body => page('412 Precondition Failed'));
check(get('/a.txt', 'If-Match' => $A_ETAG), 'If-Match match: 200',
    line => 'HTTP/1.1 200 OK', body => $A);
check(get('/a.txt', 'If-Match' => '*'), 'If-Match *: 200',
    line => 'HTTP/1.1 200 OK');
check(get('/a.txt', 'If-Unmodified-Since' => http_date($MTIME - 10)),
    'If-Unmodified-Since before the mtime: 412',
    line => 'HTTP/1.1 412 Precondition Failed');
check(get('/a.txt', 'If-Unmodified-Since' => $A_LM),
    'If-Unmodified-Since equal: 200', line => 'HTTP/1.1 200 OK');

# ---- ranges -----------------------------------------------------------------

check(get('/a.txt', Range => 'bytes=0-4'), 'Range 0-4: 206',
    line => 'HTTP/1.1 206 Partial Content',
    h    => { 'Content-Range' => 'bytes 0-4/20', 'Content-Length' => 5,
        'Content-Type' => 'text/plain', 'ETag' => $A_ETAG,
        'Last-Modified' => $A_LM, 'Accept-Ranges' => undef },
    body => '01234');
check(get('/a.txt', Range => 'bytes=15-'), 'Range 15-: the tail',
    line => 'HTTP/1.1 206 Partial Content',
    h    => { 'Content-Range' => 'bytes 15-19/20' }, body => 'fghij');
check(get('/a.txt', Range => 'bytes=-3'), 'Range -3: the last 3 bytes',
    line => 'HTTP/1.1 206 Partial Content',
    h    => { 'Content-Range' => 'bytes 17-19/20' }, body => 'hij');
check(get('/a.txt', Range => 'bytes=10-999'), 'Range past the end is cut',
    line => 'HTTP/1.1 206 Partial Content',
    h    => { 'Content-Range' => 'bytes 10-19/20', 'Content-Length' => 10 },
    body => 'abcdefghij');
check(get('/a.txt', Range => 'bytes=100-'), 'unsatisfiable Range: 416',
    line => 'HTTP/1.1 416 Requested Range Not Satisfiable',
    h    => { 'Content-Range' => 'bytes */20',
        'Content-Type' => 'text/html' },
    body => page('416 Requested Range Not Satisfiable'));
check(get('/a.txt', Range => 'bytes=20-25'), 'Range starting at SIZE: 416',
    line => 'HTTP/1.1 416 Requested Range Not Satisfiable',
    h    => { 'Content-Range' => 'bytes */20' });
check(get('/a.txt', Range => 'lines=1-2'), 'a Range in other units: 200',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Range' => undef },
    body => $A);

{
    my $r = get('/a.txt', Range => 'bytes=0-1,5-7,18-');
    check($r, 'multiple ranges: 206', line => 'HTTP/1.1 206 Partial Content',
        h => { 'Content-Range' => undef });
    my ($b) = ($r->{h}{'content-type'} // '')
      =~ /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,.\/:=?-]{1,70})$/;
    ok($b, 'multiple ranges: Content-Type: multipart/byteranges; '
          . 'boundary=...')
      or diag("Content-Type: " . ($r->{h}{'content-type'} // '<none>'));
    $b //= 'NONE';
    my $want = join '',
      map({ "\r\n--$b\r\nContent-Type: text/plain\r\n"
              . "Content-Range: bytes $_->[0]-$_->[1]/20\r\n\r\n"
              . substr($A, $_->[0], $_->[1] - $_->[0] + 1) }
        [ 0, 1 ], [ 5, 7 ], [ 18, 19 ]),
      "\r\n--$b--\r\n";
    is($r->{body}, $want, 'multiple ranges: the exact multipart body');
    is($r->{h}{'content-length'}, length $want,
        'multiple ranges: Content-Length is the multipart length');
}
check(get('/a.txt', Range => 'bytes=0-9,5-14'),
    'overlapping ranges summing to the size: multipart',
    line => 'HTTP/1.1 206 Partial Content');
check(get('/a.txt', Range => 'bytes=0-14,5-19'),
    'overlapping ranges summing over the size: the whole file',
    line => 'HTTP/1.1 200 OK', body => $A);

check(get('/a.txt', Range => 'bytes=0-4', 'If-Range' => $A_ETAG),
    'If-Range with the ETag: 206', line => 'HTTP/1.1 206 Partial Content',
    body => '01234');
check(get('/a.txt', Range => 'bytes=0-4', 'If-Range' => '"stale"'),
    'If-Range with another ETag: 200 and the whole file',
    line => 'HTTP/1.1 200 OK', h => { 'Content-Range' => undef },
    body => $A);
check(get('/a.txt', Range => 'bytes=0-4', 'If-Range' => $A_LM),
    'If-Range with the Last-Modified date: 206',
    line => 'HTTP/1.1 206 Partial Content', body => '01234');
check(get('/a.txt', Range => 'bytes=0-4',
        'If-Range' => http_date($MTIME + 60)),
    'If-Range with another date: 200', line => 'HTTP/1.1 200 OK',
    body => $A);
check(get('/norange/a.txt', Range => 'bytes=0-4'),
    'max_ranges 0: Range ignored, no Accept-Ranges',
    line => 'HTTP/1.1 200 OK',
    h    => { 'Accept-Ranges' => undef, 'Content-Range' => undef },
    body => $A);
check(get('/onerange/a.txt', Range => 'bytes=0-4'),
    'max_ranges 1: one range is served',
    line => 'HTTP/1.1 206 Partial Content', body => '01234');
check(get('/onerange/a.txt', Range => 'bytes=0-1,4-5'),
    'max_ranges 1: two ranges give the whole file',
    line => 'HTTP/1.1 200 OK', body => $A);

# ---- a big file -------------------------------------------------------------

my %what = (sf => 'sendfile on', nosf => 'sendfile off',
    nopush => 'sendfile and tcp_nopush on');
for my $loc ('sf', 'nosf', 'nopush') {
    my $r = get("/$loc/big.bin");
    my $what = $what{$loc};
    check($r, "big file ($what)", line => 'HTTP/1.1 200 OK',
        h => { 'Content-Length' => length $big,
            'Content-Type' => 'application/octet-stream' });
    is(length($r->{body} // ''), length $big, "big file ($what): length");
    is(sha256_hex($r->{body} // ''), $big_sha, "big file ($what): sha256");

    $r = get("/$loc/big.bin", Range => 'bytes=1000000-3999999');
    check($r, "big file ($what): a 3 MB range",
        line => 'HTTP/1.1 206 Partial Content',
        h => { 'Content-Range' => 'bytes 1000000-3999999/' . length $big });
    is(sha256_hex($r->{body} // ''),
        sha256_hex(substr $big, 1000000, 3000000),
        "big file ($what): the range's sha256");

    $r = get("/$loc/big.bin", Range => 'bytes=0-0,5000000-');
    my ($b) = ($r->{h}{'content-type'} // '') =~ /boundary=(\S+)$/;
    $b //= 'NONE';
    my $want = "\r\n--$b\r\nContent-Type: application/octet-stream\r\n"
      . "Content-Range: bytes 0-0/" . length($big) . "\r\n\r\n"
      . substr($big, 0, 1)
      . "\r\n--$b\r\nContent-Type: application/octet-stream\r\n"
      . "Content-Range: bytes 5000000-" . (length($big) - 1) . '/'
      . length($big) . "\r\n\r\n" . substr($big, 5000000)
      . "\r\n--$b--\r\n";
    is($r->{status}, 206, "big file ($what): two ranges: 206");
    is(sha256_hex($r->{body} // ''), sha256_hex($want),
        "big file ($what): two ranges: the exact multipart body");

    $r = get("/$loc/big.bin", method => 'HEAD');
    check($r, "big file ($what): HEAD", line => 'HTTP/1.1 200 OK',
        h => { 'Content-Length' => length $big }, body => '');
    ok($r->{conn}->wait_eof(5) && $r->{conn}{buf} eq '',
        "big file ($what): HEAD sends no body bytes");
}

# A client that goes away in the middle of a big file.
for my $loc ('sf', 'nosf') {
    my $c = WmHttpClient->new($port);
    $c->send("GET /$loc/big.bin HTTP/1.1\r\nHost: $hp\r\n\r\n");
    $c->fill(time + 5) while length $c->{buf} < 200_000 && !$c->{eof};
    ok(length $c->{buf} >= 200_000, "$loc: the first 200 KB of the big "
          . 'file arrive');
    close $c->{s};
}
check(get('/a.txt'), 'still serving after two clients went away '
      . 'mid-file', line => 'HTTP/1.1 200 OK', body => $A);

# ---- server_tokens, methods -------------------------------------------------

check(get('/tokens/a.txt'), 'server_tokens off: Server: wmproxy',
    line => 'HTTP/1.1 200 OK', h => { 'Server' => 'wmproxy' });
check(get('/tokens/nope'), 'server_tokens off: the error page has no '
      . 'version', line => 'HTTP/1.1 404 Not Found',
    h => { 'Server' => 'wmproxy' }, body => page('404 Not Found', 'wmproxy'));

check(req("POST /a.txt HTTP/1.1\r\nHost: $hp\r\nContent-Length: 3\r\n"
        . "Connection: close\r\n\r\nabc"),
    'POST to a file: 405', line => 'HTTP/1.1 405 Not Allowed',
    h => { 'Content-Type' => 'text/html' }, body => page('405 Not Allowed'));
check(req("POST /a.txt HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"),
    'POST to a file without a body: 405', line => 'HTTP/1.1 405 Not Allowed');
check(req("POST /post/ HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"),
    'POST to a directory: its index, then 405',
    line => 'HTTP/1.1 405 Not Allowed');
check(req("POST /nope.txt HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"),
    'POST to a missing file: 404', line => 'HTTP/1.1 404 Not Found');
for my $m (qw(PUT DELETE OPTIONS PATCH)) {
    check(req("$m /a.txt HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"),
        "$m to a file: 405", line => 'HTTP/1.1 405 Not Allowed',
        body => page('405 Not Allowed'));
}
check(req("DELETE / HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"),
    'DELETE / (a directory): 405 as nginx',
    line => 'HTTP/1.1 405 Not Allowed', body => page('405 Not Allowed'));

# ---- never outside the root -------------------------------------------------

for my $path ('/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt',
    '/sub/%2E%2E/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt',
    '/img/../../secret.txt', '/files/../../secret.txt')
{
    my $r = get($path);
    ok(($r->{status} // 0) == 400 || ($r->{status} // 0) == 404,
        "$path: 400 or 404") or diag("got: " . ($r->{line} // $r->{error}));
    unlike($r->{body} // '', qr/TOP SECRET/, "$path: the secret is not "
          . 'served');
}
check(get('/sub/../a.txt'), '/sub/../a.txt stays inside: 200',
    line => 'HTTP/1.1 200 OK', body => $A);
check(get('/sub/./deeper/./f.txt'), 'dot segments are removed',
    line => 'HTTP/1.1 200 OK', body => "deeper file\n");
check(get('//sub///deeper//f.txt'), 'merge_slashes on: // is /',
    line => 'HTTP/1.1 200 OK', body => "deeper file\n");
check(get('/%61.txt'), 'percent-decoded: /%61.txt is /a.txt',
    line => 'HTTP/1.1 200 OK', body => $A);

# The server still serves a plain request after all of the above.
check(get('/a.txt'), 'still serving', line => 'HTTP/1.1 200 OK', body => $A);

unlike($t->log_text, qr/\[(?:crit|alert|emerg)\]/,
    'no [crit], [alert] or [emerg] in the error log');

$t->done;
