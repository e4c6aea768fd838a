#!/usr/bin/perl
# try_files as an nginx user sees it: each argument form ($uri, $uri/ for
# directories, a fixed name, a regex capture), the last argument as =code,
# @named, a URI with and without its own args, alias (names inside and
# outside the location's prefix), the server-level form (only for requests
# that match no location: it is not inherited), the 500 of a redirection
# cycle with its log line, and the configuration errors. Each request is
# also sent to Debian's nginx with the same configuration when it is
# installed, and both answers must agree.
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
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

my %files = (
    'html/t/f.txt'              => "f\n",
    'html/t/dir/index.html'     => "dir index\n",
    'html/t/fallback.html'      => "fallback\n",
    'html/t/a b.txt'            => "with a space\n",
    'html/srv.html'             => "server fallback\n",
    'data/alias/a1.txt'         => "a1\n",
    'data/alias/sub/index.html' => "alias sub index\n",
    'data/alias/default.txt'    => "alias default\n",
    'data/alias/al/in.txt'      => "inside the prefix\n",
);
$t->write_file($_, $files{$_}) for sort keys %files;

sub http_body {
    my $port = shift;
    return <<"EOF";
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        try_files /srv.html =418;

        location /t/ { try_files \$uri \$uri/ /t/fallback.html?from=tf; }
        location /code/ { try_files /nope =404; }
        location /code410/ { try_files /nope \$uri =410; }
        location /named/ { try_files /nope \@named; }
        location \@named { return 200 "named uri=\$uri args=\$args\\n"; }
        location /loop/ { try_files /nope /loop/again; }
        location /al/ {
            alias $P/data/alias/;
            try_files \$uri \$uri/ /al/default.txt;
        }
        location /al2/ { alias $P/data/alias/; try_files /default.txt =404; }
        location /al3/ { alias $P/data/alias/; try_files /al3/al/in.txt =404; }
        location /al4/ {
            alias $P/data/alias/;
            try_files /al4/al/\$arg_f =404;
        }
        location /noargs/ { try_files /nope /vars; }
        location /args/ { try_files /nope /vars?a=\$arg_a&fixed=1; }
        location = /vars { return 200 "uri=\$uri args=\$args\\n"; }
        location ~ ^/cap/(.*)\$ { try_files /t/\$1 =405; }
        location /dirs/ { try_files /t/dir/ =404; }
        location /file/ { try_files /t/f.txt =404; }
        location /nested/ { location /nested/in/ { return 200 "in \$uri\\n"; } }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my $fallback = "fallback\n";
my @cases = (
    # name, request line, status, body, Location
    [ '$uri: a file', 'GET /t/f.txt', 200, "f\n" ],
    [ '$uri: an encoded name', 'GET /t/a%20b.txt', 200, "with a space\n" ],
    [ '$uri/: a directory with its index', 'GET /t/dir/', 200,
        "dir index\n" ],
    [ '$uri/: a directory without slash: the redirect', 'GET /t/dir', 301,
        undef, "http://localhost:PORT/t/dir/" ],
    [ 'the fallback URI with its own args', 'GET /t/nope?orig=1', 200,
        $fallback ],
    [ 'a file inside a missing path', 'GET /t/f.txt/x', 200, $fallback ],
    [ '=404', 'GET /code/x', 404 ],
    [ '=410 after $uri', 'GET /code410/x', 410 ],
    [ '@named keeps uri and args', 'GET /named/x?q=1', 200,
        "named uri=/named/x args=q=1\n" ],
    [ 'a fallback URI without args drops the request\'s',
        'GET /noargs/x?a=1', 200, "uri=/vars args=\n" ],
    [ 'a fallback URI with variables in its args', 'GET /args/x?a=7&b=2',
        200, "uri=/vars args=a=7&fixed=1\n" ],
    [ 'a regex capture', 'GET /cap/f.txt', 200, "f\n" ],
    [ 'a regex capture, missing file', 'GET /cap/zz', 405 ],
    [ 'a fixed directory: redirect to it with a slash', 'GET /dirs/x', 301,
        undef, "http://localhost:PORT/t/dir/" ],
    [ 'a fixed file for any URI', 'GET /file/anything', 200, "f\n" ],
    [ 'HEAD of a fixed file', 'HEAD /file/anything', 200, '' ],
    [ 'alias: $uri', 'GET /al/a1.txt', 200, "a1\n" ],
    [ 'alias: $uri/ without slash', 'GET /al/sub', 301, undef,
        "http://localhost:PORT/al/sub/" ],
    [ 'alias: $uri/', 'GET /al/sub/', 200, "alias sub index\n" ],
    [ 'alias: the fallback', 'GET /al/zz', 200, "alias default\n" ],
    [ 'alias: a name outside the prefix', 'GET /al2/zz', 200,
        "alias default\n" ],
    [ 'alias: a fixed name is appended whole', 'GET /al3/zz', 404 ],
    [ 'alias: a name with variables loses the prefix',
        'GET /al4/zz?f=in.txt', 200, "inside the prefix\n" ],
    [ 'the cycle', 'GET /loop/x', 500 ],
    [ 'server level: a request no location matches', 'GET /nowhere', 200,
        "server fallback\n" ],
    [ 'server level: not inherited by a location', 'GET /nested/x', 404 ],
    [ 'a nested location', 'GET /nested/in/x', 200, "in /nested/in/x\n" ],
);

my $off = $t->log_size;
for my $c (@cases) {
    my ($name, $line, $status, $body, $location) = @$c;
    my $w = WmNginx::fetch($wport, "$line HTTP/1.1");
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{status}, $status, "$name: $status");
    is($w->{body}, $body, "$name: body") if defined $body;
    if ($location) {
        (my $want = $location) =~ s/PORT/$wport/;
        is($w->{h}{location}, $want, "$name: Location");
    }
    next unless $nginx_up;
    my $n = WmNginx::fetch($nport, "$line HTTP/1.1");
    is_deeply(WmNginx::comparable($w, $wport, 'content-type', 'location'),
        WmNginx::comparable($n, $nport, 'content-type', 'location'),
        "$name: as nginx");
}

