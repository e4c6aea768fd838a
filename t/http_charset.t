#!/usr/bin/perl
# charset, charset_types, source_charset and override_charset as an nginx
# user sees them: the Content-Type of static files, of return texts, of
# error pages (built-in and error_page), of redirects (none on 301 and
# 302, as nginx), of the parts of a multipart range, of proxied responses
# that name a charset or not (override_charset: kept, and logged when it
# would need recoding), in an `if` block and from a variable. Every answer
# is asserted exactly, and compared with Debian's nginx on the same http {}
# block when it is installed. -t refuses a charset / source_charset pair
# that would need recoding.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $wup, $nport, $nup) = ($t->port, $t->port, $t->port, $t->port);
my %up = ($wport => $wup, $nport => $nup);

$t->write_file("html/$_", "$_ body\n") for qw(a.html a.txt a.css a.js a.bin);
$t->write_file('html/err.txt', "the error page\n");

sub http_body {
    my $port = shift;
    my $up   = $up{$port};
    return <<"EOF";
    types {
        text/html html;
        text/plain txt;
        text/css css;
        application/javascript js;
        application/octet-stream bin;
    }
    default_type application/octet-stream;

    server {
        listen 127.0.0.1:$up;
        location /k { default_type "text/html; charset=koi8-r"; return 200 k; }
        location /u { default_type "text/html; charset=utf-8"; return 200 u; }
        location /n { default_type text/html; return 200 n; }
        location /c { default_type text/css; return 200 c; }
    }

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        charset utf-8;

        location /r { default_type text/plain; return 200 "text\\n"; }
        location /r301 { return 301 /a.html; }
        location /r302 { return 302 /a.html; }
        location /r303 { return 303 /a.html; }
        location /r307 { return 307 /a.html; }
        location /css/ { alias $P/html/; charset_types text/css; }
        location /star/ { alias $P/html/; charset_types *; }
        location /off/ { alias $P/html/; charset off; }
        location /dt { default_type "text/html; charset=koi8-r"; return 200 x; }
        location /if/ {
            alias $P/html/;
            if (\$arg_k) { charset koi8-r; }
        }
        location /src/ { alias $P/html/; source_charset utf-8; }
        location /same/ { alias $P/html/; charset koi8-r; source_charset KOI8-R; }
        location /ep/ { error_page 404 /err.txt; }
        location /ep302/ { error_page 404 =302 /err.txt; }
        location /var/ { alias $P/html/; set \$cs windows-1251; charset \$cs; }
        location /p/ { proxy_pass http://127.0.0.1:$up/; }
        location /po/ { override_charset on; proxy_pass http://127.0.0.1:$up/; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

# (Content-Length differs on pages signed nginx/... or wmproxy.)
my @F = ('content-type', 'location');

# [ name, request line, headers..., expected Content-Type ('<none>': none) ]
my @req = (
    [ 'a static html file', 'GET /a.html', 'text/html; charset=utf-8' ],
    [ 'a static text file', 'GET /a.txt', 'text/plain; charset=utf-8' ],
    [ 'text/css is not in the default charset_types', 'GET /a.css',
        'text/css' ],
    [ 'application/javascript is', 'GET /a.js',
        'application/javascript; charset=utf-8' ],
    [ 'application/octet-stream is not', 'GET /a.bin',
        'application/octet-stream' ],
    [ 'HEAD of a file', 'HEAD /a.html', 'text/html; charset=utf-8' ],
    [ 'a range of a file', 'GET /a.html', 'Range: bytes=0-2',
        'text/html; charset=utf-8' ],
    [ 'the built-in 404 page', 'GET /nope', 'text/html; charset=utf-8' ],
    [ 'return with text', 'GET /r', 'text/plain; charset=utf-8' ],
    [ 'a 301 page: no charset', 'GET /r301', 'text/html' ],
    [ 'a 302 page: no charset', 'GET /r302', 'text/html' ],
    [ 'a 303 page', 'GET /r303', 'text/html; charset=utf-8' ],
    [ 'a 307 page', 'GET /r307', 'text/html; charset=utf-8' ],
    [ 'charset_types text/css: css', 'GET /css/a.css',
        'text/css; charset=utf-8' ],
    [ 'charset_types text/css: html too', 'GET /css/a.html',
        'text/html; charset=utf-8' ],
    [ 'charset_types *', 'GET /star/a.bin',
        'application/octet-stream; charset=utf-8' ],
    [ 'charset off', 'GET /off/a.html', 'text/html' ],
    [ 'a type that names its charset keeps it', 'GET /dt',
        'text/html; charset=koi8-r' ],
    [ 'charset in if in location', 'GET /if/a.html?k=1',
        'text/html; charset=koi8-r' ],
    [ 'the location around the if', 'GET /if/a.html',
        'text/html; charset=utf-8' ],
    [ 'source_charset equal to charset', 'GET /src/a.html',
        'text/html; charset=utf-8' ],
    [ 'source_charset in another case', 'GET /same/a.html',
        'text/html; charset=koi8-r' ],
    [ 'error_page with a text file', 'GET /ep/x',
        'text/plain; charset=utf-8' ],
    [ 'error_page =302', 'GET /ep302/x', 'text/plain' ],
    [ 'charset from a variable', 'GET /var/a.html',
        'text/html; charset=windows-1251' ],
    [ 'proxied, names koi8-r', 'GET /p/k', 'text/html; charset=koi8-r' ],
    [ 'proxied, names utf-8', 'GET /p/u', 'text/html; charset=utf-8' ],
    [ 'proxied, names none', 'GET /p/n', 'text/html; charset=utf-8' ],
    [ 'proxied css', 'GET /p/c', 'text/css' ],
    [ 'override_charset, koi8-r: kept (no recoding)', 'GET /po/k',
        'text/html; charset=koi8-r' ],
    [ 'override_charset, utf-8', 'GET /po/u', 'text/html; charset=utf-8' ],
    [ 'override_charset, none', 'GET /po/n', 'text/html; charset=utf-8' ],
);

for my $q (@req) {
    my ($name, $line, @h) = @$q;
    my $want = pop @h;
    my $w = WmNginx::fetch($wport, "$line HTTP/1.1", @h);
    is($w->{h}{'content-type'} // '<none>', $want, "$name: $want");
    next unless $nginx_up;
    is_deeply(WmNginx::comparable($w, $wport, @F),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1", @h),
            $nport, @F),
        "$name: as nginx");
}

# The parts of a multipart range carry the charset, as nginx's.
my $r = WmNginx::fetch($wport, 'GET /a.html HTTP/1.1', 'Range: bytes=0-0,2-2');
is($r->{status}, 206, 'multipart range: 206');
like($r->{h}{'content-type'}, qr{^multipart/byteranges; boundary=\d+$},
    'multipart range: no charset on the multipart type');
my @parts = $r->{body} =~ /^Content-Type: (.*)\r$/mg;
is_deeply(\@parts, [ ('text/html; charset=utf-8') x 2 ],
    'multipart range: each part has the charset');

# A 304 has no Content-Type at all.
my $full = WmNginx::fetch($wport, 'GET /a.html HTTP/1.1');
$r = WmNginx::fetch($wport, 'GET /a.html HTTP/1.1',
    "If-None-Match: $full->{h}{etag}");
is($r->{status}, 304, '304: status');
is($r->{h}{'content-type'}, undef, '304: no Content-Type');

# override_charset on a response in another charset: logged as nginx.
$t->wait_log(qr/\[error\] .*no "charset_map" between the charsets "koi8-r"/
      . qr/ and "utf-8".*request: "GET \/po\/k HTTP\/1.1"/);
pass('override_charset without recoding is logged');
like($ng->error_log, qr/no "charset_map" between the charsets "koi8-r" and "utf-8"/,
    'nginx logs the same') if $nginx_up;

# -t refuses what would need recoding, where it is configured.
my $base = "events { }\nhttp {\n";
$t->conf_rejected("${base}charset koi8-r;\nsource_charset utf-8;\n"
      . "server { listen 127.0.0.1:$wport; }\n}\n",
    6, qr/"charset koi8-r" with "source_charset utf-8" needs recoding/,
    'charset and source_charset differ (http)');
$t->conf_rejected("${base}charset koi8-r;\nserver {\n listen 127.0.0.1:$wport;\n"
      . " location / {\n  source_charset windows-1251;\n }\n}\n}\n",
    10, qr/"charset koi8-r" with "source_charset windows-1251" needs recoding/,
    'charset and source_charset differ (inherited charset)');
$t->conf_rejected("${base}server { listen 127.0.0.1:$wport; charset a b; }\n}\n",
    6, qr/"charset" directive has invalid number/, 'two arguments');
$t->conf_rejected("${base}server { listen 127.0.0.1:$wport; "
      . "source_charset \$x; }\n}\n", 6, qr/variables are not allowed/,
    'source_charset with a variable');
$t->conf_rejected("${base}charset_types;\n}\n", 6,
    qr/"charset_types" directive/, 'charset_types without a type');
$t->conf_rejected("${base}server { listen 127.0.0.1:$wport; "
      . "location / { override_charset maybe; } }\n}\n", 6,
    qr/"override_charset" directive/, 'override_charset maybe');

# Still serving.
is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1')->{body}, "a.txt body\n",
    'still serving');

$ng->stop if $ng;
$t->done;