ok($t->wait_log(qr/^$D \[error\] \d+#\d+: (?:\*\d+ )?rewrite or internal (?x)
        redirection\ cycle\ while\ internally\ redirecting\ to
        \ "\/loop\/again",\ client:\ 127\.0\.0\.1,\ server:\ localhost,
        \ request:\ "GET\ \/loop\/x\ HTTP\/1\.1"/m, from => $off),
    'the cycle is logged as nginx logs it')
  or diag($t->log_since($off));
like($ng->log_text, qr/rewrite or internal redirection cycle while internally redirecting to "\/loop\/again"/,
    'nginx logs the same cycle') if $nginx_up;

# Several requests on one connection: a cycle ends it (500 closes), the
# others keep it.
{
    my $c = WmHttpClient->new($wport);
    $c->send("GET /t/nope HTTP/1.1\r\nHost: localhost\r\n\r\n"
          . "GET /t/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
          . "GET /loop/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    my @r = map { $c->read_response } 1 .. 3;
    is(join(' ', map { $_->{status} // $_->{error} } @r), '200 200 500',
        'pipelined: fallback, file, cycle');
    is($r[0]{body} . $r[1]{body}, "fallback\nf\n", 'pipelined bodies');
    ok($c->wait_eof, 'the 500 closes the connection');
}

# ---- configuration errors ---------------------------------------------------

my @bad = (
    [ 'try_files /only;', qr/"try_files" directive has invalid number of arguments/ ],
    [ 'try_files /a =abc;', qr/"try_files" directive has invalid code "=abc"/ ],
    [ 'try_files /a =1000;', qr/"try_files" directive has invalid code "=1000"/ ],
    [ 'try_files /a \$nosuchvar;', qr/uses unknown "nosuchvar" variable/ ],
    [ 'try_files /a /b; try_files /c /d;', qr/"try_files" directive is duplicate/ ],
);
for my $b (@bad) {
    my ($text, $re) = @$b;
    $t->conf_rejected(<<"EOF", 5, $re, $text);
events { }
http { server { listen 127.0.0.1:$wport; location / { $text } } }
EOF
}
$t->conf_rejected(<<"EOF", 5, qr/"try_files" directive is not allowed here/,
events { }
http { try_files /a /b; server { listen 127.0.0.1:$wport; } }
EOF
    'try_files at http level (as nginx)');

is(WmNginx::fetch($wport, 'GET /t/f.txt HTTP/1.1')->{body}, "f\n",
    'still serving');
$ng->stop if $ng;
$t->done;
